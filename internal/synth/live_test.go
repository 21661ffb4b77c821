package synth

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/askonce/askonce/internal/testenv"
)

// Live mode inserts through json_populate_recordset, the seed through COPY:
// the same values must store the same rows, whatever their characters.
func TestLiveRowsAreStoredAsCOPYStoresThem(t *testing.T) {
	t.Parallel()
	ctx := testenv.Ctx(t, time.Minute)
	pool := openDB(t, ctx)
	const cols = "id bigint, s text, d date, b boolean, tm time, a text[], n text"
	for _, tbl := range []string{"by_copy", "by_json"} {
		_, err := pool.Exec(ctx, "CREATE TABLE "+tbl+" ("+cols+")")
		testenv.Must(t, err, "create %s", tbl)
	}
	names := []string{"id", "s", "d", "b", "tm", "a", "n"}
	var rows [][]val
	for i, s := range []string{"plain", `quote " and \ backslash`, "tab\tnewline\nreturn\r", "O'Neil", "بن علي", "{braces}", `\N`, "", "ctl\x01\x1f"} {
		rows = append(rows, []val{integer(int64(i)), str(s), date(dayOfTime(time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC))), boolean(i%2 == 0),
			{k: vTime, i: int64(i) * 3700}, arr([]string{s, "x", `a"b\c`, ""}), null()})
	}
	var copyBuf []byte
	json := []byte{'['}
	for i, r := range rows {
		copyBuf = appendCopyRow(copyBuf, r)
		if i > 0 {
			json = append(json, ',')
		}
		json = appendJSONRow(json, names, r)
	}
	json = append(json, ']')
	conn, err := pool.Acquire(ctx)
	testenv.Must(t, err, "acquire")
	_, err = conn.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(copyBuf), "COPY by_copy ("+strings.Join(names, ", ")+") FROM STDIN")
	conn.Release()
	testenv.Must(t, err, "copy")
	_, err = pool.Exec(ctx, "INSERT INTO by_json SELECT * FROM json_populate_recordset(NULL::by_json, $1::json)", string(json))
	testenv.Must(t, err, "json insert")
	var differ, n int
	testenv.Must(t, pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM (SELECT * FROM by_copy EXCEPT SELECT * FROM by_json
		UNION ALL SELECT * FROM by_json EXCEPT SELECT * FROM by_copy) d), (SELECT count(*) FROM by_json)`).Scan(&differ, &n), "compare")
	if differ != 0 || n != len(rows) {
		t.Fatalf("%d rows differ between COPY and json_populate_recordset (%d of %d stored)", differ, n, len(rows))
	}
}

// Asked more than the database gives, live mode says so: a WARN every
// window with the rate achieved and what bounds it, and the gauges.
func TestLiveSaysWhenBelowTheRate(t *testing.T) {
	t.Parallel()
	ctx := testenv.Ctx(t, 2*time.Minute)
	pool := openDB(t, ctx)
	_, err := Ensure(ctx, pool, Params{Persons: 1000, Seed: 9, Defects: 0.02, DataCenters: 2, Months: 3}, false, Options{})
	testenv.Must(t, err, "seed")
	reg := prometheus.NewRegistry()
	var logs lockedLog
	lctx, cancel := context.WithTimeout(ctx, 2500*time.Millisecond)
	defer cancel()
	// A measurement window of 1 s (rateWindow is 10 s): the summary period
	// bounds it.
	err = Live(lctx, pool, LiveOptions{Rate: 1e6, Registerer: reg, Log: slog.New(slog.NewJSONHandler(&logs, nil)), SummaryEvery: time.Second})
	testenv.Must(t, err, "live")
	text := logs.String()
	if !strings.Contains(text, `"level":"WARN","msg":"live changes below the asked rate","asked_per_s":1000000`) ||
		!strings.Contains(text, `"bound":"the database: live mode spent`) {
		t.Errorf("no warning of the rate not kept:\n%s", text)
	}
	if got := gaugeValue(t, reg, "askonce_seed_asked_changes_per_second"); got != 1e6 {
		t.Errorf("askonce_seed_asked_changes_per_second = %v", got)
	}
	if got := gaugeValue(t, reg, "askonce_seed_changes_per_second"); got <= 0 || got >= 1e6 {
		t.Errorf("askonce_seed_changes_per_second = %v", got)
	}
	if n := counterSum(t, reg, "askonce_seed_change_errors_total"); n > 0 {
		t.Errorf("%v live changes failed:\n%s", n, text)
	}
}

// A rate the database keeps is summarized, not warned about.
func TestLiveKeepsAModestRate(t *testing.T) {
	t.Parallel()
	ctx := testenv.Ctx(t, 2*time.Minute)
	pool := openDB(t, ctx)
	_, err := Ensure(ctx, pool, Params{Persons: 1000, Seed: 10, Defects: 0.02, DataCenters: 2, Months: 3}, false, Options{})
	testenv.Must(t, err, "seed")
	reg := prometheus.NewRegistry()
	var logs lockedLog
	lctx, cancel := context.WithTimeout(ctx, 3500*time.Millisecond)
	defer cancel()
	err = Live(lctx, pool, LiveOptions{Rate: 10, Registerer: reg, Log: slog.New(slog.NewJSONHandler(&logs, nil)), SummaryEvery: time.Second})
	testenv.Must(t, err, "live")
	text := logs.String()
	if !strings.Contains(text, `"msg":"live changes","changes":`) {
		t.Errorf("10 changes/s: want summaries:\n%s", text)
	}
	// The only warning allowed is the one that blames the CPU (the test
	// machine was busy): never one that blames the database, which keeps
	// 10 changes/s easily. No rate is asserted: timings are the machine's.
	for _, line := range strings.Split(text, "\n") {
		if strings.Contains(line, `"level":"WARN"`) && !strings.Contains(line, `"bound":"CPU:`) {
			t.Errorf("10 changes/s: a warning that does not blame the CPU:\n%s", text)
		}
	}
}

func gaugeValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	testenv.Must(t, err, "gather")
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// lockedLog collects a logger's output from many goroutines.
type lockedLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
