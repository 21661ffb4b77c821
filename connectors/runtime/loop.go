package runtime

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/askonce/askonce/internal/retry"
)

// Batch is what a Source read: records in source order and the position
// of the last one. An empty batch with Wait set asks to poll again soon
// (a transaction in flight may still fill a gap).
type Batch struct {
	Records []Record
	Last    int64
	Soon    bool
}

// Source is a positioned, ordered source of records: an outbox.
type Source interface {
	// Read returns up to max records after position after, in order.
	Read(ctx context.Context, after int64, max int) (Batch, error)
	// Head is the newest position the source holds, for the lag metric.
	Head(ctx context.Context) (int64, error)
}

// heartbeatEvery is how often a connector records that it heard from its
// source (connect_checkpoints.heard_at), data or not.
const heartbeatEvery = 5 * time.Second

// Options tune a Runner.
type Options struct {
	BatchSize    int
	PollInterval time.Duration
	MaxBackoff   time.Duration
	// PruneAfter lets sources that can (Pruner) delete what was published
	// this long ago; 0 never prunes.
	PruneAfter time.Duration
	// WatermarkEvery is how often a caught-up connector writes a watermark
	// round (bus.WatermarkMessages); DefaultWatermarkEvery when 0.
	WatermarkEvery time.Duration
}

// Pruner is a Source that can delete records published up to a position.
type Pruner interface {
	Prune(ctx context.Context, upTo int64, age time.Duration) (int64, error)
}

// Runner drives one instance: read a batch after the checkpoint, publish
// it, wait for the brokers' acknowledgement, then move the checkpoint.
// A crash anywhere repeats at most the batch in flight; nothing is skipped.
type Runner struct {
	inst Instance
	src  Source
	pub  *Publisher
	cp   *Checkpoints
	opt  Options
	log  *slog.Logger
	m    *Metrics

	mu      sync.Mutex
	lastErr error
	lastOK  time.Time
}

// NewRunner returns the runner of inst over src.
func NewRunner(inst Instance, src Source, pub *Publisher, cp *Checkpoints, opt Options, m *Metrics, log *slog.Logger) *Runner {
	return &Runner{inst: inst, src: src, pub: pub, cp: cp, opt: opt, m: m,
		log: log.With("connector", inst.Name(), "agency", inst.Agency)}
}

// Instance is what this runner runs.
func (r *Runner) Instance() Instance { return r.inst }

// Healthy is nil when the last attempt succeeded; otherwise the error it
// keeps retrying on.
func (r *Runner) Healthy() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lastErr != nil {
		return fmt.Errorf("%s: %w", r.inst.Name(), r.lastErr)
	}
	if r.lastOK.IsZero() {
		return fmt.Errorf("%s: starting", r.inst.Name())
	}
	return nil
}

func (r *Runner) status(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lastErr = err
	name := r.inst.Name()
	if err == nil {
		r.lastOK = time.Now()
		r.m.lastSuccess.WithLabelValues(name).Set(float64(r.lastOK.UnixNano()) / 1e9)
		r.m.up.WithLabelValues(name).Set(1)
	} else {
		r.m.up.WithLabelValues(name).Set(0)
	}
}

