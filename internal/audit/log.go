package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/internal/ops"
	"github.com/askonce/askonce/internal/retry"
)

// Options configure a Log. Zero values take the defaults.
type Options struct {
	// MaxBatch is the most entries written in one transaction (1000).
	MaxBatch int
	// Timeout bounds Append when its context has no deadline (5s). Past
	// it the entry is not written and Append fails: the API answers 503,
	// never an unaudited document.
	Timeout time.Duration
	// Conn mirrors committed entries on the audit topic (Conn.Codec must
	// know its schema, as bus.Open arranges). Nil: no mirror.
	Conn *bus.Conn
	// PublishBatch is the most entries published per round (500).
	PublishBatch int
	// PublishInterval is how often the mirror looks for entries that other
	// instances committed (1s); this instance's commits wake it at once.
	PublishInterval time.Duration
}

func (o Options) withDefaults() Options {
	if o.MaxBatch <= 0 {
		o.MaxBatch = 1000
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.PublishBatch <= 0 {
		o.PublishBatch = 500
	}
	if o.PublishInterval <= 0 {
		o.PublishInterval = time.Second
	}
	return o
}

// Log is the audit log of one process. Append may be called from any
// goroutine; Run must be running for it to return.
type Log struct {
	pool *pgxpool.Pool
	opts Options
	log  *slog.Logger
	m    *metrics

	reqs    chan *request
	closed  chan struct{} // closed when the writer has stopped
	wake    chan struct{} // a commit happened: publish
	started atomic.Bool

	entries, batches atomic.Int64

	health ops.Health // nil while entries commit; the error being retried otherwise
}

type request struct {
	ctx  context.Context
	e    Entry
	with []Row
	done chan result // buffered: the writer never blocks on it
}

// Row is a row of another table committed in the same transaction as an
// audit entry (AppendWith): both are stored, or neither.
type Row struct {
	Table   string
	Columns []string
	Values  []any
}

type result struct {
	e   Entry
	err error
}

// New returns a log over pool (migrated with Migrate). Metrics go to reg
// (nil: not exported).
func New(pool *pgxpool.Pool, opts Options, reg prometheus.Registerer, log *slog.Logger) *Log {
	opts = opts.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	return &Log{
		pool:   pool,
		opts:   opts,
		log:    log,
		m:      newMetrics(reg),
		reqs:   make(chan *request, opts.MaxBatch),
		closed: make(chan struct{}),
		wake:   make(chan struct{}, 1),
	}
}

// Stats are counters since New.
type Stats struct {
	// Entries committed, and the transactions that committed them.
	Entries, Batches int64
}

// Stats returns the counters since New.
func (l *Log) Stats() Stats { return Stats{Entries: l.entries.Load(), Batches: l.batches.Load()} }

// Healthy is nil while entries commit, the error being retried otherwise
// (a readiness check: an instance that cannot audit cannot answer).
func (l *Log) Healthy(ctx context.Context) error { return l.health.Check(ctx) }

// Run runs the writer, and the topic mirror when Options.Conn is set,
// until ctx ends. Entries already handed over when ctx ends are still
// committed (within a few seconds); later Appends fail with ErrClosed.
func (l *Log) Run(ctx context.Context) error {
	if !l.started.CompareAndSwap(false, true) {
		return errors.New("audit: Run called twice")
	}
	var wg sync.WaitGroup
	if l.opts.Conn != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.publishLoop(ctx, l.opts.Conn)
		}()
	}
	l.writeLoop(ctx)
	wg.Wait()
	return nil
}

// Append writes e to the log and returns it with Seq, At, PrevHash and
// Hash set, once it is committed. It fails when ctx ends first (or after
// Options.Timeout without a deadline): the entry is then not written,
// unless its transaction was already committing.
func (l *Log) Append(ctx context.Context, e Entry) (Entry, error) {
	return l.AppendWith(ctx, e)
}

