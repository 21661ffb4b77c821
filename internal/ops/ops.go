// Package ops is what every long-running askonce process shares for being
// operated: structured logs (log/slog), a Prometheus registry with the Go
// and process collectors, and a small HTTP server with /metrics, /healthz
// (the process is alive) and /readyz (its dependencies answer).
// It is beside the data flow, not in it: every stage reports through it.
package ops

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every askonce metric.
const Namespace = "askonce"

// NewLogger returns a slog logger writing to w: text when format is "text"
// (or "auto" and w is a terminal), JSON otherwise. Durations are written
// as Go duration strings ("1.5s") in both formats, never as nanoseconds.
func NewLogger(w io.Writer, level, format string) *slog.Logger {
	var lv slog.Level
	switch level {
	case "debug":
		lv = slog.LevelDebug
	case "warn":
		lv = slog.LevelWarn
	case "error":
		lv = slog.LevelError
	default:
		lv = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lv, ReplaceAttr: durationString}
	if format == "text" || (format == "auto" && isTerminal(w)) {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// durationString is the one place where log durations get their form: the
// JSON handler would otherwise write a time.Duration as an integer of
// nanoseconds ("settle":1000000000). slog calls it for every attribute,
// including those inside groups.
func durationString(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// NewRegistry returns a Prometheus registry with the Go runtime and process
// collectors, to which components add their own metrics.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Check is a readiness probe of one dependency; it returns nil when the
// dependency answers.
type Check func(ctx context.Context) error

// Server is the operations HTTP server of one process.
type Server struct {
	reg     *prometheus.Registry
	log     *slog.Logger
	mu      sync.RWMutex
	checks  map[string]Check
	reports map[string]bool // checks that degrade /readyz without failing it
	timeout time.Duration
	ready   *prometheus.GaugeVec
	mux     *http.ServeMux
}

// NewServer returns an ops server over reg. Add readiness checks with AddCheck.
func NewServer(reg *prometheus.Registry, log *slog.Logger) *Server {
	s := &Server{
		reg:     reg,
		log:     log,
		checks:  map[string]Check{},
		reports: map[string]bool{},
		timeout: 3 * time.Second,
		ready: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: Namespace, Subsystem: "ops", Name: "dependency_up",
			Help: "1 when the dependency answered its last readiness check, 0 otherwise.",
		}, []string{"dependency"}),
		mux: http.NewServeMux(),
	}
	reg.MustRegister(s.ready)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg, EnableOpenMetrics: true}))
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	})
	s.mux.HandleFunc("GET /readyz", s.handleReady)
	return s
}

// AddCheck adds a named readiness check; /readyz answers 200 only when all pass.
func (s *Server) AddCheck(name string, c Check) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checks[name] = c
	s.ready.WithLabelValues(name).Set(0)
}

// AddReport adds a named check that /readyz reports without failing: its
// error turns the status to "degraded" (still 200) and
// askonce_ops_dependency_up to 0. For conditions a process answers
// correctly through (the lookup API answers source_stale while the store
// is frozen): taking it out of rotation would hide that answer behind a
// proxy's error page.
func (s *Server) AddReport(name string, c Check) {
	s.AddCheck(name, c)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reports[name] = true
}

// Handler serves /metrics, /healthz and /readyz; it lets an API server
// expose them on its own port as well.
func (s *Server) Handler() http.Handler { return s.mux }

// Ready runs every check and returns each one's error (nil when it passed).
func (s *Server) Ready(ctx context.Context) map[string]error {
	s.mu.RLock()
	names := make([]string, 0, len(s.checks))
	for n := range s.checks {
		names = append(names, n)
	}
	s.mu.RUnlock()
	sort.Strings(names)
	out := make(map[string]error, len(names))
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, n := range names {
		s.mu.RLock()
		c := s.checks[n]
		s.mu.RUnlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, s.timeout)
			defer cancel()
			err := c(cctx)
			mu.Lock()
			out[n] = err
			mu.Unlock()
			if err != nil {
				s.ready.WithLabelValues(n).Set(0)
			} else {
				s.ready.WithLabelValues(n).Set(1)
			}
		}()
	}
	wg.Wait()
	return out
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	res := s.Ready(r.Context())
	body := map[string]string{}
	code := http.StatusOK
	degraded := false
	s.mu.RLock()
	for n, err := range res {
		switch {
		case err == nil:
			body[n] = "ok"
		case s.reports[n]:
			body[n] = err.Error()
			degraded = true
		default:
			body[n] = err.Error()
			code = http.StatusServiceUnavailable
		}
	}
	s.mu.RUnlock()
	status := "ready"
	switch {
	case code != http.StatusOK:
		status = "not ready"
	case degraded:
		status = "degraded"
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"status": status, "checks": body})
}

// Serve listens on addr and serves until ctx ends, then shuts down
// gracefully. It calls bound with the address actually bound (useful with
// port 0) before serving.
func (s *Server) Serve(ctx context.Context, addr string, bound func(string)) error {
	return ServeHTTP(ctx, addr, s.mux, s.log, "ops", bound)
}

// ServeHTTP runs an HTTP server on addr until ctx ends, then shuts it down
// gracefully within 10 seconds. Every askonce HTTP server goes through it,
// so timeouts are the same everywhere.
func ServeHTTP(ctx context.Context, addr string, h http.Handler, log *slog.Logger, name string, bound func(string)) error {
	return ServeHTTPS(ctx, addr, h, log, name, nil, bound)
}

// ServeHTTPS is ServeHTTP over TLS when tc is not nil (HTTPS only).
func ServeHTTPS(ctx context.Context, addr string, h http.Handler, log *slog.Logger, name string, tc *tls.Config, bound func(string)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s server: listen %s: %w", name, addr, err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	scheme := "http://"
	if tc != nil {
		srv.TLSConfig = tc
		scheme = "https://"
	}
	log.Info(name+" server listening", "addr", scheme+ln.Addr().String())
	if bound != nil {
		bound(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() {
		if tc != nil {
			errc <- srv.ServeTLS(ln, "", "")
			return
		}
		errc <- srv.Serve(ln)
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("%s server: %w", name, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s server: shutdown: %w", name, err)
	}
	return nil
}

// DefaultListen picks the ops address of a subcommand: the configured one,
// or the subcommand's default.
func DefaultListen(configured, fallback string) string {
	if strings.TrimSpace(configured) != "" {
		return configured
	}
	return fallback
}

// ServePprof serves Go's runtime profiles (/debug/pprof/) on addr until ctx
// ends: a listener of its own, so the profiles are never on an API port.
func ServePprof(ctx context.Context, addr string, log *slog.Logger) error {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return ServeHTTP(ctx, addr, mux, log, "pprof", nil)
}
