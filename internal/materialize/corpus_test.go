package materialize_test

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/internal/materialize"
	"github.com/askonce/askonce/internal/testenv"
	"github.com/askonce/askonce/schemas"
	"github.com/askonce/askonce/schemas/schematest"
)

// topicCase is one entry of testdata/topics/manifest.json.
type topicCase struct {
	What string `json:"what"`
	// Topic is where the message is produced: civil-status, employment or contribution.
	Topic string `json:"topic"`
	// Frame: "raw" sends the file's bytes as the value; "<topic>@<N>"
	// prefixes them with magic byte 0 and the registry id of version N of
	// that topic's schema (the file is then an Avro body).
	Frame string `json:"frame"`
	// Code is the askonce.dlq.code the materializer must give it.
	Code string `json:"code"`
}

// readCorpusFile reads a corpus value: .bin as is, .hex as hex digits
// (whitespace and # comments ignored).
func readCorpusFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	testenv.Must(t, err, "read %s", path)
	if !strings.HasSuffix(path, ".hex") {
		return b
	}
	var digits strings.Builder
	for _, line := range strings.Split(string(b), "\n") {
		line, _, _ = strings.Cut(line, "#")
		digits.WriteString(strings.Join(strings.Fields(line), ""))
	}
	out, err := hex.DecodeString(digits.String())
	testenv.Must(t, err, "hex %s", path)
	return out
}

// ruleInvalid are the schema-valid records that break a validation rule,
// written (Avro body, latest schema) to testdata/topics/rule-*.hex by
// ASKONCE_UPDATE_CORPUS=1 go test -run TestTopicCorpus ./internal/materialize.
func ruleInvalid() map[string]any {
	future := schematest.Birth()
	future.Person.BirthDate = time.Date(2199, time.January, 1, 0, 0, 0, 0, time.UTC)
	future.Birth.RegisteredOn = future.Person.BirthDate
	badNIN := schematest.Birth()
	badNIN.NIN = "12345' OR 1=1 --"
	mismatch := schematest.Birth()
	mismatch.NIN = "109859916000990137"
	spouseSelf := schematest.Marriage()
	spouseSelf.Marriage.SpouseNIN = spouseSelf.NIN
	wrongAgency := schematest.Birth()
	wrongAgency.Provenance.Agency = "cnas"
	version0 := schematest.Death()
	version0.Provenance.SourceVersion = 0
	kind := schematest.Birth()
	kind.Kind = schemas.KindDeath // a death without its act, with a birth's payload
	nss := schematest.Affiliation()
	nss.NSS = "16-00'123"
	order := schematest.Employment()
	before := order.Employment.StartDate.AddDate(-1, 0, 0)
	order.Employment.EndDate = &before
	period := schematest.Contribution()
	period.Period = "2026-13"
	negative := schematest.Contribution()
	negative.AmountPaid = -1
	status := schematest.Contribution()
	status.Status = "PAID" // amount paid is less than due
	// Text that PostgreSQL refuses or that must never reach a document:
	// schema-valid (Avro strings are bytes to the codec), refused by the
	// text rules before any store.
	firstNUL := schematest.Birth()
	firstNUL.Person.FirstNamesLatin = "Youcef\x00Karim"
	latin1 := schematest.Birth()
	latin1.Person.SurnameLatin = "B\xe9NALI" // Latin-1 é: not UTF-8
	longNote := schematest.Birth()
	longNote.Birth.MarginalNotes = []string{strings.Repeat("Mention marginale. ", 527)[:10_000]}
	employerESC := schematest.Employment()
	employerESC.Employment.EmployerName = "SARL \x1b[2J\x1b[31mAtlas Travaux"
	contribNUL := schematest.Contribution()
	employerID := "16E0099\x00"
	contribNUL.EmployerID = &employerID
	return map[string]any{
		"rule-birth-date-future.hex": future, "rule-birth-nin-format.hex": badNIN, "rule-birth-nin-mismatch.hex": mismatch,
		"rule-marriage-spouse-self.hex": spouseSelf, "rule-birth-agency-wrong.hex": wrongAgency, "rule-death-version-zero.hex": version0,
		"rule-kind-payload.hex": kind, "rule-affiliation-nss.hex": nss, "rule-employment-date-order.hex": order,
		"rule-contribution-period.hex": period, "rule-contribution-negative.hex": negative, "rule-contribution-status.hex": status,
		"rule-text-birth-first-name-nul.hex": firstNUL, "rule-text-birth-surname-latin1.hex": latin1,
		"rule-text-birth-note-10000.hex": longNote, "rule-text-employer-name-escape.hex": employerESC,
		"rule-text-contribution-employer-id-nul.hex": contribNUL,
	}
}

