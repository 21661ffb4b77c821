package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/askonce/askonce/internal/audit"
	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/internal/clip"
	"github.com/askonce/askonce/internal/ops"
	"github.com/askonce/askonce/internal/poison"
	"github.com/askonce/askonce/internal/policy"
	"github.com/askonce/askonce/internal/portfolio"
	"github.com/askonce/askonce/internal/retry"
	"github.com/askonce/askonce/schemas"
)

// Component is the router's name: the DLQ source (askonce.dlq.source) of
// its rejects, and the clerk of the audit entries of its notifications.
const Component = "notify"

// Auditor appends entries to the hash-chained audit log (*audit.Log).
type Auditor interface {
	Append(ctx context.Context, e audit.Entry) (audit.Entry, error)
}

// Config configures the router (notify.* of the configuration).
type Config struct {
	// GroupID is the router's own Kafka consumer group on the record and
	// portfolio topics; instances with the same group share the partitions.
	GroupID string
	// BatchSize is the most messages routed in one PostgreSQL transaction.
	BatchSize int
	// BatchWait is how long a batch waits to fill after its first message.
	BatchWait time.Duration
	// MaxBackoff caps the backoff while PostgreSQL, Kafka or the registry is down.
	MaxBackoff time.Duration
}

// Options are the router's dependencies besides configuration.
type Options struct {
	// Policy returns the lookup policy in force: portfolio changes from the
	// topic are checked against it.
	Policy func() *policy.Policy
	// Audit records notifications and portfolio changes.
	Audit Auditor
	// Rules are the validation rules records must pass (as the materializer's).
	Rules schemas.Rules
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Router consumes the record and portfolio topics and emits notifications.
type Router struct {
	cfg      Config
	opt      Options
	conn     *bus.Conn
	pool     *pgxpool.Pool
	reader   *kafka.Reader
	out      *kafka.Writer
	dlq      *kafka.Writer
	topics   bus.Topics
	agencies map[string]bool
	// portfolios maps each configured agency's portfolio topic to the
	// agency: the only agency whose changes that topic may carry.
	portfolios map[string]string
	log        *slog.Logger
	m          *metrics

	health ops.Health // nil while batches route; the error being retried otherwise

	records, notified, suppressed atomic.Int64
}

// New returns a router over conn (the codec knows the record, portfolio
// and notification topics: see UseNotificationSchemas and
// UsePortfolioSchemas) and pool (migrated with portfolio.Migrate).
// agencies are those with a notification topic and a portfolio topic
// (kafka.topics.agencies): the router reads the portfolio topics of these
// and of no other.
func New(cfg Config, conn *bus.Conn, pool *pgxpool.Pool, agencies []string, opt Options, reg prometheus.Registerer, log *slog.Logger) *Router {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	topics := conn.Client.Topics()
	ag := map[string]bool{}
	pf := map[string]string{}
	groupTopics := topics.Records()
	for _, a := range agencies {
		ag[a] = true
		pf[topics.AgencyPortfolio(a)] = a
		groupTopics = append(groupTopics, topics.AgencyPortfolio(a))
	}
	r := conn.Client.Reader(kafka.ReaderConfig{
		GroupID:        cfg.GroupID,
		GroupTopics:    groupTopics,
		StartOffset:    kafka.FirstOffset,
		MinBytes:       1,
		MaxBytes:       16 << 20,
		MaxWait:        250 * time.Millisecond,
		CommitInterval: 0, // synchronous commits, after notifications and notify_sent are durable
		QueueCapacity:  max(cfg.BatchSize, 100),
	})
	w := conn.Client.Writer("") // each message names its agency's topic
	w.BatchTimeout = 5 * time.Millisecond
	dlq := conn.Client.Writer(topics.DLQ)
	dlq.BatchTimeout = 5 * time.Millisecond
	dlq.MaxAttempts = 3
	rt := &Router{cfg: cfg, opt: opt, conn: conn, pool: pool, reader: r, out: w, dlq: dlq, topics: topics, agencies: ag, portfolios: pf, log: log}
	rt.m = newMetrics(reg)
	return rt
}

// Close leaves the consumer group and closes the producers.
func (rt *Router) Close() error {
	return errors.Join(rt.reader.Close(), rt.out.Close(), rt.dlq.Close())
}

// Healthy is nil while batches route; the error being retried otherwise.
func (rt *Router) Healthy(ctx context.Context) error { return rt.health.Check(ctx) }

// Stats are counters since New: messages read, notifications emitted, and
// notifications suppressed because notify_sent already had them.
type Stats struct{ Records, Notified, Suppressed int64 }

// Stats returns the counters.
func (rt *Router) Stats() Stats {
	return Stats{Records: rt.records.Load(), Notified: rt.notified.Load(), Suppressed: rt.suppressed.Load()}
}

// Run routes until ctx ends. Transient failures are retried with backoff,
// the batch kept in memory; offsets are committed only after a batch is
// fully routed.
func (rt *Router) Run(ctx context.Context) error {
	rt.log.Info("notification router started", "group", rt.cfg.GroupID, "batch_size", rt.cfg.BatchSize)
	bo := retry.Backoff{Max: rt.cfg.MaxBackoff}
	for ctx.Err() == nil {
		msgs, err := rt.fetch(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			rt.health.Set(fmt.Errorf("fetch: %w", err))
			rt.log.Warn("fetch failed, retrying", "err", err)
			retry.Sleep(ctx, bo.Next())
			continue
		}
		if len(msgs) == 0 {
			continue
		}
		for {
			err = rt.processIsolating(ctx, msgs)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				rt.log.Info("notification router stopped")
				return nil
			}
			rt.m.batchErrors.Inc()
			rt.health.Set(err)
			rt.log.Warn("batch failed, retrying", "err", err, "messages", len(msgs), "attempt", bo.Attempts()+1)
			retry.Sleep(ctx, bo.Next())
		}
		if err := rt.reader.CommitMessages(ctx, msgs...); err != nil && ctx.Err() == nil {
			rt.log.Warn("offset commit failed; the batch will be replayed, without effect", "err", err)
		}
		bo.Reset()
		rt.health.Set(nil)
	}
	rt.log.Info("notification router stopped")
	return nil
}

