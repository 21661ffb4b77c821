package materialize

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/internal/ops"
	"github.com/askonce/askonce/internal/poison"
	"github.com/askonce/askonce/internal/retry"
	"github.com/askonce/askonce/schemas"
)

// DLQSource names the materializer in the askonce.dlq.source header of
// the records it dead-letters.
const DLQSource = "materialize"

// Materializer consumes the record topics in a consumer group and applies
// them to the store. Several instances with the same group share the
// partitions.
type Materializer struct {
	cfg    Config
	conn   *bus.Conn
	pool   *pgxpool.Pool
	rc     kafka.ReaderConfig
	reader *kafka.Reader // replaced when the consumer stalls (Run)
	dlq    *kafka.Writer
	rules  schemas.Rules
	topics bus.Topics
	log    *slog.Logger
	m      *metrics

	// fetchingSince is when the current wait for a first message began
	// (unix ns), 0 when not waiting: the stall watchdog reads it.
	fetchingSince atomic.Int64

	health ops.Health // nil while batches apply; the error being retried otherwise

	mu     sync.Mutex
	fresh  map[string]time.Time // data center -> last event time seen
	agency map[string]string
}

// Config tunes a materializer (materialize.* in the configuration).
type Config struct {
	// GroupID is the Kafka consumer group; instances with the same group
	// share the partitions.
	GroupID string
	// BatchSize is the most messages applied in one transaction.
	BatchSize int
	// BatchWait is how long a batch waits to fill after its first message.
	BatchWait time.Duration
	// MaxBackoff caps the backoff while PostgreSQL, Kafka or the registry is down.
	MaxBackoff time.Duration
	// StallTimeout: a consumer that has waited this long for a message
	// while its group has messages to read leaves the group and joins again.
	StallTimeout time.Duration
	// WatermarkHistory is how long every advance of a data center's
	// watermark is kept (store_watermark_history).
	WatermarkHistory time.Duration
}

// New returns a materializer over conn (codec ready) and pool (migrated).
func New(cfg Config, conn *bus.Conn, pool *pgxpool.Pool, rules schemas.Rules, reg prometheus.Registerer, log *slog.Logger) *Materializer {
	topics := conn.Client.Topics()
	rc := kafka.ReaderConfig{
		GroupID:        cfg.GroupID,
		GroupTopics:    topics.Records(),
		StartOffset:    kafka.FirstOffset,
		MinBytes:       1,
		MaxBytes:       16 << 20,
		MaxWait:        250 * time.Millisecond,
		CommitInterval: 0, // synchronous commits, after the store committed
		QueueCapacity:  max(cfg.BatchSize, 100),
		// A crashed instance keeps its partitions until its session
		// expires, and one killed while joining stalls the next rebalance
		// until the rebalance timeout: 10 s and 15 s (kafka-go: 30 s each)
		// let the others take over in seconds (internal/chaos measured
		// minutes of stall after a few SIGKILLs with the defaults).
		SessionTimeout:   10 * time.Second,
		RebalanceTimeout: 15 * time.Second,
		// kafka-go retries group and fetch errors inside the reader, silently
		// unless given a logger: an operator must see a consumer that is stuck.
		// It also reports there the cancellation of a partition reader that
		// a rebalance or Close stopped while it connected ("error
		// initializing the kafka reader ...: context canceled"): nothing
		// to act on.
		ErrorLogger: kafka.LoggerFunc(func(msg string, args ...any) {
			lv := slog.LevelWarn
			for _, a := range args {
				if err, ok := a.(error); ok && errors.Is(err, context.Canceled) {
					lv = slog.LevelDebug
				}
			}
			log.Log(context.Background(), lv, "kafka reader: "+fmt.Sprintf(msg, args...), "group", cfg.GroupID)
		}),
	}
	r := conn.Client.Reader(rc)
	w := conn.Client.Writer(topics.DLQ)
	w.BatchTimeout = 5 * time.Millisecond
	w.MaxAttempts = 3
	mat := &Materializer{cfg: cfg, conn: conn, pool: pool, rc: rc, reader: r, dlq: w, rules: rules, topics: topics, log: log,
		fresh: map[string]time.Time{}, agency: map[string]string{}}
	mat.m = newMetrics(reg, mat)
	return mat
}

