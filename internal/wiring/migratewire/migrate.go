// Package migratewire is `askonce migrate`: every component's migrations,
// applied as the owner role with the roles of internal/dbroles. It is apart
// from internal/wiring so that the components' own tests, which use
// wiring, do not import every component.
package migratewire

import (
	"context"
	"log/slog"

	"github.com/askonce/askonce/connectors/connector"
	"github.com/askonce/askonce/connectors/csvdrop"
	"github.com/askonce/askonce/internal/audit"
	"github.com/askonce/askonce/internal/dbroles"
	"github.com/askonce/askonce/internal/lookup"
	"github.com/askonce/askonce/internal/materialize"
	"github.com/askonce/askonce/internal/portfolio"
	"github.com/askonce/askonce/internal/registry"
)

// Migrations are every component's migrations, in the order `askonce
// migrate` applies them.
var Migrations = []dbroles.Migration{
	registry.Migrate, materialize.Migrate, lookup.Migrate, portfolio.Migrate, audit.Migrate,
	connector.Migrate, csvdrop.Migrate,
}

// Migrate is `askonce migrate`: on the database of url, whose user may act
// as the owner role (a member of askonce_owner with CREATEROLE the first
// time, or a superuser), it creates the group roles that are missing,
// applies migrations (every component's when none is given) as the owner
// role and sets each runtime role's privileges (internal/dbroles). It is
// idempotent; concurrent runs serialize on the migrations' lock.
func Migrate(ctx context.Context, url string, log *slog.Logger, migrations ...dbroles.Migration) error {
	if len(migrations) == 0 {
		migrations = Migrations
	}
	if err := dbroles.Migrate(ctx, url, log, migrations...); err != nil {
		return err
	}
	if log != nil {
		log.Info("database migrated; roles and privileges set", "roles", dbroles.All)
	}
	return nil
}
