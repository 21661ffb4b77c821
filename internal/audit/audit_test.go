package audit_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/askonce/askonce/internal/audit"
	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/internal/dbroles"
	"github.com/askonce/askonce/internal/ops"
	"github.com/askonce/askonce/internal/store"
	"github.com/askonce/askonce/internal/testenv"
	"github.com/askonce/askonce/schemas"
)

// TestHashEncoding pins the documented encoding: the expected hashes were
// computed independently, with the Python lines of the package comment.
func TestHashEncoding(t *testing.T) {
	e := audit.Entry{
		Seq: 1, At: time.Date(2026, 11, 25, 15, 37, 0, 123456789, time.FixedZone("CET", 3600)),
		RequestID: "r-1", Client: "cnr-pensions", ClerkID: "agent-17", NIN: "109991234500012345",
		DocumentType: "life-certificate", Purpose: "PENSION-REVIEW", Outcome: "issued", DocumentID: "att-1",
		PrevHash: audit.GenesisHash,
	}
	c, err := audit.Canonical(e)
	testenv.Must(t, err, "canonical")
	want := `{"at":"2026-11-25T14:37:00.123456Z","clerk_id":"agent-17","client":"cnr-pensions","document_id":"att-1",` +
		`"document_type":"life-certificate","nin":"109991234500012345","outcome":"issued",` +
		`"prev_hash":"0000000000000000000000000000000000000000000000000000000000000000","purpose":"PENSION-REVIEW","reason":"","request_id":"r-1","seq":1}`
	if string(c) != want {
		t.Errorf("canonical:\n got %s\nwant %s", c, want)
	}
	h1, err := audit.Hash(e)
	testenv.Must(t, err, "hash")
	if h1 != "0fd7158fea897c7c6e0325ce0b4f1edddfb28ff02c1c0c58332af37f83d8006d" {
		t.Errorf("hash 1 = %s", h1)
	}
	e2 := e
	e2.Seq, e2.At, e2.Outcome, e2.Reason, e2.DocumentID = 2, time.Date(2026, 11, 25, 14, 37, 1, 0, time.UTC), "denied", "policy.purpose_not_allowed", ""
	e2.NIN, e2.PrevHash = "10999123450001234é\n\"", h1
	h2, err := audit.Hash(e2)
	testenv.Must(t, err, "hash")
	if h2 != "5cb012ab6df6ae8a4e82edf5f1b00cea107a63f9538029ba377afe82d7f9a63a" {
		t.Errorf("hash 2 = %s", h2)
	}
}

type env struct {
	pool *pgxpool.Pool
	log  *audit.Log
	reg  *prometheus.Registry
	stop func()
}

// migrated is a fresh database with the audit tables, as `askonce
// migrate` leaves it.
func migrated(t testing.TB) *testenv.DB {
	t.Helper()
	return testenv.Database(t, audit.Migrate)
}

// open returns a pool of the role the lookup API writes the log with.
func open(t testing.TB, ctx context.Context, d *testenv.DB) *pgxpool.Pool {
	t.Helper()
	return d.Pool(t, dbroles.API)
}

// admin returns a pool of the superuser: what no component may do
// (tampering, creating tables).
func admin(t testing.TB, ctx context.Context, d *testenv.DB) *pgxpool.Pool {
	t.Helper()
	pool, err := store.OpenURL(ctx, d.Admin, 4)
	testenv.Must(t, err, "open")
	t.Cleanup(pool.Close)
	return pool
}

// start runs a Log over pool until the test ends (or stop).
func start(t testing.TB, pool *pgxpool.Pool, opts audit.Options) *env {
	t.Helper()
	e := &env{pool: pool, reg: prometheus.NewRegistry()}
	e.log = audit.New(pool, opts, e.reg, ops.NewLogger(io.Discard, "error", "json"))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.log.Run(ctx) }()
	var once sync.Once
	e.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(e.stop)
	return e
}

