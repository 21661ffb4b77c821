package wiring

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/askonce/askonce/internal/audit"
	"github.com/askonce/askonce/internal/config"
	"github.com/askonce/askonce/internal/notify"
	"github.com/askonce/askonce/internal/ops"
	"github.com/askonce/askonce/internal/policy"
	"github.com/askonce/askonce/internal/portfolio"
)

// policyPoll is how often the router looks for a changed policy file: no
// one sends `askonce notify` a SIGHUP.
const policyPoll = 30 * time.Second

// Notify is `askonce notify`: it migrates the portfolio tables, registers
// the notification and portfolio schemas, and routes until ctx ends. pol is the lookup
// policy portfolio changes are checked against; nil loads it from
// lookup.policy_file. Either way the file is looked at every 30 seconds
// and reloaded when it changed.
func Notify(ctx context.Context, cfg *config.Config, reg prometheus.Registerer, opsSrv *ops.Server, log *slog.Logger, pol *policy.Watcher) error {
	pol, err := policyOr(pol, cfg, log)
	if err != nil {
		return err
	}
	pool, err := OpenStore(ctx, cfg, opsSrv, portfolio.CheckSchema, audit.CheckSchema)
	if err != nil {
		return err
	}
	defer pool.Close()
	conn, err := StartBus(ctx, cfg, opsSrv, log)
	if err != nil {
		return err
	}
	defer conn.Client.Close()
	if err := notify.UseNotificationSchemas(ctx, conn, cfg.Kafka.Topics.Agencies); err != nil {
		return err
	}
	if err := notify.UsePortfolioSchemas(ctx, conn, cfg.Kafka.Topics.Agencies); err != nil {
		return err
	}
	// The router's audit entries go to the shared audit table; the lookup
	// API's mirror (askonce serve) publishes them on askonce.audit.v1 with
	// every other entry, so this log does not mirror.
	alog := audit.New(pool, audit.Options{}, sharedRegisterer{reg}, log)
	opsSrv.AddCheck("audit", alog.Healthy)
	rt := notify.New(notify.Config(cfg.Notify), conn, pool, cfg.Kafka.Topics.Agencies,
		notify.Options{Policy: pol.Current, Audit: alog, Rules: Rules(cfg)}, reg, log)
	defer rt.Close()
	opsSrv.AddCheck("consumer", rt.Healthy)

	g, gctx := errgroup.WithContext(ctx)
	actx, stopAudit := context.WithCancel(context.Background())
	defer stopAudit()
	auditDone := make(chan error, 1)
	go func() { auditDone <- alog.Run(actx) }()
	g.Go(func() error { rt.WatchPortfolios(gctx, 30*time.Second); return nil })
	g.Go(func() error { pol.Poll(gctx, policyPoll); return nil })
	g.Go(func() error { return rt.Run(gctx) })
	err = g.Wait()
	// The audit writer stops after the router: a batch in flight finishes
	// its appends first.
	stopAudit()
	<-auditDone
	return err
}
