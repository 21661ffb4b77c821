package schemas_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"

	"github.com/askonce/askonce/schemas"
	"github.com/askonce/askonce/schemas/schematest"
)

func catalog(t *testing.T) []schemas.Subject {
	t.Helper()
	subs, err := schemas.Catalog()
	if err != nil {
		t.Fatal(err)
	}
	return subs
}

// allSubjects is the catalog and the per-agency subject templates.
func allSubjects(t *testing.T) []schemas.Subject {
	t.Helper()
	per, err := schemas.PerAgency()
	if err != nil {
		t.Fatal(err)
	}
	return append(catalog(t), per...)
}

func TestCatalogParses(t *testing.T) {
	subs := catalog(t)
	if len(subs) != 4 {
		t.Fatalf("%d subjects, want 4", len(subs))
	}
	per, err := schemas.PerAgency()
	if err != nil {
		t.Fatal(err)
	}
	if len(per) != 2 || per[0].Topic != schemas.NotifyTopicPrefix || per[1].Topic != schemas.PortfolioTopicPrefix {
		t.Fatalf("per-agency subjects %+v", per)
	}
	for _, s := range append(subs, per...) {
		for i, v := range s.Versions {
			if _, err := schemas.Parse(v); err != nil {
				t.Errorf("%s v%d: %v", s.File, i+1, err)
			}
		}
		if schemas.Name(s.Topic) != s.Topic+"-value" {
			t.Errorf("subject name of %s", s.Topic)
		}
	}
}

// TestRoundTrip encodes every kind of record with its topic's schema and
// decodes it back unchanged.
func TestRoundTrip(t *testing.T) {
	api := avro.Config{}.Freeze()
	cases := []struct {
		topic string
		in    any
		out   func() any
	}{
		{"askonce.civil-status.v1", schematest.Birth(), func() any { return new(schemas.CivilStatusRecord) }},
		{"askonce.civil-status.v1", schematest.Marriage(), func() any { return new(schemas.CivilStatusRecord) }},
		{"askonce.civil-status.v1", schematest.Divorce(), func() any { return new(schemas.CivilStatusRecord) }},
		{"askonce.civil-status.v1", schematest.Death(), func() any { return new(schemas.CivilStatusRecord) }},
		{"askonce.employment.v1", schematest.Affiliation(), func() any { return new(schemas.EmploymentRecord) }},
		{"askonce.employment.v1", schematest.Employment(), func() any { return new(schemas.EmploymentRecord) }},
		{"askonce.contribution.v1", schematest.Contribution(), func() any { return new(schemas.ContributionRecord) }},
	}
	for _, tc := range cases {
		sch := schemas.MustLatest(tc.topic)
		b, err := api.Marshal(sch, tc.in)
		if err != nil {
			t.Fatalf("%s: marshal: %v", tc.topic, err)
		}
		out := tc.out()
		if err := api.Unmarshal(sch, b, out); err != nil {
			t.Fatalf("%s: unmarshal: %v", tc.topic, err)
		}
		// Compare through JSON: time.Time locations differ after decoding.
		want, _ := json.Marshal(tc.in)
		got, _ := json.Marshal(out)
		if string(want) != string(got) {
			t.Errorf("%s round trip:\n got %s\nwant %s", tc.topic, got, want)
		}
	}
}

// TestSharedTypesIdentical: each topic schema is self-contained, so the
// shared types are repeated in each file; they must be the same everywhere.
func TestSharedTypesIdentical(t *testing.T) {
	defs := map[string]string{}
	for _, s := range allSubjects(t) {
		var root any
		if err := json.Unmarshal([]byte(s.Latest()), &root); err != nil {
			t.Fatal(err)
		}
		walkNamed(root, func(name string, def map[string]any) {
			if !strings.HasPrefix(name, "org.askonce.common.") && !strings.HasPrefix(def["namespace"].(string), "org.askonce.common") {
				return
			}
			b, _ := json.Marshal(def)
			if prev, ok := defs[name]; ok && prev != string(b) {
				t.Errorf("%s differs in %s.avsc", name, s.File)
			}
			defs[name] = string(b)
		})
	}
	for _, want := range []string{"Provenance", "Fund"} {
		if _, ok := defs[want]; !ok {
			t.Errorf("shared type %s not found", want)
		}
	}
}

func walkNamed(v any, fn func(string, map[string]any)) {
	switch x := v.(type) {
	case map[string]any:
		if ns, ok := x["namespace"].(string); ok && ns == "org.askonce.common" {
			fn(x["name"].(string), x)
		}
		for _, c := range x {
			walkNamed(c, fn)
		}
	case []any:
		for _, c := range x {
			walkNamed(c, fn)
		}
	}
}

// TestEveryFieldDocumented: back-office teams read the schemas in a
// registry UI; every record, enum and field says what it is.
func TestEveryFieldDocumented(t *testing.T) {
	for _, s := range allSubjects(t) {
		var root any
		_ = json.Unmarshal([]byte(s.Latest()), &root)
		var check func(path string, v any)
		check = func(path string, v any) {
			switch x := v.(type) {
			case map[string]any:
				if _, isField := x["type"]; isField {
					if name, ok := x["name"].(string); ok {
						if doc, _ := x["doc"].(string); strings.TrimSpace(doc) == "" {
							t.Errorf("%s: %s.%s has no doc", s.File, path, name)
						}
						path = path + "." + name
					}
				}
				for k, c := range x {
					if k != "default" {
						check(path, c)
					}
				}
			case []any:
				for _, c := range x {
					check(path, c)
				}
			}
		}
		check(s.File, root)
	}
}

func TestGoTypesMatchSchemas(t *testing.T) {
	// Every Avro field has a Go field: hamba fails to marshal otherwise,
	// and TestRoundTrip covers each payload; here we check no Go field is
	// left without an Avro field (it would silently never be encoded).
	types := map[string]reflect.Type{
		"askonce.civil-status.v1": reflect.TypeOf(schemas.CivilStatusRecord{}),
		"askonce.employment.v1":   reflect.TypeOf(schemas.EmploymentRecord{}),
		"askonce.contribution.v1": reflect.TypeOf(schemas.ContributionRecord{}),
	}
	for topic, typ := range types {
		rec := schemas.MustLatest(topic).(*avro.RecordSchema)
		checkFields(t, topic, rec, typ)
	}
}

func checkFields(t *testing.T, path string, rec *avro.RecordSchema, typ reflect.Type) {
	fields := map[string]avro.Schema{}
	for _, f := range rec.Fields() {
		fields[f.Name()] = f.Type()
	}
	for i := 0; i < typ.NumField(); i++ {
		sf := typ.Field(i)
		tag := sf.Tag.Get("avro")
		fs, ok := fields[tag]
		if !ok {
			t.Errorf("%s: Go field %s (avro %q) has no schema field", path, sf.Name, tag)
			continue
		}
		ft := sf.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if u, ok := fs.(*avro.UnionSchema); ok {
			for _, s := range u.Types() {
				if s.Type() != avro.Null {
					fs = s
				}
			}
		}
		if r, ok := fs.(*avro.RecordSchema); ok && ft.Kind() == reflect.Struct && ft.PkgPath() != "time" {
			checkFields(t, path+"."+tag, r, ft)
		}
	}
	if typ.NumField() != len(fields) {
		t.Errorf("%s: %d Go fields for %d schema fields", path, typ.NumField(), len(fields))
	}
}
