// Package bench measures askonce on the machine it runs on (`askonce bench`,
// `make bench`): end-to-end ingest and the lookup API, each paired with a
// ceiling of the same machine measured in the same run (raw kafka-go
// produce, raw COPY, raw pgx point queries), the peak RSS of each
// component run as its own process of the real binary, Avro/JSON micro
// benchmarks, and an extrapolation to the national scale. It writes
// BENCHMARKS.md.
//
// It runs on the private PostgreSQL in fresh databases that it creates and
// drops (never the dev data), an embedded broker on a free port with a
// temporary data directory, and the schema registry in this process.
package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/askonce/askonce/internal/config"
	"github.com/askonce/askonce/internal/dbroles"
	"github.com/askonce/askonce/internal/devbroker"
	"github.com/askonce/askonce/internal/devpg"
	"github.com/askonce/askonce/internal/ops"
	"github.com/askonce/askonce/internal/registry"
	"github.com/askonce/askonce/internal/store"
	"github.com/askonce/askonce/internal/wiring"
	"github.com/askonce/askonce/internal/wiring/migratewire"
)

// Options are the sizes and outputs of a bench run.
type Options struct {
	// PersonsIngest is the population seeded for the ingest runs;
	// PersonsLookup the population of the lookup store.
	PersonsIngest, PersonsLookup int
	// Runs of the ingest measurement (median, min, max).
	Runs int
	// Duration of each lookup concurrency level (and of its ceiling).
	Duration time.Duration
	// Concurrency levels of the lookup load generator.
	Concurrency []int
	// Binary is the askonce executable run as the components' processes.
	Binary string
	// Out is the BENCHMARKS.md written ("" writes nothing).
	Out string
	// Micro runs `go test -bench` in ModuleDir when the go tool is found.
	Micro     bool
	ModuleDir string
	// Quick marks a smoke run (reported in the file).
	Quick bool
	// SkipIngest and SkipLookup leave out a part (a partial report).
	SkipIngest, SkipLookup bool
	// ProfileDir, when set, receives CPU profiles of the components run
	// as processes (pprof format, for go tool pprof): the lookup API during
	// each concurrency level, the materializer and the connectors during
	// each ingest run.
	ProfileDir string
	// Progress receives one line per step.
	Progress io.Writer
	// Config is the loaded configuration: its private PostgreSQL (dev) and
	// broker defaults are used; nothing else of it is touched.
	Config *config.Config
	Log    *slog.Logger
}

// Defaults are the sizes of a full run; Quick the sizes of a smoke run.
func Defaults() Options {
	return Options{PersonsIngest: 200_000, PersonsLookup: 1_000_000, Runs: 3, Duration: 20 * time.Second,
		Concurrency: []int{1, 16, 64, 256}, Micro: true}
}

// QuickSizes turns o into a smoke run.
func (o *Options) QuickSizes() {
	o.PersonsIngest, o.PersonsLookup, o.Runs, o.Duration, o.Quick = 5000, 20000, 1, 3*time.Second, true
}

// env is what every measurement shares: the PostgreSQL server, the broker,
// the registry, a temporary directory, and the databases to drop.
type env struct {
	opt     Options
	id      string
	baseURL string
	private bool // baseURL is the private PostgreSQL's superuser: the roles' dev logins exist
	broker  *devbroker.Broker
	regURL  string
	dir     string
	dbs     []string
	closers []func()
	// ingestSeed is the seed of the ingest runs (seeded once, cloned).
	ingestSeed Seed
	progress   func(format string, args ...any)
	prof       *profiler
	cpu        *cpuMeter
}