func entry(i int, nin string) audit.Entry {
	outcomes := []string{audit.OutcomeIssued, audit.OutcomeNotHeld, audit.OutcomeDenied, audit.OutcomeInvalid}
	e := audit.Entry{
		RequestID: fmt.Sprintf("req-%d", i), Client: "cnr-pensions", ClerkID: "agent-7", NIN: nin,
		DocumentType: "life-certificate", Purpose: "PENSION-REVIEW", Outcome: outcomes[i%len(outcomes)],
	}
	switch e.Outcome {
	case audit.OutcomeIssued:
		e.DocumentID = fmt.Sprintf("att-%d", i)
	case audit.OutcomeDenied:
		e.Reason = "policy.purpose_not_allowed"
	}
	return e
}

// appendConcurrently runs appenders goroutines that append perAppender
// entries each; it returns the entries committed and the elapsed time.
func appendConcurrently(t testing.TB, ctx context.Context, l *audit.Log, appenders, perAppender int) ([]audit.Entry, time.Duration) {
	t.Helper()
	out := make([][]audit.Entry, appenders)
	errs := make([]error, appenders)
	var wg sync.WaitGroup
	begin := time.Now()
	for g := range appenders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perAppender {
				e, err := l.Append(ctx, entry(g*perAppender+i, fmt.Sprintf("1099912345%08d", g)))
				if err != nil {
					errs[g] = err
					return
				}
				out[g] = append(out[g], e)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(begin)
	var all []audit.Entry
	for g := range appenders {
		testenv.Must(t, errs[g], "appender %d", g)
		all = append(all, out[g]...)
	}
	return all, elapsed
}

// TestGroupCommit: 64 concurrent appenders share transactions, and what
// they wrote is one intact chain.
func TestGroupCommit(t *testing.T) {
	ctx := testenv.Ctx(t, time.Minute)
	e := start(t, open(t, ctx, migrated(t)), audit.Options{})
	const appenders, per = 64, 40
	all, elapsed := appendConcurrently(t, ctx, e.log, appenders, per)
	st := e.log.Stats()
	avg := float64(st.Entries) / float64(st.Batches)
	t.Logf("group commit: %d appenders, %d entries in %s: %.0f entries/s, %d transactions, %.1f entries per transaction on average",
		appenders, st.Entries, elapsed.Round(time.Millisecond), float64(st.Entries)/elapsed.Seconds(), st.Batches, avg)
	if st.Entries != appenders*per || avg <= 1.5 {
		t.Fatalf("stats %+v: average batch %.2f, want > 1.5", st, avg)
	}
	// Each Append got its own committed entry, with a distinct seq and a
	// hash matching its content.
	seen := map[int64]bool{}
	for _, en := range all {
		if seen[en.Seq] || en.Seq < 1 || en.Seq > appenders*per {
			t.Fatalf("seq %d duplicated or out of range", en.Seq)
		}
		seen[en.Seq] = true
		if h, _ := audit.Hash(en); h != en.Hash || en.At.IsZero() || en.At.Location() != time.UTC {
			t.Fatalf("entry %d as returned: hash %s, computed %s, at %v", en.Seq, en.Hash, h, en.At)
		}
	}
	defer audit.SetVerifyPage(700)() // several pages
	res, err := audit.Verify(ctx, e.pool)
	testenv.Must(t, err, "verify")
	if !res.Intact() || res.Entries != appenders*per || res.LastSeq != appenders*per || len(res.LastHash) != 64 {
		t.Fatalf("verify: %+v", res)
	}
	// The metrics saw it.
	if n := metric(t, e.reg, "askonce_audit_entries_total", "issued"); n != appenders*per/4 {
		t.Errorf("issued entries counted: %v", n)
	}
	if n := metric(t, e.reg, "askonce_audit_batch_size", ""); n != float64(st.Batches) {
		t.Errorf("batches observed: %v", n)
	}
	if n := metric(t, e.reg, "askonce_audit_append_duration_seconds", ""); n != appenders*per {
		t.Errorf("appends observed: %v", n)
	}
}

// metric returns a counter's value or a histogram's count; outcome selects
// a label value when not empty.
func metric(t *testing.T, reg *prometheus.Registry, name, outcome string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	testenv.Must(t, err, "gather")
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if outcome != "" && (len(m.GetLabel()) != 1 || m.GetLabel()[0].GetValue() != outcome) {
				continue
			}
			if h := m.GetHistogram(); h != nil {
				return float64(h.GetSampleCount())
			}
			if g := m.GetGauge(); g != nil {
				return g.GetValue()
			}
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s %s", name, outcome)
	return 0
}

// TestTwoInstances: two API instances on one database keep one chain.
func TestTwoInstances(t *testing.T) {
	ctx := testenv.Ctx(t, time.Minute)
	d := migrated(t)
	a := start(t, open(t, ctx, d), audit.Options{})
	b := start(t, open(t, ctx, d), audit.Options{})
	var wg sync.WaitGroup
	for _, l := range []*audit.Log{a.log, b.log} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			appendConcurrently(t, ctx, l, 16, 25)
		}()
	}
	wg.Wait()
	res, err := audit.Verify(ctx, a.pool)
	testenv.Must(t, err, "verify")
	if !res.Intact() || res.Entries != 800 {
		t.Fatalf("verify: %+v", res)
	}
}

