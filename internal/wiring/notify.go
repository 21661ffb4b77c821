package wiring

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/askonce/askonce/internal/audit"
	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/internal/config"
	"github.com/askonce/askonce/internal/lookup"
	"github.com/askonce/askonce/internal/notify"
	"github.com/askonce/askonce/internal/ops"
	"github.com/askonce/askonce/internal/policy"
	"github.com/askonce/askonce/internal/portfolio"
	"github.com/askonce/askonce/internal/registry"
	"github.com/askonce/askonce/schemas"
)

// policyPoll is how often the router looks for a changed policy file: no
// one sends `askonce notify` a SIGHUP.
const policyPoll = 30 * time.Second

// Notify is `askonce notify`: it migrates the portfolio tables, registers
// the notification schemas, and routes until ctx ends. pol is the lookup
// policy portfolio changes are checked against; nil loads it from
// lookup.policy_file. Either way the file is looked at every 30 seconds
// and reloaded when it changed.
func Notify(ctx context.Context, cfg *config.Config, reg prometheus.Registerer, opsSrv *ops.Server, log *slog.Logger, pol *policy.Watcher) error {
	if pol == nil {
		var err error
		if pol, err = Policy(cfg, log); err != nil {
			return err
		}
	}
	pool, err := openStore(ctx, cfg, opsSrv, log, portfolio.Migrate, audit.Migrate)
	if err != nil {
		return err
	}
	defer pool.Close()
	rc, err := registry.NewClient(cfg.Registry)
	if err != nil {
		return err
	}
	opsSrv.AddCheck("registry", rc.Ping)
	conn, err := bus.Open(ctx, cfg, rc.Bus(), log)
	if err != nil {
		return err
	}
	defer conn.Client.Close()
	if err := notify.UseNotificationSchemas(ctx, conn, cfg.Kafka.Topics.Agencies); err != nil {
		return err
	}
	opsSrv.AddCheck("kafka", conn.Client.Ping)
	// The router's audit entries go to the shared audit table; the lookup
	// API's mirror (askonce serve) publishes them on askonce.audit.v1 with
	// every other entry, so this log does not mirror.
	alog := audit.New(pool, audit.Options{}, sharedRegisterer{reg}, log)
	opsSrv.AddCheck("audit", alog.Healthy)
	rules := schemas.Rules{AllowSynthetic: cfg.Rules.AllowSynthetic, AllowPendingWilayas: cfg.Rules.AllowPendingWilayas}
	rt := notify.New(notify.Config(cfg.Notify), conn, pool, cfg.Kafka.Topics.Agencies,
		notify.Options{Policy: pol.Current, Audit: alog, Rules: rules}, reg, log)
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

// Policy loads the lookup policy of cfg (lookup.policy_file, accepted
// dev_only under lookup.dev_mode) into the Watcher every component of the
// process reads it through.
func Policy(cfg *config.Config, log *slog.Logger) (*policy.Watcher, error) {
	return policy.NewWatcher(cfg.Lookup.PolicyFile, cfg.Lookup.DevMode, lookup.PolicyCatalog, log)
}
