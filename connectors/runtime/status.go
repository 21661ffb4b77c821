package runtime

import (
	"fmt"
	"sync"
	"time"
)

// CodeLineTooLong is a CSV line (record) longer than its format allows,
// beside the mapping codes of publisher.go.
const CodeLineTooLong = "line.too_long"

// Verdict says what Publish will do with r, without publishing it: "" when
// it would go to its topic, otherwise the code and message of the DLQ
// record it would become. It applies the same checks in the same order
// (mapping error, record rules, Avro encoding), so a source that must
// report per record (csvdrop's per-line reports) learns the outcome Publish
// gives.
func (p *Publisher) Verdict(r *Record) (code, message string) {
	if r.MapErr != nil {
		return r.MapErr.Code, r.MapErr.Message
	}
	if vs := p.validate(r.Value); len(vs) > 0 {
		return vs[0].Code, vs.Error()
	}
	if _, err := p.codec.Encode(r.Topic, r.Value); err != nil {
		return "avro.encode", err.Error()
	}
	return "", ""
}

// Health is the readiness of one instance that drives its own loop instead
// of a Runner (csvdrop): the same Healthy contract and the same up and
// last-success metrics as Runner.
type Health struct {
	inst Instance
	m    *Metrics

	mu      sync.Mutex
	lastErr error
	lastOK  time.Time
}

// NewHealth starts inst as "starting" (down) until its first Set(nil).
func NewHealth(inst Instance, m *Metrics) *Health {
	m.up.WithLabelValues(inst.Name()).Set(0)
	return &Health{inst: inst, m: m}
}

// Set records the outcome of the last attempt: nil when it succeeded.
func (h *Health) Set(err error) {
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

// Healthy is nil when the last attempt succeeded; otherwise the error it
// keeps retrying on.
func (h *Health) Healthy() error {
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

// AddRead counts n source records read by inst.
func (m *Metrics) AddRead(inst Instance, n int) {
	m.read.WithLabelValues(inst.Name()).Add(float64(n))
}

// BatchDone counts a batch of inst published and checkpointed, started at start.
func (m *Metrics) BatchDone(inst Instance, start time.Time) {
	m.batches.WithLabelValues(inst.Name()).Inc()
	m.batchSeconds.WithLabelValues(inst.Name()).Observe(time.Since(start).Seconds())
}

// SetLag sets the records inst has waiting in its source.
func (m *Metrics) SetLag(inst Instance, n int64) {
	m.lag.WithLabelValues(inst.Name()).Set(float64(max(n, 0)))
}

// SourceError counts a failed read of inst's source or checkpoint store.
func (m *Metrics) SourceError(inst Instance) {
	m.sourceErrors.WithLabelValues(inst.Name()).Inc()
}
