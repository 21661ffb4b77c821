package main

import (
	"context"
	"log/slog"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/askonce/askonce/internal/config"
	"github.com/askonce/askonce/internal/dev"
	"github.com/askonce/askonce/internal/ops"
	"github.com/askonce/askonce/internal/wiring/connectwire"
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
	g.Go(func() error { return connectwire.Run(gctx, cfg, reg, srv, log) })
	return g.Wait()
}
