package bench_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/askonce/askonce/internal/bench"
	"github.com/askonce/askonce/internal/config"
	"github.com/askonce/askonce/internal/ops"
	"github.com/askonce/askonce/internal/testenv"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "askonce-bench-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "askonce")
	build := exec.Command("go", "build", "-o", binary, "github.com/askonce/askonce/cmd/askonce")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench test: build:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// TestQuickBench runs the whole bench at smoke sizes against the private
// PostgreSQL: seed, connectors and materializer as processes, both ingest
// ceilings, reconcile, the lookup API as a process under load with its
// raw-query ceiling, and the report.
func TestQuickBench(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	testenv.PostgresServer(t)
	cfg := config.Default()
	cfg.Postgres.Dev = testenv.PGConfig(t)
	out := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	var progress strings.Builder
	opt := bench.Defaults()
	opt.QuickSizes()
	opt.PersonsIngest, opt.PersonsLookup, opt.Duration, opt.Concurrency = 1500, 3000, time.Second, []int{1, 16, 64}
	opt.Micro = false
	opt.Binary, opt.Out, opt.Config, opt.Progress = binary, out, &cfg, &progress
	opt.Log = ops.NewLogger(os.Stderr, "warn", "text")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rep, err := bench.Run(ctx, opt)
	if err != nil {
		t.Fatalf("bench: %v\nprogress:\n%s", err, progress.String())
	}
	if len(rep.Ingest) != 1 || rep.Lookup == nil || len(rep.Lookup.API) != 3 {
		t.Fatalf("report incomplete: %+v", rep)
	}
	in := rep.Ingest[0]
	if in.RecordsPerSec <= 0 || in.ProduceCeiling <= 0 || in.CopyCeiling <= 0 || in.Reconciled != 33 {
		t.Errorf("ingest: %+v", in)
	}
	if in.Connect.PeakRSS <= 0 || in.Materialize.PeakRSS <= 0 || rep.Lookup.Serve.PeakRSS <= 0 || rep.Lookup.Seed.Usage.PeakRSS <= 0 {
		t.Errorf("peak RSS not measured: connect %d, materialize %d, serve %d, seed %d", in.Connect.PeakRSS, in.Materialize.PeakRSS, rep.Lookup.Serve.PeakRSS, rep.Lookup.Seed.Usage.PeakRSS)
	}
	for i, l := range rep.Lookup.API {
		if l.Issued == 0 || l.Errors != 0 || rep.Lookup.Raw[i].Issued == 0 {
			t.Errorf("lookup at %d clients: API %+v, raw %+v", l.Clients, l, rep.Lookup.Raw[i])
		}
	}
	if l := rep.Lookup.API[2]; l.AuditBatch <= 1 {
		t.Errorf("audit: %.2f entries per transaction at 64 clients: no group commit", l.AuditBatch)
	}
	md, err := os.ReadFile(out)
	testenv.Must(t, err, "BENCHMARKS.md")
	for _, want := range []string{"## Targets", "## 1. Ingest", "## 2. Lookup API", "## Extrapolation", "Smoke run", "raw COPY"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("BENCHMARKS.md lacks %q", want)
		}
	}
	// No database of the bench survives it.
	conn, err := pgx.Connect(ctx, testenv.PostgresServer(t))
	testenv.Must(t, err, "connect")
	defer conn.Close(ctx)
	var left int
	testenv.Must(t, conn.QueryRow(ctx, `SELECT count(*) FROM pg_database WHERE datname LIKE $1`, "bench_"+rep.ID+"_%").Scan(&left), "databases")
	if left != 0 {
		t.Errorf("%d databases bench_%s_* left behind", left, rep.ID)
	}
}

func TestParseBench(t *testing.T) {
	out := `goos: linux
BenchmarkEncode/birth/avro-2   	 1000	  700 ns/op	  239.0 bytes/record	 540 B/op	 2 allocs/op
BenchmarkEncode/birth/avro-2   	 1000	  600 ns/op	  239.0 bytes/record	 540 B/op	 2 allocs/op
BenchmarkEncode/birth/avro-2   	 1000	  900 ns/op	  239.0 bytes/record	 540 B/op	 2 allocs/op
PASS
`
	ms := bench.ParseBench([]byte(out))
	if len(ms) != 1 || ms[0].Name != "BenchmarkEncode/birth/avro" || ms[0].NsPerOp != 700 || ms[0].BytesPerOp != 540 || ms[0].Runs != 3 {
		t.Fatalf("parse: %+v", ms)
	}
}
