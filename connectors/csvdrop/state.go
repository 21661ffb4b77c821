package csvdrop

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// File states in csvdrop_files.
const (
	statePublishing = "publishing"
	stateDone       = "done"
	stateRejected   = "rejected"
)

// fileRow is a file's row in csvdrop_files (migrations/).
type fileRow struct {
	Name      string
	Entity    string
	Lines     int // data records published or dead-lettered, and journaled
	Published int
	Rejected  int
	State     string
	FirstSeen time.Time
	Finished  *time.Time
}

// files is the csvdrop_files table of one connector instance.
type files struct {
	pool      *pgxpool.Pool
	connector string
}

func (f *files) get(ctx context.Context, sha string) (fileRow, bool, error) {
	var r fileRow
	err := f.pool.QueryRow(ctx, `SELECT name, entity, lines, published, rejected, state, first_seen, finished_at
FROM csvdrop_files WHERE connector = $1 AND sha256 = $2`, f.connector, sha).
		Scan(&r.Name, &r.Entity, &r.Lines, &r.Published, &r.Rejected, &r.State, &r.FirstSeen, &r.Finished)
	if errors.Is(err, pgx.ErrNoRows) {
		return fileRow{}, false, nil
	}
	if err != nil {
		return fileRow{}, false, fmt.Errorf("csvdrop_files: %w", err)
	}
	return r, true, nil
}

// start records that the file with this content is being published from
// its first line. A content rejected before as a whole (a bad name or
// header) starts over: it was never published.
func (f *files) start(ctx context.Context, sha, name, entity string) error {
	_, err := f.pool.Exec(ctx, `
INSERT INTO csvdrop_files (connector, sha256, name, entity, state) VALUES ($1, $2, $3, $4, 'publishing')
ON CONFLICT (connector, sha256) DO UPDATE SET name = excluded.name, entity = excluded.entity,
    lines = 0, published = 0, rejected = 0, state = 'publishing', first_seen = now(), finished_at = NULL
WHERE csvdrop_files.state = 'rejected'`, f.connector, sha, name, entity)
	if err != nil {
		return fmt.Errorf("csvdrop_files: start %s: %w", name, err)
	}
	return nil
}

// progress records the lines done so far (after the brokers acknowledged
// them). Counts are totals, so saving twice changes nothing.
func (f *files) progress(ctx context.Context, sha string, lines, published, rejected int) error {
	_, err := f.pool.Exec(ctx, `UPDATE csvdrop_files SET lines = $3, published = $4, rejected = $5
WHERE connector = $1 AND sha256 = $2 AND state = 'publishing'`, f.connector, sha, lines, published, rejected)
	if err != nil {
		return fmt.Errorf("csvdrop_files: progress: %w", err)
	}
	return nil
}

// finish records a file published, with the totals of its report.
func (f *files) finish(ctx context.Context, sha string, lines, published, rejected int) error {
	_, err := f.pool.Exec(ctx, `UPDATE csvdrop_files SET state = 'done', finished_at = now(),
    lines = $3, published = $4, rejected = $5
WHERE connector = $1 AND sha256 = $2`, f.connector, sha, lines, published, rejected)
	if err != nil {
		return fmt.Errorf("csvdrop_files: finish: %w", err)
	}
	return nil
}

// reject records a file rejected as a whole.
func (f *files) reject(ctx context.Context, sha, name, entity string) error {
	_, err := f.pool.Exec(ctx, `
INSERT INTO csvdrop_files (connector, sha256, name, entity, state, finished_at) VALUES ($1, $2, $3, $4, 'rejected', now())
ON CONFLICT (connector, sha256) DO UPDATE SET name = excluded.name, entity = excluded.entity,
    state = 'rejected', finished_at = now()
WHERE csvdrop_files.state <> 'done'`, f.connector, sha, name, entity)
	if err != nil {
		return fmt.Errorf("csvdrop_files: reject %s: %w", name, err)
	}
	return nil
}
