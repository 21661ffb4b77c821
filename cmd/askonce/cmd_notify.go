package main

import (
	"context"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/askonce/askonce/internal/notify"
	"github.com/askonce/askonce/internal/ops"
	"github.com/askonce/askonce/internal/registry"
	"github.com/askonce/askonce/internal/wiring"
)

const defaultNotifyOps = "127.0.0.1:9104"

func (a *app) notifyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "notify",
		Short: "Route record changes to the agencies whose portfolio holds the citizen (askonce.notify.<agency>)",
		Long: `Joins the consumer group notify.group_id on the three record topics and the portfolio topic
of every agency of kafka.topics.agencies, askonce.portfolio.<agency>.
For each valid record that is a change of interest (death, marriage, divorce, birth of a child,
employment start or end, contribution arrears) it looks up the portfolios in PostgreSQL and emits
one Avro notification per subscribed agency on askonce.notify.<agency>, keyed by NIN, with a
stable id (replays give the same id: consumers deduplicate by id). notify_sent remembers what was
told, so replays and stale versions notify nothing and a corrected record notifies once, as a
correction. Offsets are committed after the notifications are acknowledged (acks=all), audited
and recorded. A portfolio change is its topic's agency's: one naming another agency is not applied
(DLQ code portfolio.agency_mismatch); the others are checked against the lookup policy
(lookup.policy_file); rejects go to askonce.dlq.v1.

Ops (/metrics, /healthz, /readyz) on ` + defaultNotifyOps + ` unless --ops-listen is set.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := a.load(cmd, map[string]string{"group": "notify.group_id", "policy": "lookup.policy_file", "allow-synthetic": "rules.allow_synthetic"})
			if err != nil {
				return err
			}
			if dev, _ := cmd.Flags().GetBool("dev"); dev {
				cfg.Lookup.DevMode = true
				if cfg.Lookup.PolicyFile == "" {
					cfg.Lookup.PolicyFile = "deploy/devfiles/policy.yaml"
				}
			}
			reg := ops.NewRegistry()
			srv := ops.NewServer(reg, log)
			g, gctx := errgroup.WithContext(cmd.Context())
			g.Go(func() error { return srv.Serve(gctx, ops.DefaultListen(cfg.Ops.Listen, defaultNotifyOps), nil) })
			g.Go(func() error { return wiring.Notify(gctx, cfg, reg, srv, log, nil) })
			return g.Wait()
		},
	}
	cmd.Flags().String("group", "askonce-notify", "Kafka consumer group")
	cmd.Flags().String("policy", "", "lookup policy file (lookup.policy_file): portfolio purposes are checked against it")
	cmd.Flags().Bool("dev", false, "dev mode: the dev policy (deploy/devfiles/policy.yaml) with its well-known keys")
	cmd.Flags().Bool("allow-synthetic", false, "accept synthetic persons (dev, tests, pilots)")
	return cmd
}

func (a *app) consumeCmd() *cobra.Command {
	var agency, group string
	var fromBeginning bool
	var idle time.Duration
	cmd := &cobra.Command{
		Use:   "consume --agency cnr",
		Short: "Print an agency's change notifications as JSON lines (the reference consumer)",
		Long: `Reads askonce.notify.<agency> in a consumer group (default askonce-consume-<agency>), decodes
each notification through the schema registry, prints it as one JSON line on stdout, and commits
its offset after printing: a second run with the same group prints only what is new. Ids already
printed in this run are skipped (the router delivers at least once; a replay repeats an id).
--from-beginning starts a group without committed offsets at the oldest notification kept
(otherwise at the newest); --exit-when-idle returns after that long without a notification.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := a.load(cmd, nil)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			rc, err := registry.NewClient(wiring.RegistryClient(cfg.Registry))
			if err != nil {
				return err
			}
			// A back office's consumer creates no topic: its principal
			// may only read its notifications (internal/access).
			cfg.Kafka.Topics.CreateOnStart = false
			octx, cancel := context.WithTimeout(ctx, time.Minute)
			conn, err := wiring.OpenBus(octx, cfg, rc.Bus(), log)
			cancel()
			if err != nil {
				return err
			}
			defer conn.Client.Close()
			n, err := notify.Consume(ctx, conn, notify.ConsumeOptions{Agency: agency, Group: group, FromBeginning: fromBeginning, ExitWhenIdle: idle}, a.stdout, log)
			log.Info("notifications printed", "count", n)
			return err
		},
	}
	cmd.Flags().StringVar(&agency, "agency", "", "agency whose notifications to read (its topic askonce.notify.<agency>)")
	cmd.Flags().StringVar(&group, "group", "", "consumer group (default askonce-consume-<agency>; an agency's Kafka principal may also use askonce-consume-<agency>.<name>)")
	cmd.Flags().BoolVar(&fromBeginning, "from-beginning", false, "a new group starts at the oldest notification kept")
	cmd.Flags().DurationVar(&idle, "exit-when-idle", 0, "exit after this long without a notification (0: run until interrupted)")
	_ = cmd.MarkFlagRequired("agency")
	return cmd
}
