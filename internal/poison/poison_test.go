package poison_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/askonce/askonce/internal/poison"
	"github.com/askonce/askonce/internal/store"
	"github.com/askonce/askonce/internal/testenv"
)

// The classes come from the real PostgreSQL's answers, not from codes
// written by hand.
func TestClassifyPostgres(t *testing.T) {
	ctx := testenv.Ctx(t, time.Minute)
	pool, err := store.OpenURL(ctx, testenv.Postgres(t), 2)
	testenv.Must(t, err, "open")
	t.Cleanup(pool.Close)
	_, err = pool.Exec(ctx, `CREATE TABLE t (k text PRIMARY KEY, n smallint, v text)`)
	testenv.Must(t, err, "create")
	_, err = pool.Exec(ctx, `INSERT INTO t VALUES ('a', 1, 'x')`)
	testenv.Must(t, err, "insert")
	copyRow := func(vals ...any) error {
		_, err := pool.CopyFrom(ctx, pgx.Identifier{"t"}, []string{"k", "n", "v"}, pgx.CopyFromRows([][]any{vals}))
		return err
	}
	cases := []struct {
		what string
		err  error
		want poison.Class
	}{
		{"NUL in text (COPY)", copyRow("b", 1, "a\x00b"), poison.Data},
		{"invalid UTF-8 (COPY)", copyRow("c", 1, "\xff\xfe"), poison.Data},
		{"NUL in text (INSERT)", func() error { _, err := pool.Exec(ctx, `INSERT INTO t VALUES ('d', 1, $1)`, "\x00"); return err }(), poison.Data},
		{"out of range", func() error { _, err := pool.Exec(ctx, `INSERT INTO t VALUES ('e', 99999, 'x')`); return err }(), poison.Data},
		{"duplicate key", func() error { _, err := pool.Exec(ctx, `INSERT INTO t VALUES ('a', 1, 'x')`); return err }(), poison.Data},
		{"not null", func() error { _, err := pool.Exec(ctx, `INSERT INTO t VALUES (NULL, 1, 'x')`); return err }(), poison.Data},
		{"undefined column (a defect, retried)", func() error { _, err := pool.Exec(ctx, `INSERT INTO t (nope) VALUES (1)`); return err }(), poison.Outage},
		{"canceled (an outage)", func() error {
			c, cancel := context.WithCancel(ctx)
			cancel()
			_, err := pool.Exec(c, `SELECT 1`)
			return err
		}(), poison.Outage},
		{"marked by the caller", poison.DataError(errors.New("cannot encode")), poison.Data},
		{"wrapped", fmt.Errorf("store: copy persons: %w", copyRow("f", 1, "\x00")), poison.Data},
	}
	for _, c := range cases {
		if c.err == nil {
			t.Errorf("%s: no error from PostgreSQL", c.what)
			continue
		}
		if got := poison.Classify(c.err); got != c.want {
			t.Errorf("%s: %v classified %s, want %s", c.what, c.err, got, c.want)
		}
	}
	if r := poison.Reason(copyRow("g", 1, "\x00")); !strings.Contains(r, "SQLSTATE 22021") {
		t.Errorf("reason: %q", r)
	}
}

// Isolate finds every offender of a batch, applies the rest, and stops at
// the first outage.
func TestIsolate(t *testing.T) {
	ctx := context.Background()
	bad := map[int]bool{3: true, 4: true, 17: true, 99: true}
	var applied []int
	tries := 0
	try := func(_ context.Context, xs []int) error {
		tries++
		for _, x := range xs {
			if bad[x] {
				return poison.DataError(fmt.Errorf("bad %d", x))
			}
		}
		applied = append(applied, xs...)
		return nil
	}
	items := make([]int, 100)
	for i := range items {
		items[i] = i
	}
	fails, err := poison.Isolate(ctx, items, try)
	testenv.Must(t, err, "isolate")
	var got []int
	for _, f := range fails {
		got = append(got, f.Item)
		if f.Err == nil {
			t.Errorf("failure %d without its error", f.Item)
		}
	}
	if !slices.Equal(got, []int{3, 4, 17, 99}) {
		t.Errorf("offenders %v", got)
	}
	slices.Sort(applied)
	if len(applied) != 96 || applied[0] != 0 || slices.Contains(applied, 17) {
		t.Errorf("applied %d items: %v", len(applied), applied)
	}
	if tries > 60 {
		t.Errorf("%d tries for 4 offenders in 100", tries)
	}

	// An outage while isolating: no verdict, the error comes back.
	outage := errors.New("connection reset")
	n := 0
	_, err = poison.Isolate(ctx, items, func(_ context.Context, xs []int) error {
		n++
		if n == 1 {
			return poison.DataError(errors.New("bad"))
		}
		return outage
	})
	if !errors.Is(err, outage) {
		t.Errorf("outage during isolation: %v", err)
	}
	// A clean batch is one try.
	n = 0
	fails, err = poison.Isolate(ctx, items, func(context.Context, []int) error { n++; return nil })
	if err != nil || len(fails) != 0 || n != 1 {
		t.Errorf("clean batch: %v %v %d tries", fails, err, n)
	}
}
