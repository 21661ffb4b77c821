// Package store opens PostgreSQL connections and applies each component's
// embedded, numbered SQL migrations. The lookup store, the audit log and the
// schema registry all live in PostgreSQL through it. It is handed the URL to
// use; the composition root (internal/wiring) decides which.
package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// OpenURL returns a pool of at most maxConns connections (pgx's default
// when 0) to url, after checking that the server answers. url comes from the
// caller: store has no default and no fallback.
func OpenURL(ctx context.Context, url string, maxConns int) (*pgxpool.Pool, error) {
	return OpenAs(ctx, url, maxConns, "")
}

// OpenAs is OpenURL with every connection acting as role (SET ROLE; the
// login must be a member of it), the way migrations run as the owner
// role. An empty role is the login itself.
func OpenAs(ctx context.Context, url string, maxConns int, role string) (*pgxpool.Pool, error) {
	if url == "" {
		// pgx would fall back to libpq's defaults (PGHOST, localhost:5432).
		return nil, errors.New("store: no PostgreSQL URL given")
	}
	pc, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The URL holds a password: never echo it.
		return nil, errors.New("store: postgres.url is not a valid connection URL")
	}
	if maxConns > 0 {
		pc.MaxConns = int32(maxConns)
	}
	pc.ConnConfig.RuntimeParams["application_name"] = "askonce"
	if role != "" {
		pc.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
			_, err := c.Exec(ctx, "SET ROLE "+pgx.Identifier{role}.Sanitize())
			return err
		}
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("store: connect: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: connect to %s:%d/%s: %w", pc.ConnConfig.Host, pc.ConnConfig.Port, pc.ConnConfig.Database, err)
	}
	return pool, nil
}

var migrationFile = regexp.MustCompile(`^(\d{4})_([a-z0-9_]+)\.sql$`)

// Migrate applies, in order, the migrations in dir of fsys (files named
// NNNN_name.sql) that component has not applied yet, each in its own
// transaction. Concurrent callers serialize on an advisory lock. An applied
// migration whose file changed since is an error: migrations are append-only.
func Migrate(ctx context.Context, pool *pgxpool.Pool, component string, fsys fs.FS, dir string, log *slog.Logger) (int, error) {
	type mig struct {
		version  int
		name     string
		sql      string
		checksum string
	}
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return 0, fmt.Errorf("store: migrations of %s: %w", component, err)
	}
	var migs []mig
	for _, e := range entries {
		m := migrationFile.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return 0, fmt.Errorf("store: %w", err)
		}
		v, _ := strconv.Atoi(m[1])
		sum := sha256.Sum256(b)
		migs = append(migs, mig{version: v, name: m[2], sql: string(b), checksum: hex.EncodeToString(sum[:])})
	}
	sort.Slice(migs, func(i, j int) bool { return migs[i].version < migs[j].version })

	conn, err := pool.Acquire(ctx)
	if err != nil {
		return 0, fmt.Errorf("store: migrate %s: %w", component, err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(hashtext('askonce.migrate'))`); err != nil {
		return 0, fmt.Errorf("store: migrate lock: %w", err)
	}
	defer func() {
		_, _ = conn.Exec(context.Background(), `SELECT pg_advisory_unlock(hashtext('askonce.migrate'))`)
	}()
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS askonce_schema_migrations (
		component  text        NOT NULL,
		version    integer     NOT NULL,
		name       text        NOT NULL,
		checksum   text        NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now(),
		PRIMARY KEY (component, version))`); err != nil {
		return 0, fmt.Errorf("store: migrations table: %w", err)
	}
	applied := map[int]string{}
	rows, err := conn.Query(ctx, `SELECT version, checksum FROM askonce_schema_migrations WHERE component = $1`, component)
	if err != nil {
		return 0, fmt.Errorf("store: read migrations: %w", err)
	}
	for rows.Next() {
		var v int
		var sum string
		if err := rows.Scan(&v, &sum); err != nil {
			return 0, fmt.Errorf("store: read migrations: %w", err)
		}
		applied[v] = sum
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("store: read migrations: %w", err)
	}
	n := 0
	for _, m := range migs {
		if sum, ok := applied[m.version]; ok {
			if sum != m.checksum {
				return n, fmt.Errorf("store: migration %s %04d_%s changed after it was applied; add a new migration instead", component, m.version, m.name)
			}
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO askonce_schema_migrations (component, version, name, checksum) VALUES ($1, $2, $3, $4)`,
				component, m.version, m.name, m.checksum)
			return err
		})
		if err != nil {
			return n, fmt.Errorf("store: migration %s %04d_%s: %w", component, m.version, m.name, err)
		}
		n++
		if log != nil {
			log.Info("migration applied", "component", component, "version", m.version, "name", m.name)
		}
	}
	return n, nil
}

// Latest is the highest migration version in dir of fsys (0 for none).
func Latest(fsys fs.FS, dir string) (int, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return 0, fmt.Errorf("store: migrations: %w", err)
	}
	latest := 0
	for _, e := range entries {
		if m := migrationFile.FindStringSubmatch(e.Name()); m != nil {
			v, _ := strconv.Atoi(m[1])
			latest = max(latest, v)
		}
	}
	return latest, nil
}

// ErrSchemaBehind is wrapped by Check's error when the database needs
// `askonce migrate`.
var ErrSchemaBehind = errors.New("database schema is behind this release")

// Check tells whether component's migrations in dir of fsys are all
// applied: the runtime components never migrate (`askonce migrate` does,
// as the owner role), they stop at start on a database that is behind.
func Check(ctx context.Context, pool *pgxpool.Pool, component string, fsys fs.FS, dir string) error {
	want, err := Latest(fsys, dir)
	if err != nil {
		return err
	}
	var have int
	err = pool.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM askonce_schema_migrations WHERE component = $1`, component).Scan(&have)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42P01" { // undefined_table: never migrated
		err, have = nil, 0
	}
	if err != nil {
		return fmt.Errorf("store: schema version of %s: %w", component, err)
	}
	if have < want {
		return fmt.Errorf("%w: the %s schema is at version %d, this release needs %d: run `askonce migrate`", ErrSchemaBehind, component, have, want)
	}
	return nil
}

// DatabaseURL is base with its database name replaced by db.
func DatabaseURL(base, db string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		// The URL holds a password: never echo it.
		return "", errors.New("store: not a valid connection URL")
	}
	u.Path = "/" + db
	return u.String(), nil
}

// EnsureDatabase creates database db on the server of baseURL unless it
// exists, and returns its URL. The role of baseURL needs CREATEDB.
func EnsureDatabase(ctx context.Context, baseURL, db string) (string, error) {
	admin, err := DatabaseURL(baseURL, "postgres")
	if err != nil {
		return "", err
	}
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", fmt.Errorf("store: connect: %w", err)
	}
	defer conn.Close(context.Background())
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", db).Scan(&exists); err != nil {
		return "", fmt.Errorf("store: look up database %s: %w", db, err)
	}
	if !exists {
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{db}.Sanitize()); err != nil {
			var already interface{ SQLState() string }
			if !errors.As(err, &already) || already.SQLState() != "42P04" {
				return "", fmt.Errorf("store: create database %s: %w", db, err)
			}
		}
	}
	return DatabaseURL(baseURL, db)
}