// Close leaves the consumer group and closes the DLQ producer.
func (m *Materializer) Close() error {
	m.mu.Lock()
	r := m.reader
	m.mu.Unlock()
	return errors.Join(r.Close(), m.dlq.Close())
}

// Healthy is nil while batches apply; the error being retried otherwise.
func (m *Materializer) Healthy(ctx context.Context) error { return m.health.Check(ctx) }

// Run consumes until ctx ends. Transient failures (PostgreSQL, Kafka, the
// registry) are retried with backoff, the batch kept in memory; a message
// that can never apply goes to the DLQ and the consumer goes on.
//
// Two stages overlap: while one batch is applied to the store (PostgreSQL
// working), the next is fetched, decoded and validated (this process
// working). Batches are applied, and their offsets committed, in the order
// they were fetched; at most two are held in memory.
func (m *Materializer) Run(ctx context.Context) error {
	m.log.Info("materializer started", "group", m.cfg.GroupID, "topics", m.topics.Records(), "batch_size", m.cfg.BatchSize)
	pctx, stopPrune := context.WithCancel(ctx)
	defer stopPrune()
	go m.pruneHistory(pctx)
	for {
		m.mu.Lock()
		r := m.reader
		m.mu.Unlock()
		err := m.runWith(ctx, r)
		if ctx.Err() != nil || !errors.Is(err, errStalled) {
			m.log.Info("materializer stopped")
			return err
		}
		// The consumer delivered nothing while the group had messages to
		// read: leave the group and join again as a new member, as a
		// restart of the process would (the old reader closes on its own
		// time: a stuck one must not hold this one up).
		m.m.rejoins.Inc()
		nr := m.conn.Client.Reader(m.rc)
		m.mu.Lock()
		m.reader = nr
		m.mu.Unlock()
		go func() {
			if err := r.Close(); err != nil {
				m.log.Debug("stalled reader closed", "err", err)
			}
		}()
	}
}

// pruneHistory deletes, every ten minutes, the watermark advances older
// than materialize.watermark_history.
func (m *Materializer) pruneHistory(ctx context.Context) {
	keep := m.cfg.WatermarkHistory
	if keep <= 0 {
		return
	}
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		tag, err := m.pool.Exec(ctx, `DELETE FROM store_watermark_history WHERE recorded_at < now() - make_interval(secs => $1)`, keep.Seconds())
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			m.log.Warn("watermark history not pruned; retried in 10 minutes", "err", err)
		case tag.RowsAffected() > 0:
			m.log.Info("watermark history pruned", "rows", tag.RowsAffected(), "kept", keep)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// errStalled: the consumer is stuck (see watchdog).
var errStalled = errors.New("materialize: consumer stalled")

// runWith runs the two stages on reader r, and the watchdog, until ctx
// ends or the consumer stalls.
func (m *Materializer) runWith(ctx context.Context, r *kafka.Reader) error {
	ready := make(chan *prepared, 1)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(ready)
		m.prepareLoop(gctx, r, ready)
		return nil
	})
	g.Go(func() error {
		m.storeLoop(gctx, r, ready)
		return nil
	})
	g.Go(func() error { return m.watchdog(gctx) })
	return g.Wait()
}

// watchdog returns errStalled when the consumer has waited for a message
// longer than StallTimeout while the group's lag on the record topics is
// not zero (kafka-go's group membership can get stuck after members die
// mid-rebalance; a new member unsticks it). An idle bus is not a stall.
func (m *Materializer) watchdog(ctx context.Context) error {
	every := max(min(m.cfg.StallTimeout/4, 10*time.Second), 10*time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		since := m.fetchingSince.Load()
		if since == 0 || time.Since(time.Unix(0, since)) < m.cfg.StallTimeout {
			continue
		}
		lag, err := m.conn.Client.GroupLag(ctx, m.cfg.GroupID, m.topics.Records())
		if err != nil {
			m.log.Debug("stall check: group lag unknown", "err", err)
			continue
		}
		if lag > 0 {
			m.log.Warn("consumer stalled: no message for the stall timeout while the group has messages to read; rejoining the group",
				"group", m.cfg.GroupID, "lag", lag, "waiting", time.Since(time.Unix(0, since)).Round(time.Second), "stall_timeout", m.cfg.StallTimeout)
			return errStalled
		}
	}
}

