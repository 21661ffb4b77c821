// Package watermark reads the store's watermarks: for each data center,
// the instant T such that every record it had committed at its source
// before T is applied in the store (internal/bus/watermark.go says how
// they travel; the materializer writes them). The lookup API takes a
// document's as_of from them; both the API and the materializer report
// them as metrics and readiness.
package watermark

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// Mark is one data center's watermark.
type Mark struct {
	Agency     string
	DataCenter string
	At         time.Time // the watermark; zero: records of it are stored, no watermark yet
	Updated    time.Time // when it last advanced
}

// Known reports whether the data center has a watermark.
func (m Mark) Known() bool { return !m.At.IsZero() }

// Snapshot is every data center's watermark at one moment.
type Snapshot struct {
	Marks map[string]Mark // by data center
	Taken time.Time
}

// Reader reads store_watermarks, at most once per MaxAge (one query a
// second serves every lookup of a busy API).
type Reader struct {
	pool   *pgxpool.Pool
	maxAge time.Duration
	now    func() time.Time

	// expected are data centers counted even before the store holds
	// anything of them (lookup.data_centers).
	expected []Mark

	mu   sync.Mutex
	snap Snapshot
}

// Expect makes every snapshot hold these data centers (agency, name),
// without a watermark until the store has one: an answer reading their
// agency then claims no as_of before each has been heard from. Call it
// before the first Snapshot.
func (r *Reader) Expect(agency, dataCenter string) {
	r.expected = append(r.expected, Mark{Agency: agency, DataCenter: dataCenter})
}

// NewReader reads the watermarks of the store in pool.
func NewReader(pool *pgxpool.Pool) *Reader {
	return &Reader{pool: pool, maxAge: time.Second, now: time.Now}
}

// Snapshot returns the watermarks, read again when the cached ones are
// older than a second.
func (r *Reader) Snapshot(ctx context.Context) (Snapshot, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if r.snap.Marks != nil && now.Sub(r.snap.Taken) < r.maxAge {
		return r.snap, nil
	}
	// Every data center the store holds records of counts, with or without
	// a watermark: one without is not yet known to be caught up, and an
	// answer reading it cannot claim any as_of.
	rows, err := r.pool.Query(ctx, `SELECT coalesce(w.agency, f.agency), coalesce(w.data_center, f.data_center),
    coalesce(w.watermark, '-infinity'), coalesce(w.updated_at, '-infinity')
FROM store_watermarks w FULL JOIN source_freshness f ON f.data_center = w.data_center`)
	if err != nil {
		return Snapshot{}, fmt.Errorf("watermarks: %w", err)
	}
	defer rows.Close()
	marks := map[string]Mark{}
	for rows.Next() {
		var m Mark
		var at, updated pgtype.Timestamptz
		if err := rows.Scan(&m.Agency, &m.DataCenter, &at, &updated); err != nil {
			return Snapshot{}, fmt.Errorf("watermarks: %w", err)
		}
		if at.InfinityModifier == pgtype.Finite {
			m.At, m.Updated = at.Time.UTC(), updated.Time.UTC()
		}
		marks[m.DataCenter] = m
	}
	if err := rows.Err(); err != nil {
		return Snapshot{}, fmt.Errorf("watermarks: %w", err)
	}
	for _, m := range r.expected {
		if _, ok := marks[m.DataCenter]; !ok {
			marks[m.DataCenter] = m
		}
	}
	r.snap = Snapshot{Marks: marks, Taken: now}
	return r.snap, nil
}

// Lagging is a data center an answer depends on whose watermark is
// missing or too old.
type Lagging struct {
	DataCenter string `json:"data_center"`
	Agency     string `json:"agency,omitempty"`
	// Watermark is empty when the store has none for it.
	Watermark  string `json:"watermark,omitempty"`
	AgeSeconds int64  `json:"age_seconds,omitempty"`
}

