package schemas_test

import (
	"encoding/json"
	"testing"

	"github.com/hamba/avro/v2"

	"github.com/askonce/askonce/internal/registry"
	"github.com/askonce/askonce/schemas"
	"github.com/askonce/askonce/schemas/schematest"
)

// civilStatusVersions parses every shipped version of the civil-status
// schema, oldest first.
func civilStatusVersions(t *testing.T) []avro.Schema {
	t.Helper()
	for _, s := range catalog(t) {
		if s.File != "civil-status" {
			continue
		}
		var out []avro.Schema
		for i, text := range s.Versions {
			sch, err := schemas.Parse(text)
			if err != nil {
				t.Fatalf("civil-status v%d: %v", i+1, err)
			}
			out = append(out, sch)
		}
		return out
	}
	t.Fatal("no civil-status subject")
	return nil
}

// TestCivilStatusV2IsFullTransitive: v2 only adds the parents' NINs, as
// optional fields with a null default, so every version reads every other.
func TestCivilStatusV2IsFullTransitive(t *testing.T) {
	vs := civilStatusVersions(t)
	if len(vs) < 2 {
		t.Fatalf("%d versions of civil-status, want v1 and v2", len(vs))
	}
	if reasons := registry.Check("FULL_TRANSITIVE", vs[1], vs[:1]); len(reasons) > 0 {
		t.Fatalf("v2 is not FULL_TRANSITIVE with v1: %v", reasons)
	}
	person := func(s avro.Schema) *avro.RecordSchema {
		for _, f := range s.(*avro.RecordSchema).Fields() {
			if f.Name() == "person" {
				for _, u := range f.Type().(*avro.UnionSchema).Types() {
					if r, ok := u.(*avro.RecordSchema); ok {
						return r
					}
				}
			}
		}
		t.Fatal("no person record")
		return nil
	}
	v1, v2 := person(vs[0]), person(vs[1])
	if len(v2.Fields()) != len(v1.Fields())+2 {
		t.Fatalf("PersonIdentity has %d fields in v2, %d in v1: want exactly two more", len(v2.Fields()), len(v1.Fields()))
	}
	for _, name := range []string{"father_nin", "mother_nin"} {
		var found bool
		for _, f := range v2.Fields() {
			if f.Name() == name {
				found = true
				if !f.HasDefault() || f.Default() != nil {
					t.Errorf("%s: default %v, want null", name, f.Default())
				}
			}
		}
		if !found {
			t.Errorf("v2 PersonIdentity lacks %s", name)
		}
	}
}

// TestCivilStatusV1ReadAsV2: a record written by a producer still on v1
// decodes with the v2 reader (the parents' NINs take their null default),
// and a v2 record with parents decodes with a v1 reader (they are skipped).
func TestCivilStatusV1ReadAsV2(t *testing.T) {
	vs := civilStatusVersions(t)
	v1, v2 := vs[0], vs[len(vs)-1]
	api := avro.Config{}.Freeze()

	// v1 writer, v2 reader.
	in := schematest.ChildBirth()
	b, err := api.Marshal(v1, in)
	if err != nil {
		t.Fatalf("marshal with v1: %v", err)
	}
	reader, err := avro.NewSchemaCompatibility().Resolve(v2, v1)
	if err != nil {
		t.Fatalf("resolve v1 as v2: %v", err)
	}
	var got schemas.CivilStatusRecord
	if err := api.Unmarshal(reader, b, &got); err != nil {
		t.Fatalf("v2 reader on v1 bytes: %v", err)
	}
	if got.Person == nil || got.Person.FatherNIN != nil || got.Person.MotherNIN != nil {
		t.Fatalf("v1 record read as v2: person %+v, want nil parent NINs", got.Person)
	}
	want := *in
	wp := *in.Person
	wp.FatherNIN, wp.MotherNIN = nil, nil
	want.Person = &wp
	sameJSON(t, "v1 record read as v2", &got, &want)
	if v := (schemas.Rules{Now: schematest.Now, AllowSynthetic: true}).CivilStatus(&got); v != nil {
		t.Errorf("v1 record read as v2 is invalid: %v", v)
	}

	// v2 writer, v2 reader: the parents' NINs round-trip.
	b, err = api.Marshal(v2, in)
	if err != nil {
		t.Fatalf("marshal with v2: %v", err)
	}
	got = schemas.CivilStatusRecord{}
	if err := api.Unmarshal(v2, b, &got); err != nil {
		t.Fatalf("unmarshal v2: %v", err)
	}
	sameJSON(t, "v2 round trip", &got, in)

	// v2 writer, v1 reader (a consumer not yet upgraded).
	reader, err = avro.NewSchemaCompatibility().Resolve(v1, v2)
	if err != nil {
		t.Fatalf("resolve v2 as v1: %v", err)
	}
	var old map[string]any
	if err := api.Unmarshal(reader, b, &old); err != nil {
		t.Fatalf("v1 reader on v2 bytes: %v", err)
	}
	p, _ := old["person"].(map[string]any)["org.askonce.civilstatus.PersonIdentity"].(map[string]any)
	if _, ok := p["father_nin"]; ok || p["first_names_latin"] != in.Person.FirstNamesLatin || old["nin"] != in.NIN {
		t.Fatalf("v1 reader got %v", old)
	}
}

// sameJSON compares through JSON: time.Time locations differ after decoding.
func sameJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Errorf("%s:\n got %s\nwant %s", what, g, w)
	}
}