// TestTopicCorpus produces every message of testdata/topics to the
// record topics, each followed by a good record with the same key (so on
// the same partition, after it), and runs the materializer: each bad
// message is in the DLQ with the manifest's reason code, its original key
// and bytes and its position; every good record after it is stored; the
// materializer stays ready. A corpus file without an expectation, or an
// expectation without its file, fails the test.
func TestTopicCorpus(t *testing.T) {
	ctx := testenv.Ctx(t, 3*time.Minute)
	e := setup(t, ctx)
	topics := e.conn.Client.Topics()
	topicOf := map[string]string{"civil-status": topics.CivilStatus, "employment": topics.Employment, "contribution": topics.Contribution}
	dir := filepath.Join(testenv.RepoRoot(t), "testdata", "topics")

	if os.Getenv("ASKONCE_UPDATE_CORPUS") == "1" {
		for name, rec := range ruleInvalid() {
			var topic string
			switch rec.(type) {
			case *schemas.CivilStatusRecord:
				topic = topics.CivilStatus
			case *schemas.EmploymentRecord:
				topic = topics.Employment
			default:
				topic = topics.Contribution
			}
			b, err := e.conn.Codec.Encode(topic, rec)
			testenv.Must(t, err, "encode %s", name)
			body := "# generated by ASKONCE_UPDATE_CORPUS=1 (internal/materialize/corpus_test.go): Avro body, latest schema\n" +
				hex.EncodeToString(b[bus.HeaderSize:]) + "\n"
			testenv.Must(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644), "write %s", name)
		}
		b, err := e.conn.Codec.Encode(topics.CivilStatus, schematest.Birth())
		testenv.Must(t, err, "encode birth")
		cut := b[bus.HeaderSize : bus.HeaderSize+(len(b)-bus.HeaderSize)/2]
		body := "# generated by ASKONCE_UPDATE_CORPUS=1: the first half of a valid birth record's Avro body\n" + hex.EncodeToString(cut) + "\n"
		testenv.Must(t, os.WriteFile(filepath.Join(dir, "avro-truncated-birth.hex"), []byte(body), 0o644), "write truncated")
		b, err = e.conn.Codec.Encode(topics.Employment, schematest.Employment())
		testenv.Must(t, err, "encode employment")
		body = "# generated by ASKONCE_UPDATE_CORPUS=1: a valid employment record's Avro body (framed with the employment schema, sent to civil-status)\n" +
			hex.EncodeToString(b[bus.HeaderSize:]) + "\n"
		testenv.Must(t, os.WriteFile(filepath.Join(dir, "wrong-topic-employment.hex"), []byte(body), 0o644), "write wrong topic")
	}

	raw, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	testenv.Must(t, err, "manifest")
	var manifest map[string]topicCase
	testenv.Must(t, json.Unmarshal(raw, &manifest), "manifest")
	entries, err := os.ReadDir(dir)
	testenv.Must(t, err, "corpus")
	var files []string
	for _, en := range entries {
		if n := en.Name(); n != "manifest.json" && n != "README.md" && !strings.HasPrefix(n, ".") {
			files = append(files, n)
			if _, ok := manifest[n]; !ok {
				t.Errorf("testdata/topics/%s has no expectation in manifest.json", n)
			}
		}
	}
	for n := range manifest {
		if !slices.Contains(files, n) {
			t.Errorf("manifest.json names testdata/topics/%s, which does not exist", n)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// Schema ids of each topic's versions, as this registry numbered them.
	subs, err := schemas.Catalog()
	testenv.Must(t, err, "catalog")
	ids := map[string]int{}
	for short, topic := range topicOf {
		for _, s := range subs {
			if s.Topic != bus.BaseCivilStatus && s.Topic != bus.BaseEmployment && s.Topic != bus.BaseContribution || !strings.Contains(s.Topic, short) {
				continue
			}
			for v, text := range s.Versions {
				id, err := e.conn.Codec.Use(ctx, topic, text)
				testenv.Must(t, err, "register %s v%d", topic, v+1)
				ids[fmt.Sprintf("%s@%d", short, v+1)] = id
			}
		}
	}
	// The current schema stays the latest (Use of an old version does not change what Encode writes).
	slices.Sort(files)
	var msgs []kafka.Message
	bad := map[string]string{}   // key -> file
	value := map[string][]byte{} // key -> bytes
	goodCivil, goodEmp, goodContrib := 0, 0, 0
	for i, name := range files {
		c := manifest[name]
		topic, ok := topicOf[c.Topic]
		if !ok || c.Code == "" || c.What == "" {
			t.Fatalf("manifest %s: topic %q code %q what %q", name, c.Topic, c.Code, c.What)
		}
		v := readCorpusFile(t, filepath.Join(dir, name))
		if c.Frame != "raw" {
			id, ok := ids[c.Frame]
			if !ok {
				t.Fatalf("manifest %s: frame %q is neither raw nor <topic>@<version> (%v)", name, c.Frame, ids)
			}
			v = append(binary.BigEndian.AppendUint32([]byte{bus.MagicByte}, uint32(id)), v...)
		}
		key := fmt.Sprintf("corpus-%02d", i)
		bad[key], value[key] = name, v
		msgs = append(msgs, kafka.Message{Topic: topic, Key: []byte(key), Value: v})
		// A good record right after it, on the same partition.
		switch c.Topic {
		case "civil-status":
			b := schematest.Birth()
			b.Provenance.SourceKey = "corpus/" + key
			msgs = append(msgs, e.encode(t, topic, b, key))
			goodCivil++
		case "employment":
			r := schematest.Employment()
			r.Provenance.SourceKey = "corpus/" + key
			msgs = append(msgs, e.encode(t, topic, r, key))
			goodEmp++
		case "contribution":
			r := schematest.Contribution()
			r.Provenance.SourceKey = "corpus/" + key
			msgs = append(msgs, e.encode(t, topic, r, key))
			goodContrib++
		}
	}
	e.produce(t, ctx, msgs...)
	stop, srv := e.run(t, ctx, "mat-corpus")
	defer stop()

	want := fmt.Sprintf("%d %d %d", goodCivil, goodEmp, goodContrib)
	waitRows(t, ctx, e.pool, want, `SELECT (SELECT count(*) FROM persons WHERE source_key LIKE 'corpus/%')::text || ' ' ||
		(SELECT count(*) FROM employment_periods WHERE source_key LIKE 'corpus/%')::text || ' ' ||
		(SELECT count(*) FROM contributions WHERE source_key LIKE 'corpus/%')::text`)

	dlq := testenv.WaitTopic(t, ctx, e.broker.Addr, topics.DLQ, len(bad), 30*time.Second)
	seen := map[string]bool{}
	for _, m := range dlq {
		key := string(m.Key)
		name, ok := bad[key]
		if !ok {
			t.Errorf("unexpected DLQ message key %q code %s: %s", key, bus.Header(m, bus.HeaderDLQCode), bus.Header(m, bus.HeaderDLQMessage))
			continue
		}
		seen[key] = true
		c := manifest[name]
		if got := bus.Header(m, bus.HeaderDLQCode); got != c.Code {
			t.Errorf("%s (%s): DLQ code %q (%s), want %q", name, c.What, got, bus.Header(m, bus.HeaderDLQMessage), c.Code)
		}
		if bus.Header(m, bus.HeaderDLQMessage) == "" || bus.Header(m, bus.HeaderDLQSource) != materialize.DLQSource ||
			!strings.HasPrefix(bus.Header(m, bus.HeaderDLQPosition), topicOf[c.Topic]+"/") {
			t.Errorf("%s: DLQ headers %v", name, m.Headers)
		}
		if string(m.Value) != string(value[key]) {
			t.Errorf("%s: the DLQ holds %d bytes, not the original %d", name, len(m.Value), len(value[key]))
		}
	}
	for key, name := range bad {
		if !seen[key] {
			t.Errorf("%s: not in the DLQ", name)
		}
	}
	// The pipeline was never stopped: ready, and a record produced now is applied.
	for n, err := range srv.Ready(ctx) {
		if err != nil {
			t.Errorf("materializer not ready: %s: %v", n, err)
		}
	}
	late := schematest.Birth()
	late.Provenance.SourceKey = "corpus/late"
	e.produce(t, ctx, e.encode(t, topics.CivilStatus, late, "late"))
	waitRows(t, ctx, e.pool, "1", `SELECT count(*)::text FROM persons WHERE source_key = 'corpus/late'`)
}
