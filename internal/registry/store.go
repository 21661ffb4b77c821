package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"unicode/utf8"

	"github.com/hamba/avro/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/askonce/askonce/internal/store"
	"github.com/askonce/askonce/schemas"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrate creates or upgrades the registry's tables.
func Migrate(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) error {
	_, err := store.Migrate(ctx, pool, "registry", migrations, "migrations", log)
	return err
}

// CheckSchema returns an error unless the registry's tables are at the version this
// release needs (`askonce migrate` migrates them).
func CheckSchema(ctx context.Context, pool *pgxpool.Pool) error {
	return store.Check(ctx, pool, "registry", migrations, "migrations")
}

// Backend keeps subjects, versions, schemas and compatibility levels in
// PostgreSQL. Every change runs in one transaction under a per-subject
// advisory lock, so several registry instances can serve one database.
type Backend struct {
	pool          *pgxpool.Pool
	defaultLevel  string
	mu            sync.RWMutex
	parsedByID    map[int]avro.Schema
	maxSchemaSize int
}

// NewBackend returns a backend over a migrated database; defaultLevel is
// the global level until one is set.
func NewBackend(pool *pgxpool.Pool, defaultLevel string) *Backend {
	return &Backend{pool: pool, defaultLevel: defaultLevel, parsedByID: map[int]avro.Schema{}, maxSchemaSize: 1 << 20}
}

// Ping checks the database.
func (b *Backend) Ping(ctx context.Context) error { return b.pool.Ping(ctx) }

// parsed is a schema checked and normalized for storage.
type parsed struct {
	schema      avro.Schema
	text        string // normalized JSON: docs and defaults kept
	fingerprint []byte
}

func parseSchema(text, schemaType string, refs []Reference) (*parsed, *Error) {
	if schemaType != "" && schemaType != "AVRO" {
		return nil, apiErr(422, CodeInvalidSchema, "Invalid schema: schema type %s is not supported; this registry holds AVRO schemas", schemaType)
	}
	if len(refs) > 0 {
		return nil, apiErr(422, CodeInvalidSchema, "Invalid schema: schema references are not supported; inline the referenced types")
	}
	if text == "" {
		return nil, apiErr(422, CodeInvalidSchema, "Invalid schema: empty schema")
	}
	if !utf8.ValidString(text) {
		// JSON text is UTF-8 (RFC 8259): a stray byte would be kept by the
		// parser and then stored as U+FFFD, so the schema would not be the
		// one that was sent.
		return nil, apiErr(422, CodeInvalidSchema, "Invalid schema: not valid UTF-8")
	}
	sch, err := schemas.Parse(dropPrimitiveReserved(text))
	if err != nil {
		return nil, apiErr(422, CodeInvalidSchema, "Invalid schema: %v", err)
	}
	norm, err := json.Marshal(sch)
	if err != nil {
		return nil, apiErr(422, CodeInvalidSchema, "Invalid schema: %v", err)
	}
	sum := sha256.Sum256(norm)
	return &parsed{schema: sch, text: string(norm), fingerprint: sum[:]}, nil
}

// version is one stored version of a subject.
type version struct {
	Subject string
	Version int
	ID      int
	Schema  string
	Deleted bool
	fp      []byte
}

func (b *Backend) storeErr(op string, err error) *Error {
	return apiErr(500, CodeStore, "Error in the backend data store: %s: %v", op, err)
}

// versions lists a subject's versions, oldest first.
func (b *Backend) versions(ctx context.Context, q querier, subject string, withDeleted bool) ([]version, error) {
	rows, err := q.Query(ctx, `
		SELECT v.version, v.schema_id, s.schema, v.deleted, s.fingerprint
		FROM registry_versions v JOIN registry_schemas s ON s.id = v.schema_id
		WHERE v.subject = $1 AND (NOT v.deleted OR $2)
		ORDER BY v.version`, subject, withDeleted)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (version, error) {
		v := version{Subject: subject}
		err := r.Scan(&v.Version, &v.ID, &v.Schema, &v.Deleted, &v.fp)
		return v, err
	})
}

