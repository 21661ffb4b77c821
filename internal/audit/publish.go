package audit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/segmentio/kafka-go"

	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/internal/retry"
	"github.com/askonce/askonce/schemas"
)

// publishLoop mirrors committed entries on the audit topic, in seq order,
// from the audit_publish checkpoint: read a batch after the checkpoint,
// publish it (acks=all), advance the checkpoint in the same transaction
// that locked it. At-least-once: a crash between the broker's ack and the
// commit publishes the batch again. The row lock (FOR UPDATE SKIP LOCKED)
// lets one instance publish at a time when several share the database.
func (l *Log) publishLoop(ctx context.Context, conn *bus.Conn) {
	topic := conn.Client.Topics().Audit
	w := conn.Client.Writer(topic)
	w.BatchSize = l.opts.PublishBatch
	w.BatchTimeout = 5 * time.Millisecond
	defer w.Close()
	tick := time.NewTicker(l.opts.PublishInterval)
	defer tick.Stop()
	l.log.Info("audit topic mirror started", "topic", topic)
	bo := retry.Backoff{Max: maxBackoff}
	for ctx.Err() == nil {
		n, err := l.publishOnce(ctx, w, topic, conn.Codec)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			l.m.publishErrors.Inc()
			l.log.Warn("audit topic mirror failed, retrying", "err", err, "attempt", bo.Attempts()+1)
			retry.Sleep(ctx, bo.Next())
			continue
		}
		bo.Reset()
		l.updateLag(ctx)
		if n == l.opts.PublishBatch {
			continue // more waiting
		}
		select {
		case <-ctx.Done():
		case <-l.wake:
		case <-tick.C:
		}
	}
	l.log.Info("audit topic mirror stopped")
}

// publishOnce publishes one batch; it returns how many entries it sent.
func (l *Log) publishOnce(ctx context.Context, w *kafka.Writer, topic string, codec *bus.Codec) (int, error) {
	if _, ok := codec.SchemaID(topic); !ok {
		text, err := schemas.LatestText(bus.BaseAudit)
		if err != nil {
			return 0, err
		}
		if _, err := codec.Use(ctx, topic, text); err != nil {
			return 0, err
		}
	}
	tx, err := l.pool.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	var checkpoint int64
	err = tx.QueryRow(ctx, `SELECT seq FROM audit_publish WHERE id = 1 FOR UPDATE SKIP LOCKED`).Scan(&checkpoint)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil // another instance is publishing
	}
	if err != nil {
		return 0, fmt.Errorf("audit: publish checkpoint: %w", err)
	}
	rows, err := tx.Query(ctx, selectEntry+` WHERE seq > $1 ORDER BY seq LIMIT $2`, checkpoint, l.opts.PublishBatch)
	if err != nil {
		return 0, fmt.Errorf("audit: read entries to publish: %w", err)
	}
	entries, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Entry, error) { return scanEntry(r) })
	if err != nil {
		return 0, fmt.Errorf("audit: read entries to publish: %w", err)
	}
	if len(entries) == 0 {
		return 0, nil
	}
	msgs := make([]kafka.Message, len(entries))
	for i, e := range entries {
		v, err := codec.Encode(topic, e)
		if err != nil {
			return 0, err
		}
		msgs[i] = kafka.Message{Key: []byte(e.NIN), Value: v, Time: e.At}
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		return 0, fmt.Errorf("audit: publish %d entries: %w", len(msgs), err)
	}
	last := entries[len(entries)-1].Seq
	if _, err := tx.Exec(ctx, `UPDATE audit_publish SET seq = $1 WHERE id = 1`, last); err != nil {
		return 0, fmt.Errorf("audit: advance publish checkpoint: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("audit: advance publish checkpoint: %w", err)
	}
	l.m.published.Add(float64(len(msgs)))
	return len(msgs), nil
}

func (l *Log) updateLag(ctx context.Context) {
	var lag int64
	err := l.pool.QueryRow(ctx, `SELECT coalesce((SELECT max(seq) FROM audit_log), 0) - coalesce((SELECT seq FROM audit_publish WHERE id = 1), 0)`).Scan(&lag)
	if err == nil {
		l.m.publishLag.Set(float64(max(lag, 0)))
	}
}

// Mirror publishes committed entries to the audit topic through conn until
// ctx ends. It is for a Log made without Options.Conn because Kafka was not
// reachable when it started: the audit table records every request
// meanwhile, and the mirror catches up from its checkpoint.
func (l *Log) Mirror(ctx context.Context, conn *bus.Conn) { l.publishLoop(ctx, conn) }
