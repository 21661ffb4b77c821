// Package connectwire is the composition root of `askonce connect`: it
// turns the configuration into the connectors' own Config, opens what they
// run on (the bus database, the registry, the brokers) and runs them. Both
// `askonce connect` and `askonce dev` start the connectors through it.
//
// It is a package of its own, not part of internal/wiring, because the
// connectors' conformance suite (connectors/connectortest) uses wiring and
// is used by the CSV drop's own tests: wiring importing the connectors
// would make an import cycle.
package connectwire

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/askonce/askonce/connectors"
	"github.com/askonce/askonce/internal/config"
	"github.com/askonce/askonce/internal/ops"
	"github.com/askonce/askonce/internal/registry"
	"github.com/askonce/askonce/internal/wiring"
	"github.com/askonce/askonce/schemas"
)

// Run runs the connectors of cfg until ctx ends; readiness checks go on
// srv, metrics on reg. A configuration with no connector fails before the
// database and the brokers are waited for.
func Run(ctx context.Context, cfg *config.Config, reg prometheus.Registerer, srv *ops.Server, log *slog.Logger) error {
	ccfg, err := Config(ctx, cfg)
	if err != nil {
		return err
	}
	if err := ccfg.Validate(); err != nil {
		return err
	}
	db, err := wiring.OpenPostgres(ctx, cfg.Postgres)
	if err != nil {
		return err
	}
	defer db.Close()
	rc, err := registry.NewClient(wiring.RegistryClient(cfg.Registry))
	if err != nil {
		return err
	}
	conn, err := wiring.OpenBus(ctx, cfg, rc.Bus(), log)
	if err != nil {
		return err
	}
	defer conn.Client.Close()
	return connectors.Run(ctx, ccfg, connectors.Deps{DB: db, Bus: conn, Registry: rc, Metrics: reg, Ops: srv, Log: log})
}

// Config is the connectors' part of cfg. The sources database is resolved
// (and, on the private PostgreSQL of development, created) only when a
// pgoutbox source needs it.
func Config(ctx context.Context, cfg *config.Config) (connectors.Config, error) {
	c := cfg.Connect
	out := connectors.Config{BatchSize: c.BatchSize, PollInterval: c.PollInterval, MaxBackoff: c.MaxBackoff, PruneAfter: c.PruneAfter,
		Rules: schemas.Rules{AllowSynthetic: cfg.Rules.AllowSynthetic, AllowPendingWilayas: cfg.Rules.AllowPendingWilayas}}
	for _, s := range c.PGOutbox {
		if s.URL == "" && out.SourcesURL == "" {
			u, err := wiring.SourcesURL(ctx, cfg)
			if err != nil {
				return out, err
			}
			out.SourcesURL = u
		}
		out.PGOutbox = append(out.PGOutbox, connectors.PGOutbox{Agency: s.Agency, DataCenter: s.DataCenter, URL: s.URL, Schema: s.Schema})
	}
	for _, s := range c.CSVDrop {
		out.CSVDrop = append(out.CSVDrop, connectors.CSVDrop{Agency: s.Agency, DataCenter: s.DataCenter, Dir: s.Dir})
	}
	return out, nil
}