// AppendWith is Append with rows of other tables committed in the same
// transaction as e (the lookup API stores each issued document with the
// entry that records its issue: one commit, group-committed, and never a
// document without its entry). A row that the database refuses (a
// constraint, a bad value) fails this Append only: its batch is committed
// again without it.
func (l *Log) AppendWith(ctx context.Context, e Entry, with ...Row) (Entry, error) {
	start := time.Now()
	if e.Outcome == "" {
		return Entry{}, errors.New("audit: entry without an outcome")
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, l.opts.Timeout)
		defer cancel()
	}
	for _, w := range with {
		if w.Table == "" || len(w.Columns) == 0 || len(w.Columns) != len(w.Values) {
			return Entry{}, fmt.Errorf("audit: row for table %q: %d columns, %d values", w.Table, len(w.Columns), len(w.Values))
		}
	}
	r := &request{ctx: ctx, e: normalize(e), with: with, done: make(chan result, 1)}
	select {
	case l.reqs <- r:
	case <-ctx.Done():
		return Entry{}, l.notCommitted(ctx)
	case <-l.closed:
		return Entry{}, ErrClosed
	}
	var res result
	select {
	case res = <-r.done:
	case <-ctx.Done():
		return Entry{}, l.notCommitted(ctx)
	case <-l.closed:
		select {
		case res = <-r.done:
		default:
			return Entry{}, ErrClosed
		}
	}
	if res.err == nil {
		l.m.appendSeconds.Observe(time.Since(start).Seconds())
	}
	return res.e, res.err
}

func (l *Log) notCommitted(ctx context.Context) error {
	l.m.appendFailures.Inc()
	cause := l.Healthy(ctx)
	if cause == nil && !l.started.Load() {
		cause = errors.New("the audit writer is not running")
	}
	if cause != nil {
		return fmt.Errorf("audit: entry not committed: %w (%v)", ctx.Err(), cause)
	}
	return fmt.Errorf("audit: entry not committed: %w", ctx.Err())
}

// writeLoop is the single writer: group commit with retries.
func (l *Log) writeLoop(ctx context.Context) {
	var pending []*request
	bo := retry.Backoff{Max: maxBackoff}
	single := 0 // entries still to commit one per transaction
	for {
		if len(pending) == 0 {
			select {
			case r := <-l.reqs:
				pending = append(pending, r)
			case <-ctx.Done():
				l.shutdown(pending)
				return
			}
		}
		pending = l.take(pending)
		if len(pending) == 0 {
			continue
		}
		n := min(len(pending), l.opts.MaxBatch)
		if single > 0 {
			n = 1
			single--
		}
		err := l.commitBatch(ctx, pending[:n])
		if err == nil {
			pending = pending[n:]
			bo.Reset()
			continue
		}
		l.m.commitErrors.Inc()
		if refused(err) && slices.ContainsFunc(pending[:n], func(r *request) bool { return len(r.with) > 0 }) {
			// A row the database refuses fails its own Append only: the
			// entries of the batch are committed one by one to find it.
			if n > 1 {
				single = n
				continue
			}
			l.log.Error("audit entry with attached rows refused by the database", "request_id", pending[0].e.RequestID, "err", err)
			pending[0].done <- result{err: fmt.Errorf("audit: refused: %w", err)}
			pending = pending[1:]
			continue
		}
		l.health.Set(err)
		lvl := slog.LevelWarn
		if bo.Attempts() >= 3 {
			lvl = slog.LevelError
		}
		l.log.Log(ctx, lvl, "audit commit failed, retrying", "err", err, "entries", n, "attempt", bo.Attempts()+1)
		if !retry.Sleep(ctx, bo.Next()) {
			l.shutdown(pending)
			return
		}
	}
}

// refused tells a database refusal of the data (SQLSTATE classes 22, data
// exception, and 23, integrity constraint violation) from an outage.
func refused(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (strings.HasPrefix(pe.Code, "22") || strings.HasPrefix(pe.Code, "23"))
}

// take adds the requests waiting in the channel to pending and drops
// those whose caller has given up: they were not answered, so they are
// not recorded as answered.
func (l *Log) take(pending []*request) []*request {
drain:
	for len(pending) < l.opts.MaxBatch {
		select {
		case r := <-l.reqs:
			pending = append(pending, r)
		default:
			break drain
		}
	}
	live := pending[:0]
	for _, r := range pending {
		if r.ctx.Err() == nil {
			live = append(live, r)
		}
	}
	clear(pending[len(live):])
	return live
}