func exec(t *testing.T, ctx context.Context, pool *pgxpool.Pool, sql string, args ...any) {
	t.Helper()
	_, err := pool.Exec(ctx, sql, args...)
	testenv.Must(t, err, "%s", sql)
}

func TestVerifyDetectsTampering(t *testing.T) {
	ctx := testenv.Ctx(t, time.Minute)
	d := migrated(t)
	e := start(t, open(t, ctx, d), audit.Options{})
	// The tampering below needs the superuser: the API's role may not
	// (internal/dbroles proves it); the trigger still refuses it.
	e.pool = admin(t, ctx, d)
	for i := range 1000 {
		if i%100 == 0 {
			// Batches of several entries, and some single ones.
			appendConcurrently(t, ctx, e.log, 10, 1)
			continue
		}
		_, err := e.log.Append(ctx, entry(i, "109991234500000001"))
		testenv.Must(t, err, "append %d", i)
	}
	intact := func() {
		t.Helper()
		res, err := audit.Verify(ctx, e.pool)
		testenv.Must(t, err, "verify")
		if !res.Intact() || res.Entries != 1090 {
			t.Fatalf("intact chain: %+v", res)
		}
	}
	intact()
	expect := func(what string, seq int64, reason string) {
		t.Helper()
		res, err := audit.Verify(ctx, e.pool)
		testenv.Must(t, err, "verify")
		if res.FirstBad != seq || !strings.Contains(res.Reason, reason) || res.Entries != seq-1 {
			t.Fatalf("%s: %+v, want first bad %d (%q)", what, res, seq, reason)
		}
		t.Logf("%s: %s", what, res.Reason)
	}

	// The table refuses changes...
	for _, sql := range []string{`UPDATE audit_log SET purpose = 'X' WHERE seq = 1`, `DELETE FROM audit_log WHERE seq = 1`, `TRUNCATE audit_log`} {
		if _, err := e.pool.Exec(ctx, sql); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Fatalf("%s: err = %v", sql, err)
		}
	}
	// ...unless its owner drops the guard; then the chain tells.
	exec(t, ctx, e.pool, `ALTER TABLE audit_log DISABLE TRIGGER USER`)

	var purpose string
	testenv.Must(t, e.pool.QueryRow(ctx, `SELECT purpose FROM audit_log WHERE seq = 417`).Scan(&purpose), "read")
	exec(t, ctx, e.pool, `UPDATE audit_log SET purpose = 'FRAUD-CHECK' WHERE seq = 417`)
	expect("changed purpose", 417, "entry 417: its content does not match its hash")
	exec(t, ctx, e.pool, `UPDATE audit_log SET purpose = $1 WHERE seq = 417`, purpose)
	intact()

	exec(t, ctx, e.pool, `UPDATE audit_log SET at = at + interval '1 microsecond' WHERE seq = 1090`)
	expect("changed time of the last entry", 1090, "does not match its hash")
	exec(t, ctx, e.pool, `UPDATE audit_log SET at = at - interval '1 microsecond' WHERE seq = 1090`)
	intact()

	// Rewriting an entry with a recomputed hash breaks the next link.
	var orig audit.Entry
	var oldHash string
	testenv.Must(t, e.pool.QueryRow(ctx, `SELECT seq, at, request_id, client, clerk_id, nin, document_type, purpose, outcome, reason, document_id, prev_hash, hash FROM audit_log WHERE seq = 600`).
		Scan(&orig.Seq, &orig.At, &orig.RequestID, &orig.Client, &orig.ClerkID, &orig.NIN, &orig.DocumentType, &orig.Purpose, &orig.Outcome, &orig.Reason, &orig.DocumentID, &orig.PrevHash, &oldHash), "read 600")
	forged := orig
	forged.Client = "someone-else"
	h, _ := audit.Hash(forged)
	exec(t, ctx, e.pool, `UPDATE audit_log SET client = $1, hash = $2 WHERE seq = 600`, forged.Client, h)
	expect("forged entry with its hash recomputed", 601, "entry 601: prev_hash")
	exec(t, ctx, e.pool, `UPDATE audit_log SET client = $1, hash = $2 WHERE seq = 600`, orig.Client, oldHash)
	intact()

	// A deleted entry leaves a gap.
	exec(t, ctx, e.pool, `CREATE TABLE saved AS SELECT * FROM audit_log WHERE seq BETWEEN 250 AND 252`)
	exec(t, ctx, e.pool, `DELETE FROM audit_log WHERE seq = 250`)
	expect("deleted entry", 250, "entry 250 is missing")
	exec(t, ctx, e.pool, `DELETE FROM audit_log WHERE seq BETWEEN 251 AND 252`)
	expect("deleted entries", 250, "entries 250 to 252 are missing")
	exec(t, ctx, e.pool, `INSERT INTO audit_log SELECT * FROM saved`)
	intact()
	exec(t, ctx, e.pool, `DELETE FROM audit_log WHERE seq = 1`)
	expect("deleted first entry", 1, "entry 1 is missing (deleted): the log starts at entry 2")

	// Entries deleted from the end show against the mirror's checkpoint.
	exec(t, ctx, e.pool, `TRUNCATE audit_log`)
	exec(t, ctx, e.pool, `UPDATE audit_publish SET seq = 5`)
	res, err := audit.Verify(ctx, e.pool)
	testenv.Must(t, err, "verify")
	if res.FirstBad != 1 || !strings.Contains(res.Reason, "published up to entry 5") {
		t.Fatalf("truncated log: %+v", res)
	}
}

