package connector

import (
	"fmt"
	"sync"
	"time"
)

// health is the readiness of one instance: the outcome of its last
// attempt, mirrored in the up and last-success metrics.
type health struct {
	inst Instance
	m    *Metrics

	mu      sync.Mutex
	lastErr error
	lastOK  time.Time
}

// newHealth starts inst as "starting" (down) until its first set(nil).
func newHealth(inst Instance, m *Metrics) *health {
	m.up.WithLabelValues(inst.Name()).Set(0)
	return &health{inst: inst, m: m}
}

// set records the outcome of the last attempt: nil when it succeeded.
func (h *health) set(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lastErr = err
	name := h.inst.Name()
	if err == nil {
		h.lastOK = time.Now()
		h.m.lastSuccess.WithLabelValues(name).Set(float64(h.lastOK.UnixNano()) / 1e9)
		h.m.up.WithLabelValues(name).Set(1)
	} else {
		h.m.up.WithLabelValues(name).Set(0)
	}
}

// healthy is nil when the last attempt succeeded; otherwise the error it
// keeps retrying on.
func (h *health) healthy() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lastErr != nil {
		return fmt.Errorf("%s: %w", h.inst.Name(), h.lastErr)
	}
	if h.lastOK.IsZero() {
		return fmt.Errorf("%s: starting", h.inst.Name())
	}
	return nil
}