// querier is what pgx.Tx and *pgxpool.Pool share for reading.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// parsedSchema parses a stored schema once per id.
func (b *Backend) parsedSchema(id int, text string) (avro.Schema, error) {
	b.mu.RLock()
	s, ok := b.parsedByID[id]
	b.mu.RUnlock()
	if ok {
		return s, nil
	}
	s, err := schemas.Parse(text)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.parsedByID[id] = s
	b.mu.Unlock()
	return s, nil
}

// Level returns the compatibility level of subject ("" for the global one)
// and whether it was set explicitly for that subject.
func (b *Backend) Level(ctx context.Context, subject string) (string, bool, error) {
	return b.level(ctx, b.pool, subject)
}

// level reads through q, so that a transaction holding a lock does not
// need a second connection (which a busy pool may never give it).
func (b *Backend) level(ctx context.Context, q querier, subject string) (string, bool, error) {
	var level string
	err := q.QueryRow(ctx, `SELECT compatibility FROM registry_config WHERE subject = $1`, subject).Scan(&level)
	if err == nil {
		return level, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return "", false, err
	}
	if subject == "" {
		return b.defaultLevel, false, nil
	}
	level, _, err = b.level(ctx, q, "")
	return level, false, err
}

// SetLevel sets the compatibility level of subject ("" for global).
func (b *Backend) SetLevel(ctx context.Context, subject, level string) error {
	_, err := b.pool.Exec(ctx, `
		INSERT INTO registry_config (subject, compatibility) VALUES ($1, $2)
		ON CONFLICT (subject) DO UPDATE SET compatibility = EXCLUDED.compatibility, updated_at = now()`, subject, level)
	return err
}

// DeleteLevel removes a subject's own level; it returns the removed level.
func (b *Backend) DeleteLevel(ctx context.Context, subject string) (string, bool, error) {
	var level string
	err := b.pool.QueryRow(ctx, `DELETE FROM registry_config WHERE subject = $1 RETURNING compatibility`, subject).Scan(&level)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	return level, err == nil, err
}

// Register adds a schema to a subject, or returns the id it already has
// there. It refuses a schema incompatible under the subject's level.
func (b *Backend) Register(ctx context.Context, subject string, p *parsed) (id int, created bool, apiError *Error) {
	err := pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('askonce.registry:' || $1))`, subject); err != nil {
			return err
		}
		vs, err := b.versions(ctx, tx, subject, false)
		if err != nil {
			return err
		}
		for _, v := range vs {
			if bytes.Equal(v.fp, p.fingerprint) {
				id = v.ID
				return nil
			}
		}
		level, _, err := b.level(ctx, tx, subject)
		if err != nil {
			return err
		}
		existing := make([]avro.Schema, 0, len(vs))
		for _, v := range vs {
			s, err := b.parsedSchema(v.ID, v.Schema)
			if err != nil {
				return fmt.Errorf("stored schema %d does not parse: %w", v.ID, err)
			}
			existing = append(existing, s)
		}
		if reasons := Check(level, p.schema, existing); len(reasons) > 0 {
			apiError = apiErr(409, CodeIncompatible, "Schema being registered is incompatible with an earlier schema for subject \"%s\" (compatibility %s), details: %s",
				subject, level, jsonList(reasons))
			return nil
		}
		if err := tx.QueryRow(ctx, `
			INSERT INTO registry_schemas (fingerprint, schema) VALUES ($1, $2)
			ON CONFLICT (fingerprint) DO UPDATE SET fingerprint = EXCLUDED.fingerprint
			RETURNING id`, p.fingerprint, p.text).Scan(&id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO registry_versions (subject, version, schema_id)
			SELECT $1, coalesce(max(version), 0) + 1, $2 FROM registry_versions WHERE subject = $1`, subject, id); err != nil {
			return err
		}
		created = true
		return nil
	})
	if err != nil {
		return 0, false, b.storeErr("register", err)
	}
	if apiError != nil {
		return 0, false, apiError
	}
	return id, created, nil
}

