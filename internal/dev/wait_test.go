package dev

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/askonce/askonce/internal/ops"
	"github.com/askonce/askonce/internal/reconcile"
)

// reports returns what compare sees: the data centers' lag and extras.
func reports(lag07, lag02, extra07 int) []reconcile.Report {
	r07 := reconcile.Report{Agency: "etatcivil", DataCenter: "etatcivil-dc07", SourceKeys: 1000, Missing: lag07, Extra: extra07, Unknown: extra07}
	if lag07 > 0 {
		r07.LagExamples = []string{"death/17"}
	}
	if extra07 > 0 {
		r07.ExtraKeys = []string{"death/outside/123456789012345678/1"}
	}
	r02 := reconcile.Report{Agency: "cnas", DataCenter: "cnas-dc02", SourceKeys: 500, Missing: lag02 / 2, Behind: lag02 - lag02/2}
	r01 := reconcile.Report{Agency: "cnas", DataCenter: "cnas-dc01", SourceKeys: 700}
	return []reconcile.Report{r01, r02, r07}
}

func fastWait() startWait {
	return startWait{poll: time.Millisecond, progress: 0, stall: time.Hour, seeWhy: "bin/askonce reconcile --synthetic"}
}

// An outside record does not hold the start: once nothing is missing or
// behind, the wait ends and says, once, how many outside records there are
// and a few keys (NINs masked). Progress lines name what is still missing,
// per data center.
func TestWaitEndsWithOutsideRecords(t *testing.T) {
	seq := [][]reconcile.Report{reports(300, 40, 1), reports(3, 0, 1), reports(0, 0, 1)}
	i := 0
	compare := func(context.Context) ([]reconcile.Report, error) {
		r := seq[min(i, len(seq)-1)]
		i++
		return r, nil
	}
	logs := &lockedBuf{}
	out, err := fastWait().run(context.Background(), compare, ops.NewLogger(logs, "info", "json"))
	if err != nil {
		t.Fatal(err)
	}
	if out.records != 1 || out.dataCenters != 1 || len(out.keys) != 1 || out.keys[0] != "etatcivil-dc07 death/outside/<NIN>/1" {
		t.Fatalf("outside = %+v", out)
	}
	text := logs.String()
	for _, want := range []string{
		`"msg":"materializing the synthetic sources","stored":1860,"of":2200,"still_missing":"etatcivil-dc07 300 missing, cnas-dc02 20 missing 20 behind"`,
		`"still_missing":"etatcivil-dc07 3 missing"`,
		`"msg":"store caught up with every data center","records":2200,"data_centers":3,"outside_records":1`,
		`written by producers outside the synthetic sources`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("logs lack %s:\n%s", want, text)
		}
	}
	if n := strings.Count(text, "outside records: "); n != 1 {
		t.Errorf("outside records reported %d times:\n%s", n, text)
	}
	if strings.Contains(text, "123456789012345678") || strings.Contains(text, `"level":"WARN"`) {
		t.Errorf("a NIN or a warning in the logs:\n%s", text)
	}
	if s := out.String(); !strings.Contains(s, "1 stored record that the synthetic sources do not hold") {
		t.Errorf("outside.String() = %q", s)
	}
}

// A start that makes no progress says which data centers lag, with a few
// keys, and what to run to see why; progress resets the clock.
func TestWaitWithoutProgressSaysWhy(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	compare := func(context.Context) ([]reconcile.Report, error) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		return reports(2, 0, 1), nil
	}
	w := fastWait()
	w.poll, w.progress, w.stall = 5*time.Millisecond, time.Hour, 100*time.Millisecond
	logs := &lockedBuf{}
	ctx, cancel := context.WithTimeout(context.Background(), 350*time.Millisecond)
	defer cancel()
	_, err := w.run(ctx, compare, ops.NewLogger(logs, "info", "json"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("run = %v, want the context's end", err)
	}
	text := logs.String()
	warns := strings.Count(text, `"level":"WARN","msg":"the start is waiting for records that do not reach the store"`)
	if warns < 2 || warns > 4 {
		t.Errorf("%d warnings in 350 ms with a 100 ms stall:\n%s", warns, text)
	}
	for _, want := range []string{`"lagging":"etatcivil-dc07 2 missing (death/17 …)"`, `"see_why":"bin/askonce reconcile --synthetic"`, `"stored":2198,"of":2200`} {
		if !strings.Contains(text, want) {
			t.Errorf("logs lack %s:\n%s", want, text)
		}
	}
}

func TestLagging(t *testing.T) {
	var reps []reconcile.Report
	for i, dc := range []string{"a", "b", "c", "d"} {
		reps = append(reps, reconcile.Report{DataCenter: dc, Missing: 10 * i})
	}
	if got, want := lagging(reps, 2, false), "d 30 missing, c 20 missing, and 1 more data center"; got != want {
		t.Errorf("lagging = %q, want %q", got, want)
	}
}

type lockedBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