// Run works until ctx ends. It never gives up on a failing source, broker
// or checkpoint store: it backs off (exponentially, with jitter, capped by
// MaxBackoff) and retries, reporting the failure in /readyz and metrics.
func (r *Runner) Run(ctx context.Context) error {
	name := r.inst.Name()
	r.m.up.WithLabelValues(name).Set(0)
	var pos int64
	bo := retry.Backoff{Max: r.opt.MaxBackoff}
	for {
		p, err := r.cp.Load(ctx, name)
		if err == nil {
			pos = p
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		r.fail("load checkpoint", err, &bo)
		if !retry.Sleep(ctx, bo.Next()) {
			return nil
		}
	}
	r.log.Info("connector started", "position", pos)
	var lastHead, lastPrune, lastHeard time.Time
	mk := r.pub.Watermarker(r.inst, r.opt.WatermarkEvery, r.log)
	pruner, canPrune := r.src.(Pruner)
	for ctx.Err() == nil {
		start := time.Now()
		if canPrune && r.opt.PruneAfter > 0 && time.Since(lastPrune) > time.Minute {
			lastPrune = time.Now()
			if n, err := pruner.Prune(ctx, pos, r.opt.PruneAfter); err != nil {
				r.log.Warn("prune failed", "err", err)
			} else if n > 0 {
				r.log.Info("pruned published outbox rows", "rows", n, "up_to", pos)
			}
		}
		if time.Since(lastHead) > time.Second {
			if head, err := r.src.Head(ctx); err == nil {
				r.m.lag.WithLabelValues(name).Set(float64(max(head-pos, 0)))
				lastHead = time.Now()
			}
		}
		// The batch is held from the read to the checkpoint: one of the
		// process's in-flight slots bounds the memory of all instances.
		if !r.pub.acquire(ctx) {
			return nil
		}
		readStart := time.Now()
		b, err := r.src.Read(ctx, pos, r.opt.BatchSize)
		if err != nil {
			r.pub.release()
			if ctx.Err() != nil {
				return nil
			}
			r.m.sourceErrors.WithLabelValues(name).Inc()
			r.fail("read source", err, &bo)
			retry.Sleep(ctx, bo.Next())
			continue
		}
		if time.Since(lastHeard) > heartbeatEvery {
			if err := r.cp.Heard(ctx, r.inst); err == nil {
				lastHeard = time.Now()
			} else if ctx.Err() == nil {
				r.log.Warn("heartbeat not recorded", "err", err)
			}
		}
		// Fewer records than asked for, and no gap waited on: the read saw
		// everything committed before it began.
		caughtUp := len(b.Records) < r.opt.BatchSize && !b.Soon
		if len(b.Records) == 0 {
			r.pub.release()
			r.status(nil)
			bo.Reset()
			if caughtUp {
				mk.CaughtUp(readStart)
			}
			mk.Flush(ctx)
			wait := r.opt.PollInterval
			if b.Soon {
				wait = min(wait, 20*time.Millisecond)
			}
			retry.Sleep(ctx, wait)
			continue
		}
		r.m.read.WithLabelValues(name).Add(float64(len(b.Records)))
		// Publish, then checkpoint, retrying each until it succeeds: the
		// batch stays in memory (bounded by BatchSize) and is never skipped.
		var n Counts
		for {
			n, err = r.pub.Publish(ctx, r.inst, b.Records)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				r.pub.release()
				return nil
			}
			r.fail("publish", err, &bo)
			if !retry.Sleep(ctx, bo.Next()) {
				r.pub.release()
				return nil
			}
		}
		for {
			err = r.cp.Save(ctx, name, b.Last, n)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				// Published but not checkpointed: the next start repeats
				// this batch, which downstream deduplicates by version.
				r.pub.release()
				return nil
			}
			r.m.sourceErrors.WithLabelValues(name).Inc()
			r.fail("save checkpoint", err, &bo)
			if !retry.Sleep(ctx, bo.Next()) {
				r.pub.release()
				return nil
			}
		}
		r.pub.release()
		pos = b.Last
		bo.Reset()
		r.status(nil)
		if caughtUp {
			mk.CaughtUp(readStart)
		}
		mk.Flush(ctx)
		r.m.batches.WithLabelValues(name).Inc()
		r.m.batchSeconds.WithLabelValues(name).Observe(time.Since(start).Seconds())
		r.log.Debug("batch published", "records", len(b.Records), "published", n.Published, "rejected", n.Rejected, "position", pos)
	}
	return nil
}

func (r *Runner) fail(what string, err error, bo *retry.Backoff) {
	r.status(err)
	lvl := slog.LevelWarn
	if bo.Attempts() > 3 {
		lvl = slog.LevelError
	}
	r.log.Log(context.Background(), lvl, what+" failed, retrying", "err", err, "attempt", bo.Attempts()+1)
}