// processIsolating routes a batch; when the store (or the encoder) refuses
// the data of a record itself, it splits the batch until each offender is
// alone (poison.Isolate), routes all the others, and dead-letters the
// offenders with the reason. Outages are returned: the batch is retried.
func (rt *Router) processIsolating(ctx context.Context, msgs []kafka.Message) error {
	err := rt.process(ctx, msgs)
	if err == nil || poison.Classify(err) != poison.Data {
		return err
	}
	rt.log.Warn("a batch was refused for its data: isolating the records refused", "err", err, "messages", len(msgs))
	fails, err := poison.Isolate(ctx, msgs, rt.process)
	if err != nil {
		return err
	}
	now := rt.opt.Now()
	out := make([]kafka.Message, len(fails))
	for i, f := range fails {
		m := f.Item
		out[i] = bus.DLQMessage("", m.Key, m.Value, bus.Reject{Code: poison.CodeStoreRefused, Message: poison.Reason(f.Err), RejectedBy: Component,
			Topic: m.Topic, Position: bus.OffsetPosition(m.Topic, m.Partition, m.Offset)}, now)
		rt.log.Warn("record refused, dead-lettered", "topic", m.Topic, "partition", m.Partition, "offset", m.Offset, "reason", poison.Reason(f.Err))
		rt.m.skipped.WithLabelValues(m.Topic).Inc()
	}
	if len(out) > 0 {
		if err := rt.dlq.WriteMessages(ctx, out...); err != nil {
			return fmt.Errorf("dead-letter %d messages: %w", len(out), err)
		}
	}
	return nil
}

func (rt *Router) fetch(ctx context.Context) ([]kafka.Message, error) {
	first, err := rt.reader.FetchMessage(ctx)
	if err != nil {
		return nil, err
	}
	msgs := []kafka.Message{first}
	wctx, cancel := context.WithTimeout(ctx, rt.cfg.BatchWait)
	defer cancel()
	for len(msgs) < rt.cfg.BatchSize {
		msg, err := rt.reader.FetchMessage(wctx)
		if err != nil {
			break
		}
		msgs = append(msgs, msg)
	}
	return msgs, ctx.Err()
}

