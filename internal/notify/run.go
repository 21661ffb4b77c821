package notify

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/askonce/askonce/internal/audit"
	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/internal/config"
	"github.com/askonce/askonce/internal/lookup"
	"github.com/askonce/askonce/internal/ops"
	"github.com/askonce/askonce/internal/portfolio"
	"github.com/askonce/askonce/internal/registry"
	"github.com/askonce/askonce/internal/wiring"
	"github.com/askonce/askonce/schemas"
)

// UseNotificationSchemas registers (or, without registry.auto_register,
// looks up) the notification schema under the subject of each configured
// agency's topic, askonce.notify.<agency>-value, so conn's codec can
// encode and decode notifications.
func UseNotificationSchemas(ctx context.Context, conn *bus.Conn, agencies []string) error {
	sub, err := schemas.NotificationSubject()
	if err != nil {
		return err
	}
	for _, a := range agencies {
		if _, err := conn.Codec.Use(ctx, conn.Client.Topics().Notify(a), sub.Latest()); err != nil {
			return err
		}
	}
	return nil
}

// Run is `askonce notify`: it migrates the portfolio tables, registers the
// notification schemas, and routes until ctx ends. The lookup policy
// (lookup.policy_file) is re-read every 30 seconds.
func Run(ctx context.Context, cfg *config.Config, reg prometheus.Registerer, opsSrv *ops.Server, log *slog.Logger) error {
	var policy atomic.Pointer[lookup.Policy]
	p, err := lookup.LoadPolicy(cfg.Lookup.PolicyFile, cfg.Lookup.DevMode)
	if err != nil {
		return err
	}
	policy.Store(p)
	pool, err := wiring.OpenPostgres(ctx, cfg.Postgres)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := portfolio.Migrate(ctx, pool, log); err != nil {
		return err
	}
	if err := audit.Migrate(ctx, pool, log); err != nil {
		return err
	}
	opsSrv.AddCheck("postgres", pool.Ping)
	rc, err := registry.NewClient(wiring.RegistryClient(cfg.Registry))
	if err != nil {
		return err
	}
	opsSrv.AddCheck("registry", rc.Ping)
	conn, err := wiring.OpenBus(ctx, cfg, rc.Bus(), log)
	if err != nil {
		return err
	}
	defer conn.Client.Close()
	if err := UseNotificationSchemas(ctx, conn, cfg.Kafka.Topics.Agencies); err != nil {
		return err
	}
	opsSrv.AddCheck("kafka", conn.Client.Ping)
	// The router's audit entries go to the shared audit table; the lookup
	// API's mirror (askonce serve) publishes them on askonce.audit.v1 with
	// every other entry, so this log does not mirror.
	alog := audit.New(pool, audit.Options{}, lenient{reg}, log)
	opsSrv.AddCheck("audit", alog.Healthy)
	rules := schemas.Rules{AllowSynthetic: cfg.Rules.AllowSynthetic, AllowPendingWilayas: cfg.Rules.AllowPendingWilayas}
	rt := New(cfg.Notify, conn, pool, cfg.Kafka.Topics.Agencies, Options{Policy: policy.Load, Audit: alog, Rules: rules}, reg, log)
	defer rt.Close()
	opsSrv.AddCheck("consumer", rt.Healthy)

	g, gctx := errgroup.WithContext(ctx)
	actx, stopAudit := context.WithCancel(context.Background())
	defer stopAudit()
	auditDone := make(chan error, 1)
	go func() { auditDone <- alog.Run(actx) }()
	g.Go(func() error { rt.watchPortfolios(gctx, 30*time.Second); return nil })
	g.Go(func() error {
		for {
			select {
			case <-gctx.Done():
				return nil
			case <-time.After(30 * time.Second):
			}
			np, err := lookup.LoadPolicy(cfg.Lookup.PolicyFile, cfg.Lookup.DevMode)
			if err != nil {
				log.Error("policy reload failed; the previous policy stays in force", "err", err)
				continue
			}
			policy.Store(np)
		}
	})
	g.Go(func() error { return rt.Run(gctx) })
	err = g.Wait()
	// The audit writer stops after the router: a batch in flight finishes
	// its appends first.
	stopAudit()
	<-auditDone
	return err
}
