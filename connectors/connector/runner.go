package connector

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/askonce/askonce/internal/ops"
	"github.com/askonce/askonce/internal/retry"
)

// heartbeatEvery is how often a connector records that it heard from its
// source (connect_checkpoints.heard_at), data or not.
const heartbeatEvery = 5 * time.Second

// Options tune a Runner.
type Options struct {
	// MaxBackoff caps the backoff while a source, the brokers or the
	// checkpoint store fail; 30s when 0.
	MaxBackoff time.Duration
	// WatermarkEvery is how often a caught-up connector writes a watermark
	// round (bus.WatermarkMessages); DefaultWatermarkEvery when 0.
	WatermarkEvery time.Duration
	// AfterPublish, when set (tests), runs after a batch of n records was
	// acknowledged by the brokers and before its checkpoint is saved: a
	// test that ends the run's context there simulates a kill between
	// publish and checkpoint.
	AfterPublish func(n int)
}

// Runner runs one instance: it hands its Source the last checkpoint and a
// Sink, and restarts the source, after a backoff, whenever it fails. A
// crash anywhere repeats at most the batch in flight; nothing is skipped.
type Runner struct {
	inst   Instance
	src    Source
	pub    *Publisher
	cps    *Checkpoints
	opt    Options
	log    *slog.Logger
	m      *Metrics
	health *ops.Health
	wm     *watermarker

	// Owned by the goroutine of Run (the source calls the sink from it).
	bo        retry.Backoff
	cp        Checkpoint // the last checkpoint saved
	lastHeard time.Time
}

// NewRunner returns the runner of inst over src. One Publisher,
// Checkpoints and Metrics serve every instance of a process.
func NewRunner(inst Instance, src Source, pub *Publisher, cps *Checkpoints, opt Options, m *Metrics, log *slog.Logger) *Runner {
	if opt.MaxBackoff <= 0 {
		opt.MaxBackoff = 30 * time.Second
	}
	log = log.With("connector", inst.Name(), "agency", inst.Agency)
	return &Runner{inst: inst, src: src, pub: pub, cps: cps, opt: opt, m: m, log: log,
		health: newHealth(inst.Name(), m), wm: newWatermarker(pub, inst, opt.WatermarkEvery, log),
		bo: retry.Backoff{Max: opt.MaxBackoff}}
}

// Instance is what this runner runs.
func (r *Runner) Instance() Instance { return r.inst }

// Healthy is nil when the last attempt succeeded; otherwise the error it
// keeps retrying on.
func (r *Runner) Healthy() error { return r.health.Err() }

// newHealth is the readiness of the instance called name: "starting"
// (down) until its first success, then the outcome of its last attempt,
// mirrored in its up and last-success gauges.
func newHealth(name string, m *Metrics) *ops.Health {
	m.up.WithLabelValues(name).Set(0)
	return &ops.Health{Name: name, Starting: true, Observe: func(err error, at time.Time) {
		if err != nil {
			m.up.WithLabelValues(name).Set(0)
			return
		}
		m.lastSuccess.WithLabelValues(name).Set(float64(at.UnixNano()) / 1e9)
		m.up.WithLabelValues(name).Set(1)
	}}
}