func jsonList(s []string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// Lookup finds the version of subject that holds p: the newest live one,
// or with deleted the newest one, soft-deleted or not (Confluent's
// POST /subjects/{s}?deleted=true). With no match it answers 40401 when
// the subject has no version to search (live ones, or any with deleted),
// else 40403.
func (b *Backend) Lookup(ctx context.Context, subject string, p *parsed, deleted bool) (version, *Error) {
	vs, err := b.versions(ctx, b.pool, subject, deleted)
	if err != nil {
		return version{}, b.storeErr("lookup", err)
	}
	if len(vs) == 0 {
		return version{}, errSubjectNotFound(subject)
	}
	for i := len(vs) - 1; i >= 0; i-- {
		if bytes.Equal(vs[i].fp, p.fingerprint) {
			return vs[i], nil
		}
	}
	return version{}, errSchemaNotFound()
}

// Subjects lists subjects with at least one live version (or any version
// with deleted).
func (b *Backend) Subjects(ctx context.Context, deleted bool) ([]string, error) {
	rows, err := b.pool.Query(ctx, `SELECT DISTINCT subject FROM registry_versions WHERE NOT deleted OR $1 ORDER BY subject`, deleted)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// Versions lists a subject's versions.
func (b *Backend) Versions(ctx context.Context, subject string, deleted bool) ([]version, *Error) {
	vs, err := b.versions(ctx, b.pool, subject, deleted)
	if err != nil {
		return nil, b.storeErr("versions", err)
	}
	if len(vs) == 0 {
		return nil, errSubjectNotFound(subject)
	}
	return vs, nil
}

// Version returns one version: n > 0, or -1 for the latest live one.
func (b *Backend) Version(ctx context.Context, subject string, n int, deleted bool, label string) (version, *Error) {
	vs, err := b.versions(ctx, b.pool, subject, true)
	if err != nil {
		return version{}, b.storeErr("version", err)
	}
	live := 0
	for _, v := range vs {
		if !v.Deleted {
			live++
		}
	}
	if live == 0 && !(deleted && len(vs) > 0) {
		return version{}, errSubjectNotFound(subject)
	}
	if n == -1 {
		for i := len(vs) - 1; i >= 0; i-- {
			if !vs[i].Deleted || deleted {
				return vs[i], nil
			}
		}
		return version{}, errVersionNotFound(label)
	}
	for _, v := range vs {
		if v.Version == n && (!v.Deleted || deleted) {
			return v, nil
		}
	}
	return version{}, errVersionNotFound(label)
}

// SchemaByID returns a stored schema.
func (b *Backend) SchemaByID(ctx context.Context, id int) (string, *Error) {
	var text string
	err := b.pool.QueryRow(ctx, `SELECT schema FROM registry_schemas WHERE id = $1`, id).Scan(&text)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", apiErr(404, CodeSchemaNotFound, "Schema %d not found", id)
	}
	if err != nil {
		return "", b.storeErr("schema by id", err)
	}
	return text, nil
}

// SubjectVersionsOf lists the subject-versions that use schema id.
func (b *Backend) SubjectVersionsOf(ctx context.Context, id int) ([]version, *Error) {
	rows, err := b.pool.Query(ctx, `SELECT subject, version FROM registry_versions WHERE schema_id = $1 AND NOT deleted ORDER BY subject, version`, id)
	if err != nil {
		return nil, b.storeErr("schema versions", err)
	}
	vs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (version, error) {
		var v version
		err := r.Scan(&v.Subject, &v.Version)
		return v, err
	})
	if err != nil {
		return nil, b.storeErr("schema versions", err)
	}
	return vs, nil
}