func TestForCitizen(t *testing.T) {
	ctx := testenv.Ctx(t, time.Minute)
	e := start(t, open(t, ctx, migrated(t)), audit.Options{})
	base := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	for i := range 30 {
		nin := "109991234500000001"
		if i%3 == 0 {
			nin = "109991234500000002"
		}
		en := entry(i, nin)
		en.At = base.Add(time.Duration(i) * time.Hour)
		_, err := e.log.Append(ctx, en)
		testenv.Must(t, err, "append")
	}
	got, err := e.log.ForCitizen(ctx, "109991234500000002", 0)
	testenv.Must(t, err, "for citizen")
	if len(got) != 10 || got[0].RequestID != "req-27" || got[9].RequestID != "req-0" || !got[0].At.Equal(base.Add(27*time.Hour)) {
		t.Fatalf("entries of citizen 2: %d, first %+v", len(got), got[0])
	}
	got, err = audit.ForCitizen(ctx, e.pool, "109991234500000001", 5)
	testenv.Must(t, err, "for citizen")
	if len(got) != 5 || got[0].RequestID != "req-29" || got[0].NIN != "109991234500000001" {
		t.Fatalf("entries of citizen 1: %+v", got)
	}
	if got, _ := e.log.ForCitizen(ctx, "nobody", 5); len(got) != 0 {
		t.Fatal("entries of nobody")
	}
}

