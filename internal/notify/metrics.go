package notify

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/askonce/askonce/internal/portfolio"
)

type metrics struct {
	notifications    *prometheus.CounterVec
	records          *prometheus.CounterVec
	skipped          *prometheus.CounterVec
	suppressed       prometheus.Counter
	unroutable       *prometheus.CounterVec
	portfolioChanges *prometheus.CounterVec
	portfolioSize    *prometheus.GaugeVec
	lag              *prometheus.GaugeVec
	batchErrors      prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	o := func(name, help string) prometheus.Opts {
		return prometheus.Opts{Namespace: "askonce", Subsystem: "notify", Name: name, Help: help}
	}
	m := &metrics{
		notifications: prometheus.NewCounterVec(prometheus.CounterOpts(o("notifications_total",
			"Notifications emitted (acknowledged by Kafka), by agency and kind of change.")), []string{"agency", "kind"}),
		records: prometheus.NewCounterVec(prometheus.CounterOpts(o("records_total",
			"Messages routed, by topic (record topics and askonce.portfolio.<agency>).")), []string{"topic"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts(o("records_skipped_total",
			"Record messages that cannot decode or break the rules: skipped (the materializer dead-letters them).")), []string{"topic"}),
		suppressed: prometheus.NewCounter(prometheus.CounterOpts(o("duplicates_suppressed_total",
			"Notifications not emitted because notify_sent holds that version or a newer one (replays, duplicates, stale versions)."))),
		unroutable: prometheus.NewCounterVec(prometheus.CounterOpts(o("unroutable_total",
			"Notifications for an agency without a notification topic (not in kafka.topics.agencies): not emitted.")), []string{"agency"}),
		portfolioChanges: prometheus.NewCounterVec(prometheus.CounterOpts(o("portfolio_changes_total",
			"Changes read from the askonce.portfolio.<agency> topics: applied, stale (older than the stored entry) or rejected (to the DLQ).")), []string{"outcome"}),
		portfolioSize: prometheus.NewGaugeVec(prometheus.GaugeOpts(o("portfolio_members",
			"Citizens in each agency's portfolio (refreshed every 30s).")), []string{"agency"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts(o("consumer_lag_messages",
			"High watermark minus the next offset to route, per partition.")), []string{"topic", "partition"}),
		batchErrors: prometheus.NewCounter(prometheus.CounterOpts(o("batch_errors_total",
			"Batch attempts that failed and were retried."))),
	}
	reg.MustRegister(m.notifications, m.records, m.skipped, m.suppressed, m.unroutable, m.portfolioChanges, m.portfolioSize, m.lag, m.batchErrors)
	return m
}

// WatchPortfolios refreshes the portfolio size gauge until ctx ends.
func (rt *Router) WatchPortfolios(ctx context.Context, every time.Duration) {
	st := portfolio.NewStore(rt.pool)
	for {
		sizes, err := st.Sizes(ctx)
		if err == nil {
			rt.m.portfolioSize.Reset()
			for a, n := range sizes {
				rt.m.portfolioSize.WithLabelValues(a).Set(float64(n))
			}
		} else if ctx.Err() == nil {
			rt.log.Warn("portfolio sizes", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}
