// Package dev runs the whole bus in one process on the embedded defaults
// (`askonce dev`, `make demo`): the private PostgreSQL, the embedded Kafka
// broker, the schema registry, synthetic sources for 11 data centers per
// agency, the connectors, the materializer, the notification router and
// the lookup API, each still
// its own package with its own metrics.
package dev

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"github.com/askonce/askonce/connectors"
	devfiles "github.com/askonce/askonce/deploy/dev"
	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/internal/config"
	"github.com/askonce/askonce/internal/devbroker"
	"github.com/askonce/askonce/internal/devpg"
	"github.com/askonce/askonce/internal/lookup"
	"github.com/askonce/askonce/internal/materialize"
	"github.com/askonce/askonce/internal/notify"
	"github.com/askonce/askonce/internal/ops"
	"github.com/askonce/askonce/internal/portfolio"
	"github.com/askonce/askonce/internal/reconcile"
	"github.com/askonce/askonce/internal/registry"
	"github.com/askonce/askonce/internal/store"
	"github.com/askonce/askonce/internal/synth"
	"github.com/askonce/askonce/schemas"
)

// Options tune a dev run.
type Options struct {
	// Dir holds the dev files (.var/dev): sample citizens, the policy copy.
	Dir string
	// Out receives the "what to try" banner; Progress the seed's progress.
	Out, Progress io.Writer
	// Ready, when set, is called once the lookup API answers on the
	// caught-up store, with the samples.
	Ready func(apiURL string, samples []Sample)
	// StopPostgres stops the private PostgreSQL on exit if this run started it.
	StopPostgres bool
}