// TestOddInput: whatever a request carried is audited, not refused.
func TestOddInput(t *testing.T) {
	ctx := testenv.Ctx(t, time.Minute)
	e := start(t, open(t, ctx, migrated(t)), audit.Options{})
	if _, err := e.log.Append(ctx, audit.Entry{NIN: "1"}); err == nil {
		t.Fatal("entry without an outcome accepted")
	}
	odd := audit.Entry{Outcome: audit.OutcomeInvalid, NIN: "12\x00\xff34", Reason: strings.Repeat("é", 3000), Client: "<script>"}
	got, err := e.log.Append(ctx, odd)
	testenv.Must(t, err, "append odd entry")
	if got.NIN != "12\uFFFD\uFFFD34" || len(got.Reason) > 2048 || !strings.HasSuffix(got.Reason, "…") || got.Client != "<script>" {
		t.Fatalf("stored as %+v", got)
	}
	res, err := audit.Verify(ctx, e.pool)
	testenv.Must(t, err, "verify")
	if !res.Intact() || res.Entries != 1 {
		t.Fatalf("verify: %+v", res)
	}
}

// TestDatabaseDown: with no database, Append fails at the caller's
// deadline (the API answers 503), and readiness says why.
func TestDatabaseDown(t *testing.T) {
	pool, err := pgxpool.New(context.Background(), "postgres://askonce@127.0.0.1:1/none?connect_timeout=1")
	testenv.Must(t, err, "pool")
	defer pool.Close()
	e := start(t, pool, audit.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel()
	begin := time.Now()
	_, err = e.log.Append(ctx, entry(1, "109991234500000001"))
	waited := time.Since(begin)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "not committed") {
		t.Fatalf("err = %v", err)
	}
	if waited < 350*time.Millisecond || waited > 3*time.Second {
		t.Fatalf("Append returned after %s, want at its deadline", waited)
	}
	if e.log.Healthy(context.Background()) == nil {
		t.Error("healthy without a database")
	}
	// Without a deadline, Options.Timeout applies.
	e2 := start(t, pool, audit.Options{Timeout: 200 * time.Millisecond})
	if _, err := e2.log.Append(context.Background(), entry(2, "1")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
}

func TestClosed(t *testing.T) {
	ctx := testenv.Ctx(t, time.Minute)
	pool := open(t, ctx, migrated(t))
	l := audit.New(pool, audit.Options{}, nil, nil)
	// Before Run, Append waits for its deadline and says why it failed.
	sctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	_, err := l.Append(sctx, entry(1, "1"))
	cancel()
	if err == nil || !strings.Contains(err.Error(), "not running") {
		t.Fatalf("before Run: %v", err)
	}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- l.Run(rctx) }()
	_, err = l.Append(ctx, entry(2, "1"))
	testenv.Must(t, err, "append")
	stop()
	testenv.Must(t, <-done, "run")
	if _, err := l.Append(ctx, entry(3, "1")); !errors.Is(err, audit.ErrClosed) {
		t.Fatalf("after Run: %v", err)
	}
	// The entry whose caller gave up before Run was not written.
	res, err := audit.Verify(ctx, pool)
	testenv.Must(t, err, "verify")
	if !res.Intact() || res.Entries != 1 {
		t.Fatalf("verify: %+v", res)
	}
}

// BenchmarkAppend measures Append under parallel load (64 appenders per
// CPU by default): go test -bench Append -run XXX ./internal/audit.
func BenchmarkAppend(b *testing.B) {
	ctx := context.Background()
	e := start(b, open(b, ctx, migrated(b)), audit.Options{})
	b.SetParallelism(64)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			if _, err := e.log.Append(ctx, entry(i, "109991234500000001")); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	st := e.log.Stats()
	b.ReportMetric(float64(st.Entries)/float64(st.Batches), "entries/txn")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}

