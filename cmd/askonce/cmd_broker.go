package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/internal/config"
	"github.com/askonce/askonce/internal/devbroker"
	"github.com/askonce/askonce/internal/ops"
	"github.com/askonce/askonce/internal/wiring"
)

const defaultBrokerOps = "127.0.0.1:9101"

func (a *app) brokerCmd() *cobra.Command {
	def := config.Default()
	cmd := &cobra.Command{
		Use:   "broker",
		Short: "Run the embedded Kafka-protocol broker (dev and tests; production uses a real cluster)",
		Long: `Runs a single-node Kafka-protocol broker (franz-go's kfake) that keeps its topics, records
and committed group offsets in --data-dir across restarts, and creates the askonce topics
when missing. Any Kafka client (kcat, Java, .NET, Python) can use it. With --acls (and
broker.sasl) it authorizes every request as a real cluster with ACLs does: create the
principals and their ACLs with 'askonce access apply' as the superuser.
Ops endpoints default to http://` + defaultBrokerOps + ` (/metrics, /healthz, /readyz).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := a.load(cmd, map[string]string{
				"listen":      "broker.listen",
				"data-dir":    "broker.data_dir",
				"sync-writes": "broker.sync_writes",
			})
			if err != nil {
				return err
			}
			acls, _ := cmd.Flags().GetBool("acls")
			return runBroker(cmd.Context(), cfg, acls, log)
		},
	}
	f := cmd.Flags()
	f.String("listen", def.Broker.Listen, "address to bind and advertise")
	f.String("data-dir", def.Broker.DataDir, "directory that keeps topics, records and offsets")
	f.Bool("sync-writes", def.Broker.SyncWrites, "fsync every produced batch")
	f.Bool("acls", false, "authorize every request by the broker's ACLs (needs broker.sasl, whose superuser bypasses them; `askonce access apply` creates them)")
	return cmd
}

func runBroker(ctx context.Context, cfg *config.Config, acls bool, log *slog.Logger) error {
	bc := wiring.Broker(cfg.Broker)
	bc.ACLs = acls
	b, err := devbroker.Start(bc, log)
	if err != nil {
		return err
	}
	defer b.Close()

	// Clients of this process talk to the broker it runs, with the client
	// settings of the configuration (TLS/SASL must match the broker's).
	kcfg := cfg.Kafka
	kcfg.Brokers = []string{b.Addr()}
	client, err := bus.New(wiring.Kafka(kcfg))
	if err != nil {
		return err
	}
	defer client.Close()
	if cfg.Kafka.Topics.CreateOnStart {
		if _, err := client.EnsureTopics(ctx, client.Topics().Specs(), log); err != nil {
			return fmt.Errorf("broker: create topics: %w", err)
		}
	}

	reg := ops.NewRegistry()
	srv := ops.NewServer(reg, log)
	srv.AddCheck("kafka", client.Ping)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return srv.Serve(gctx, ops.DefaultListen(cfg.Ops.Listen, defaultBrokerOps), nil) })
	log.Info("broker ready", "bootstrap", b.Addr(), "topics", len(client.Topics().Specs()))
	<-gctx.Done()
	return g.Wait()
}
