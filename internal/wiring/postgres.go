package wiring

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/askonce/askonce/internal/config"
	"github.com/askonce/askonce/internal/store"
)

// ErrNoPostgresURL is returned when postgres.url is empty: askonce never
// picks a database by itself outside `askonce dev`, bench and the tests.
var ErrNoPostgresURL = errors.New("postgres.url (ASKONCE_POSTGRES_URL) is not set: point it at a PostgreSQL 15+ " +
	"(for the private dev instance: ASKONCE_POSTGRES_URL=\"$(askonce pg url)\")")

// PostgresURL is postgres.url, or ErrNoPostgresURL.
func PostgresURL(cfg config.Postgres) (string, error) {
	if cfg.URL == "" {
		return "", ErrNoPostgresURL
	}
	return cfg.URL, nil
}

// OpenPostgres opens the bus database (postgres.url), postgres.max_conns
// connections at most.
func OpenPostgres(ctx context.Context, cfg config.Postgres) (*pgxpool.Pool, error) {
	u, err := PostgresURL(cfg)
	if err != nil {
		return nil, err
	}
	return store.OpenURL(ctx, u, cfg.MaxConns)
}

// SourcesDatabase is the database of the synthetic agency sources, on the
// server of postgres.url unless connect.sources_url says otherwise.
const SourcesDatabase = "askonce_sources"

// SourcesURL is where the synthetic agency sources live (and pgoutbox
// sources without a url of their own): connect.sources_url, or database
// askonce_sources on the server of postgres.url, created when missing.
func SourcesURL(ctx context.Context, cfg *config.Config) (string, error) {
	if cfg.Connect.SourcesURL != "" {
		return cfg.Connect.SourcesURL, nil
	}
	base, err := PostgresURL(cfg.Postgres)
	if err != nil {
		return "", err
	}
	return store.EnsureDatabase(ctx, base, SourcesDatabase)
}
