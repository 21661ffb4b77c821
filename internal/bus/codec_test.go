package bus_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/linkedin/goavro/v2"
	"github.com/segmentio/kafka-go"

	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/internal/ops"
	"github.com/askonce/askonce/internal/registry"
	"github.com/askonce/askonce/internal/store"
	"github.com/askonce/askonce/internal/testenv"
	"github.com/askonce/askonce/internal/wiring"
	"github.com/askonce/askonce/schemas"
	"github.com/askonce/askonce/schemas/schematest"
)

// startRegistry runs askonce's registry over a fresh database.
func startRegistry(t testing.TB) *httptest.Server {
	t.Helper()
	ctx := testenv.Ctx(t, time.Minute)
	pool, err := store.OpenURL(ctx, testenv.Postgres(t), 8)
	testenv.Must(t, err, "open")
	t.Cleanup(pool.Close)
	testenv.Must(t, registry.Migrate(ctx, pool, nil), "migrate")
	log := ops.NewLogger(io.Discard, "error", "json")
	srv := httptest.NewServer(registry.NewServer(registry.NewBackend(pool, "BACKWARD"), log, ops.NewRegistry(), registry.ServerOptions{}, nil))
	t.Cleanup(srv.Close)
	return srv
}

func newCodec(t testing.TB, url string) *bus.Codec {
	t.Helper()
	rc, err := registry.NewClient(registry.ClientConfig{URL: url, Timeout: 5 * time.Second})
	testenv.Must(t, err, "registry client")
	return bus.NewCodec(rc, bus.CodecOptions{AutoRegister: true, IsNotFound: registry.IsNotFound})
}

func latest(t testing.TB, topic string) string {
	t.Helper()
	subs, err := schemas.Catalog()
	testenv.Must(t, err, "catalog")
	for _, s := range subs {
		if s.Topic == topic {
			return s.Latest()
		}
	}
	t.Fatalf("no schema for %s", topic)
	return ""
}

// withField returns the civil-status schema with one more top-level field.
func withField(t *testing.T, base, field string) string {
	t.Helper()
	var m map[string]any
	testenv.Must(t, json.Unmarshal([]byte(base), &m), "schema json")
	var f any
	testenv.Must(t, json.Unmarshal([]byte(field), &f), "field json")
	m["fields"] = append(m["fields"].([]any), f)
	b, _ := json.Marshal(m)
	return string(b)
}

