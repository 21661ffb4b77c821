package portfolio

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// SentKey identifies what notify_sent remembers: one kind of change of
// one source record, for one citizen, told to one agency.
type SentKey struct{ Agency, DataCenter, SourceKey, Kind, NIN string }

// Sent is the last notification of a SentKey: the source version it told,
// a digest of its facts (a newer version with the same facts is not told
// again) and its id.
type Sent struct {
	Version        int64
	Facts          string
	NotificationID string
}

// Querier is what the router's reads run on: a transaction, so that a
// batch sees and locks one state.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// Holders returns the members, by NIN, of every portfolio holding one of
// nins.
func Holders(ctx context.Context, db Querier, nins []string) (map[string][]Member, error) {
	holders := map[string][]Member{}
	if len(nins) == 0 {
		return holders, nil
	}
	rows, err := db.Query(ctx, `SELECT agency, nin, kinds, purpose FROM portfolio_members WHERE nin = ANY($1) AND NOT deleted`, nins)
	if err != nil {
		return nil, fmt.Errorf("store: portfolios: %w", err)
	}
	var m Member
	_, err = pgx.ForEachRow(rows, []any{&m.Agency, &m.NIN, &m.Kinds, &m.Purpose}, func() error {
		holders[m.NIN] = append(holders[m.NIN], m)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: portfolios: %w", err)
	}
	return holders, nil
}

// LoadSent reads, and locks for the transaction db, the notify_sent rows
// of keys (another instance routing the same source record after a
// rebalance waits for this batch).
func LoadSent(ctx context.Context, db Querier, keys []SentKey) (map[SentKey]Sent, error) {
	out := map[SentKey]Sent{}
	if len(keys) == 0 {
		return out, nil
	}
	cols := make([][]string, 5)
	for _, k := range keys {
		cols[0] = append(cols[0], k.Agency)
		cols[1] = append(cols[1], k.DataCenter)
		cols[2] = append(cols[2], k.SourceKey)
		cols[3] = append(cols[3], k.Kind)
		cols[4] = append(cols[4], k.NIN)
	}
	rows, err := db.Query(ctx, `SELECT s.agency, s.data_center, s.source_key, s.kind, s.nin, s.version, s.facts, s.notification_id
		FROM notify_sent s
		JOIN unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS k(agency, data_center, source_key, kind, nin)
		  USING (agency, data_center, source_key, kind, nin)
		FOR UPDATE OF s`, cols[0], cols[1], cols[2], cols[3], cols[4])
	if err != nil {
		return nil, fmt.Errorf("store: notify_sent: %w", err)
	}
	var k SentKey
	var s Sent
	_, err = pgx.ForEachRow(rows, []any{&k.Agency, &k.DataCenter, &k.SourceKey, &k.Kind, &k.NIN, &s.Version, &s.Facts, &s.NotificationID}, func() error {
		out[k] = s
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: notify_sent: %w", err)
	}
	return out, nil
}

// SaveSent records, in one round trip, the notifications of keys (in
// that order) as sent at at; a row holding a newer version is kept.
func SaveSent(ctx context.Context, db Querier, keys []SentKey, sent map[SentKey]Sent, at time.Time) error {
	if len(keys) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for _, k := range keys {
		s := sent[k]
		b.Queue(`INSERT INTO notify_sent (agency, data_center, source_key, kind, nin, version, facts, notification_id, sent_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
			ON CONFLICT (agency, data_center, source_key, kind, nin) DO UPDATE
			SET version = excluded.version, facts = excluded.facts, notification_id = excluded.notification_id, sent_at = excluded.sent_at
			WHERE notify_sent.version < excluded.version`,
			k.Agency, k.DataCenter, k.SourceKey, k.Kind, k.NIN, s.Version, s.Facts, s.NotificationID, at)
	}
	if err := db.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("store: notify_sent: %w", err)
	}
	return nil
}

// AddMissing puts the citizens nins in agency's portfolio for kinds under
// purpose, as of now, leaving those already there (members or removed)
// as they are. It returns how many it added.
func (s *Store) AddMissing(ctx context.Context, agency string, nins, kinds []string, purpose, by string) (int64, error) {
	tag, err := s.pool.Exec(ctx, `
INSERT INTO portfolio_members (agency, nin, kinds, purpose, deleted, added_at, changed_at, changed_by)
SELECT $1, n, $3::text[], $4, false, now(), now(), $5 FROM unnest($2::text[]) AS n
ON CONFLICT (agency, nin) DO NOTHING`, agency, nins, kinds, purpose, by)
	if err != nil {
		return 0, fmt.Errorf("portfolio: add to %s: %w", agency, err)
	}
	return tag.RowsAffected(), nil
}