// prepareLoop fetches, decodes and validates batches and hands them over.
func (m *Materializer) prepareLoop(ctx context.Context, r *kafka.Reader, ready chan<- *prepared) {
	bo := retry.Backoff{Max: m.cfg.MaxBackoff}
	for ctx.Err() == nil {
		m.fetchingSince.Store(time.Now().UnixNano())
		msgs, err := m.fetch(ctx, r)
		m.fetchingSince.Store(0)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			m.health.Set(fmt.Errorf("fetch: %w", err))
			m.log.Warn("fetch failed, retrying", "err", err)
			retry.Sleep(ctx, bo.Next())
			continue
		}
		if len(msgs) == 0 {
			continue
		}
		start := time.Now()
		var p *prepared
		for {
			p, err = m.prepare(ctx, msgs)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return
			}
			m.m.batchErrors.Inc()
			m.health.Set(err)
			m.log.Warn("batch failed, retrying", "err", err, "messages", len(msgs), "attempt", bo.Attempts()+1)
			retry.Sleep(ctx, bo.Next())
		}
		bo.Reset()
		p.start = start
		select {
		case ready <- p:
		case <-ctx.Done():
			return
		}
	}
}

// storeLoop applies the prepared batches in order, then commits their
// offsets.
func (m *Materializer) storeLoop(ctx context.Context, r *kafka.Reader, ready <-chan *prepared) {
	bo := retry.Backoff{Max: m.cfg.MaxBackoff}
	for p := range ready {
		for {
			err := m.store(ctx, p)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return
			}
			m.m.batchErrors.Inc()
			m.health.Set(err)
			lvl := slog.LevelWarn
			if bo.Attempts() > 3 {
				lvl = slog.LevelError
			}
			m.log.Log(ctx, lvl, "batch failed, retrying", "err", err, "messages", len(p.msgs), "attempt", bo.Attempts()+1)
			retry.Sleep(ctx, bo.Next())
		}
		// The store committed: now the group may move on. A failed commit
		// (a rebalance took the partitions) only means these messages come
		// again, to this or another instance, and change nothing.
		if err := r.CommitMessages(ctx, p.msgs...); err != nil && ctx.Err() == nil {
			m.log.Warn("offset commit failed; the batch will be replayed, without effect", "err", err)
		}
		bo.Reset()
		m.health.Set(nil)
		m.m.batchSize.Observe(float64(len(p.msgs)))
		m.m.batchSeconds.Observe(time.Since(p.start).Seconds())
	}
}

// fetch waits for a first message, then takes what arrives within
// BatchWait, up to BatchSize.
func (m *Materializer) fetch(ctx context.Context, r *kafka.Reader) ([]kafka.Message, error) {
	first, err := r.FetchMessage(ctx)
	if err != nil {
		return nil, err
	}
	msgs := []kafka.Message{first}
	wctx, cancel := context.WithTimeout(ctx, m.cfg.BatchWait)
	defer cancel()
	for len(msgs) < m.cfg.BatchSize {
		msg, err := r.FetchMessage(wctx)
		if err != nil {
			break
		}
		msgs = append(msgs, msg)
	}
	return msgs, ctx.Err()
}

type reject struct {
	msg    kafka.Message
	code   string
	text   string
	viol   schemas.Violations
	origin schemas.Origin // empty when the message could not be decoded
}

// prepared is a batch decoded and validated, ready to be stored.
type prepared struct {
	msgs    []kafka.Message
	rows    []row
	rejects []reject
	fresh   map[string]*freshness
	offsets map[origin]struct{}
	marks   map[markKey]bus.Watermark
	start   time.Time
}

