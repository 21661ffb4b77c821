package dbroles

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/askonce/askonce/internal/store"
)

// Migration creates or updates one component's tables.
type Migration = func(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) error

// Migrate, on the database of url, whose user may act as Owner (a member
// of it, with CREATEROLE while roles are missing, or a superuser), creates
// the group roles that are missing, readies the schema (Prepare), applies
// migrations as Owner and sets every runtime role's privileges (Apply).
// It is idempotent; concurrent runs on one database serialize.
func Migrate(ctx context.Context, url string, log *slog.Logger, migrations ...Migration) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("migrate: connect: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(hashtext('askonce.roles'))`); err != nil {
		return fmt.Errorf("migrate: lock: %w", err)
	}
	if err := EnsureRoles(ctx, conn); err != nil {
		return err
	}
	if err := Prepare(ctx, conn); err != nil {
		return err
	}
	pool, err := store.OpenAs(ctx, url, 2, Owner)
	if err != nil {
		return err
	}
	defer pool.Close()
	for _, m := range migrations {
		if err := m(ctx, pool, log); err != nil {
			return err
		}
	}
	return Apply(ctx, pool)
}
