package dev

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/askonce/askonce/connectors"
	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/internal/config"
	"github.com/askonce/askonce/internal/ops"
	"github.com/askonce/askonce/internal/registry"
	"github.com/askonce/askonce/internal/store"
	"github.com/askonce/askonce/internal/synth"
	"github.com/askonce/askonce/schemas"
)

// AddSynthetic adds a pgoutbox source for every data center of the
// synthetic agencies (askonce seed) that has none configured, and accepts
// synthetic persons: what --synthetic means to `askonce connect` and
// `askonce reconcile`.
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

// runConnectors runs the connectors of cfg (the synthetic data centers,
// in cfg.Connect.SourcesURL) on the dev stack until ctx ends.
func runConnectors(ctx context.Context, cfg *config.Config, reg prometheus.Registerer, opsSrv *ops.Server, log *slog.Logger) error {
	c := cfg.Connect
	ccfg := connectors.Config{BatchSize: c.BatchSize, PollInterval: c.PollInterval, MaxBackoff: c.MaxBackoff, PruneAfter: c.PruneAfter,
		SourcesURL: c.SourcesURL, Rules: schemas.Rules{AllowSynthetic: cfg.Rules.AllowSynthetic, AllowPendingWilayas: cfg.Rules.AllowPendingWilayas}}
	for _, s := range c.PGOutbox {
		ccfg.PGOutbox = append(ccfg.PGOutbox, connectors.PGOutbox{Agency: s.Agency, DataCenter: s.DataCenter, URL: s.URL, Schema: s.Schema})
	}
	for _, s := range c.CSVDrop {
		ccfg.CSVDrop = append(ccfg.CSVDrop, connectors.CSVDrop{Agency: s.Agency, DataCenter: s.DataCenter, Dir: s.Dir})
	}
	db, err := store.Open(ctx, cfg.Postgres)
	if err != nil {
		return err
	}
	defer db.Close()
	rc, err := registry.NewClient(cfg.Registry)
	if err != nil {
		return err
	}
	conn, err := bus.Open(ctx, cfg, rc.Bus(), log)
	if err != nil {
		return err
	}
	defer conn.Client.Close()
	return connectors.Run(ctx, ccfg, connectors.Deps{DB: db, Bus: conn, Registry: rc, Metrics: reg, Ops: opsSrv, Log: log})
}