// Run measures everything and returns the report (also written to Out).
func Run(ctx context.Context, opt Options) (*Report, error) {
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.Progress == nil {
		opt.Progress = io.Discard
	}
	if opt.Config == nil {
		c := config.Default()
		opt.Config = &c
	}
	if len(opt.Concurrency) == 0 {
		opt.Concurrency = Defaults().Concurrency
	}
	if opt.Runs < 1 || opt.PersonsIngest < 100 || opt.PersonsLookup < 100 || opt.Duration <= 0 {
		return nil, errors.New("bench: --runs >= 1, --persons-ingest and --persons-lookup >= 100, --duration > 0")
	}
	if opt.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("bench: the askonce binary: %w", err)
		}
		opt.Binary = exe
	}
	start := time.Now()
	e, err := newEnv(ctx, opt)
	if err != nil {
		return nil, err
	}
	defer e.close()

	rep := &Report{Options: opt, Started: start.UTC(), ID: e.id}
	rep.Machine = machineInfo(ctx, e.baseURL, opt.ModuleDir)

	if opt.ProfileDir != "" {
		if err := os.MkdirAll(opt.ProfileDir, 0o755); err != nil {
			return nil, fmt.Errorf("bench: --profile: %w", err)
		}
	}
	for i := 1; i <= opt.Runs && !opt.SkipIngest; i++ {
		e.progress("ingest run %d/%d: %d persons", i, opt.Runs, opt.PersonsIngest)
		r, err := e.ingestRun(ctx, i)
		if err != nil {
			return nil, err
		}
		rep.Ingest = append(rep.Ingest, r)
		e.progress("ingest run %d: %.0f records/s (produce ceiling %.0f/s, COPY ceiling %.0f/s), connect %s, materialize %s",
			i, r.RecordsPerSec, r.ProduceCeiling, r.CopyCeiling, mib(r.Connect.PeakRSS), mib(r.Materialize.PeakRSS))
		us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1000 / float64(r.Valid) }
		e.progress("  CPU per record: connect %.1f µs, materialize %.1f µs, PostgreSQL %.1f µs, broker+registry %.1f µs",
			us(r.Connect.CPU), us(r.Materialize.CPU), us(r.CPU.Postgres), us(r.CPU.Bench))
	}
	if !opt.SkipLookup {
		e.progress("lookup: seeding and loading a store of %d persons", opt.PersonsLookup)
		lk, err := e.lookupBench(ctx)
		if err != nil {
			return nil, err
		}
		rep.Lookup = lk
	}
	if opt.Micro {
		e.progress("micro: go test -bench (Avro vs JSON)")
		count, benchtime := 5, "1s"
		if opt.Quick {
			count, benchtime = 1, "100ms"
		}
		rep.Micro, rep.MicroNote = runMicro(ctx, opt.ModuleDir, count, benchtime)
	} else {
		rep.MicroNote = "not run (disabled)"
	}
	e.prof.wait()
	rep.Took = time.Since(start)
	if opt.Out != "" {
		if err := os.WriteFile(opt.Out, []byte(rep.Markdown()), 0o644); err != nil {
			return rep, fmt.Errorf("bench: %w", err)
		}
		e.progress("wrote %s (%s)", opt.Out, rep.Took.Round(time.Second))
	}
	return rep, rep.Errors()
}

