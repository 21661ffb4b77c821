package pgoutbox

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/askonce/askonce/connectors/connector"
	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/internal/retry"
	"github.com/askonce/askonce/schemas"
)

// Config is one outbox connector instance.
type Config struct {
	Agency     string
	DataCenter string
	// Schema holds askonce_outbox; "" is public.
	Schema string
	// BatchSize is the most rows read, published and checkpointed at once
	// (1000 when 0); PollInterval how often an idle outbox is read again
	// (250ms when 0).
	BatchSize    int
	PollInterval time.Duration
	// PruneAfter deletes rows published this long ago; 0 never prunes.
	PruneAfter time.Duration
}

// Batch is what Read returns: records in seq order and the seq of the
// last one. An empty batch with Soon set asks to read again soon (a
// transaction in flight may still fill a gap).
type Batch struct {
	Records []connector.Record
	Last    int64
	Soon    bool
}

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
//
// The checkpoint of an outbox is the seq of the last row published, 8
// bytes big-endian (connect_checkpoints.position holds the same number).
type Outbox struct {
	pool   *pgxpool.Pool
	table  string // schema-qualified, quoted
	cfg    Config
	origin schemas.Origin
	topics bus.Topics
	log    *slog.Logger

	gapSeq     int64  // first missing seq we are waiting on, 0 when none
	gapHorizon uint64 // xmax of the snapshot that first saw it
}

// NewOutbox reads cfg.Schema's askonce_outbox through pool and maps its
// rows for topics.
func NewOutbox(pool *pgxpool.Pool, cfg Config, topics bus.Topics, log *slog.Logger) *Outbox {
	schema := cfg.Schema
	if schema == "" {
		schema = "public"
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 1000
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 250 * time.Millisecond
	}
	return &Outbox{pool: pool, table: pgx.Identifier{schema, "askonce_outbox"}.Sanitize(), cfg: cfg,
		origin: schemas.Origin{Agency: cfg.Agency, DataCenter: cfg.DataCenter}, topics: topics,
		log: log.With("connector", "pgoutbox:"+cfg.DataCenter, "agency", cfg.Agency)}
}

// SeqCheckpoint is the checkpoint of an outbox read up to seq.
func SeqCheckpoint(seq int64) connector.Checkpoint {
	return binary.BigEndian.AppendUint64(nil, uint64(seq))
}

// Seq is the seq of checkpoint cp (0 for none): connector.Sequenced.
func (o *Outbox) Seq(cp connector.Checkpoint) int64 {
	if len(cp) != 8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(cp))
}

// Run publishes the outbox from checkpoint cp onwards until ctx ends:
// connector.Source.
func (o *Outbox) Run(ctx context.Context, cp connector.Checkpoint, sink connector.Sink) error {
	if len(cp) != 0 && len(cp) != 8 {
		return fmt.Errorf("outbox: checkpoint of %d bytes is not a seq", len(cp))
	}
	pos := o.Seq(cp)
	var lastHead, lastPrune time.Time
	for ctx.Err() == nil {
		if o.cfg.PruneAfter > 0 && time.Since(lastPrune) > time.Minute {
			lastPrune = time.Now()
			if n, err := o.Prune(ctx, pos, o.cfg.PruneAfter); err != nil {
				o.log.Warn("prune failed", "err", err)
			} else if n > 0 {
				o.log.Info("pruned published outbox rows", "rows", n, "up_to", pos)
			}
		}
		if time.Since(lastHead) > time.Second {
			if head, err := o.Head(ctx); err == nil {
				sink.Lag(head - pos)
				lastHead = time.Now()
			}
		}
		if !sink.Reserve(ctx) {
			return nil
		}
		readStart := time.Now()
		b, err := o.Read(ctx, pos, o.cfg.BatchSize)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		// Fewer records than asked for, and no gap waited on: the read saw
		// everything committed before it began.
		var caughtUp time.Time
		if len(b.Records) < o.cfg.BatchSize && !b.Soon {
			caughtUp = readStart
		}
		if len(b.Records) == 0 {
			sink.Heard(ctx, caughtUp)
			wait := o.cfg.PollInterval
			if b.Soon {
				wait = min(wait, 20*time.Millisecond)
			}
			retry.Sleep(ctx, wait)
			continue
		}
		if _, err := sink.Put(ctx, b.Records, SeqCheckpoint(b.Last)); err != nil {
			return nil // ctx ended
		}
		pos = b.Last
		sink.Heard(ctx, caughtUp)
	}
	return nil
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
func (o *Outbox) Read(ctx context.Context, after int64, max int) (Batch, error) {
	var b Batch
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
			return Batch{}, fmt.Errorf("outbox: scan: %w", err)
		}
		if r.Seq != next && !o.gapClosed(next, xmin, xmax) {
			b.Soon = true
			break
		}
		if r.Seq != next {
			o.gapSeq = 0 // passed: rolled back for good
		}
		r.Payload = []byte(payload)
		b.Records = append(b.Records, Map(r, o.origin, o.topics))
		b.Last = r.Seq
		next = r.Seq + 1
	}
	if err := rows.Err(); err != nil {
		return Batch{}, fmt.Errorf("outbox: read: %w", err)
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