// BenchmarkAppendSerial is the baseline: one appender, so one transaction
// per entry.
func BenchmarkAppendSerial(b *testing.B) {
	ctx := context.Background()
	e := start(b, open(b, ctx, migrated(b)), audit.Options{})
	b.ResetTimer()
	for i := range b.N {
		if _, err := e.log.Append(ctx, entry(i, "109991234500000001")); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}

// TestAvroSchema: Entry has exactly the fields of the audit topic's
// schema, and round-trips through it.
func TestAvroSchema(t *testing.T) {
	sch := schemas.MustLatest(bus.BaseAudit).(*avro.RecordSchema)
	typ := reflect.TypeFor[audit.Entry]()
	if typ.NumField() != len(sch.Fields()) {
		t.Fatalf("%d Go fields, %d schema fields", typ.NumField(), len(sch.Fields()))
	}
	for i, f := range sch.Fields() {
		if tag := typ.Field(i).Tag.Get("avro"); tag != f.Name() || typ.Field(i).Tag.Get("json") != f.Name() {
			t.Errorf("field %d: Go %s (avro %q), schema %s", i, typ.Field(i).Name, tag, f.Name())
		}
	}
	in := entry(3, "109991234500000001")
	in.Seq, in.At, in.PrevHash, in.Hash = 3, time.Date(2026, 11, 25, 14, 37, 0, 123456000, time.UTC), audit.GenesisHash, "ab"
	b, err := avro.Marshal(sch, in)
	testenv.Must(t, err, "marshal")
	var out audit.Entry
	testenv.Must(t, avro.Unmarshal(sch, b, &out), "unmarshal")
	out.At = out.At.UTC()
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip:\n%+v\n%+v", in, out)
	}
}

// TestAppendWithCommitsRowsWithTheEntry: rows attached to an entry are
// committed in its transaction, group-committed with other entries; a row
// the database refuses fails its own Append only, and neither it nor its
// entry is stored.
func TestAppendWithCommitsRowsWithTheEntry(t *testing.T) {
	ctx := testenv.Ctx(t, 2*time.Minute)
	d := migrated(t)
	pool := open(t, ctx, d)
	_, err := admin(t, ctx, d).Exec(ctx, `CREATE TABLE docs (id text PRIMARY KEY, body jsonb NOT NULL, issued_at timestamptz NOT NULL);
		GRANT SELECT, INSERT ON docs TO askonce_api`)
	testenv.Must(t, err, "create docs")
	e := start(t, pool, audit.Options{})
	row := func(id string) audit.Row {
		return audit.Row{Table: "docs", Columns: []string{"id", "body", "issued_at"}, Values: []any{id, `{"id":"` + id + `"}`, time.Now()}}
	}
	issued := func(i int, id string) audit.Entry {
		en := entry(i, "109991234500000001")
		en.Outcome, en.DocumentID, en.Reason = audit.OutcomeIssued, id, ""
		return en
	}
	_, err = e.log.AppendWith(ctx, issued(0, "doc-dup"), row("doc-dup"))
	testenv.Must(t, err, "first append")

	const n = 40
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("doc-%d", i)
			if i == n/2 {
				id = "doc-dup" // refused: the primary key exists
			}
			if i%4 == 3 {
				_, errs[i] = e.log.Append(ctx, entry(1000+i, "109991234500000002"))
				return
			}
			_, errs[i] = e.log.AppendWith(ctx, issued(i+1, id), row(id))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if i == n/2 {
			if err == nil {
				t.Errorf("append %d with a duplicate row succeeded", i)
			}
			continue
		}
		if err != nil {
			t.Errorf("append %d: %v", i, err)
		}
	}
	var docs, entries, orphans int
	testenv.Must(t, pool.QueryRow(ctx, `SELECT count(*) FROM docs`).Scan(&docs), "count docs")
	testenv.Must(t, pool.QueryRow(ctx, `SELECT count(*) FROM audit_log`).Scan(&entries), "count entries")
	testenv.Must(t, pool.QueryRow(ctx, `SELECT count(*) FROM docs d WHERE NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.document_id = d.id)`).Scan(&orphans), "orphans")
	wantDocs := 1 + n - n/4 - 1 // the first, the AppendWith calls but the refused one
	if docs != wantDocs || entries != n || orphans != 0 {
		t.Errorf("docs %d (want %d), entries %d (want %d), docs without an entry %d", docs, wantDocs, entries, n, orphans)
	}
	var dupEntries int
	testenv.Must(t, pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE document_id = 'doc-dup'`).Scan(&dupEntries), "dup entries")
	if dupEntries != 1 {
		t.Errorf("%d entries for doc-dup, want 1 (the refused one must not be stored)", dupEntries)
	}
	if _, err := e.log.AppendWith(ctx, issued(99, "x"), audit.Row{Table: "docs", Columns: []string{"id"}}); err == nil {
		t.Error("a row with fewer values than columns was accepted")
	}
}