// TestIndependentReader: a record produced by askonce decodes, by an
// independent Avro implementation (linkedin/goavro), from the raw bytes
// kcat fetched plus the schema fetched over the registry REST API.
func TestIndependentReader(t *testing.T) {
	ctx := testenv.Ctx(t, 2*time.Minute)
	reg := startRegistry(t)
	b := testenv.StartBroker(t, nil)
	client, err := bus.New(wiring.Kafka(b.Kafka()))
	testenv.Must(t, err, "bus client")
	defer client.Close()
	_, err = client.EnsureTopics(ctx, client.Topics().Specs(), nil)
	testenv.Must(t, err, "topics")
	topic := client.Topics().CivilStatus

	codec := newCodec(t, reg.URL)
	id, err := codec.Use(ctx, bus.BaseCivilStatus, latest(t, bus.BaseCivilStatus))
	testenv.Must(t, err, "use schema")
	rec := schematest.Birth()
	value, err := codec.Encode(bus.BaseCivilStatus, rec)
	testenv.Must(t, err, "encode")
	w := client.Writer(topic)
	testenv.Must(t, w.WriteMessages(ctx, kafka.Message{Key: []byte(rec.NIN), Value: value}), "produce")
	_ = w.Close()

	// kcat fetches the raw value.
	kcat := testenv.Need(t, "kcat")
	raw, err := exec.CommandContext(ctx, kcat, "-b", b.Addr, "-C", "-t", topic, "-c", "1", "-e", "-q", "-f", "%s").Output()
	testenv.Must(t, err, "kcat")
	if !bytes.Equal(raw, value) {
		t.Fatalf("kcat fetched %d bytes that differ from the %d produced", len(raw), len(value))
	}

	// The independent reader: its own framing, the schema over plain HTTP, goavro.
	if raw[0] != 0 {
		t.Fatalf("magic byte %d", raw[0])
	}
	gotID := int(binary.BigEndian.Uint32(raw[1:5]))
	if gotID != id {
		t.Fatalf("schema id in message %d, registered %d", gotID, id)
	}
	resp, err := http.Get(reg.URL + "/schemas/ids/" + strconv.Itoa(gotID))
	testenv.Must(t, err, "GET schema")
	var body struct {
		Schema string `json:"schema"`
	}
	testenv.Must(t, json.NewDecoder(resp.Body).Decode(&body), "schema body")
	resp.Body.Close()
	gc, err := goavro.NewCodec(body.Schema)
	testenv.Must(t, err, "goavro codec")
	native, rest, err := gc.NativeFromBinary(raw[5:])
	testenv.Must(t, err, "goavro decode")
	if len(rest) != 0 {
		t.Fatalf("%d bytes left after decoding", len(rest))
	}
	m := native.(map[string]any)
	if m["nin"] != rec.NIN || m["kind"] != "BIRTH" {
		t.Fatalf("goavro read nin=%v kind=%v", m["nin"], m["kind"])
	}
	person := m["person"].(map[string]any)["org.askonce.civilstatus.PersonIdentity"].(map[string]any)
	if person["surname_arabic"] != "بن علي" || person["first_names_latin"] != "Youcef Karim" {
		t.Fatalf("goavro read person %v", person)
	}
	prov := m["provenance"].(map[string]any)
	if prov["data_center"] != "etatcivil-dc07" || prov["source_version"] != int64(3) || !prov["event_time"].(time.Time).Equal(rec.Provenance.EventTime) {
		t.Fatalf("goavro read provenance %v", prov)
	}
	birth := m["birth"].(map[string]any)["org.askonce.civilstatus.BirthAct"].(map[string]any)
	if birth["act_number"] != int32(42) || !birth["registered_on"].(time.Time).Equal(rec.Birth.RegisteredOn) {
		t.Fatalf("goavro read birth act %v", birth)
	}
}

// TestSchemaResolution: a v1 writer is read by a v2 reader (the new field
// takes its default) and a v2 writer by a v1 reader (the field is skipped).
func TestSchemaResolution(t *testing.T) {
	ctx := testenv.Ctx(t, time.Minute)
	reg := startRegistry(t)
	v1 := latest(t, bus.BaseCivilStatus)
	v2 := withField(t, v1, `{"name":"nationality","type":"string","default":"DZ","doc":"Nationality code."}`)

	old := newCodec(t, reg.URL)
	id1, err := old.Use(ctx, bus.BaseCivilStatus, v1)
	testenv.Must(t, err, "use v1")
	upgraded := newCodec(t, reg.URL)
	id2, err := upgraded.Use(ctx, bus.BaseCivilStatus, v2)
	testenv.Must(t, err, "use v2")
	if id1 == id2 {
		t.Fatal("v1 and v2 share an id")
	}

	rec := schematest.Marriage()
	fromV1, err := old.Encode(bus.BaseCivilStatus, rec)
	testenv.Must(t, err, "encode v1")
	var asV2 map[string]any
	if _, err := upgraded.Decode(ctx, bus.BaseCivilStatus, fromV1, &asV2); err != nil {
		t.Fatalf("v2 reader on v1 data: %v", err)
	}
	if asV2["nationality"] != "DZ" || asV2["nin"] != rec.NIN {
		t.Fatalf("v2 reader got nationality=%v nin=%v", asV2["nationality"], asV2["nin"])
	}

	fromV2, err := upgraded.Encode(bus.BaseCivilStatus, map[string]any{
		"provenance": map[string]any{"agency": "etatcivil", "data_center": "etatcivil-dc01", "source_key": "k", "source_version": int64(9),
			"event_time": schematest.Now, "operation": "UPSERT"},
		"nin": schematest.NIN, "kind": "DEATH", "person": nil, "birth": nil, "marriage": nil, "divorce": nil,
		"death": map[string]any{"org.askonce.civilstatus.DeathAct": map[string]any{"act_number": 5, "act_year": 2026, "act_commune": "9901",
			"date_of_death": schematest.Now.Truncate(24 * time.Hour), "place_commune": "9901", "marginal_notes": []any{}}},
		"nationality": "DZ",
	})
	testenv.Must(t, err, "encode v2")
	var asV1 schemas.CivilStatusRecord
	gotID, err := old.Decode(ctx, bus.BaseCivilStatus, fromV2, &asV1)
	if err != nil {
		t.Fatalf("v1 reader on v2 data: %v", err)
	}
	if gotID != id2 || asV1.Kind != "DEATH" || asV1.Death == nil || asV1.Death.ActNumber != 5 || asV1.Provenance.SourceVersion != 9 {
		t.Fatalf("v1 reader got id %d %+v", gotID, asV1)
	}
}