type portfolioMsg struct {
	msg kafka.Message
	pc  schemas.PortfolioChange
	// agency is the agency whose portfolio topic carried the change.
	agency string
}

// process routes one batch. It is idempotent: on error the caller retries
// it whole, and nothing it did before the failure counts twice (ids are
// stable, notify_sent is committed last).
func (rt *Router) process(ctx context.Context, msgs []kafka.Message) error {
	now := rt.opt.Now()
	var changes []change
	var pcs []portfolioMsg
	var rejects []kafka.Message
	for _, msg := range msgs {
		if agency, ok := rt.portfolios[msg.Topic]; ok {
			var pc schemas.PortfolioChange
			_, err := rt.conn.Codec.Decode(ctx, msg.Topic, msg.Value, &pc)
			var de *bus.DecodeError
			switch {
			case errors.As(err, &de):
				rejects = append(rejects, bus.DLQMessage("", msg.Key, msg.Value, bus.Reject{Code: de.Reason, Message: de.Error(), RejectedBy: Component,
					Topic: msg.Topic, Agency: agency, Position: bus.OffsetPosition(msg.Topic, msg.Partition, msg.Offset)}, now))
			case err != nil:
				return err
			default:
				pcs = append(pcs, portfolioMsg{msg, pc, agency})
			}
			continue
		}
		if bus.IsWatermark(msg) {
			continue // a connector's watermark: the materializer's business
		}
		v, err := rt.decode(ctx, msg)
		var de *bus.DecodeError
		switch {
		case errors.As(err, &de):
			// The materializer dead-letters it; the router only skips it.
			rt.m.skipped.WithLabelValues(msg.Topic).Inc()
			continue
		case err != nil:
			return err
		}
		if vs := rt.opt.Rules.Check(v); len(vs) > 0 {
			rt.m.skipped.WithLabelValues(msg.Topic).Inc()
			continue
		}
		changes = append(changes, changesOf(v, now)...)
	}

	tx, err := rt.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit it is a no-op

	pcEntries, pcRejects, err := rt.applyPortfolio(ctx, tx, pcs, now)
	if err != nil {
		return err
	}
	rejects = append(rejects, pcRejects...)

	// Who holds the citizens concerned?
	nins := make([]string, 0, len(changes))
	for _, c := range changes {
		nins = append(nins, c.nin)
	}
	slices.Sort(nins)
	nins = slices.Compact(nins)
	holders, err := portfolio.Holders(ctx, tx, nins)
	if err != nil {
		return err
	}
	type candidate struct {
		key    portfolio.SentKey
		c      change
		member portfolio.Member
	}
	var cands []candidate
	for _, c := range changes {
		for _, m := range holders[c.nin] {
			if !slices.Contains(m.Kinds, c.kind) {
				continue
			}
			if !rt.agencies[m.Agency] {
				rt.m.unroutable.WithLabelValues(m.Agency).Inc()
				continue
			}
			cands = append(cands, candidate{portfolio.SentKey{Agency: m.Agency, DataCenter: c.prov.DataCenter, SourceKey: c.prov.SourceKey, Kind: c.kind, NIN: c.nin}, c, m})
		}
	}
	keys := make([]portfolio.SentKey, len(cands))
	for i, cd := range cands {
		keys[i] = cd.key
	}
	known, err := portfolio.LoadSent(ctx, tx, keys)
	if err != nil {
		return err
	}
	var out []kafka.Message
	var entries []audit.Entry
	var emitted [][2]string // agency, kind
	updates := map[portfolio.SentKey]portfolio.Sent{}
	var order []portfolio.SentKey
	for _, cd := range cands {
		prev, had := known[cd.key]
		v := cd.c.prov.SourceVersion
		facts := cd.c.facts()
		if had && prev.Version >= v {
			rt.m.suppressed.Inc()
			rt.suppressed.Add(1)
			continue
		}
		id := NotificationID(cd.key.Agency, cd.key.DataCenter, cd.key.SourceKey, v, cd.key.Kind, cd.key.NIN)
		next := portfolio.Sent{Version: v, Facts: facts, NotificationID: id}
		if _, seen := updates[cd.key]; !seen {
			order = append(order, cd.key)
		}
		updates[cd.key] = next
		known[cd.key] = next
		if had && prev.Facts == facts {
			// A newer version with nothing new to tell (e.g. an end date
			// added to an employment already notified as started).
			continue
		}
		n := schemas.Notification{ID: id, Agency: cd.key.Agency, NIN: cd.key.NIN, Kind: cd.key.Kind, OccurredOn: dateOnly(cd.c.occurred),
			Correction: had, Purpose: cd.member.Purpose, Provenance: cd.c.prov, Details: cd.c.details, NotifiedAt: now.UTC().Truncate(time.Microsecond)}
		topic := rt.topics.Notify(cd.key.Agency)
		b, err := rt.conn.Codec.Encode(topic, n)
		if err != nil {
			// The schema is registered (Use at start): what cannot be
			// encoded is the record's data.
			return poison.DataError(fmt.Errorf("encode notification %s: %w", id, err))
		}
		out = append(out, kafka.Message{Topic: topic, Key: []byte(n.NIN), Value: b,
			Headers: []kafka.Header{{Key: "askonce.notification.id", Value: []byte(id)}}})
		reason := strings.ToLower(n.Kind)
		if n.Correction {
			reason += " (correction)"
		}
		emitted = append(emitted, [2]string{n.Agency, n.Kind})
		entries = append(entries, audit.Entry{At: now, RequestID: id, Client: n.Agency, ClerkID: Component, NIN: n.NIN,
			DocumentType: audit.DocNotification, Purpose: n.Purpose, Outcome: audit.OutcomeNotified, Reason: reason, DocumentID: id})
	}

	// Durable in this order: rejects and notifications on Kafka (acks=all),
	// audit entries, then notify_sent and portfolios in PostgreSQL, then
	// (in Run) the offsets. A crash in between replays the batch: the
	// same ids are sent again and consumers drop them.
	if len(rejects) > 0 {
		if err := rt.dlq.WriteMessages(ctx, rejects...); err != nil {
			return fmt.Errorf("dead-letter %d messages: %w", len(rejects), err)
		}
	}
	if len(out) > 0 {
		if err := rt.out.WriteMessages(ctx, out...); err != nil {
			return fmt.Errorf("publish %d notifications: %w", len(out), err)
		}
	}
	if err := rt.appendAudit(ctx, append(pcEntries, entries...)); err != nil {
		return err
	}
	if err := portfolio.SaveSent(ctx, tx, order, updates, now); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}

	for _, msg := range msgs {
		rt.m.records.WithLabelValues(msg.Topic).Inc()
		rt.m.lag.WithLabelValues(msg.Topic, strconv.Itoa(msg.Partition)).Set(float64(max(msg.HighWaterMark-msg.Offset-1, 0)))
	}
	rt.records.Add(int64(len(msgs)))
	for _, e := range emitted {
		rt.m.notifications.WithLabelValues(e[0], e[1]).Inc()
	}
	rt.notified.Add(int64(len(emitted)))
	return nil
}