// AsOf is the oldest watermark among dcs and every data center of
// agencies the store holds records or a watermark of: the instant up to
// which the store holds everything an answer reading them could depend
// on. It also lists, sorted, those whose watermark is older than bound at
// now or missing (records held but no watermark yet; or no data center of
// the agencies known at all).
func (s Snapshot) AsOf(dcs, agencies []string, now time.Time, bound time.Duration) (time.Time, []Lagging) {
	var asOf time.Time
	var lag []Lagging
	seen := map[string]bool{}
	check := func(dc string) {
		if seen[dc] {
			return
		}
		seen[dc] = true
		m, ok := s.Marks[dc]
		if !ok || !m.Known() {
			lag = append(lag, Lagging{DataCenter: dc, Agency: m.Agency})
			return
		}
		if asOf.IsZero() || m.At.Before(asOf) {
			asOf = m.At
		}
		if age := now.Sub(m.At); age > bound {
			lag = append(lag, Lagging{DataCenter: dc, Agency: m.Agency, Watermark: m.At.Format(time.RFC3339), AgeSeconds: int64(age.Seconds())})
		}
	}
	for _, dc := range dcs {
		check(dc)
	}
	// The agencies are one group (the funds, say): a deployment need not
	// connect every one of them, but some data center of the group must
	// have a watermark for an absence to mean anything.
	known := false
	for dc, m := range s.Marks {
		if slices.Contains(agencies, m.Agency) {
			known = true
			check(dc)
		}
	}
	if !known && len(agencies) > 0 {
		g := slices.Clone(agencies)
		slices.Sort(g)
		g = slices.Compact(g)
		lag = append(lag, Lagging{DataCenter: strings.Join(g, "|") + "-*", Agency: strings.Join(g, "|")})
	}
	sort.Slice(lag, func(i, j int) bool { return lag[i].DataCenter < lag[j].DataCenter })
	return asOf, lag
}

// Frozen is an error when no data center's watermark has advanced within
// after while some are known: the store has stopped following its sources
// (a stopped or wedged materializer, a broker that delivers nothing, every
// connector dead). A store with no watermark yet is not frozen: it is
// starting, and every answer says source_stale on its own.
func (r *Reader) Frozen(ctx context.Context, after time.Duration) error {
	s, err := r.Snapshot(ctx)
	if err != nil {
		return err
	}
	if len(s.Marks) == 0 {
		return nil
	}
	var newest Mark
	for _, m := range s.Marks {
		if m.Known() && m.Updated.After(newest.Updated) {
			newest = m
		}
	}
	if !newest.Known() {
		return nil // records, but no watermark yet anywhere: starting
	}
	if age := s.Taken.Sub(newest.Updated); age > after {
		return fmt.Errorf("store frozen: no data center's watermark advanced for %s (the newest, %s's, last moved at %s)",
			age.Round(time.Second), newest.DataCenter, newest.Updated.Format(time.RFC3339))
	}
	return nil
}

// Collector reports askonce_store_watermark_lag_seconds: per data center,
// the time since its watermark, read from the store at scrape time.
type Collector struct {
	r    *Reader
	desc *prometheus.Desc
	age  *prometheus.Desc
}

// NewCollector returns the collector over r; register it once per process.
func NewCollector(r *Reader) *Collector {
	return &Collector{r: r,
		desc: prometheus.NewDesc("askonce_store_watermark_lag_seconds",
			"Time since each data center's watermark: every record it had committed at its source before the watermark is in the store.",
			[]string{"agency", "data_center"}, nil),
		age: prometheus.NewDesc("askonce_store_watermark_advanced_seconds",
			"Time since each data center's watermark last advanced.", []string{"agency", "data_center"}, nil)}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc; ch <- c.age }

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := c.r.Snapshot(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	dcs := make([]string, 0, len(s.Marks))
	for dc, m := range s.Marks {
		if m.Known() {
			dcs = append(dcs, dc)
		}
	}
	slices.Sort(dcs)
	for _, dc := range dcs {
		m := s.Marks[dc]
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, s.Taken.Sub(m.At).Seconds(), m.Agency, dc)
		ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, s.Taken.Sub(m.Updated).Seconds(), m.Agency, dc)
	}
}