// Run works until ctx ends. It never gives up on a failing source, broker
// or checkpoint store: it backs off (exponentially, with jitter, capped by
// MaxBackoff) and retries, reporting the failure in /readyz and metrics.
func (r *Runner) Run(ctx context.Context) error {
	name := r.inst.Name()
	for {
		cp, err := r.cps.Load(ctx, name)
		if err == nil {
			r.cp = cp
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		r.m.sourceErrors.WithLabelValues(name).Inc()
		r.fail("load checkpoint", err)
		if !retry.Sleep(ctx, r.bo.Next()) {
			return nil
		}
	}
	if sq, ok := r.src.(Sequenced); ok {
		r.log.Info("connector started", "position", sq.Seq(r.cp))
	} else {
		r.log.Info("connector started")
	}
	s := &sink{r: r}
	for ctx.Err() == nil {
		err := r.src.Run(ctx, r.cp, s)
		s.release()
		if ctx.Err() != nil {
			break
		}
		if err == nil {
			err = errors.New("source stopped before its context ended")
		}
		r.m.sourceErrors.WithLabelValues(name).Inc()
		r.fail("read source", err)
		retry.Sleep(ctx, r.bo.Next())
	}
	return nil
}

func (r *Runner) fail(what string, err error) {
	r.health.Set(err)
	lvl := slog.LevelWarn
	if r.bo.Attempts() > 3 {
		lvl = slog.LevelError
	}
	r.log.Log(context.Background(), lvl, what+" failed, retrying", "err", err, "attempt", r.bo.Attempts()+1)
}

// ok records a successful attempt.
func (r *Runner) ok() {
	r.bo.Reset()
	r.health.Set(nil)
}

// heard records the heartbeat, at most every heartbeatEvery.
func (r *Runner) heard(ctx context.Context) {
	if time.Since(r.lastHeard) < heartbeatEvery {
		return
	}
	if err := r.cps.Heard(ctx, r.inst); err == nil {
		r.lastHeard = time.Now()
	} else if ctx.Err() == nil {
		r.log.Warn("heartbeat not recorded", "err", err)
	}
}

// sink is the Sink a Runner hands its source.
type sink struct {
	r    *Runner
	held bool // an in-flight slot, taken by Reserve or Put
}

func (s *sink) Reserve(ctx context.Context) bool {
	if s.held {
		return true
	}
	if !s.r.pub.acquire(ctx) {
		return false
	}
	s.held = true
	return true
}

func (s *sink) release() {
	if s.held {
		s.r.pub.release()
		s.held = false
	}
}

// Put publishes, waits for the acknowledgement, then saves cp, retrying
// each until it succeeds: the batch stays in the caller's memory (bounded
// by its batch size) and is never skipped.
func (s *sink) Put(ctx context.Context, recs []Record, cp Checkpoint) ([]Outcome, error) {
	r := s.r
	name := r.inst.Name()
	start := time.Now()
	// The batch holds one of the process's in-flight slots, from its read
	// (Reserve) to its checkpoint.
	if !s.Reserve(ctx) {
		return nil, ctx.Err()
	}
	defer s.release()
	r.m.read.WithLabelValues(name).Add(float64(len(recs)))
	var outs []Outcome
	var n Counts
	for len(recs) > 0 {
		var err error
		outs, n, err = r.pub.Publish(ctx, r.inst, recs)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		r.fail("publish", err)
		if !retry.Sleep(ctx, r.bo.Next()) {
			return nil, ctx.Err()
		}
	}
	if r.opt.AfterPublish != nil {
		r.opt.AfterPublish(len(recs))
	}
	if ctx.Err() != nil {
		// Published but not checkpointed: the next start repeats this
		// batch, which downstream deduplicates by version.
		return nil, ctx.Err()
	}
	var seq int64
	if sq, ok := r.src.(Sequenced); ok {
		seq = sq.Seq(cp)
	}
	for {
		err := r.cps.Save(ctx, name, cp, seq, n)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		r.m.sourceErrors.WithLabelValues(name).Inc()
		r.fail("save checkpoint", err)
		if !retry.Sleep(ctx, r.bo.Next()) {
			return nil, ctx.Err()
		}
	}
	r.cp = cp
	r.ok()
	r.m.batches.WithLabelValues(name).Inc()
	r.m.batchSeconds.WithLabelValues(name).Observe(time.Since(start).Seconds())
	r.log.Debug("batch published", "records", len(recs), "published", n.Published, "rejected", n.Rejected, "position", seq)
	r.heard(ctx)
	r.wm.flush(ctx)
	return outs, nil
}

// Heard records the heartbeat and readiness, and the watermark when the
// source caught up.
func (s *sink) Heard(ctx context.Context, caughtUp time.Time) {
	s.release()
	r := s.r
	r.heard(ctx)
	r.ok()
	if !caughtUp.IsZero() {
		r.wm.caughtUp(caughtUp)
	}
	r.wm.flush(ctx)
}

// Lag sets the source_lag_records gauge.
func (s *sink) Lag(n int64) {
	s.r.m.lag.WithLabelValues(s.r.inst.Name()).Set(float64(max(n, 0)))
}
