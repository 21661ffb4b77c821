package wiring

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/askonce/askonce/internal/config"
	"github.com/askonce/askonce/internal/materialize"
	"github.com/askonce/askonce/internal/ops"
	"github.com/askonce/askonce/internal/registry"
	"github.com/askonce/askonce/internal/watermark"
	"github.com/askonce/askonce/schemas"
)

// RunMaterializer is `askonce materialize`: it migrates the store, joins the
// consumer group and applies batches until ctx ends. Readiness checks go on
// opsSrv, metrics on reg.
func RunMaterializer(ctx context.Context, cfg *config.Config, reg prometheus.Registerer, opsSrv *ops.Server, log *slog.Logger) error {
	pool, err := OpenStore(ctx, cfg, opsSrv, materialize.CheckSchema)
	if err != nil {
		return err
	}
	defer pool.Close()
	rc, err := registry.NewClient(RegistryClient(cfg.Registry))
	if err != nil {
		return err
	}
	opsSrv.AddCheck("registry", rc.Ping)
	conn, err := OpenBus(ctx, cfg, rc.Bus(), log)
	if err != nil {
		return err
	}
	defer conn.Client.Close()
	opsSrv.AddCheck("kafka", conn.Client.Ping)
	rules := schemas.Rules{AllowSynthetic: cfg.Rules.AllowSynthetic, AllowPendingWilayas: cfg.Rules.AllowPendingWilayas}
	m := materialize.New(Materialize(cfg.Materialize), conn, pool, rules, reg, log)
	defer m.Close()
	opsSrv.AddCheck("consumer", m.Healthy)
	wm := watermark.NewReader(pool)
	reg.MustRegister(watermark.NewCollector(wm))
	if cfg.Materialize.FrozenAfter > 0 {
		opsSrv.AddCheck("store-watermarks", func(ctx context.Context) error { return wm.Frozen(ctx, cfg.Materialize.FrozenAfter) })
	}
	return m.Run(ctx)
}