// DeleteSubject soft-deletes every live version, or with permanent removes
// the versions (which must have been soft-deleted first). It returns the
// versions deleted.
func (b *Backend) DeleteSubject(ctx context.Context, subject string, permanent bool) ([]int, *Error) {
	var out []int
	var apiError *Error
	err := pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('askonce.registry:' || $1))`, subject); err != nil {
			return err
		}
		vs, err := b.versions(ctx, tx, subject, true)
		if err != nil {
			return err
		}
		if len(vs) == 0 {
			apiError = errSubjectNotFound(subject)
			return nil
		}
		var live []int
		for _, v := range vs {
			if !v.Deleted {
				live = append(live, v.Version)
			}
		}
		if !permanent {
			if len(live) == 0 {
				apiError = apiErr(404, CodeSubjectSoftDeleted, "Subject '%s' was soft deleted.Set permanent=true to delete permanently", subject)
				return nil
			}
			out = live
			_, err := tx.Exec(ctx, `UPDATE registry_versions SET deleted = true WHERE subject = $1 AND NOT deleted`, subject)
			return err
		}
		if len(live) > 0 {
			apiError = apiErr(404, CodeSubjectNotSoftDeleted, "Subject '%s' was not deleted first before being permanently deleted", subject)
			return nil
		}
		for _, v := range vs {
			out = append(out, v.Version)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM registry_versions WHERE subject = $1`, subject); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM registry_config WHERE subject = $1`, subject)
		return err
	})
	if err != nil {
		return nil, b.storeErr("delete subject", err)
	}
	return out, apiError
}

// DeleteVersion soft-deletes one version (n > 0, or -1 for the latest), or
// removes it with permanent (after a soft delete).
func (b *Backend) DeleteVersion(ctx context.Context, subject string, n int, label string, permanent bool) (int, *Error) {
	var out int
	var apiError *Error
	err := pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('askonce.registry:' || $1))`, subject); err != nil {
			return err
		}
		vs, err := b.versions(ctx, tx, subject, true)
		if err != nil {
			return err
		}
		if len(vs) == 0 {
			apiError = errSubjectNotFound(subject)
			return nil
		}
		var target *version
		for i := range vs {
			v := &vs[i]
			if (n == -1 && !v.Deleted) || v.Version == n {
				target = v
			}
		}
		if target == nil {
			apiError = errVersionNotFound(label)
			return nil
		}
		out = target.Version
		switch {
		case !permanent && target.Deleted:
			apiError = apiErr(404, CodeVersionSoftDeleted, "Subject '%s' Version %d was soft deleted.Set permanent=true to delete permanently", subject, target.Version)
		case !permanent:
			_, err = tx.Exec(ctx, `UPDATE registry_versions SET deleted = true WHERE subject = $1 AND version = $2`, subject, target.Version)
		case !target.Deleted:
			apiError = apiErr(404, CodeVersionNotSoftDeleted, "Subject '%s' Version %d was not deleted first before being permanently deleted", subject, target.Version)
		default:
			_, err = tx.Exec(ctx, `DELETE FROM registry_versions WHERE subject = $1 AND version = $2`, subject, target.Version)
		}
		return err
	})
	if err != nil {
		return 0, b.storeErr("delete version", err)
	}
	return out, apiError
}

// Compatible checks p as Confluent Schema Registry does:
//   - label "" (POST /compatibility/subjects/{s}/versions): against the
//     live versions the subject's level names (the latest, or all of them
//     under a *_TRANSITIVE level), as a registration would;
//   - n == -1 ("latest"): against the latest live version only, whatever
//     the level's transitivity;
//   - n > 0: against that live version only; 40402 when it does not exist
//     or is soft-deleted, even when the subject does not exist.
//
// With no live version to compare with, p is compatible.
func (b *Backend) Compatible(ctx context.Context, subject string, n int, label string, p *parsed) ([]string, *Error) {
	vs, err := b.versions(ctx, b.pool, subject, false)
	if err != nil {
		return nil, b.storeErr("compatibility", err)
	}
	var against []version
	switch {
	case label == "":
		against = vs
	case n == -1:
		if len(vs) > 0 {
			against = vs[len(vs)-1:]
		}
	default:
		for _, v := range vs {
			if v.Version == n {
				against = append(against, v)
			}
		}
		if len(against) == 0 {
			return nil, errVersionNotFound(label)
		}
	}
	if len(against) == 0 {
		return nil, nil
	}
	level, _, err := b.Level(ctx, subject)
	if err != nil {
		return nil, b.storeErr("compatibility", err)
	}
	existing := make([]avro.Schema, 0, len(against))
	nums := make([]int, 0, len(against))
	for _, v := range against {
		s, err := b.parsedSchema(v.ID, v.Schema)
		if err != nil {
			return nil, b.storeErr("compatibility", err)
		}
		existing = append(existing, s)
		nums = append(nums, v.Version)
	}
	if label == "" {
		return Check(level, p.schema, existing), nil
	}
	return checkAgainst(level, p.schema, existing, nums), nil
}
