// Package portfolio holds the agencies' portfolios: for each agency, the
// citizens (by NIN) it serves and the kinds of change it must be told
// about, under a purpose of the lookup policy. The lookup API writes them
// (PUT/DELETE /v1/portfolios/{agency}/members/{nin}), the notification
// router reads them for every change and applies askonce.portfolio.<agency>.
// The tables live in PostgreSQL beside the lookup store (component
// "notify" of store.Migrate), with the router's notify_sent bookkeeping.
package portfolio

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/askonce/askonce/internal/clip"
	"github.com/askonce/askonce/internal/store"
	"github.com/askonce/askonce/schemas"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrate creates or updates the portfolio and notify_sent tables.
func Migrate(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) error {
	_, err := store.Migrate(ctx, pool, "notify", migrations, "migrations", log)
	return err
}

// CheckSchema returns an error unless the portfolio and notify_sent tables are at the version this
// release needs (`askonce migrate` migrates them).
func CheckSchema(ctx context.Context, pool *pgxpool.Pool) error {
	return store.Check(ctx, pool, "notify", migrations, "migrations")
}

// PurposeKinds says which kinds of change each notification purpose may
// subscribe to (data minimization: a pension fund watching for deaths has
// no business hearing of its pensioners' employers).
var PurposeKinds = map[string][]string{
	// CNR: a death ends a pension; a survivor's remarriage or divorce
	// changes a survivor's pension.
	"pension-death-watch": {schemas.ChangeDeath, schemas.ChangeMarriage, schemas.ChangeDivorce},
	// CNAS/CASNOS: the life events of insured persons and their dependants.
	"insured-events": schemas.ChangeKinds,
	// ANEM/CNAC: a job seeker who starts or ends a job, or dies.
	"unemployment-events": {schemas.ChangeEmploymentStart, schemas.ChangeEmploymentEnd, schemas.ChangeDeath},
}

// Member is one citizen in an agency's portfolio.
type Member struct {
	Agency  string    `json:"agency"`
	NIN     string    `json:"nin"`
	Kinds   []string  `json:"kinds"`
	Purpose string    `json:"purpose"`
	AddedAt time.Time `json:"added_at"`
}

// Invalid is one reason a member is refused.
type Invalid struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Check validates a member's NIN, purpose and kinds (not whether the
// agency may use the purpose: that is the policy's call). Kinds are
// normalized: sorted, without duplicates.
func (m *Member) Check() []Invalid {
	var out []Invalid
	if _, err := schemas.ParseNIN(m.NIN); err != nil {
		out = append(out, Invalid{"nin", schemas.CodeNINFormat, err.Error()})
	}
	allowed, ok := PurposeKinds[m.Purpose]
	if !ok {
		out = append(out, Invalid{"purpose", "purpose.unknown", fmt.Sprintf("%q is not a notification purpose (pension-death-watch, insured-events, unemployment-events)", clip.Field(m.Purpose))})
	}
	if len(m.Kinds) == 0 {
		out = append(out, Invalid{"kinds", "kinds.empty", "subscribe to at least one kind of change"})
	}
	for _, k := range m.Kinds {
		switch {
		case !slices.Contains(schemas.ChangeKinds, k):
			out = append(out, Invalid{"kinds", "kinds.unknown", fmt.Sprintf("%q is not a kind of change", clip.Field(k))})
		case ok && !slices.Contains(allowed, k):
			out = append(out, Invalid{"kinds", "kinds.purpose", fmt.Sprintf("purpose %s does not cover %s", m.Purpose, k)})
		}
	}
	m.Kinds = slices.Compact(slices.Sorted(slices.Values(m.Kinds)))
	return out
}

// Store reads and writes portfolios.
type Store struct{ pool *pgxpool.Pool }

// NewStore returns a store over pool (migrated with Migrate).
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

const putSQL = `
INSERT INTO portfolio_members AS m (agency, nin, kinds, purpose, deleted, added_at, changed_at, changed_by)
VALUES ($1, $2, $3, $4, false, $5, $5, $6)
ON CONFLICT (agency, nin) DO UPDATE SET kinds = excluded.kinds, purpose = excluded.purpose, deleted = false,
    added_at = CASE WHEN m.deleted THEN excluded.added_at ELSE m.added_at END,
    changed_at = excluded.changed_at, changed_by = excluded.changed_by
WHERE m.changed_at < excluded.changed_at
RETURNING added_at`

const deleteSQL = `
INSERT INTO portfolio_members AS m (agency, nin, kinds, purpose, deleted, added_at, changed_at, changed_by)
VALUES ($1, $2, '{}', '', true, $3, $3, $4)
ON CONFLICT (agency, nin) DO UPDATE SET deleted = true, changed_at = excluded.changed_at, changed_by = excluded.changed_by
WHERE m.changed_at < excluded.changed_at
RETURNING (SELECT NOT d.deleted FROM portfolio_members d WHERE d.agency = $1 AND d.nin = $2)`

