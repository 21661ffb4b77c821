package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/internal/dev"
	"github.com/askonce/askonce/internal/reconcile"
	"github.com/askonce/askonce/internal/store"
	"github.com/askonce/askonce/internal/wiring"
	"github.com/askonce/askonce/schemas"
)

func (a *app) reconcileCmd() *cobra.Command {
	var synthetic bool
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "reconcile",
		Short: "Compare every source data center with the lookup store; exit 1 when they differ",
		Long: `For each pgoutbox source (connect.pgoutbox; --synthetic adds the data centers of 'askonce seed'),
reads the latest version of every source key from its outbox, maps and validates it as the
connector does, and compares it with the lookup store: counts, keys missing from the store,
stored at a lower version, stored but unknown to the source, and a checksum over
(key, version, deleted) on each side. Keys whose latest version the rules reject are counted
apart (they are in the DLQ); the store keeps their last accepted version ("held").

--wait retries until the store is clean or the duration has passed, for a bus still catching up.
Exit status 0 when every data center matches, 1 otherwise.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := a.load(cmd, nil)
			if err != nil {
				return err
			}
			if synthetic {
				dev.AddSynthetic(cfg)
				// The synthetic sources are the demo's: its private PostgreSQL
				// unless postgres.url says otherwise.
				if err := usePrivatePostgres(cfg, log, "reconcile", "connect.sources_url"); err != nil {
					return err
				}
			}
			if len(cfg.Connect.PGOutbox) == 0 {
				return errors.New("reconcile: no pgoutbox source configured (connect.pgoutbox, or --synthetic)")
			}
			ctx := cmd.Context()
			storePool, err := wiring.OpenPostgres(ctx, cfg.Postgres)
			if err != nil {
				return err
			}
			defer storePool.Close()
			pools := map[string]*pgxpool.Pool{}
			defer func() {
				for _, p := range pools {
					p.Close()
				}
			}()
			var srcs []reconcile.Outbox
			for _, s := range cfg.Connect.PGOutbox {
				u := s.URL
				if u == "" {
					if u, err = wiring.SourcesURL(ctx, cfg); err != nil {
						return err
					}
				}
				if pools[u] == nil {
					if pools[u], err = store.OpenURL(ctx, u, 4); err != nil {
						return fmt.Errorf("reconcile: source %s: %w", s.DataCenter, err)
					}
				}
				srcs = append(srcs, reconcile.Outbox{Origin: schemas.Origin{Agency: s.Agency, DataCenter: s.DataCenter}, Pool: pools[u], Schema: s.Schema})
			}
			rules := schemas.Rules{AllowSynthetic: cfg.Rules.AllowSynthetic, AllowPendingWilayas: cfg.Rules.AllowPendingWilayas}
			topics := bus.NewTopics(wiring.Topics(cfg.Kafka.Topics))
			deadline := time.Now().Add(wait)
			for {
				start := time.Now()
				reps, err := compareAll(ctx, srcs, storePool, rules, topics)
				if err != nil {
					return err
				}
				clean := true
				for _, r := range reps {
					clean = clean && r.Clean()
				}
				if clean || time.Now().After(deadline) {
					if reconcile.Print(a.stdout, reps, time.Since(start)) {
						return nil
					}
					return errors.New("reconcile: the store differs from its sources")
				}
				fmt.Fprintf(a.stderr, "reconcile: not clean yet, retrying for %s more\n", time.Until(deadline).Round(time.Second))
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(2 * time.Second):
				}
			}
		},
	}
	cmd.Flags().BoolVar(&synthetic, "synthetic", false, "reconcile every data center of the synthetic sources (askonce seed)")
	cmd.Flags().DurationVar(&wait, "wait", 0, "retry until clean or this long has passed")
	return cmd
}

func compareAll(ctx context.Context, srcs []reconcile.Outbox, pool *pgxpool.Pool, rules schemas.Rules, topics bus.Topics) ([]reconcile.Report, error) {
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
