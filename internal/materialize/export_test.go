package materialize

import (
	"context"
	"time"
)

// Watchdog runs the stall watchdog of m as if a fetch had been waiting
// since waitingSince.
func Watchdog(ctx context.Context, m *Materializer, waitingSince time.Time) error {
	m.fetchingSince.Store(waitingSince.UnixNano())
	return m.watchdog(ctx)
}

// ErrStalled is errStalled.
var ErrStalled = errStalled
