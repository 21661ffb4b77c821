package wiring

import (
	"context"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/internal/config"
	"github.com/askonce/askonce/internal/dbroles"
	"github.com/askonce/askonce/internal/lookup"
	"github.com/askonce/askonce/internal/ops"
	"github.com/askonce/askonce/internal/policy"
	"github.com/askonce/askonce/internal/registry"
	"github.com/askonce/askonce/schemas"
)

// The start-up every component shares: the store and its schema check, the
// bus through the schema registry, the record rules and the policy, each
// with its readiness check.

// Migration creates or updates one component's tables (lookup.Migrate,
// audit.Migrate, portfolio.Migrate, ...): `askonce migrate` runs them.
type Migration = dbroles.Migration

// SchemaCheck fails when one component's tables are behind the release
// (lookup.CheckSchema, audit.CheckSchema, ...).
type SchemaCheck func(ctx context.Context, pool *pgxpool.Pool) error

// OpenStore opens the lookup store of cfg (postgres.*) with the
// component's own login, checks that the schema is migrated and adds the
// "postgres" readiness check. The caller closes the pool.
func OpenStore(ctx context.Context, cfg *config.Config, opsSrv *ops.Server, checks ...SchemaCheck) (*pgxpool.Pool, error) {
	pool, err := OpenPostgres(ctx, cfg.Postgres)
	if err != nil {
		return nil, err
	}
	for _, c := range checks {
		if err := c(ctx, pool); err != nil {
			pool.Close()
			return nil, err
		}
	}
	opsSrv.AddCheck("postgres", pool.Ping)
	return pool, nil
}

// StartBus connects to Kafka (kafka.*) with a codec over the schema
// registry (registry.*) and adds the "registry" and "kafka" readiness
// checks. The caller closes conn.Client.
func StartBus(ctx context.Context, cfg *config.Config, opsSrv *ops.Server, log *slog.Logger) (*bus.Conn, error) {
	rc, err := registry.NewClient(RegistryClient(cfg.Registry))
	if err != nil {
		return nil, err
	}
	opsSrv.AddCheck("registry", rc.Ping)
	conn, err := OpenBus(ctx, cfg, rc.Bus(), log)
	if err != nil {
		return nil, err
	}
	opsSrv.AddCheck("kafka", conn.Client.Ping)
	return conn, nil
}

// Rules are the record rules of cfg (rules.*).
func Rules(cfg *config.Config) schemas.Rules {
	return schemas.Rules{AllowSynthetic: cfg.Rules.AllowSynthetic, AllowPendingWilayas: cfg.Rules.AllowPendingWilayas}
}

// Policy loads the lookup policy of cfg (lookup.policy_file, accepted
// dev_only under lookup.dev_mode) into the Watcher every component of the
// process reads it through.
func Policy(cfg *config.Config, log *slog.Logger) (*policy.Watcher, error) {
	return policy.NewWatcher(cfg.Lookup.PolicyFile, cfg.Lookup.DevMode, lookup.PolicyCatalog, log)
}

// policyOr is pol, or the policy of cfg when pol is nil (a component run
// alone).
func policyOr(pol *policy.Watcher, cfg *config.Config, log *slog.Logger) (*policy.Watcher, error) {
	if pol != nil {
		return pol, nil
	}
	return Policy(cfg, log)
}