// TestCivilStatusV1ProducersKeepWorking: the shipped civil-status v2
// (parents' NINs) is accepted after v1 by a registry at FULL_TRANSITIVE; a
// record from a producer still on v1 decodes with the v2 reader, its
// parents' NINs nil; a v2 record decodes with a consumer still on v1.
func TestCivilStatusV1ProducersKeepWorking(t *testing.T) {
	ctx := testenv.Ctx(t, time.Minute)
	reg := startRegistry(t)
	var versions []string
	subs, err := schemas.Catalog()
	testenv.Must(t, err, "catalog")
	for _, s := range subs {
		if s.Topic == bus.BaseCivilStatus {
			versions = s.Versions
		}
	}
	if len(versions) < 2 {
		t.Fatalf("%d civil-status versions, want v1 and v2", len(versions))
	}
	v1, v2 := versions[0], versions[1]
	subject := schemas.Name(bus.BaseCivilStatus)
	rc, err := registry.NewClient(registry.ClientConfig{URL: reg.URL, Timeout: 5 * time.Second})
	testenv.Must(t, err, "registry client")
	testenv.Must(t, rc.SetLevel(ctx, subject, "FULL_TRANSITIVE"), "set level")

	old := newCodec(t, reg.URL)
	id1, err := old.Use(ctx, bus.BaseCivilStatus, v1)
	testenv.Must(t, err, "register v1")
	ok, reasons, err := rc.Compatible(ctx, subject, v2)
	testenv.Must(t, err, "compatibility of v2")
	if !ok {
		t.Fatalf("the registry refuses v2 after v1 under FULL_TRANSITIVE: %v", reasons)
	}
	upgraded := newCodec(t, reg.URL)
	id2, err := upgraded.Use(ctx, bus.BaseCivilStatus, v2)
	testenv.Must(t, err, "register v2")
	if id1 == id2 {
		t.Fatal("v1 and v2 share an id")
	}

	// A producer on v1 writes a birth; the parents' NINs it knows nothing of are not sent.
	fromV1, err := old.Encode(bus.BaseCivilStatus, schematest.ChildBirth())
	testenv.Must(t, err, "encode v1")
	var asV2 schemas.CivilStatusRecord
	gotID, err := upgraded.Decode(ctx, bus.BaseCivilStatus, fromV1, &asV2)
	if err != nil {
		t.Fatalf("v2 reader on v1 data: %v", err)
	}
	if gotID != id1 || asV2.Person == nil || asV2.Person.FirstNamesLatin != "Meriem" || asV2.Person.FatherNIN != nil || asV2.Person.MotherNIN != nil {
		t.Fatalf("v2 reader got id %d person %+v", gotID, asV2.Person)
	}

	// A producer on v2 sends them; a consumer on v1 still reads the record.
	fromV2, err := upgraded.Encode(bus.BaseCivilStatus, schematest.ChildBirth())
	testenv.Must(t, err, "encode v2")
	var withParents schemas.CivilStatusRecord
	_, err = upgraded.Decode(ctx, bus.BaseCivilStatus, fromV2, &withParents)
	testenv.Must(t, err, "v2 reader on v2 data")
	if p := withParents.Person; p == nil || p.FatherNIN == nil || *p.FatherNIN != schematest.NIN || p.MotherNIN == nil || *p.MotherNIN != schematest.SpouseNIN {
		t.Fatalf("v2 round trip lost the parents: %+v", withParents.Person)
	}
	var asV1 schemas.CivilStatusRecord
	gotID, err = old.Decode(ctx, bus.BaseCivilStatus, fromV2, &asV1)
	if err != nil {
		t.Fatalf("v1 reader on v2 data: %v", err)
	}
	if gotID != id2 || asV1.NIN != schematest.ChildNIN || asV1.Person == nil || asV1.Person.FatherNIN != nil || asV1.Birth == nil || asV1.Birth.ActNumber != 7 {
		t.Fatalf("v1 reader got id %d %+v", gotID, asV1)
	}
}