// Run starts everything and blocks until ctx ends, then stops it all.
func Run(ctx context.Context, cfg *config.Config, opt Options, log *slog.Logger) error {
	start := time.Now()
	if err := os.MkdirAll(opt.Dir, 0o755); err != nil {
		return fmt.Errorf("dev: %w", err)
	}
	// PostgreSQL, private, started or reused.
	if cfg.Postgres.URL == "" {
		inst, err := devpg.New(cfg.Postgres.Dev, log)
		if err != nil {
			return err
		}
		_, wasRunning, _ := inst.Status()
		url, err := inst.Start(ctx)
		if err != nil {
			return err
		}
		cfg.Postgres.URL = url
		if opt.StopPostgres && !wasRunning {
			defer func() {
				sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				if err := inst.Stop(sctx, "fast"); err != nil {
					log.Warn("stopping PostgreSQL", "err", err)
				}
			}()
		}
	}
	// The embedded broker, in this process.
	broker, err := devbroker.Start(cfg.Broker, log)
	if err != nil {
		return err
	}
	defer broker.Close()
	cfg.Kafka.Brokers = []string{broker.Addr()}

	pool, err := store.Open(ctx, cfg.Postgres)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := registry.Migrate(ctx, pool, log); err != nil {
		return err
	}
	if err := materialize.Migrate(ctx, pool, log); err != nil {
		return err
	}
	if err := portfolio.Migrate(ctx, pool, log); err != nil {
		return err
	}

	// Synthetic sources: seeded once, then kept.
	srcURL, err := store.SourcesURL(ctx, cfg)
	if err != nil {
		return err
	}
	src, err := store.OpenURL(ctx, srcURL, 8)
	if err != nil {
		return err
	}
	defer src.Close()
	p := synth.Params{Persons: cfg.Seed.Persons, Seed: cfg.Seed.Seed, Defects: cfg.Seed.Defects, DataCenters: cfg.Seed.DataCenters, Months: cfg.Seed.Months}
	if run, err := synth.ReadRun(ctx, src); err == nil && run != nil && run.Status == "complete" && !run.Same(p) {
		// Keep the data of a previous run rather than refuse: running dev
		// again resumes. --persons only matters on a fresh .var.
		log.Info("sources hold an earlier seed: reusing it", "seed", run.String())
		p = run.Params
	}
	res, err := synth.Ensure(ctx, src, p, false, synth.Options{Log: log, Progress: synth.NewProgress(opt.Progress, log)})
	if err != nil {
		return fmt.Errorf("dev: seed: %w (make clean wipes .var/ for a fresh start)", err)
	}
	rows, defects := res.Totals()
	log.Info("synthetic sources ready", "persons", res.Run.Persons, "rows", rows, "defective", defects, "loaded_now", res.Loaded)

	connectors.AddSynthetic(cfg)
	cfg.Connect.SourcesURL = srcURL
	cfg.Lookup.DevMode = true
	cfg.Lookup.CreateSigningKey = true
	if cfg.Lookup.PolicyFile == "" {
		cfg.Lookup.PolicyFile = filepath.Join(opt.Dir, "policy.yaml")
		if err := os.WriteFile(cfg.Lookup.PolicyFile, devfiles.Policy, 0o644); err != nil {
			return fmt.Errorf("dev: %w", err)
		}
	}

	reg := ops.NewRegistry()
	opsSrv := ops.NewServer(reg, log)
	g, gctx := errgroup.WithContext(ctx)
	// The schema registry, with its own ops endpoints on its port.
	regSrv := registry.NewServer(registry.NewBackend(pool, cfg.Registry.Compatibility), log.With("component", "registry"), reg,
		registry.ServerOptions{RequireAuth: cfg.Registry.RequireAuth, Username: cfg.Registry.Username, Password: cfg.Registry.Password}, nil)
	regAddr := make(chan string, 1)
	g.Go(func() error {
		return ops.ServeHTTP(gctx, cfg.Registry.Listen, regSrv, log, "schema registry", func(a string) { regAddr <- a })
	})
	select {
	case a := <-regAddr:
		cfg.Registry.Listen = a
		cfg.Registry.URL = "http://" + a
	case <-gctx.Done():
		return g.Wait()
	}
	g.Go(func() error { return connectors.Run(gctx, cfg, reg, opsSrv, log.With("component", "connect")) })
	g.Go(func() error { return materialize.Run(gctx, cfg, reg, opsSrv, log.With("component", "materialize")) })
	g.Go(func() error { return notify.Run(gctx, cfg, reg, opsSrv, log.With("component", "notify")) })
	apiAddr := make(chan string, 1)
	g.Go(func() error {
		return lookup.Run(gctx, cfg, reg, opsSrv, log.With("component", "lookup"), nil, func(a string) { apiAddr <- a })
	})
	g.Go(func() error {
		var api string
		select {
		case api = <-apiAddr:
		case <-gctx.Done():
			return nil
		}
		api = "http://" + api
		if err := waitCaughtUp(gctx, cfg, pool, src, log); err != nil {
			return err
		}
		samples, err := Samples(gctx, pool)
		if err != nil {
			return err
		}
		if err := writeSamples(opt.Dir, api, samples); err != nil {
			return err
		}
		pensioners, err := seedPensionerPortfolio(gctx, pool)
		if err != nil {
			return err
		}
		banner(opt.Out, cfg, api, opt.Dir, samples, time.Since(start))
		fmt.Fprintf(opt.Out, "Change notifications: %d pensioners are in CNR's portfolio (deaths, marriages, divorces).\n", pensioners)
		fmt.Fprintf(opt.Out, "Watch them as the live sources change: bin/askonce consume --agency cnr --from-beginning\n\n")
		if opt.Ready != nil {
			opt.Ready(api, samples)
		}
		// The sources keep changing, so the bus is visibly live.
		if cfg.Seed.LiveRate > 0 {
			err := synth.Live(gctx, src, synth.LiveOptions{Rate: cfg.Seed.LiveRate, Log: log.With("component", "seed"), Registerer: reg, SummaryEvery: time.Minute})
			if err != nil && gctx.Err() == nil {
				return err
			}
		}
		<-gctx.Done()
		return nil
	})
	err = g.Wait()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	log.Info("askonce dev stopped")
	return err
}