// prepare decodes and validates a batch. An error is transient (the
// registry unreachable): the batch is prepared again.
func (m *Materializer) prepare(ctx context.Context, msgs []kafka.Message) (*prepared, error) {
	var rows []row
	var rejects []reject
	fresh := map[string]*freshness{}
	offsets := map[origin]struct{}{}
	marks := map[markKey]bus.Watermark{}
	last := map[[2]any]int64{}
	now := time.Now()
	for i, msg := range msgs {
		o := origin{topic: msg.Topic, partition: msg.Partition, offset: msg.Offset}
		if k := [2]any{msg.Topic, msg.Partition}; msg.Offset >= last[k] {
			last[k] = msg.Offset
		}
		if bus.IsWatermark(msg) {
			w, err := bus.ParseWatermark(msg, m.topics.WritersOf(msg.Topic), now)
			if we := (*bus.WatermarkError)(nil); errors.As(err, &we) {
				rejects = append(rejects, reject{msg: msg, code: we.Code, text: we.Error(),
					origin: schemas.Origin{Agency: bus.Header(msg, bus.HeaderWatermarkAgency), DataCenter: bus.Header(msg, bus.HeaderWatermarkDataCenter)}})
				continue
			}
			k := markKey{dc: w.DataCenter, topic: msg.Topic, partition: msg.Partition}
			if prev, ok := marks[k]; !ok || w.At.After(prev.At) {
				marks[k] = w
			}
			continue
		}
		v, prov, err := m.decode(ctx, msg)
		var de *bus.DecodeError
		switch {
		case errors.As(err, &de):
			rejects = append(rejects, reject{msg: msg, code: de.Reason, text: de.Error()})
			continue
		case err != nil:
			return nil, err // the registry is unreachable: retry the batch
		}
		if vs := m.rules.Check(v); len(vs) > 0 {
			rejects = append(rejects, reject{msg: msg, code: vs[0].Code, text: vs.Error(), viol: vs, origin: schemas.Origin{Agency: prov.Agency, DataCenter: prov.DataCenter}})
			continue
		}
		r, err := rowOf(v, o)
		if err != nil {
			rejects = append(rejects, reject{msg: msg, code: schemas.CodeKindPayload, text: err.Error(), origin: schemas.Origin{Agency: prov.Agency, DataCenter: prov.DataCenter}})
			continue
		}
		r.msg, r.agency = i, prov.Agency
		rows = append(rows, r)
		f := fresh[prov.DataCenter]
		if f == nil {
			f = &freshness{agency: prov.Agency}
			fresh[prov.DataCenter] = f
		}
		f.n++
		if prov.EventTime.After(f.last) {
			f.last = prov.EventTime
		}
	}
	for k, off := range last {
		offsets[origin{topic: k[0].(string), partition: k[1].(int), offset: off}] = struct{}{}
	}
	return &prepared{msgs: msgs, rows: rows, rejects: rejects, fresh: fresh, offsets: offsets, marks: marks}, nil
}

// store dead-letters the rejects of a prepared batch, then applies its rows
// in one transaction. It is idempotent: on error the caller retries it.
//
// When the store refuses the data itself (poison.Classify), the batch is
// split until each refused record is alone (poison.Isolate): every other
// record is applied, the refused ones are dead-lettered with the store's
// reason, and only then do the batch's watermarks and offsets move. An
// outage is returned and the whole batch retried.
func (m *Materializer) store(ctx context.Context, p *prepared) error {
	// Rejects are made durable before the offsets move, so none is lost.
	if err := m.deadLetter(ctx, p.rejects); err != nil {
		return err
	}
	conn, err := m.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer conn.Release()
	b := batch{rows: p.rows, fresh: p.fresh, offsets: p.offsets, marks: p.marks, topicsOf: m.topics.RecordTopicsOf}
	var refused []reject
	res, fails, err := applyIsolating(ctx, conn.Conn(), b, func(fails []poison.Failure[row]) error {
		for _, f := range fails {
			msg := p.msgs[f.Item.msg]
			refused = append(refused, reject{msg: msg, code: poison.CodeStoreRefused, text: poison.Reason(f.Err), origin: schemas.Origin{Agency: f.Item.agency, DataCenter: f.Item.dc}})
			m.log.Warn("record refused by the store, dead-lettered", "topic", msg.Topic, "partition", msg.Partition, "offset", msg.Offset,
				"data_center", f.Item.dc, "reason", poison.Reason(f.Err))
		}
		return m.deadLetter(ctx, refused)
	})
	if err != nil {
		return err
	}
	if len(fails) > 0 {
		m.log.Warn("the store refused records for their data: dead-lettered, the rest of the batch applied", "refused", len(fails), "records", len(p.rows))
	}
	for _, r := range append(p.rejects, refused...) {
		m.m.rejected.WithLabelValues(r.msg.Topic, r.code).Inc()
	}
	for t, n := range res.applied {
		m.m.applied.WithLabelValues(t).Add(float64(n))
	}
	for t, n := range res.stale {
		m.m.stale.WithLabelValues(t).Add(float64(n))
	}
	for _, msg := range p.msgs {
		m.m.lag.WithLabelValues(msg.Topic, strconv.Itoa(msg.Partition)).Set(float64(max(msg.HighWaterMark-msg.Offset-1, 0)))
	}
	m.mu.Lock()
	for dc, f := range p.fresh {
		if f.last.After(m.fresh[dc]) {
			m.fresh[dc] = f.last
			m.agency[dc] = f.agency
		}
	}
	m.mu.Unlock()
	return nil
}