func TestDecodeErrors(t *testing.T) {
	ctx := testenv.Ctx(t, time.Minute)
	reg := startRegistry(t)
	codec := newCodec(t, reg.URL)
	_, err := codec.Use(ctx, bus.BaseContribution, latest(t, bus.BaseContribution))
	testenv.Must(t, err, "use")
	good, err := codec.Encode(bus.BaseContribution, schematest.Contribution())
	testenv.Must(t, err, "encode")

	// An unrelated schema in the registry: its id exists, its data cannot be
	// read as a contribution.
	other := newCodec(t, reg.URL)
	otherID, err := other.Use(ctx, "other", `{"type":"record","name":"Other","fields":[{"name":"x","type":"int"}]}`)
	testenv.Must(t, err, "other schema")
	foreign := bus.AppendFrame(nil, otherID)
	foreign = append(foreign, 0x02)

	tests := []struct {
		name   string
		data   []byte
		reason string
	}{
		{"empty", nil, bus.ReasonNotFramed},
		{"short", []byte{0, 0, 1}, bus.ReasonNotFramed},
		{"json instead of avro", []byte(`{"nin":"1"}`), bus.ReasonNotFramed},
		{"zero id", []byte{0, 0, 0, 0, 0, 1}, bus.ReasonUnknownSchema},
		{"unknown id", append(bus.AppendFrame(nil, 9999), good[5:]...), bus.ReasonUnknownSchema},
		{"truncated payload", good[:len(good)/2], bus.ReasonMalformed},
		{"foreign schema", foreign, bus.ReasonIncompatible},
	}
	for _, tc := range tests {
		var out schemas.ContributionRecord
		_, err := codec.Decode(ctx, bus.BaseContribution, tc.data, &out)
		var de *bus.DecodeError
		if !errors.As(err, &de) || de.Reason != tc.reason {
			t.Errorf("%s: err = %v, want DecodeError %s", tc.name, err, tc.reason)
		}
	}

	// A registry outage is not bad data: the error is transient, not a DecodeError.
	fresh := newCodec(t, reg.URL)
	_, err = fresh.Use(ctx, bus.BaseContribution, latest(t, bus.BaseContribution))
	testenv.Must(t, err, "use")
	reg.Close()
	var out schemas.ContributionRecord
	_, err = fresh.Decode(ctx, bus.BaseContribution, foreign, &out)
	var de *bus.DecodeError
	if err == nil || errors.As(err, &de) {
		t.Fatalf("registry down: err = %v, want a transient error", err)
	}
	// Data in the topic's own schema still decodes from the cache.
	if _, err := fresh.Decode(ctx, bus.BaseContribution, good, &out); err != nil || out.Period != "2026-09" {
		t.Fatalf("cached schema with registry down: %v", err)
	}
}

// FuzzDecode: no input makes the decoder panic or hang, and every failure
// is a DecodeError (the registry is up, so nothing is transient).
func FuzzDecode(f *testing.F) {
	reg := startRegistry(f)
	codec := newCodec(f, reg.URL)
	ctx := context.Background()
	for _, topic := range []string{bus.BaseCivilStatus, bus.BaseEmployment, bus.BaseContribution} {
		if _, err := codec.Use(ctx, topic, latest(f, topic)); err != nil {
			f.Fatal(err)
		}
	}
	for _, v := range []any{schematest.Birth(), schematest.Marriage(), schematest.Divorce(), schematest.Death()} {
		b, err := codec.Encode(bus.BaseCivilStatus, v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)-3])
	}
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, data []byte) {
		var rec schemas.CivilStatusRecord
		_, err := codec.Decode(ctx, bus.BaseCivilStatus, data, &rec)
		var de *bus.DecodeError
		if err != nil && !errors.As(err, &de) {
			t.Fatalf("non-DecodeError for bad input: %v", err)
		}
	})
}
