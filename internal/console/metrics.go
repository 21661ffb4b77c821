package console

import "github.com/prometheus/client_golang/prometheus"

// metrics of the console; labels are bounded (results and outcomes, never
// an id or a NIN).
type metrics struct {
	signIns  *prometheus.CounterVec
	requests *prometheus.CounterVec
	verify   *prometheus.CounterVec
	sessions prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		signIns: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "askonce", Subsystem: "console",
			Name: "sign_ins_total", Help: "Clerk console sign-in attempts by result (ok, refused, invalid, csrf, rate_limited, full, unavailable)."}, []string{"result"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "askonce", Subsystem: "console",
			Name: "requests_total", Help: "Document requests made from the clerk console, by outcome (the API's, source_stale for its 503 not_held answers, unavailable)."}, []string{"outcome"}),
		verify: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "askonce", Subsystem: "console",
			Name: "verify_checks_total", Help: "Public /verify checks by method (code, signature) and result."}, []string{"method", "result"}),
		sessions: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "askonce", Subsystem: "console",
			Name: "sessions", Help: "Clerk console sessions held (as of the last sign-in or sign-out)."}),
	}
	reg.MustRegister(m.signIns, m.requests, m.verify, m.sessions)
	return m
}
