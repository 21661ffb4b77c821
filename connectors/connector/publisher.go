package connector

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/schemas"
)

// Publisher validates, encodes and publishes batches of records, sending
// what fails to the DLQ with its reason. One Publisher serves every
// instance of a process.
type Publisher struct {
	client *bus.Client
	codec  *bus.Codec
	writer *kafka.Writer
	dlq    string
	rules  schemas.Rules
	log    *slog.Logger
	now    func() time.Time
	m      *Metrics
	// inflight bounds the batches the process's instances hold between
	// reading and checkpointing (see MaxInFlightBatches).
	inflight chan struct{}

	partsMu sync.Mutex
	parts   map[string]int // record topic -> partitions, for watermark rounds
	partsAt time.Time
}

// MaxInFlightBatches is how many batches the instances of one process may
// hold at once, read but not yet checkpointed (Sink.Reserve to the end of
// Put). Each instance holds at most one; with 33 data centers at
// batch_size 1000, unbounded, the process kept 33,000 records (rows,
// values, encoded messages) alive at once, most of them waiting for a CPU
// anyway: this bound keeps the memory of a connector process independent
// of the number of data centers it serves. Delivery is unchanged: a batch
// is still published, acknowledged, then checkpointed, in source order per
// instance.
const MaxInFlightBatches = 8

