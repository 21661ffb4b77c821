package ops

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// errStarting is what a Health with Starting set reports before its first
// success.
var errStarting = errors.New("starting")

// Health is the readiness of one loop that retries what fails (a consumer,
// a connector instance, a batch writer): healthy after a success, the error
// it keeps retrying on after a failure. The loop calls Set with the outcome
// of each attempt; Check is an ops Check for AddCheck. The zero value is
// healthy until the first failure; set the fields before the first Set.
// It is safe for concurrent use.
type Health struct {
	// Name, when set, prefixes the errors Check returns (which instance
	// of several is not ready).
	Name string
	// Starting makes Check report "starting" until the first Set(nil).
	Starting bool
	// Observe, when set, is called by Set with each outcome and its time,
	// under the tracker's lock: for up and last-success gauges.
	Observe func(err error, at time.Time)

	mu     sync.Mutex
	err    error
	lastOK time.Time
}

// Set records the outcome of the last attempt: nil when it succeeded.
func (h *Health) Set(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.err = err
	now := time.Now()
	if err == nil {
		h.lastOK = now
	}
	if h.Observe != nil {
		h.Observe(err, now)
	}
}

// Err is nil when the last attempt succeeded (or, without Starting, when
// none failed yet); otherwise the error being retried, or "starting".
func (h *Health) Err() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	err := h.err
	if err == nil && h.Starting && h.lastOK.IsZero() {
		err = errStarting
	}
	if err != nil && h.Name != "" {
		return fmt.Errorf("%s: %w", h.Name, err)
	}
	return err
}

// Check is Err as a readiness Check.
func (h *Health) Check(context.Context) error { return h.Err() }

// LastOK is when the last attempt succeeded; zero before the first success.
func (h *Health) LastOK() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lastOK
}