// waitCaughtUp waits until the store reconciles with every synthetic data
// center: the initial load is materialized.
func waitCaughtUp(ctx context.Context, cfg *config.Config, pool, src *pgxpool.Pool, log *slog.Logger) error {
	rules := schemas.Rules{AllowSynthetic: true, AllowPendingWilayas: cfg.Rules.AllowPendingWilayas}
	topics := bus.NewTopics(cfg.Kafka.Topics)
	var srcs []reconcile.Source
	for _, s := range cfg.Connect.PGOutbox {
		srcs = append(srcs, reconcile.Source{Agency: s.Agency, DataCenter: s.DataCenter, Pool: src, Schema: s.Schema})
	}
	last := time.Time{}
	for {
		var want, have int
		clean := true
		for _, s := range srcs {
			r, err := reconcile.Compare(ctx, s, pool, rules, topics)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			want += r.SourceKeys
			have += r.SourceKeys - r.Missing - r.Behind
			clean = clean && r.Clean()
		}
		if clean {
			log.Info("store caught up with every data center", "records", want)
			return nil
		}
		if time.Since(last) > 5*time.Second {
			log.Info("materializing the synthetic sources", "stored", have, "of", want)
			last = time.Now()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

func writeSamples(dir, api string, samples []Sample) error {
	b, err := json.MarshalIndent(map[string]any{"api": api, "asks": Asks, "citizens": samples}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "sample-citizens.json"), append(b, '\n'), 0o644)
}

func banner(w io.Writer, cfg *config.Config, api, dir string, samples []Sample, took time.Duration) {
	var b strings.Builder
	fmt.Fprintf(&b, "\naskonce dev is ready (%s): the whole bus on embedded defaults, %d synthetic data centers.\n\n", took.Round(time.Second), len(cfg.Connect.PGOutbox))
	fmt.Fprintf(&b, "  lookup API      %s   (OpenAPI: %s/openapi.yaml, metrics: %s/metrics)\n", api, api, api)
	fmt.Fprintf(&b, "  clerk console   %s/console   (sign in with a dev key, e.g. dev-cnr-key; French or Arabic)\n", api)
	fmt.Fprintf(&b, "  schema registry http://%s\n", cfg.Registry.Listen)
	fmt.Fprintf(&b, "  Kafka broker    %s\n", strings.Join(cfg.Kafka.Brokers, ","))
	fmt.Fprintf(&b, "  PostgreSQL      %s:%d (bin/askonce pg url)\n\n", cfg.Postgres.Dev.Host, cfg.Postgres.Dev.Port)
	fmt.Fprintf(&b, "Sample citizens: %s\n", filepath.Join(dir, "sample-citizens.json"))
	for _, s := range samples {
		fmt.Fprintf(&b, "  %-36s %s  %s\n", s.Kind, s.NIN, s.Name)
	}
	if len(samples) > 0 {
		s := samples[0]
		fmt.Fprintf(&b, "\nTry (a life certificate for the %s, as the pension fund CNR):\n", s.Kind)
		fmt.Fprintf(&b, "  curl -s %s/v1/document-requests -H 'Authorization: Bearer dev-cnr-key' -H 'Content-Type: application/json' \\\n", api)
		fmt.Fprintf(&b, "    -d '{\"document_type\":\"life-certificate\",\"nin\":\"%s\",\"purpose\":\"pension-life-proof\",\"clerk_id\":\"guichet-1\"}'\n", s.NIN)
	}
	for _, s := range samples {
		if s.Kind == "deceased person" {
			fmt.Fprintf(&b, "\nThe same for the deceased person (not held: a death act is recorded):\n")
			fmt.Fprintf(&b, "  bin/askonce request --key dev-cnr-key --type life-certificate --purpose pension-life-proof --nin %s\n", s.NIN)
		}
	}
	fmt.Fprintf(&b, "\nEvery document type, for every sample: bin/askonce request --samples %s\n", filepath.Join(dir, "sample-citizens.json"))
	fmt.Fprintf(&b, "Verify a saved document offline: bin/askonce verify doc.json --keys %s/v1/keys\n", api)
	fmt.Fprintf(&b, "Read a topic with an independent client: kcat -b %s -C -t askonce.dlq.v1 -e -f '%%h\\n%%s\\n\\n'\n", strings.Join(cfg.Kafka.Brokers, ","))
	fmt.Fprintf(&b, "Check the store against the sources: bin/askonce reconcile --synthetic\n")
	fmt.Fprintf(&b, "\nThe sources keep changing (%g changes/s). Ctrl-C stops everything; run again to resume; make clean wipes .var/.\n\n", cfg.Seed.LiveRate)
	io.WriteString(w, b.String()) //nolint:errcheck // terminal
}