// DB is what the store's writes run on: the pool or a transaction.
type DB interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Put adds m (checked) to its agency's portfolio or replaces its kinds and
// purpose, as of at; a change older than the stored one is ignored
// (applied false). by says who made the change.
func Put(ctx context.Context, db DB, m Member, at time.Time, by string) (Member, bool, error) {
	err := db.QueryRow(ctx, putSQL, m.Agency, m.NIN, m.Kinds, m.Purpose, at, by).Scan(&m.AddedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return m, false, nil
	}
	if err != nil {
		return m, false, fmt.Errorf("portfolio: put: %w", err)
	}
	return m, true, nil
}

// Delete removes a citizen from an agency's portfolio as of at; existed
// says whether it was a member.
func Delete(ctx context.Context, db DB, agency, nin string, at time.Time, by string) (existed bool, err error) {
	var was *bool
	err = db.QueryRow(ctx, deleteSQL, agency, nin, at, by).Scan(&was)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("portfolio: delete: %w", err)
	}
	return was != nil && *was, nil
}

// Put adds or updates a member now.
func (s *Store) Put(ctx context.Context, m Member, by string) (Member, error) {
	// The clock of the API orders API changes; a topic change stamped
	// later (a back office with a fast clock) keeps the row.
	out, applied, err := Put(ctx, s.pool, m, time.Now().UTC(), by)
	if err == nil && !applied {
		err = ErrNewerChange
	}
	return out, err
}

// ErrNewerChange: the stored entry was changed at a later time than now
// (a back office's clock is ahead); the change was not applied.
var ErrNewerChange = errors.New("portfolio: the entry has a newer change")

// Delete removes a member now.
func (s *Store) Delete(ctx context.Context, agency, nin, by string) (bool, error) {
	return Delete(ctx, s.pool, agency, nin, time.Now().UTC(), by)
}

// Get returns one member.
func (s *Store) Get(ctx context.Context, agency, nin string) (Member, bool, error) {
	m := Member{Agency: agency, NIN: nin}
	err := s.pool.QueryRow(ctx, `SELECT kinds, purpose, added_at FROM portfolio_members WHERE agency = $1 AND nin = $2 AND NOT deleted`,
		agency, nin).Scan(&m.Kinds, &m.Purpose, &m.AddedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return m, false, nil
	}
	if err != nil {
		return m, false, fmt.Errorf("portfolio: get: %w", err)
	}
	return m, true, nil
}

// List returns up to limit members of agency with a NIN after after, in
// NIN order.
func (s *Store) List(ctx context.Context, agency, after string, limit int) ([]Member, error) {
	rows, err := s.pool.Query(ctx, `SELECT nin, kinds, purpose, added_at FROM portfolio_members
		WHERE agency = $1 AND nin > $2 AND NOT deleted ORDER BY nin LIMIT $3`, agency, after, limit)
	if err != nil {
		return nil, fmt.Errorf("portfolio: list: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Member, error) {
		m := Member{Agency: agency}
		return m, r.Scan(&m.NIN, &m.Kinds, &m.Purpose, &m.AddedAt)
	})
	if err != nil {
		return nil, fmt.Errorf("portfolio: list: %w", err)
	}
	return out, nil
}

// Sizes counts the members of each agency's portfolio.
func (s *Store) Sizes(ctx context.Context) (map[string]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT agency, count(*) FROM portfolio_members WHERE NOT deleted GROUP BY agency`)
	if err != nil {
		return nil, fmt.Errorf("portfolio: sizes: %w", err)
	}
	out := map[string]int64{}
	var a string
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&a, &n}, func() error { out[a] = n; return nil })
	if err != nil {
		return nil, fmt.Errorf("portfolio: sizes: %w", err)
	}
	return out, nil
}

// PutMany adds or updates members now, in one transaction; applied[i]
// says whether members[i] was written (false: the entry holds a newer
// change).
func (s *Store) PutMany(ctx context.Context, members []Member, by string) ([]bool, error) {
	applied := make([]bool, len(members))
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		at := time.Now().UTC()
		b := &pgx.Batch{}
		for _, m := range members {
			b.Queue(putSQL, m.Agency, m.NIN, m.Kinds, m.Purpose, at, by)
		}
		br := tx.SendBatch(ctx, b)
		for i := range members {
			var added time.Time
			err := br.QueryRow().Scan(&added)
			switch {
			case errors.Is(err, pgx.ErrNoRows):
			case err != nil:
				br.Close()
				return err
			default:
				applied[i] = true
			}
		}
		return br.Close()
	})
	if err != nil {
		return nil, fmt.Errorf("portfolio: put %d members: %w", len(members), err)
	}
	return applied, nil
}
