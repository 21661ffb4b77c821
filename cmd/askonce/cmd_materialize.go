package main

import (
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/askonce/askonce/internal/ops"
	"github.com/askonce/askonce/internal/wiring"
)

const defaultMaterializeOps = "127.0.0.1:9103"

func (a *app) materializeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "materialize",
		Short: "Apply the record topics to the lookup store in PostgreSQL, exactly once in effect",
		Long: `Joins the consumer group materialize.group_id on the three record topics, decodes each message
through the schema registry (old writer schemas are read as the current one), validates it, and
applies each batch in one PostgreSQL transaction with versioned upserts: a stored row changes only
for a higher source version, so replays and duplicates change nothing. Offsets are committed only
after the transaction. Messages that cannot decode or break the rules go to askonce.dlq.v1 with
their reason. Run several instances with the same group to share the partitions.

Ops (/metrics, /healthz, /readyz) on ` + defaultMaterializeOps + ` unless --ops-listen is set.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := a.load(cmd, map[string]string{"group": "materialize.group_id", "allow-synthetic": "rules.allow_synthetic"})
			if err != nil {
				return err
			}
			reg := ops.NewRegistry()
			srv := ops.NewServer(reg, log)
			g, gctx := errgroup.WithContext(cmd.Context())
			g.Go(func() error { return srv.Serve(gctx, ops.DefaultListen(cfg.Ops.Listen, defaultMaterializeOps), nil) })
			g.Go(func() error { return wiring.RunMaterializer(gctx, cfg, reg, srv, log) })
			return g.Wait()
		},
	}
	cmd.Flags().String("group", "askonce-materialize", "Kafka consumer group")
	cmd.Flags().Bool("allow-synthetic", false, "accept synthetic persons (dev, tests, pilots)")
	return cmd
}
