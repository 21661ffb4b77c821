package wiring

import (
	"context"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/askonce/askonce/internal/config"
	"github.com/askonce/askonce/internal/ops"
	"github.com/askonce/askonce/internal/store"
)

// migration creates or updates one component's tables (lookup.Migrate,
// audit.Migrate, ...).
type migration func(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) error

// openStore opens the lookup store of cfg, applies migrations in order
// and adds the "postgres" readiness check. The caller closes the pool.
func openStore(ctx context.Context, cfg *config.Config, opsSrv *ops.Server, log *slog.Logger, migrations ...migration) (*pgxpool.Pool, error) {
	pool, err := store.Open(ctx, cfg.Postgres)
	if err != nil {
		return nil, err
	}
	for _, m := range migrations {
		if err := m(ctx, pool, log); err != nil {
			pool.Close()
			return nil, err
		}
	}
	opsSrv.AddCheck("postgres", pool.Ping)
	return pool, nil
}
