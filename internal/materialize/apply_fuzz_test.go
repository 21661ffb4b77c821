package materialize

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/internal/poison"
	"github.com/askonce/askonce/internal/store"
	"github.com/askonce/askonce/internal/testenv"
	"github.com/askonce/askonce/schemas"
	"github.com/askonce/askonce/schemas/schematest"
)

// FuzzApply drives generated records, unvalidated (as a producer outside
// the project could write them, had validation a gap), through the real
// PostgreSQL apply path between two valid records: every record ends
// applied or refused alone (to be dead-lettered), the valid ones are
// applied, the apply never fails, and the batch's watermark moves.
func FuzzApply(f *testing.F) {
	f.Add("BENALI", "Youcef", "Marié le 02/07/2012", int32(5000), int64(3), int64(3600e6), int32(42))
	f.Add("A\x00B", "\xff\xfe", "note\x00", int32(-2147483648), int64(-1), int64(-1), int32(-1))
	f.Add("", "", "", int32(2147483647), int64(9223372036854775807), int64(9223372036854775807), int32(2147483647))
	f.Add("\u202eRTL", "يوسف", "\r\n\t", int32(0), int64(1), int64(0), int32(0))
	ctx := context.Background()
	pool, err := store.OpenURL(ctx, testenv.Postgres(f), 2)
	testenv.Must(f, err, "store")
	f.Cleanup(pool.Close)
	testenv.Must(f, Migrate(ctx, pool, nil), "migrate")
	conn, err := pool.Acquire(ctx)
	testenv.Must(f, err, "conn")
	f.Cleanup(conn.Release)
	var seq atomic.Int64
	topics := bus.NewTopics(bus.TopicsConfig{})
	f.Fuzz(func(t *testing.T, surname, first, note string, days int32, version, birthMicros int64, act int32) {
		n := seq.Add(1)
		key := func(s string) string { return fmt.Sprintf("fuzz/%d/%s", n, s) }
		good := schematest.Birth()
		good.Provenance.SourceKey = key("good")
		fuzzed := schematest.Birth()
		fuzzed.Provenance.SourceKey, fuzzed.Provenance.SourceVersion = key("fuzzed"), version
		p := *fuzzed.Person
		p.SurnameLatin, p.FirstNamesArabic = surname, first
		p.BirthDate = time.Unix(0, 0).UTC().AddDate(0, 0, int(days))
		fuzzed.Person = &p
		b := *fuzzed.Birth
		bt := time.Duration(birthMicros) * time.Microsecond
		b.BirthTime, b.MarginalNotes, b.ActNumber = &bt, []string{note}, int(act)
		fuzzed.Birth = &b
		death := schematest.Death()
		death.Provenance.SourceKey = key("death")
		death.Death.MarginalNotes = []string{note, surname}
		after := schematest.Birth()
		after.Provenance.SourceKey = key("after")
		var rows []row
		for i, rec := range []*schemas.CivilStatusRecord{good, fuzzed, death, after} {
			r, err := rowOf(rec, origin{topic: topics.CivilStatus, partition: 0, offset: n*4 + int64(i)})
			testenv.Must(t, err, "row")
			r.msg, r.agency = i, rec.Provenance.Agency
			rows = append(rows, r)
		}
		at := time.Now().UTC().Truncate(time.Microsecond)
		marks := map[markKey]bus.Watermark{{dc: "etatcivil-dc07", topic: topics.CivilStatus, partition: 0}: {
			Agency: "etatcivil", DataCenter: "etatcivil-dc07", At: at, Partitions: 1}}
		var refused []poison.Failure[row]
		_, fails, err := applyIsolating(ctx, conn.Conn(), batch{rows: rows, marks: marks,
			offsets:  map[origin]struct{}{{topic: topics.CivilStatus, offset: n*4 + 3}: {}},
			topicsOf: func(string) []string { return []string{topics.CivilStatus} }},
			func(f []poison.Failure[row]) error { refused = f; return nil })
		if err != nil {
			t.Fatalf("apply failed (the consumer would stop): %v", err)
		}
		if len(fails) != len(refused) {
			t.Fatalf("%d refused, %d dead-lettered", len(fails), len(refused))
		}
		isRefused := map[int]bool{}
		for _, f := range fails {
			isRefused[f.Item.msg] = true
			if poison.Classify(f.Err) != poison.Data {
				t.Fatalf("refused for an outage: %v", f.Err)
			}
		}
		if isRefused[0] || isRefused[3] {
			t.Fatalf("a valid record was refused: %v", fails)
		}
		for i, r := range rows {
			var v int64
			err := conn.QueryRow(ctx, "SELECT version FROM "+r.t.name+" WHERE data_center = $1 AND source_key = $2", r.dc, r.key).Scan(&v)
			if isRefused[i] {
				if err == nil {
					t.Fatalf("record %d refused and stored", i)
				}
				continue
			}
			if err != nil || v != r.version {
				t.Fatalf("record %d (%s) neither refused nor stored with its version %d: %v (stored %d)", i, r.key, r.version, err, v)
			}
		}
		var wm time.Time
		testenv.Must(t, conn.QueryRow(ctx, `SELECT watermark FROM store_watermarks WHERE data_center = 'etatcivil-dc07'`).Scan(&wm), "watermark")
		if wm.Before(at) {
			t.Fatalf("watermark %s did not move to %s", wm, at)
		}
	})
}
