// Package dev runs the whole bus in one process on the embedded defaults
// (`askonce dev`, `make demo`): the private PostgreSQL, the embedded Kafka
// broker, the schema registry, synthetic sources for 11 data centers per
// agency, the connectors, the materializer, the notification router and
// the lookup API, each still its own package with its own metrics.
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
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"github.com/askonce/askonce/deploy/devfiles"
	"github.com/askonce/askonce/internal/access"
	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/internal/config"
	"github.com/askonce/askonce/internal/dbroles"
	"github.com/askonce/askonce/internal/devbroker"
	"github.com/askonce/askonce/internal/devpg"
	"github.com/askonce/askonce/internal/ops"
	"github.com/askonce/askonce/internal/reconcile"
	"github.com/askonce/askonce/internal/registry"
	"github.com/askonce/askonce/internal/store"
	"github.com/askonce/askonce/internal/synth"
	"github.com/askonce/askonce/internal/wiring"
	"github.com/askonce/askonce/internal/wiring/connectwire"
	"github.com/askonce/askonce/internal/wiring/migratewire"
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
		inst, err := devpg.New(wiring.DevPG(cfg.Postgres.Dev), log)
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
	// The embedded broker, in this process, authorizing every request by
	// its ACLs as a production cluster does.
	pwDir := PasswordsDir(opt.Dir)
	admin, err := brokerAdmin(cfg, pwDir)
	if err != nil {
		return err
	}
	bc := wiring.Broker(cfg.Broker)
	bc.SASL = devbroker.SASL{Mechanism: admin.Mechanism, Username: admin.Username, Password: admin.Password}
	bc.ACLs = true
	broker, err := devbroker.Start(bc, log)
	if err != nil {
		return err
	}
	defer broker.Close()
	cfg.Kafka.Brokers = []string{broker.Addr()}

	// `askonce migrate`, then each component logs in with its own role.
	if err := migratewire.Migrate(ctx, cfg.Postgres.URL, log); err != nil {
		return err
	}
	as, err := roleConfigs(ctx, cfg, log)
	if err != nil {
		return err
	}
	// The dev harness's own pool (samples, the pensioners' portfolio, the
	// catch-up check): the superuser of the private instance.
	pool, err := wiring.OpenPostgres(ctx, cfg.Postgres)
	if err != nil {
		return err
	}
	defer pool.Close()
	regPool, err := wiring.OpenPostgres(ctx, as(dbroles.Registry).Postgres)
	if err != nil {
		return err
	}
	defer regPool.Close()
	if err := registry.CheckSchema(ctx, regPool); err != nil {
		return err
	}

	// Synthetic sources: seeded once, then kept.
	srcURL, err := wiring.SourcesURL(ctx, cfg)
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

	AddSynthetic(cfg)
	// Every component authenticates as its own principal, with exactly the
	// rights the access model gives it.
	ids, err := applyAccess(ctx, cfg, pwDir, admin, log)
	if err != nil {
		return err
	}
	cfg.Connect.SourcesURL = srcURL
	cfg.Lookup.DevMode = true
	if len(cfg.Lookup.DataCenters) == 0 {
		// The API expects every seeded data center: none claims an as_of
		// before all of them have been heard from.
		for _, dc := range synth.DataCenters(cfg.Seed.DataCenters) {
			cfg.Lookup.DataCenters = append(cfg.Lookup.DataCenters, dc.Agency+"/"+dc.Name)
		}
	}
	cfg.Lookup.CreateSigningKey = true
	if cfg.Lookup.PolicyFile == "" {
		cfg.Lookup.PolicyFile = filepath.Join(opt.Dir, "policy.yaml")
		if err := os.WriteFile(cfg.Lookup.PolicyFile, devfiles.Policy, 0o644); err != nil {
			return fmt.Errorf("dev: %w", err)
		}
	}

	// One policy for the API and the router: the router's look at the file
	// every 30 seconds reloads it for both.
	pol, err := wiring.Policy(cfg, log)
	if err != nil {
		return err
	}
	reg := ops.NewRegistry()
	opsSrv := ops.NewServer(reg, log)
	g, gctx := errgroup.WithContext(ctx)
	// The schema registry, with its own ops endpoints on its port.
	regSrv := registry.NewServer(registry.NewBackend(regPool, cfg.Registry.Compatibility), log.With("component", "registry"), reg,
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
	// Each component: its PostgreSQL role, then its Kafka principal.
	matCfg, err := ids.as(as(dbroles.Materialize), access.MaterializerName)
	if err != nil {
		return err
	}
	routerCfg, err := ids.as(as(dbroles.Notify), access.RouterName)
	if err != nil {
		return err
	}
	apiCfg, err := ids.as(as(dbroles.API), access.APIName)
	if err != nil {
		return err
	}
	g.Go(func() error {
		return connectwire.Run(gctx, ids.connect(as(dbroles.Connect)), reg, opsSrv, log.With("component", "connect"))
	})
	g.Go(func() error {
		return wiring.RunMaterializer(gctx, matCfg, reg, opsSrv, log.With("component", "materialize"))
	})
	g.Go(func() error { return wiring.Notify(gctx, routerCfg, reg, opsSrv, log.With("component", "notify"), pol) })
	apiAddr := make(chan string, 1)
	g.Go(func() error {
		return wiring.Serve(gctx, apiCfg, reg, opsSrv, log.With("component", "lookup"), pol, nil, func(a string) { apiAddr <- a })
	})
	g.Go(func() error {
		var api string
		select {
		case api = <-apiAddr:
		case <-gctx.Done():
			return nil
		}
		api = "http://" + api
		out, err := waitCaughtUp(gctx, cfg, pool, src, api, pwDir, log)
		if err != nil {
			if gctx.Err() != nil {
				return nil
			}
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
		banner(opt.Out, cfg, api, opt.Dir, pwDir, samples, out, time.Since(start))
		fmt.Fprintf(opt.Out, "Change notifications: %d pensioners are in CNR's portfolio (deaths, marriages, divorces).\n", pensioners)
		fmt.Fprintf(opt.Out, "Watch them as the live sources change, as CNR's back office (Kafka principal %s):\n  %s bin/askonce consume --agency cnr --from-beginning\n\n",
			access.BackOfficeName("cnr"), askonceAs(pwDir, access.BackOfficeName("cnr")))
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

// roleConfigs returns, per group role, a copy of cfg whose postgres.url
// is that role's dev login (the roles of production, internal/dbroles) on
// the private instance, whose superuser URL postgres.url is. On another
// server (no dev logins) every component uses postgres.url.
func roleConfigs(ctx context.Context, cfg *config.Config, log *slog.Logger) (func(role string) *config.Config, error) {
	urls := map[string]string{}
	for _, role := range dbroles.Runtime {
		u, err := dbroles.LoginURL(cfg.Postgres.URL, role)
		if err != nil {
			return nil, err
		}
		urls[role] = u
	}
	if p, err := store.OpenURL(ctx, urls[dbroles.API], 1); err != nil {
		log.Warn("postgres.url is not the private PostgreSQL's superuser: every component logs in with it, not with its own role", "err", err)
		urls = nil
	} else {
		p.Close()
	}
	return func(role string) *config.Config {
		c := *cfg
		if u, ok := urls[role]; ok {
			c.Postgres.URL = u
		}
		return &c
	}, nil
}

// waitCaughtUp waits until the store holds every record of the synthetic
// data centers at its source's version: the initial load (or what the
// sources changed while the bus was stopped) is materialized. Records the
// store holds that the sources do not are reported, never waited for.
func waitCaughtUp(ctx context.Context, cfg *config.Config, pool, src *pgxpool.Pool, api, pwDir string, log *slog.Logger) (outside, error) {
	rules := schemas.Rules{AllowSynthetic: true, AllowPendingWilayas: cfg.Rules.AllowPendingWilayas}
	topics := bus.NewTopics(wiring.Topics(cfg.Kafka.Topics))
	var srcs []reconcile.Outbox
	for _, s := range cfg.Connect.PGOutbox {
		srcs = append(srcs, reconcile.Outbox{Origin: schemas.Origin{Agency: s.Agency, DataCenter: s.DataCenter}, Pool: src, Schema: s.Schema})
	}
	compare := func(ctx context.Context) ([]reconcile.Report, error) {
		reps := make([]reconcile.Report, 0, len(srcs))
		for _, s := range srcs {
			r, err := reconcile.Compare(ctx, s, pool, rules, topics)
			if err != nil {
				return nil, err
			}
			reps = append(reps, r)
		}
		return reps, nil
	}
	brokers := strings.Join(cfg.Kafka.Brokers, ",")
	w := startWait{poll: time.Second, progress: 5 * time.Second, stall: time.Minute,
		seeWhy: "bin/askonce reconcile --synthetic (the keys missing or behind, per data center); " +
			"the dead-letter queue, for records the connectors or the materializer refused: " + kcat(brokers, pwDir) + " -C -t " + topics.DLQ + ` -e -f '%h\n%s\n\n'; ` +
			"the lags: curl -s " + api + "/metrics | grep -E 'askonce_connect_source_lag_records|askonce_materialize_consumer_lag_messages'; " +
			"and the WARN or ERROR lines of component=connect and component=materialize above"}
	return w.run(ctx, compare, log)
}

// startWait is how the start waits for the store.
type startWait struct {
	poll     time.Duration // between comparisons
	progress time.Duration // between progress lines
	stall    time.Duration // without progress, before a warning
	seeWhy   string        // what to run to see why data centers lag
}

// outside are the store records the synthetic sources do not hold.
type outside struct {
	records     int      // in all
	dataCenters int      // holding some
	keys        []string // a few, as "data center key"
}

func (o outside) String() string {
	s := fmt.Sprintf("%d stored record", o.records)
	if o.records != 1 {
		s += "s"
	}
	s += " that the synthetic sources do not hold, written by producers outside the synthetic sources (another Kafka client, a CSV drop, a correction by hand): " +
		strings.Join(o.keys, ", ")
	if o.records > len(o.keys) {
		s += ", …"
	}
	return s
}

// run compares the store with the sources every poll until no source
// record is missing from the store or behind there. Progress lines say
// which data centers are still waited for; with no progress for stall, a
// warning says which lag and what to run to see why, every stall.
func (w startWait) run(ctx context.Context, compare func(context.Context) ([]reconcile.Report, error), log *slog.Logger) (outside, error) {
	var lastLine time.Time
	lastProgress := time.Now()
	best := -1
	for {
		reps, err := compare(ctx)
		if err != nil {
			return outside{}, err
		}
		var want, lag int
		for _, r := range reps {
			want += r.SourceKeys
			lag += r.Lag()
		}
		if lag == 0 {
			out := outsideOf(reps)
			log.Info("store caught up with every data center", "records", want, "data_centers", len(reps), "outside_records", out.records)
			if out.records > 0 {
				log.Info("outside records: "+out.String(), "records", out.records, "data_centers", out.dataCenters,
					"note", "kept, and not waited for; bin/askonce reconcile --synthetic lists them as extra")
			}
			return out, nil
		}
		now := time.Now()
		if best < 0 || lag < best {
			best, lastProgress = lag, now
		}
		switch {
		case now.Sub(lastProgress) >= w.stall:
			log.Warn("the start is waiting for records that do not reach the store", "for", now.Sub(lastProgress).Round(time.Second).String(),
				"stored", want-lag, "of", want, "lagging", lagging(reps, 5, true), "see_why", w.seeWhy)
			lastProgress, lastLine = now, now
		case now.Sub(lastLine) >= w.progress:
			log.Info("materializing the synthetic sources", "stored", want-lag, "of", want, "still_missing", lagging(reps, 5, false))
			lastLine = now
		}
		select {
		case <-ctx.Done():
			return outside{}, ctx.Err()
		case <-time.After(w.poll):
		}
	}
}

// lagging lists the data centers with records missing or behind in the
// store, the most lagging first, at most n (and how many more), with a few
// of their keys when keys is set.
func lagging(reps []reconcile.Report, n int, keys bool) string {
	var lag []reconcile.Report
	for _, r := range reps {
		if r.Lag() > 0 {
			lag = append(lag, r)
		}
	}
	sort.SliceStable(lag, func(i, j int) bool {
		if lag[i].Lag() != lag[j].Lag() {
			return lag[i].Lag() > lag[j].Lag()
		}
		return lag[i].DataCenter < lag[j].DataCenter
	})
	var parts []string
	for i, r := range lag {
		if i == n {
			more := fmt.Sprintf("and %d more data centers", len(lag)-n)
			if len(lag)-n == 1 {
				more = "and 1 more data center"
			}
			parts = append(parts, more)
			break
		}
		var what []string
		if r.Missing > 0 {
			what = append(what, fmt.Sprintf("%d missing", r.Missing))
		}
		if r.Behind > 0 {
			what = append(what, fmt.Sprintf("%d behind", r.Behind))
		}
		p := r.DataCenter + " " + strings.Join(what, " ")
		if keys && len(r.LagExamples) > 0 {
			p += " (" + strings.Join(r.LagExamples, " ")
			if r.Lag() > len(r.LagExamples) {
				p += " …"
			}
			p += ")"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ", ")
}

// outsideOf sums the extra records of the reports.
func outsideOf(reps []reconcile.Report) outside {
	var o outside
	for _, r := range reps {
		if r.Extra == 0 {
			continue
		}
		o.records += r.Extra
		o.dataCenters++
		for _, k := range r.ExtraKeys {
			if len(o.keys) < 5 {
				// An outside producer's key may hold a NIN: never in the logs.
				o.keys = append(o.keys, r.DataCenter+" "+schemas.MaskNINs(k, "<NIN>"))
			}
		}
	}
	return o
}

func writeSamples(dir, api string, samples []Sample) error {
	b, err := json.MarshalIndent(map[string]any{"api": api, "asks": Asks, "citizens": samples}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "sample-citizens.json"), append(b, '\n'), 0o644)
}

func banner(w io.Writer, cfg *config.Config, api, dir, pwDir string, samples []Sample, out outside, took time.Duration) {
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
			fmt.Fprintf(&b, "  ASKONCE_REQUEST_KEY=dev-cnr-key bin/askonce request --type life-certificate --purpose pension-life-proof --nin %s\n", s.NIN)
		}
	}
	fmt.Fprintf(&b, "\nEvery document type, for every sample: bin/askonce request --samples %s\n", filepath.Join(dir, "sample-citizens.json"))
	fmt.Fprintf(&b, "Verify a saved document offline: bin/askonce verify doc.json --keys %s/v1/keys\n", api)
	fmt.Fprintf(&b, "Kafka authorizes every request by its ACLs (bin/askonce access show --synthetic): each component has its own principal,\n")
	fmt.Fprintf(&b, "passwords in %s. Read the dead-letter queue with an independent client, as the operator:\n", pwDir)
	fmt.Fprintf(&b, "  %s -C -t askonce.dlq.v1 -e -f '%%h\\n%%s\\n\\n'\n", kcat(strings.Join(cfg.Kafka.Brokers, ","), pwDir))
	fmt.Fprintf(&b, "Check the store against the sources: bin/askonce reconcile --synthetic\n")
	if out.records > 0 {
		fmt.Fprintf(&b, "\nOutside records: %s.\nThey are kept, and the start does not wait for them; bin/askonce reconcile --synthetic lists them as extra.\n", out)
	}
	fmt.Fprintf(&b, "\nThe sources keep changing (%g changes/s). Ctrl-C stops everything; run again to resume; make clean wipes .var/.\n\n", cfg.Seed.LiveRate)
	io.WriteString(w, b.String()) //nolint:errcheck // terminal
}
