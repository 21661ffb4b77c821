package materialize_test

import (
	"io"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/internal/poison"
	"github.com/askonce/askonce/internal/testenv"
	"github.com/askonce/askonce/schemas/schematest"
)

// A record the store refuses (here a constraint the store holds, PostgreSQL
// SQLSTATE 23514) is isolated and dead-lettered with the store's reason;
// the records around it are applied; the watermark round after them moves
// the data center's watermark, recorded in its history. Markers that lie
// (from the future, for another agency's data center, with a value, on the
// wrong partition) are dead-lettered; an incomplete round moves nothing.
func TestStoreRefusalIsolatedAndWatermarks(t *testing.T) {
	ctx := testenv.Ctx(t, 3*time.Minute)
	e := setup(t, ctx)
	topics := e.conn.Client.Topics()
	stop, srv := e.run(t, ctx, "mat-wm")
	defer stop()
	waitRows(t, ctx, e.pool, "true", `SELECT (to_regclass('store_watermarks') IS NOT NULL)::text`)
	_, err := e.pool.Exec(ctx, `ALTER TABLE persons ADD CONSTRAINT test_refused CHECK (surname_latin IS DISTINCT FROM 'REFUSED')`)
	testenv.Must(t, err, "constraint")

	parts, err := e.conn.Client.ListTopics(ctx)
	testenv.Must(t, err, "topics")
	n := parts[topics.CivilStatus]
	const dc = "etatcivil-dc07" // schematest's data center
	births := make([]kafka.Message, 0, 5)
	var refusedKey string
	for i := range 5 {
		b := schematest.Birth()
		b.Provenance.SourceKey = "birth/wm/" + strconv.Itoa(i)
		b.NIN = b.NIN[:15] + strconv.Itoa(i) + b.NIN[16:]
		if i == 2 {
			p := *b.Person
			p.SurnameLatin = "REFUSED"
			b.Person = &p
			refusedKey = b.Provenance.SourceKey
		}
		births = append(births, e.encode(t, topics.CivilStatus, b, schematest.NIN))
	}
	round := time.Now().Add(-time.Second).UTC().Truncate(time.Microsecond)
	msgs := append(births, bus.WatermarkMessages(topics.CivilStatus, n, "etatcivil", dc, round)...)
	e.produce(t, ctx, msgs...)

	waitRows(t, ctx, e.pool, "4", `SELECT count(*)::text FROM persons WHERE source_key LIKE 'birth/wm/%'`)
	waitRows(t, ctx, e.pool, "true", `SELECT (watermark = $2)::text FROM store_watermarks WHERE data_center = $1`, dc, round)
	var hist int
	testenv.Must(t, e.pool.QueryRow(ctx, `SELECT count(*) FROM store_watermark_history WHERE data_center = $1 AND watermark = $2 AND recorded_at <= now()`, dc, round).Scan(&hist), "history")
	if hist != 1 {
		t.Errorf("history rows of the round: %d, want 1", hist)
	}
	dlq := testenv.WaitTopic(t, ctx, e.broker.Addr, topics.DLQ, 1, 30*time.Second)
	var refused kafka.Message
	for _, m := range dlq {
		if bus.Header(m, bus.HeaderDLQCode) == poison.CodeStoreRefused {
			refused = m
		}
	}
	if refused.Value == nil {
		t.Fatalf("no %s in the DLQ: %d messages", poison.CodeStoreRefused, len(dlq))
	}
	if msg := bus.Header(refused, bus.HeaderDLQMessage); !strings.Contains(msg, "23514") || bus.Header(refused, bus.HeaderDLQDataCenter) != dc {
		t.Errorf("refusal reason %q, headers %v", msg, refused.Headers)
	}
	var stored int
	testenv.Must(t, e.pool.QueryRow(ctx, `SELECT count(*) FROM persons WHERE source_key = $1`, refusedKey).Scan(&stored), "refused")
	if stored != 0 {
		t.Errorf("the refused record is in the store")
	}

	// Markers that lie.
	future := bus.WatermarkMessages(topics.CivilStatus, n, "etatcivil", "etatcivil-dc08", time.Now().Add(time.Hour))[:1]
	foreign := bus.WatermarkMessages(topics.CivilStatus, n, "cnas", "cnas-dc01", time.Now())[:1]
	stolen := bus.WatermarkMessages(topics.CivilStatus, n, "etatcivil", "cnas-dc01", time.Now())[:1]
	valued := bus.WatermarkMessages(topics.CivilStatus, n, "etatcivil", "etatcivil-dc08", time.Now())[:1]
	valued[0].Value = []byte("not null")
	// A round of which only partition 0 arrives: no watermark for dc09.
	partial := bus.WatermarkMessages(topics.CivilStatus, n, "etatcivil", "etatcivil-dc09", time.Now())[:1]
	e.produce(t, ctx, append(append(append(append(future, foreign...), stolen...), valued...), partial...)...)
	want := map[string]int{bus.CodeWatermarkFuture: 1, bus.CodeWatermarkAgency: 2, bus.CodeWatermarkInvalid: 1}
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := map[string]int{}
		for _, m := range testenv.ReadTopic(t, ctx, e.broker.Addr, topics.DLQ) {
			got[bus.Header(m, bus.HeaderDLQCode)]++
		}
		ok := true
		for c, k := range want {
			ok = ok && got[c] == k
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("DLQ codes %v, want %v", got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
	var dcs string
	testenv.Must(t, e.pool.QueryRow(ctx, `SELECT string_agg(data_center, ',' ORDER BY data_center) FROM store_watermarks`).Scan(&dcs), "dcs")
	if dcs != dc {
		t.Errorf("data centers with a watermark: %s, want only %s", dcs, dc)
	}

	// The consumer goes on: a later record is applied.
	later := schematest.Birth()
	later.Provenance.SourceKey, later.Provenance.SourceVersion = "birth/wm/later", 1
	e.produce(t, ctx, e.encode(t, topics.CivilStatus, later, schematest.NIN))
	waitRows(t, ctx, e.pool, "1", `SELECT count(*)::text FROM persons WHERE source_key = 'birth/wm/later'`)

	// Metrics and readiness.
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	if !strings.Contains(string(body), `askonce_store_watermark_lag_seconds{agency="etatcivil",data_center="etatcivil-dc07"}`) {
		t.Errorf("/metrics lacks the watermark lag of %s", dc)
	}
	for name, err := range srv.Ready(ctx) {
		if err != nil {
			t.Errorf("not ready: %s: %v", name, err)
		}
	}
	// A store whose watermarks stopped: not ready, and says why.
	_, err = e.pool.Exec(ctx, `UPDATE store_watermarks SET updated_at = now() - interval '10 minutes'`)
	testenv.Must(t, err, "age")
	time.Sleep(1100 * time.Millisecond)
	if err := srv.Ready(ctx)["store-watermarks"]; err == nil || !strings.Contains(err.Error(), "frozen") {
		t.Errorf("frozen store ready: %v", err)
	}
}
