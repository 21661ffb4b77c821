package wiring

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/askonce/askonce/internal/attest"
	"github.com/askonce/askonce/internal/audit"
	"github.com/askonce/askonce/internal/clientaddr"
	"github.com/askonce/askonce/internal/config"
	"github.com/askonce/askonce/internal/console"
	"github.com/askonce/askonce/internal/lookup"
	"github.com/askonce/askonce/internal/ops"
	"github.com/askonce/askonce/internal/policy"
	"github.com/askonce/askonce/internal/registry"
	"github.com/askonce/askonce/internal/synth"
)

// Serve is `askonce serve`: the lookup API, the clerk console and public
// /verify pages beside it, and the ops endpoints of opsSrv (/metrics,
// /healthz, /readyz), on cfg.Lookup.Listen until ctx ends. pol is the
// policy; nil loads it from lookup.policy_file. It is reloaded when its
// file changes (lookup.policy_poll); each value on reload re-reads the
// policy and the signing keys (SIGHUP). bound, when not nil,
// is told the address listened on.
func Serve(ctx context.Context, cfg *config.Config, reg prometheus.Registerer, opsSrv *ops.Server, log *slog.Logger, pol *policy.Watcher, reload <-chan os.Signal, bound func(string)) error {
	pol, err := policyOr(pol, cfg, log)
	if err != nil {
		return err
	}
	pool, err := OpenStore(ctx, cfg, opsSrv, lookup.CheckSchema, audit.CheckSchema)
	if err != nil {
		return err
	}
	defer pool.Close()
	keys, err := attest.LoadKeyring(cfg.Lookup.SigningKeysDir, attest.KeyringOptions{Create: cfg.Lookup.CreateSigningKey})
	if err != nil {
		return err
	}

	rc, err := registry.NewClient(RegistryClient(cfg.Registry))
	if err != nil {
		return err
	}
	// The audit table is the record; the topic mirror starts when Kafka and
	// the registry answer, and catches up from its checkpoint.
	alog := audit.New(pool, audit.Options{}, sharedRegisterer{reg}, log)
	opsSrv.AddCheck("audit", alog.Healthy)

	fresh := lookup.NewFreshness(pool, cfg.Lookup.StaleAfter)
	for _, dc := range ExpectedDataCenters(cfg) {
		fresh.Reader().Expect(dc.Agency, dc.Name)
	}
	if cfg.Lookup.FrozenAfter > 0 {
		// Reported, not failed: every API instance reads the same store, and
		// out of rotation they would hide their source_stale answers.
		opsSrv.AddReport("watermarks", func(ctx context.Context) error { return fresh.Reader().Frozen(ctx, cfg.Lookup.FrozenAfter) })
	}
	svc, err := lookup.NewService(lookup.Options{MaxBodyBytes: cfg.Lookup.MaxBodyBytes, RequestTimeout: cfg.Lookup.RequestTimeout,
		Policy: pol.Current},
		pool, fresh, lookup.KeyringSigner(keys), lookup.AuditLog(alog), reg, log)
	if err != nil {
		return err
	}
	if pol.Current().DevOnly() {
		// Something to act on only where others can reach the server.
		lvl := slog.LevelWarn
		if loopbackOnly(cfg.Lookup.Listen) {
			lvl = slog.LevelInfo
		}
		log.Log(ctx, lvl, "DEV MODE: the policy holds well-known API keys (dev-<client>-key); never expose this server", "listen", cfg.Lookup.Listen)
	}
	mux := http.NewServeMux()
	mux.Handle("/", svc.Handler())
	// The clerk console (/console) and the public /verify pages: a client
	// of the same API handler, in process.
	copt := console.Options{Identify: svc.ClientByAPIKey}
	if copt.ClientAddr, err = clientaddr.New(cfg.Lookup.TrustedProxies, clientaddr.Header(cfg.Lookup.ForwardedHeader)); err != nil {
		return fmt.Errorf("lookup.trusted_proxies: %w", err)
	}
	if cfg.Lookup.PublicURL != "" {
		if copt.PublicURL, err = url.Parse(cfg.Lookup.PublicURL); err != nil {
			return fmt.Errorf("lookup.public_url: %w", err)
		}
	}
	con, err := console.New(copt, svc.Handler(), lookup.NewAttestations(pool), keys.KeySet, reg, log.With("component", "console"))
	if err != nil {
		return err
	}
	con.Register(mux)
	for _, p := range []string{"GET /metrics", "GET /healthz", "GET /readyz"} {
		mux.Handle(p, opsSrv.Handler())
	}

	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 15 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 32 << 10,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	scheme := "http"
	if cfg.Lookup.TLSCertFile != "" {
		tc, err := serverTLS(cfg.Lookup)
		if err != nil {
			return err
		}
		srv.TLSConfig = tc
		scheme = "https"
	}
	ln, err := net.Listen("tcp", cfg.Lookup.Listen)
	if err != nil {
		return fmt.Errorf("lookup: listen %s: %w", cfg.Lookup.Listen, err)
	}
	if bound != nil {
		bound(ln.Addr().String())
	}
	log.Info("lookup API listening", "url", scheme+"://"+ln.Addr().String(), "policy", cfg.Lookup.PolicyFile, "signing_key", keys.ActiveKID())

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return alog.Run(gctx) })
	g.Go(func() error {
		conn, err := OpenBus(gctx, cfg, rc.Bus(), log)
		if err != nil {
			if gctx.Err() != nil {
				return nil
			}
			log.Error("audit topic mirror off: the audit table still records every request", "err", err)
			return nil
		}
		defer conn.Client.Close()
		alog.Mirror(gctx, conn)
		return nil
	})
	if cfg.Lookup.PolicyPoll > 0 {
		g.Go(func() error { pol.Poll(gctx, cfg.Lookup.PolicyPoll); return nil })
	}
	g.Go(func() error {
		for {
			select {
			case <-gctx.Done():
				return nil
			case <-reload:
				if err := pol.Reload(); err != nil {
					log.Error("policy reload failed; the previous policy stays in force", "err", err)
				}
				if err := keys.Reload(); err != nil {
					log.Error("signing keys reload failed", "err", err)
				}
			}
		}
	})
	g.Go(func() error {
		var err error
		if srv.TLSConfig != nil {
			err = srv.ServeTLS(ln, "", "")
		} else {
			err = srv.Serve(ln)
		}
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	})
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), cfg.Ops.ShutdownTimeout)
		defer cancel()
		return srv.Shutdown(sctx)
	})
	return g.Wait()
}

func serverTLS(c config.Lookup) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(c.TLSCertFile, c.TLSKeyFile)
	if err != nil {
		return nil, fmt.Errorf("lookup: TLS certificate: %w", err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if c.ClientCAFile != "" {
		pem, err := os.ReadFile(c.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("lookup: client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("lookup: client CA %s holds no PEM certificate", c.ClientCAFile)
		}
		tc.ClientCAs = pool
		// Verified when presented; API keys remain possible without one.
		tc.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return tc, nil
}

// loopbackOnly reports whether addr (host:port) listens on a loopback
// address only.
func loopbackOnly(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ExpectedDataCenters are the data centers the API must have heard from
// before it claims an as_of for their agency (lookup.data_centers).
func ExpectedDataCenters(cfg *config.Config) []synth.DataCenter {
	out := make([]synth.DataCenter, 0, len(cfg.Lookup.DataCenters))
	for _, s := range cfg.Lookup.DataCenters {
		a, d, _ := strings.Cut(s, "/") // validated by config
		out = append(out, synth.DataCenter{Agency: a, Name: d})
	}
	return out
}
