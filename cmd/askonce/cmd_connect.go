package main

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/askonce/askonce/connectors"
	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/internal/config"
	"github.com/askonce/askonce/internal/dev"
	"github.com/askonce/askonce/internal/ops"
	"github.com/askonce/askonce/internal/registry"
	"github.com/askonce/askonce/internal/store"
	"github.com/askonce/askonce/schemas"
)

const defaultConnectOps = "127.0.0.1:9102"

func (a *app) connectCmd() *cobra.Command {
	var synthetic bool
	cmd := &cobra.Command{
		Use:   "connect",
		Short: "Run the connectors: agency data centers' outboxes and CSV drops onto the record topics",
		Long: `Runs every connector instance configured under connect.pgoutbox and connect.csvdrop
(one per agency data center and source kind) in one process: each reads its source in order,
validates, Avro-encodes and publishes keyed by NIN, sends rejects to askonce.dlq.v1 with
their reason, and moves its durable checkpoint only after the brokers acknowledged the batch.

--synthetic adds a pgoutbox connector for each data center of 'askonce seed' (33 by default)
and accepts synthetic persons: the quickest way to run the bus on synthetic data.

Ops (/metrics, /healthz, /readyz) on ` + defaultConnectOps + ` unless --ops-listen is set.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := a.load(cmd, nil)
			if err != nil {
				return err
			}
			if synthetic {
				dev.AddSynthetic(cfg)
			}
			return runConnect(cmd.Context(), cfg, log)
		},
	}
	cmd.Flags().BoolVar(&synthetic, "synthetic", false, "connect every data center of the synthetic sources (askonce seed)")
	return cmd
}

func runConnect(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	reg := ops.NewRegistry()
	srv := ops.NewServer(reg, log)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return srv.Serve(gctx, ops.DefaultListen(cfg.Ops.Listen, defaultConnectOps), nil) })
	g.Go(func() error { return startConnectors(gctx, cfg, reg, srv, log) })
	return g.Wait()
}

// startConnectors opens what the connectors run on (the bus database, the
// registry, the brokers) and runs them until ctx ends.
func startConnectors(ctx context.Context, cfg *config.Config, reg prometheus.Registerer, srv *ops.Server, log *slog.Logger) error {
	ccfg, err := connectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	if err := ccfg.Validate(); err != nil {
		return err // before waiting for the database and the brokers
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
	return connectors.Run(ctx, ccfg, connectors.Deps{DB: db, Bus: conn, Registry: rc, Metrics: reg, Ops: srv, Log: log})
}

// connectConfig is the connectors' part of cfg. The sources database is
// resolved (and, on the private PostgreSQL, created) only when a pgoutbox
// source needs it.
func connectConfig(ctx context.Context, cfg *config.Config) (connectors.Config, error) {
	c := cfg.Connect
	out := connectors.Config{BatchSize: c.BatchSize, PollInterval: c.PollInterval, MaxBackoff: c.MaxBackoff, PruneAfter: c.PruneAfter,
		Rules: schemas.Rules{AllowSynthetic: cfg.Rules.AllowSynthetic, AllowPendingWilayas: cfg.Rules.AllowPendingWilayas}}
	for _, s := range c.PGOutbox {
		if s.URL == "" && out.SourcesURL == "" {
			u, err := store.SourcesURL(ctx, cfg)
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