// deadLetter writes rejects to the DLQ, acknowledged, or fails.
func (m *Materializer) deadLetter(ctx context.Context, rejects []reject) error {
	if len(rejects) == 0 {
		return nil
	}
	out := make([]kafka.Message, len(rejects))
	now := time.Now()
	for i, r := range rejects {
		rj := bus.Reject{Code: r.code, Message: r.text, RejectedBy: DLQSource, Topic: r.msg.Topic, Agency: r.origin.Agency, DataCenter: r.origin.DataCenter,
			Position: bus.OffsetPosition(r.msg.Topic, r.msg.Partition, r.msg.Offset)}
		if r.viol != nil {
			rj.Violations = r.viol
		}
		out[i] = bus.DLQMessage("", r.msg.Key, r.msg.Value, rj, now)
	}
	if err := m.dlq.WriteMessages(ctx, out...); err != nil {
		return fmt.Errorf("dead-letter %d messages: %w", len(out), err)
	}
	return nil
}

func (m *Materializer) decode(ctx context.Context, msg kafka.Message) (schemas.Record, schemas.Provenance, error) {
	rec, err := m.conn.Codec.DecodeRecord(ctx, m.topics, msg.Topic, msg.Value)
	if rec == nil {
		return nil, schemas.Provenance{}, err
	}
	return rec, *rec.Prov(), err
}

type metrics struct {
	applied      *prometheus.CounterVec
	stale        *prometheus.CounterVec
	rejected     *prometheus.CounterVec
	batchSize    prometheus.Histogram
	batchSeconds prometheus.Histogram
	batchErrors  prometheus.Counter
	rejoins      prometheus.Counter
	lag          *prometheus.GaugeVec
}

// freshnessCollector reports the age of each data center's newest record
// at scrape time.
type freshnessCollector struct {
	m    *Materializer
	desc *prometheus.Desc
}

func (c freshnessCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c freshnessCollector) Collect(ch chan<- prometheus.Metric) {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	now := time.Now()
	for dc, t := range c.m.fresh {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, now.Sub(t).Seconds(), c.m.agency[dc], dc)
	}
}

func newMetrics(reg prometheus.Registerer, mat *Materializer) *metrics {
	m := &metrics{
		applied: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "askonce", Subsystem: "materialize",
			Name: "records_applied_total", Help: "Records that inserted or changed a store row."}, []string{"table"}),
		stale: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "askonce", Subsystem: "materialize",
			Name: "records_stale_total", Help: "Records skipped: an equal or higher version was already stored (replays, duplicates)."}, []string{"table"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "askonce", Subsystem: "materialize",
			Name: "records_rejected_total", Help: "Messages sent to the DLQ, by reason code."}, []string{"topic", "code"}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "askonce", Subsystem: "materialize",
			Name: "batch_size_messages", Help: "Messages per applied batch.", Buckets: prometheus.ExponentialBuckets(1, 4, 8)}),
		batchSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "askonce", Subsystem: "materialize",
			Name: "batch_duration_seconds", Help: "Decode, validate, apply and commit time of a batch.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12)}),
		batchErrors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "askonce", Subsystem: "materialize",
			Name: "batch_errors_total", Help: "Batch attempts that failed and were retried."}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "askonce", Subsystem: "materialize",
			Name: "consumer_lag_messages", Help: "High watermark minus the next offset to apply, per partition."}, []string{"topic", "partition"}),
	}
	m.rejoins = prometheus.NewCounter(prometheus.CounterOpts{Namespace: "askonce", Subsystem: "materialize",
		Name: "rejoins_total", Help: "Times the consumer stalled (no message for materialize.stall_timeout while the group had lag) and rejoined its group."})
	reg.MustRegister(m.rejoins, m.applied, m.stale, m.rejected, m.batchSize, m.batchSeconds, m.batchErrors, m.lag,
		freshnessCollector{m: mat, desc: prometheus.NewDesc("askonce_materialize_freshness_age_seconds",
			"Age of the newest record applied from each data center.", []string{"agency", "data_center"}, nil)})
	return m
}