// acquire takes an in-flight slot; false when ctx ended first.
func (p *Publisher) acquire(ctx context.Context) bool {
	if p.inflight == nil {
		return true
	}
	select {
	case p.inflight <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

// release returns a slot taken by acquire.
func (p *Publisher) release() {
	if p.inflight != nil {
		<-p.inflight
	}
}

// NewPublisher publishes through client's brokers. The codec must already
// Use the three record topics' schemas.
func NewPublisher(client *bus.Client, codec *bus.Codec, rules schemas.Rules, m *Metrics, log *slog.Logger) *Publisher {
	w := client.Writer("")
	w.BatchSize = 1000
	w.BatchBytes = 4 << 20
	w.BatchTimeout = 5 * time.Millisecond
	w.MaxAttempts = 3
	return &Publisher{client: client, codec: codec, writer: w, dlq: client.Topics().DLQ, rules: rules, log: log, now: time.Now, m: m,
		inflight: make(chan struct{}, MaxInFlightBatches)}
}

// ForClient returns a publisher that writes through client, a connector
// instance's own Kafka connection (its own principal:
// connect.sasl_password_dir), and shares p's codec, rules, metrics and the
// process-wide bound on batches in flight (MaxInFlightBatches). Close it
// before client.
func (p *Publisher) ForClient(client *bus.Client) *Publisher {
	q := NewPublisher(client, p.codec, p.rules, p.m, p.log)
	q.inflight = p.inflight
	return q
}

// Close flushes and closes the producer.
func (p *Publisher) Close() error { return p.writer.Close() }

// Publish validates and encodes recs (each once) and writes them, valid
// ones to their topics and rejects to the DLQ, in one synchronous produce
// that returns only when the brokers acknowledged every message
// (acks=all). It returns one Outcome per record. On error nothing may be
// assumed published: the caller retries the whole batch (records carry
// their source version, so a duplicate changes nothing downstream).
func (p *Publisher) Publish(ctx context.Context, inst Instance, recs []Record) ([]Outcome, Counts, error) {
	var n Counts
	outs := make([]Outcome, len(recs))
	msgs := make([]kafka.Message, 0, len(recs))
	for i := range recs {
		r := &recs[i]
		reject := func(code, msg string, violations any) {
			msgs = append(msgs, bus.DLQMessage(p.dlq, r.Key, r.Raw, bus.Reject{
				Code: code, Message: msg, Violations: violations, RejectedBy: inst.Name(),
				Position: r.Position, Topic: r.Topic, Agency: inst.Agency, DataCenter: inst.DataCenter,
			}, p.now()))
			outs[i] = Outcome{Code: code, Message: msg}
			n.Rejected++
		}
		if r.MapErr != nil {
			reject(r.MapErr.Code, r.MapErr.Message, nil)
			continue
		}
		if vs := p.validate(r.Value); len(vs) > 0 {
			reject(vs[0].Code, vs.Error(), vs)
			continue
		}
		b, err := p.codec.Encode(r.Topic, r.Value)
		if err != nil {
			// The value passed validation but not its Avro type (an enum
			// symbol, a union branch): a defect of the record, not of the bus.
			reject(CodeAvroEncode, err.Error(), nil)
			continue
		}
		msgs = append(msgs, kafka.Message{Topic: r.Topic, Key: r.Key, Value: b})
		n.Published++
	}
	if len(msgs) == 0 {
		return outs, n, nil
	}
	start := time.Now()
	if err := p.writer.WriteMessages(ctx, msgs...); err != nil {
		p.m.produceErrors.WithLabelValues(inst.Name()).Inc()
		return nil, Counts{}, fmt.Errorf("publish %d records: %w", len(msgs), err)
	}
	p.m.produceSeconds.WithLabelValues(inst.Name()).Observe(time.Since(start).Seconds())
	pub := map[string]int{}
	for _, m := range msgs {
		if m.Topic != p.dlq {
			pub[m.Topic]++
		}
	}
	for topic, c := range pub {
		p.m.published.WithLabelValues(inst.Name(), topic).Add(float64(c))
	}
	for _, o := range outs {
		if o.Code != "" {
			p.m.rejected.WithLabelValues(inst.Name(), o.Code).Inc()
		}
	}
	return outs, n, nil
}

// Mark writes a watermark round for inst: a marker carrying at on every
// partition of every record topic of inst's agency, acknowledged by the
// brokers (acks=all) when it returns nil. The caller must have published,
// and had acknowledged, every record its source had committed before at.
func (p *Publisher) Mark(ctx context.Context, inst Instance, at time.Time) error {
	topics := p.client.Topics().RecordTopicsOf(inst.Agency)
	if len(topics) == 0 {
		return fmt.Errorf("watermark: agency %q writes no record topic", inst.Agency)
	}
	parts, err := p.partitions(ctx)
	if err != nil {
		return err
	}
	var msgs []kafka.Message
	for _, t := range topics {
		n := parts[t]
		if n == 0 {
			return fmt.Errorf("watermark: topic %s does not exist", t)
		}
		msgs = append(msgs, bus.WatermarkMessages(t, n, inst.Agency, inst.DataCenter, at)...)
	}
	if err := p.writer.WriteMessages(ctx, msgs...); err != nil {
		p.m.produceErrors.WithLabelValues(inst.Name()).Inc()
		return fmt.Errorf("publish watermark: %w", err)
	}
	p.m.watermark.WithLabelValues(inst.Name()).Set(float64(at.UnixNano()) / 1e9)
	return nil
}

// partitions are the record topics' partition counts, read from the
// cluster at most once a minute (a topic's partitions can be added).
func (p *Publisher) partitions(ctx context.Context) (map[string]int, error) {
	p.partsMu.Lock()
	defer p.partsMu.Unlock()
	if p.parts != nil && time.Since(p.partsAt) < time.Minute {
		return p.parts, nil
	}
	all, err := p.client.ListTopics(ctx)
	if err != nil {
		return nil, fmt.Errorf("watermark: %w", err)
	}
	p.parts, p.partsAt = all, time.Now()
	return all, nil
}

func (p *Publisher) validate(v any) schemas.Violations {
	rec, ok := v.(schemas.Record)
	if !ok {
		return schemas.Violations{{Code: CodeEntityUnknown, Field: "", Message: fmt.Sprintf("no rules for %T", v)}}
	}
	return p.rules.Check(rec)
}

// Metrics are the connectors' Prometheus metrics, labelled by instance.
type Metrics struct {
	read           *prometheus.CounterVec
	published      *prometheus.CounterVec
	rejected       *prometheus.CounterVec
	batches        *prometheus.CounterVec
	batchSeconds   *prometheus.HistogramVec
	produceSeconds *prometheus.HistogramVec
	produceErrors  *prometheus.CounterVec
	sourceErrors   *prometheus.CounterVec
	lag            *prometheus.GaugeVec
	lastSuccess    *prometheus.GaugeVec
	up             *prometheus.GaugeVec
	watermark      *prometheus.GaugeVec
}

// NewMetrics registers the connector metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	l := []string{"connector"}
	m := &Metrics{
		read: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "askonce", Subsystem: "connect",
			Name: "records_read_total", Help: "Source records read."}, l),
		published: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "askonce", Subsystem: "connect",
			Name: "records_published_total", Help: "Records published to a record topic and acknowledged."}, []string{"connector", "topic"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "askonce", Subsystem: "connect",
			Name: "records_rejected_total", Help: "Records sent to the DLQ, by reason code."}, []string{"connector", "code"}),
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "askonce", Subsystem: "connect",
			Name: "batches_total", Help: "Batches published and checkpointed."}, l),
		batchSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "askonce", Subsystem: "connect",
			Name: "batch_duration_seconds", Help: "Read, publish and checkpoint time of a batch.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12)}, l),
		produceSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "askonce", Subsystem: "connect",
			Name: "produce_duration_seconds", Help: "Time until the brokers acknowledged a batch.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12)}, l),
		produceErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "askonce", Subsystem: "connect",
			Name: "produce_errors_total", Help: "Batches the brokers did not acknowledge (retried)."}, l),
		sourceErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "askonce", Subsystem: "connect",
			Name: "source_errors_total", Help: "Failed reads of the source or of the checkpoint store (retried)."}, l),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "askonce", Subsystem: "connect",
			Name: "source_lag_records", Help: "Source head position minus checkpoint (outbox rows, or CSV lines waiting)."}, l),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "askonce", Subsystem: "connect",
			Name: "last_success_timestamp_seconds", Help: "When the connector last read its source and published successfully."}, l),
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "askonce", Subsystem: "connect",
			Name: "up", Help: "1 when the connector's last attempt succeeded, 0 while it backs off."}, l),
		watermark: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "askonce", Subsystem: "connect",
			Name: "watermark_timestamp_seconds", Help: "The last watermark the connector published: everything its source had committed before it is on the topics."}, l),
	}
	reg.MustRegister(m.read, m.published, m.rejected, m.batches, m.batchSeconds, m.produceSeconds,
		m.produceErrors, m.sourceErrors, m.lag, m.lastSuccess, m.up, m.watermark)
	return m
}
