package pgoutbox

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/askonce/askonce/connectors/runtime"
	"github.com/askonce/askonce/internal/bus"
)

// Outbox reads one agency data center's askonce_outbox.
//
// Rows are read in seq order. A seq can become visible after a higher one
// (two transactions commit in the other order), so the reader never steps
// over a missing seq until it is sure no transaction still in flight can
// fill it: it notes the transaction horizon (pg_snapshot_xmax) when it
// first sees the gap, and passes the gap only once every transaction older
// than that horizon has ended (pg_snapshot_xmin reached it). A gap left by a
// rolled-back transaction is thus passed within one round trip; a gap of a
// transaction still running waits for its commit, and its row is published
// in order.
type Outbox struct {
	pool   *pgxpool.Pool
	table  string // schema-qualified, quoted
	src    Source
	topics bus.Topics

	gapSeq     int64  // first missing seq we are waiting on, 0 when none
	gapHorizon uint64 // xmax of the snapshot that first saw it
}

// NewOutbox reads schema.askonce_outbox through pool (schema "" = public).
func NewOutbox(pool *pgxpool.Pool, schema string, src Source, topics bus.Topics) *Outbox {
	if schema == "" {
		schema = "public"
	}
	return &Outbox{pool: pool, table: pgx.Identifier{schema, "askonce_outbox"}.Sanitize(), src: src, topics: topics}
}

// Check verifies that the outbox table exists and is readable.
func (o *Outbox) Check(ctx context.Context) error {
	_, err := o.pool.Exec(ctx, "SELECT 1 FROM "+o.table+" LIMIT 0")
	if err != nil {
		return fmt.Errorf("outbox %s: %w", o.table, err)
	}
	return nil
}

// Head is the highest seq in the outbox (committed), 0 when empty.
func (o *Outbox) Head(ctx context.Context) (int64, error) {
	var head int64
	err := o.pool.QueryRow(ctx, "SELECT coalesce(max(seq), 0) FROM "+o.table).Scan(&head)
	return head, err
}

// Read returns up to max mapped records after seq after.
func (o *Outbox) Read(ctx context.Context, after int64, max int) (runtime.Batch, error) {
	var b runtime.Batch
	// One snapshot for the rows and the horizon: REPEATABLE READ.
	tx, err := o.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return b, fmt.Errorf("outbox: begin: %w", err)
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck // read-only
	var xminS, xmaxS string
	if err := tx.QueryRow(ctx, `SELECT pg_snapshot_xmin(pg_current_snapshot())::text, pg_snapshot_xmax(pg_current_snapshot())::text`).Scan(&xminS, &xmaxS); err != nil {
		return b, fmt.Errorf("outbox: snapshot: %w", err)
	}
	xmin, err1 := strconv.ParseUint(xminS, 10, 64)
	xmax, err2 := strconv.ParseUint(xmaxS, 10, 64)
	if err1 != nil || err2 != nil {
		return b, fmt.Errorf("outbox: snapshot %q %q", xminS, xmaxS)
	}
	rows, err := tx.Query(ctx, `SELECT seq, entity, key, op, payload::text, created_at FROM `+o.table+
		` WHERE seq > $1 ORDER BY seq LIMIT $2`, after, max)
	if err != nil {
		return b, fmt.Errorf("outbox: read: %w", err)
	}
	defer rows.Close()
	next := after + 1
	for rows.Next() {
		var r Row
		var payload string
		if err := rows.Scan(&r.Seq, &r.Entity, &r.Key, &r.Op, &payload, &r.CreatedAt); err != nil {
			return runtime.Batch{}, fmt.Errorf("outbox: scan: %w", err)
		}
		if r.Seq != next && !o.gapClosed(next, xmin, xmax) {
			b.Soon = true
			break
		}
		if r.Seq != next {
			o.gapSeq = 0 // passed: rolled back for good
		}
		r.Payload = []byte(payload)
		b.Records = append(b.Records, Map(r, o.src, o.topics))
		b.Last = r.Seq
		next = r.Seq + 1
	}
	if err := rows.Err(); err != nil {
		return runtime.Batch{}, fmt.Errorf("outbox: read: %w", err)
	}
	return b, nil
}

// gapClosed says whether the gap starting at seq can be passed: true once
// every transaction that was running when the gap was first seen has ended.
func (o *Outbox) gapClosed(seq int64, xmin, xmax uint64) bool {
	if o.gapSeq != seq {
		o.gapSeq, o.gapHorizon = seq, xmax
		return false
	}
	return xmin >= o.gapHorizon
}

// Prune deletes rows published (seq <= upTo) more than age ago.
func (o *Outbox) Prune(ctx context.Context, upTo int64, age time.Duration) (int64, error) {
	tag, err := o.pool.Exec(ctx, "DELETE FROM "+o.table+" WHERE seq <= $1 AND created_at < now() - $2::interval",
		upTo, fmt.Sprintf("%d microseconds", age.Microseconds()))
	if err != nil {
		return 0, fmt.Errorf("outbox: prune: %w", err)
	}
	return tag.RowsAffected(), nil
}
