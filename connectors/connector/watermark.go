package connector

import (
	"cmp"
	"context"
	"log/slog"
	"time"
)

// DefaultWatermarkEvery: a data center's watermark, when everything flows,
// is at most this old plus the time its records take to reach the store.
const DefaultWatermarkEvery = 5 * time.Second

// watermarker decides when a connector instance writes a watermark round
// (bus.WatermarkMessages) and writes it. The sink tells it, with
// caughtUp, each instant T such that everything the source had committed
// before T has been published and acknowledged; flush writes the newest
// such T at most every `every`. A round that fails is not retried as such:
// the next one carries a newer T, and the data center's watermark only
// ages meanwhile, which is the truth.
type watermarker struct {
	pub    *Publisher
	inst   Instance
	every  time.Duration
	log    *slog.Logger
	last   time.Time // when the last round was written
	at     time.Time // the watermark waiting to be written, zero if none
	warned bool
}

// newWatermarker returns the watermarker of inst; every is
// DefaultWatermarkEvery when 0.
func newWatermarker(p *Publisher, inst Instance, every time.Duration, log *slog.Logger) *watermarker {
	return &watermarker{pub: p, inst: inst, every: cmp.Or(every, DefaultWatermarkEvery), log: log}
}

// caughtUp records that everything committed at the source before t is
// published and acknowledged.
func (w *watermarker) caughtUp(t time.Time) {
	if t.After(w.at) {
		w.at = t
	}
}

// flush writes the watermark round due, if any.
func (w *watermarker) flush(ctx context.Context) {
	if w.at.IsZero() || time.Since(w.last) < w.every {
		return
	}
	if err := w.pub.Mark(ctx, w.inst, w.at); err != nil {
		if ctx.Err() == nil && !w.warned {
			w.log.Warn("watermark not published; the data center's watermark ages until it is", "err", err)
			w.warned = true
		}
		w.last = time.Now() // try again after `every`, not at every poll
		return
	}
	if w.warned {
		w.log.Info("watermark published again")
	}
	w.last, w.at, w.warned = time.Now(), time.Time{}, false
}
