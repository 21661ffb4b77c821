// Package connectors runs the connector instances of a configuration
// (`askonce connect`): one per agency data center and source kind, all in
// one process, sharing one producer, one schema codec and one checkpoint
// store. The source kinds are subpackages (pgoutbox, csvdrop); what they
// share is in runtime.
package connectors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/askonce/askonce/connectors/csvdrop"
	"github.com/askonce/askonce/connectors/pgoutbox"
	"github.com/askonce/askonce/connectors/runtime"
	"github.com/askonce/askonce/internal/config"
	"github.com/askonce/askonce/internal/ops"
	"github.com/askonce/askonce/internal/registry"
	"github.com/askonce/askonce/internal/store"
	"github.com/askonce/askonce/internal/synth"
	"github.com/askonce/askonce/internal/wiring"
	"github.com/askonce/askonce/schemas"
)

// Run runs every connector instance of cfg.Connect until ctx ends. Its
// readiness checks go on opsSrv, its metrics on reg.
func Run(ctx context.Context, cfg *config.Config, reg prometheus.Registerer, opsSrv *ops.Server, log *slog.Logger) error {
	c := cfg.Connect
	if len(c.PGOutbox)+len(c.CSVDrop) == 0 {
		return errors.New("connect: no connector configured: list sources under connect.pgoutbox or connect.csvdrop (see deploy/devfiles/connect.yaml)")
	}
	busDB, err := wiring.OpenPostgres(ctx, cfg.Postgres)
	if err != nil {
		return err
	}
	defer busDB.Close()
	if err := runtime.Migrate(ctx, busDB, log); err != nil {
		return err
	}
	opsSrv.AddCheck("postgres", busDB.Ping)

	rc, err := registry.NewClient(wiring.RegistryClient(cfg.Registry))
	if err != nil {
		return err
	}
	opsSrv.AddCheck("registry", rc.Ping)
	conn, err := wiring.OpenBus(ctx, cfg, rc.Bus(), log)
	if err != nil {
		return err
	}
	defer conn.Client.Close()
	opsSrv.AddCheck("kafka", conn.Client.Ping)

	m := runtime.NewMetrics(reg)
	rules := schemas.Rules{AllowSynthetic: cfg.Rules.AllowSynthetic, AllowPendingWilayas: cfg.Rules.AllowPendingWilayas}
	pub := runtime.NewPublisher(conn.Client, conn.Codec, rules, m, log)
	defer pub.Close()
	cps := runtime.NewCheckpoints(busDB)
	opt := runtime.Options{BatchSize: c.BatchSize, PollInterval: c.PollInterval, MaxBackoff: c.MaxBackoff, PruneAfter: c.PruneAfter}

	pools := map[string]*pgxpool.Pool{}
	defer func() {
		for _, p := range pools {
			p.Close()
		}
	}()
	perURL := map[string]int{}
	urls := make([]string, len(c.PGOutbox))
	for i, s := range c.PGOutbox {
		u := s.URL
		if u == "" {
			if u, err = wiring.SourcesURL(ctx, cfg); err != nil {
				return err
			}
		}
		urls[i] = u
		perURL[u]++
	}
	// Every instance has a readiness (Healthy) and a loop (Run).
	type instance interface {
		Healthy() error
		Run(context.Context) error
	}
	var runners []instance
	for i, s := range c.PGOutbox {
		pool, ok := pools[urls[i]]
		if !ok {
			// One reading connection per instance, and a little headroom
			// for the lag and readiness queries.
			if pool, err = store.OpenURL(ctx, urls[i], min(perURL[urls[i]]+2, 40)); err != nil {
				return fmt.Errorf("connect: source of %s: %w", s.DataCenter, err)
			}
			pools[urls[i]] = pool
		}
		inst := runtime.Instance{Kind: "pgoutbox", Agency: s.Agency, DataCenter: s.DataCenter}
		src := pgoutbox.NewOutbox(pool, s.Schema, pgoutbox.Source{Agency: s.Agency, DataCenter: s.DataCenter}, conn.Client.Topics())
		if err := src.Check(ctx); err != nil {
			// A data center that is down at start is retried by its
			// runner; a missing outbox table is a configuration error
			// worth saying loudly, but it must not stop the others.
			log.Error("connector source not ready", "connector", inst.Name(), "err", err)
		}
		runners = append(runners, runtime.NewRunner(inst, src, pub, cps, opt, m, log))
	}
	if len(c.CSVDrop) > 0 {
		fm := csvdrop.NewMetrics(reg)
		copt := csvdrop.Options{BatchSize: c.BatchSize, PollInterval: c.PollInterval, MaxBackoff: c.MaxBackoff}
		for _, s := range c.CSVDrop {
			src := csvdrop.Source{Agency: s.Agency, DataCenter: s.DataCenter, Dir: s.Dir}
			runners = append(runners, csvdrop.NewRunner(src, pub, cps, conn.Client.Topics(), copt, m, fm, log))
		}
	}
	opsSrv.AddCheck("connectors", func(context.Context) error {
		var bad []string
		for _, r := range runners {
			if err := r.Healthy(); err != nil {
				bad = append(bad, err.Error())
			}
		}
		if len(bad) > 0 {
			return fmt.Errorf("%d of %d not healthy: %s", len(bad), len(runners), strings.Join(bad, "; "))
		}
		return nil
	})
	log.Info("connectors starting", "pgoutbox", len(c.PGOutbox), "csvdrop", len(c.CSVDrop), "batch_size", c.BatchSize)
	g, gctx := errgroup.WithContext(ctx)
	for _, r := range runners {
		g.Go(func() error { return r.Run(gctx) })
	}
	err = g.Wait()
	log.Info("connectors stopped")
	return err
}

// AddSynthetic adds a pgoutbox source for every data center of the
// synthetic agencies (askonce seed) that has none configured, and accepts
// synthetic persons.
func AddSynthetic(cfg *config.Config) {
	have := map[string]bool{}
	for _, s := range cfg.Connect.PGOutbox {
		have[s.DataCenter] = true
	}
	for _, dc := range synth.DataCenters(cfg.Seed.DataCenters) {
		if !have[dc.Name] {
			cfg.Connect.PGOutbox = append(cfg.Connect.PGOutbox, config.PGOutboxSource{Agency: dc.Agency, DataCenter: dc.Name, Schema: dc.Schema})
		}
	}
	cfg.Rules.AllowSynthetic = true
}