// shutdown commits what was handed over before ctx ended, then closes.
func (l *Log) shutdown(pending []*request) {
	pending = l.take(pending)
	if len(pending) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		for len(pending) > 0 {
			n := min(len(pending), l.opts.MaxBatch)
			if err := l.commitBatch(ctx, pending[:n]); err != nil {
				l.log.Error("audit entries not committed at shutdown", "err", err, "entries", len(pending))
				break
			}
			pending = pending[n:]
		}
		cancel()
	}
	for _, r := range pending {
		r.done <- result{err: ErrClosed}
	}
	close(l.closed)
}

// maxBackoff caps the waits between retries of the writer and the topic
// mirror. It is short because an Append waits for its commit only
// Options.Timeout (5s by default): the writer retries several times within
// it, and commits soon after the database is back.
const maxBackoff = 2 * time.Second

// commitBatch chains and writes batch in one transaction, then hands each
// waiter its entry. The transaction is not cut short by ctx: once
// started it commits or fails on its own.
func (l *Log) commitBatch(ctx context.Context, batch []*request) error {
	start := time.Now()
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	entries := make([]Entry, len(batch))
	for i, r := range batch {
		entries[i] = r.e
	}
	err := pgx.BeginFunc(tctx, l.pool, func(tx pgx.Tx) error {
		// One chain across every instance sharing the database.
		if _, err := tx.Exec(tctx, `SELECT pg_advisory_xact_lock(hashtext('askonce.audit_log'))`); err != nil {
			return err
		}
		seq, hash := int64(0), GenesisHash
		err := tx.QueryRow(tctx, `SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1`).Scan(&seq, &hash)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		rows := make([][]any, len(entries))
		for i := range entries {
			e := &entries[i]
			e.Seq, e.PrevHash = seq+1, hash
			if e.Hash, err = Hash(*e); err != nil {
				return err
			}
			seq, hash = e.Seq, e.Hash
			rows[i] = []any{e.Seq, e.At, e.RequestID, e.Client, e.ClerkID, e.NIN, e.DocumentType, e.Purpose, e.Outcome, e.Reason, e.DocumentID, e.PrevHash, e.Hash}
		}
		if _, err = tx.CopyFrom(tctx, pgx.Identifier{"audit_log"}, columns, pgx.CopyFromRows(rows)); err != nil {
			return err
		}
		return copyAttached(tctx, tx, batch)
	})
	if err != nil {
		return fmt.Errorf("audit: commit %d entries: %w", len(batch), err)
	}
	l.health.Set(nil)
	l.entries.Add(int64(len(batch)))
	l.batches.Add(1)
	l.m.batchSize.Observe(float64(len(batch)))
	l.m.commitSeconds.Observe(time.Since(start).Seconds())
	for i, r := range batch {
		l.m.entries.WithLabelValues(outcomeLabel(entries[i].Outcome)).Inc()
		r.done <- result{e: entries[i]}
	}
	select {
	case l.wake <- struct{}{}:
	default:
	}
	return nil
}

// copyAttached writes the rows attached to the entries of batch, one COPY
// per table and column list.
func copyAttached(ctx context.Context, tx pgx.Tx, batch []*request) error {
	type group struct {
		table string
		cols  []string
		rows  [][]any
	}
	var groups []*group
	for _, r := range batch {
	rows:
		for _, w := range r.with {
			for _, g := range groups {
				if g.table == w.Table && slices.Equal(g.cols, w.Columns) {
					g.rows = append(g.rows, w.Values)
					continue rows
				}
			}
			groups = append(groups, &group{table: w.Table, cols: w.Columns, rows: [][]any{w.Values}})
		}
	}
	for _, g := range groups {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{g.table}, g.cols, pgx.CopyFromRows(g.rows)); err != nil {
			return fmt.Errorf("rows of %s: %w", g.table, err)
		}
	}
	return nil
}

var columns = []string{"seq", "at", "request_id", "client", "clerk_id", "nin", "document_type", "purpose", "outcome", "reason", "document_id", "prev_hash", "hash"}

const selectEntry = `SELECT seq, at, request_id, client, clerk_id, nin, document_type, purpose, outcome, reason, document_id, prev_hash, hash FROM audit_log`

func scanEntry(row pgx.Row) (Entry, error) {
	var e Entry
	err := row.Scan(&e.Seq, &e.At, &e.RequestID, &e.Client, &e.ClerkID, &e.NIN, &e.DocumentType, &e.Purpose, &e.Outcome, &e.Reason, &e.DocumentID, &e.PrevHash, &e.Hash)
	e.At = e.At.UTC()
	return e, err
}

// ForCitizen returns the entries about nin, newest first, at most limit
// (100 when limit <= 0, 10000 at most): "who looked at my data".
func (l *Log) ForCitizen(ctx context.Context, nin string, limit int) ([]Entry, error) {
	return ForCitizen(ctx, l.pool, nin, limit)
}

// ForCitizen is Log.ForCitizen without a Log (the CLI).
func ForCitizen(ctx context.Context, pool *pgxpool.Pool, nin string, limit int) ([]Entry, error) {
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 10000)
	rows, err := pool.Query(ctx, selectEntry+` WHERE nin = $1 ORDER BY at DESC, seq DESC LIMIT $2`, nin, limit)
	if err != nil {
		return nil, fmt.Errorf("audit: entries of a citizen: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Entry, error) { return scanEntry(r) })
	if err != nil {
		return nil, fmt.Errorf("audit: entries of a citizen: %w", err)
	}
	return out, nil
}

type metrics struct {
	appendSeconds  prometheus.Histogram
	appendFailures prometheus.Counter
	batchSize      prometheus.Histogram
	commitSeconds  prometheus.Histogram
	commitErrors   prometheus.Counter
	entries        *prometheus.CounterVec
	publishLag     prometheus.Gauge
	published      prometheus.Counter
	publishErrors  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	opts := func(name, help string) prometheus.Opts {
		return prometheus.Opts{Namespace: "askonce", Subsystem: "audit", Name: name, Help: help}
	}
	hist := func(name, help string, buckets []float64) prometheus.Histogram {
		return prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "askonce", Subsystem: "audit", Name: name, Help: help, Buckets: buckets})
	}
	m := &metrics{
		appendSeconds: hist("append_duration_seconds", "Time an Append waited for its entry to be committed.", prometheus.ExponentialBuckets(0.0005, 2, 14)),
		appendFailures: prometheus.NewCounter(prometheus.CounterOpts(opts("append_failures_total",
			"Appends that gave up before their entry was committed (the request was answered 503)."))),
		batchSize:     hist("batch_size", "Entries per audit transaction (group commit).", prometheus.ExponentialBuckets(1, 2, 11)),
		commitSeconds: hist("commit_duration_seconds", "Time of one audit transaction.", prometheus.ExponentialBuckets(0.0005, 2, 14)),
		commitErrors: prometheus.NewCounter(prometheus.CounterOpts(opts("commit_errors_total",
			"Audit transactions that failed and were retried."))),
		entries: prometheus.NewCounterVec(prometheus.CounterOpts(opts("entries_total",
			"Audit entries committed, by outcome.")), []string{"outcome"}),
		publishLag: prometheus.NewGauge(prometheus.GaugeOpts(opts("publish_lag_entries",
			"Committed audit entries not yet on the audit topic."))),
		published: prometheus.NewCounter(prometheus.CounterOpts(opts("published_total",
			"Audit entries published to the audit topic."))),
		publishErrors: prometheus.NewCounter(prometheus.CounterOpts(opts("publish_errors_total",
			"Rounds of the audit topic mirror that failed and were retried."))),
	}
	reg.MustRegister(m.appendSeconds, m.appendFailures, m.batchSize, m.commitSeconds, m.commitErrors, m.entries, m.publishLag, m.published, m.publishErrors)
	return m
}

func outcomeLabel(o string) string {
	switch o {
	case OutcomeIssued, OutcomeNotHeld, OutcomeDenied, OutcomeInvalid, OutcomeUnauthenticated, OutcomeRateLimited:
		return o
	}
	return "other"
}