func dateOnly(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// PortfolioAgencyMismatch is the DLQ code of a portfolio change whose
// agency field names another agency than the portfolio topic it was
// written to: the topic, writable by its agency's principal only, says
// whose change it is, and the change is not applied.
const PortfolioAgencyMismatch = "portfolio.agency_mismatch"

// applyPortfolio applies the portfolio changes of a batch in tx, in order.
// A change that cannot apply (another agency than its topic's, bad NIN,
// kinds, an agency not a client of the policy, purpose not granted) goes
// to the DLQ with its reason. It returns the audit entries of the changes
// applied or denied.
func (rt *Router) applyPortfolio(ctx context.Context, tx pgx.Tx, pcs []portfolioMsg, now time.Time) ([]audit.Entry, []kafka.Message, error) {
	var entries []audit.Entry
	var rejects []kafka.Message
	policy := rt.opt.Policy()
	for _, p := range pcs {
		pc := p.pc
		pos := bus.OffsetPosition(p.msg.Topic, p.msg.Partition, p.msg.Offset)
		reject := func(code, text string) {
			rt.m.portfolioChanges.WithLabelValues("rejected").Inc()
			rejects = append(rejects, bus.DLQMessage("", p.msg.Key, p.msg.Value, bus.Reject{Code: code, Message: text, RejectedBy: Component,
				Topic: p.msg.Topic, Agency: p.agency, Position: pos}, now))
		}
		if pc.Agency != p.agency {
			// Only the topic's agency may write it: a change naming
			// another agency is a back office's mistake (or an attempt
			// to edit another agency's portfolio), never applied.
			reject(PortfolioAgencyMismatch, fmt.Sprintf("the change names agency %q but was written to %s, the portfolio topic of %s: each agency writes its own portfolio changes to its own topic",
				clip.To(pc.Agency, 64), p.msg.Topic, p.agency))
			rt.log.Warn("portfolio change for another agency than its topic's, dead-lettered", "topic", p.msg.Topic, "agency", p.agency,
				"claimed_agency", clip.To(pc.Agency, 64), "partition", p.msg.Partition, "offset", p.msg.Offset)
			continue
		}
		m := portfolio.Member{Agency: pc.Agency, NIN: pc.NIN, Kinds: pc.Kinds, Purpose: pc.Purpose}
		client := policy.Client(pc.Agency)
		if client == nil {
			reject("portfolio.agency", fmt.Sprintf("agency %q is not a client of the lookup policy", clip.To(pc.Agency, 64)))
			continue
		}
		var applied bool
		var err error
		switch pc.Op {
		case schemas.PortfolioDelete:
			if errs := m.Check(); len(errs) > 0 && errs[0].Field == "nin" {
				reject(errs[0].Code, errs[0].Message)
				continue
			}
			applied, err = portfolio.Delete(ctx, tx, pc.Agency, pc.NIN, pc.RequestedAt, "topic:"+pos)
		default:
			if errs := m.Check(); len(errs) > 0 {
				reject(errs[0].Code, errs[0].Message)
				continue
			}
			if !client.MayHold(m.Purpose) {
				reject("portfolio.purpose", fmt.Sprintf("client %s may not hold citizens for purpose %s", pc.Agency, m.Purpose))
				entries = append(entries, audit.Entry{At: now, RequestID: clip.To(pc.RequestID, 64), Client: pc.Agency, ClerkID: "topic", NIN: pc.NIN,
					DocumentType: audit.DocPortfolio, Purpose: clip.To(pc.Purpose, 64), Outcome: audit.OutcomeDenied, Reason: "policy (" + p.msg.Topic + ")"})
				continue
			}
			_, applied, err = portfolio.Put(ctx, tx, m, pc.RequestedAt, "topic:"+pos)
		}
		if err != nil {
			return nil, nil, err
		}
		if !applied {
			rt.m.portfolioChanges.WithLabelValues("stale").Inc()
			continue
		}
		rt.m.portfolioChanges.WithLabelValues("applied").Inc()
		entries = append(entries, audit.Entry{At: now, RequestID: clip.To(pc.RequestID, 64), Client: pc.Agency, ClerkID: "topic", NIN: pc.NIN,
			DocumentType: audit.DocPortfolio, Purpose: m.Purpose, Outcome: audit.OutcomeIssued,
			Reason: "portfolio " + strings.ToLower(pc.Op) + " (" + p.msg.Topic + ") " + strings.Join(m.Kinds, ",")})
	}
	return entries, rejects, nil
}

// appendAudit appends entries concurrently, so that the audit log's group
// commit writes them in few transactions (the hash chain is the log's
// business: it orders them).
func (rt *Router) appendAudit(ctx context.Context, entries []audit.Entry) error {
	if len(entries) == 0 {
		return nil
	}
	errs := make([]error, len(entries))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 256)
	for i, e := range entries {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			_, errs[i] = rt.opt.Audit.Append(ctx, e)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

func (rt *Router) decode(ctx context.Context, msg kafka.Message) (schemas.Record, error) {
	return rt.conn.Codec.DecodeRecord(ctx, rt.topics, msg.Topic, msg.Value)
}