func newEnv(ctx context.Context, opt Options) (*env, error) {
	e := &env{opt: opt, id: randomHex(4), prof: &profiler{dir: opt.ProfileDir}, cpu: &cpuMeter{}}
	e.progress = func(format string, args ...any) {
		fmt.Fprintf(opt.Progress, "bench %s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
	}
	cfg := opt.Config
	base := cfg.Postgres.URL
	if base == "" {
		inst, err := devpg.New(wiring.DevPG(cfg.Postgres.Dev), opt.Log)
		if err != nil {
			return nil, err
		}
		if base, err = inst.Start(ctx); err != nil {
			return nil, err
		}
		if pid, running, err := inst.Status(); err == nil && running {
			e.cpu.postmaster = pid
		}
	}
	e.baseURL = base
	e.private = cfg.Postgres.URL == ""
	dir, err := os.MkdirTemp("", "askonce-bench-")
	if err != nil {
		return nil, err
	}
	e.dir = dir
	bc := wiring.Broker(cfg.Broker)
	bc.Listen = "127.0.0.1:0"
	bc.DataDir = filepath.Join(dir, "broker")
	bc.SASL, bc.TLSCertFile, bc.TLSKeyFile = devbroker.SASL{}, "", ""
	if e.broker, err = devbroker.Start(bc, opt.Log.With("component", "broker")); err != nil {
		e.close()
		return nil, err
	}
	regURL, err := e.createDB(ctx, "registry")
	if err != nil {
		e.close()
		return nil, err
	}
	if err := migratewire.Migrate(ctx, regURL, nil, registry.Migrate); err != nil {
		e.close()
		return nil, err
	}
	pool, err := store.OpenURL(ctx, e.roleURL(regURL, dbroles.Registry), 8)
	if err != nil {
		e.close()
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		pool.Close()
		e.close()
		return nil, err
	}
	srv := &http.Server{Handler: registry.NewServer(registry.NewBackend(pool, "BACKWARD"), opt.Log.With("component", "registry"), ops.NewRegistry(), registry.ServerOptions{}, nil),
		ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln) //nolint:errcheck // closed with the env
	e.regURL = "http://" + ln.Addr().String()
	closeReg := func() { srv.Close(); pool.Close() }
	e.closers = append(e.closers, closeReg)
	e.progress("PostgreSQL %s, broker %s, registry %s, work dir %s", redact(base), e.broker.Addr(), e.regURL, dir)
	return e, nil
}

func (e *env) close() {
	for i := len(e.closers) - 1; i >= 0; i-- {
		e.closers[i]()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, db := range e.dbs {
		if err := devpg.DropDatabase(ctx, e.baseURL, db); err != nil {
			e.progress("drop %s: %v", db, err)
		}
	}
	if e.broker != nil {
		e.broker.Close()
	}
	if e.dir != "" {
		os.RemoveAll(e.dir)
	}
}

// roleURL is the URL of role's dev login on the database of url, as the
// components log in on the private PostgreSQL; url itself on another
// server.
func (e *env) roleURL(url, role string) string {
	if !e.private {
		return url
	}
	u, err := dbroles.LoginURL(url, role)
	if err != nil {
		return url
	}
	return u
}

// createBusDB is createDB migrated as `askonce migrate` does.
func (e *env) createBusDB(ctx context.Context, what string) (string, error) {
	u, err := e.createDB(ctx, what)
	if err != nil {
		return "", err
	}
	if err := migratewire.Migrate(ctx, u, nil); err != nil {
		return "", err
	}
	return u, nil
}

// createDB creates a fresh database named after the bench and what, and
// returns its URL; it is dropped at the end.
func (e *env) createDB(ctx context.Context, what string) (string, error) {
	name := "bench_" + e.id + "_" + what
	u, err := devpg.CreateDatabase(ctx, e.baseURL, name)
	if err != nil {
		return "", err
	}
	e.dbs = append(e.dbs, name)
	return u, nil
}

// cloneDB creates database what as a copy of the database from (a file
// copy: the seeded sources are seeded once, then cloned for each run).
func (e *env) cloneDB(ctx context.Context, from, what string) (string, error) {
	admin, err := store.DatabaseURL(e.baseURL, "postgres")
	if err != nil {
		return "", err
	}
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", fmt.Errorf("bench: %w", err)
	}
	defer conn.Close(context.Background())
	name := "bench_" + e.id + "_" + what
	src := "bench_" + e.id + "_" + from
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE "+pgx.Identifier{src}.Sanitize()); err != nil {
		return "", fmt.Errorf("bench: clone %s: %w", src, err)
	}
	e.dbs = append(e.dbs, name)
	return store.DatabaseURL(e.baseURL, name)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// redact hides the password of a database URL.
func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(database URL)"
	}
	return p.Redacted()
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }
