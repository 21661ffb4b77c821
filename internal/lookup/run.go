package lookup

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
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/askonce/askonce/internal/attest"
	"github.com/askonce/askonce/internal/audit"
	"github.com/askonce/askonce/internal/config"
	"github.com/askonce/askonce/internal/console"
	"github.com/askonce/askonce/internal/ops"
	"github.com/askonce/askonce/internal/registry"
	"github.com/askonce/askonce/internal/wiring"
)

// keyringSigner signs with an attest.Keyring.
type keyringSigner struct{ k *attest.Keyring }

func (s keyringSigner) Canonical(v any) ([]byte, error) { return attest.Canonical(v) }
func (s keyringSigner) PublicKeys() any                 { return s.k.KeySet() }
func (s keyringSigner) Sign(p []byte) Signature {
	sig := s.k.Sign(p)
	return Signature{Alg: sig.Alg, KID: sig.KID, Value: sig.Value}
}

// auditLog appends to an audit.Log.
type auditLog struct{ l *audit.Log }

func (a auditLog) Append(ctx context.Context, e AuditEntry) error {
	var with []audit.Row
	if t := e.Attestation; t != nil {
		with = append(with, audit.Row{Table: "attestations", Columns: attestationColumns,
			Values: []any{t.ID, t.Client, t.DocumentType, t.NIN, t.IssuedAt, t.Document, string(t.Signature)}})
	}
	_, err := a.l.AppendWith(ctx, audit.Entry{At: e.At, RequestID: e.RequestID, Client: e.Client, ClerkID: e.ClerkID, NIN: e.NIN,
		DocumentType: e.DocumentType, Purpose: e.Purpose, Outcome: e.Outcome, Reason: e.Reason, DocumentID: e.DocumentID}, with...)
	return err
}

var attestationColumns = []string{"id", "client", "document_type", "nin", "issued_at", "document", "signature"}

func (a auditLog) ForCitizen(ctx context.Context, nin string, limit int) ([]AuditEntry, error) {
	es, err := a.l.ForCitizen(ctx, nin, limit)
	if err != nil {
		return nil, err
	}
	out := make([]AuditEntry, len(es))
	for i, e := range es {
		out[i] = AuditEntry{At: e.At, RequestID: e.RequestID, Client: e.Client, ClerkID: e.ClerkID, NIN: e.NIN,
			DocumentType: e.DocumentType, Purpose: e.Purpose, Outcome: e.Outcome, Reason: e.Reason, DocumentID: e.DocumentID}
	}
	return out, nil
}

// Run is `askonce serve`: the lookup API and the ops endpoints of opsSrv
// (/metrics, /healthz, /readyz) on cfg.Lookup.Listen, until ctx ends. Each value on reload re-reads the
// policy (SIGHUP). bound, when not nil, is told the address listened on.
func Run(ctx context.Context, cfg *config.Config, reg prometheus.Registerer, opsSrv *ops.Server, log *slog.Logger, reload <-chan os.Signal, bound func(string)) error {
	pool, err := wiring.OpenPostgres(ctx, cfg.Postgres)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := Migrate(ctx, pool, log); err != nil {
		return err
	}
	if err := audit.Migrate(ctx, pool, log); err != nil {
		return err
	}
	keys, err := attest.LoadKeyring(cfg.Lookup.SigningKeysDir, attest.KeyringOptions{Create: cfg.Lookup.CreateSigningKey})
	if err != nil {
		return err
	}
	opsSrv.AddCheck("postgres", pool.Ping)

	rc, err := registry.NewClient(wiring.RegistryClient(cfg.Registry))
	if err != nil {
		return err
	}
	// The audit table is the record; the topic mirror starts when Kafka and
	// the registry answer, and catches up from its checkpoint.
	alog := audit.New(pool, audit.Options{}, sharedRegisterer{reg}, log)
	opsSrv.AddCheck("audit", alog.Healthy)

	fresh := NewFreshness(pool, cfg.Lookup.StaleAfter)
	if cfg.Lookup.FrozenAfter > 0 {
		// Reported, not failed: every API instance reads the same store, and
		// out of rotation they would hide their source_stale answers.
		opsSrv.AddReport("watermarks", func(ctx context.Context) error { return fresh.Reader().Frozen(ctx, cfg.Lookup.FrozenAfter) })
	}
	svc, err := NewService(Options{MaxBodyBytes: cfg.Lookup.MaxBodyBytes, RequestTimeout: cfg.Lookup.RequestTimeout,
		PolicyFile: cfg.Lookup.PolicyFile, DevMode: cfg.Lookup.DevMode},
		pool, fresh, keyringSigner{keys}, auditLog{alog}, reg, log)
	if err != nil {
		return err
	}
	if svc.policy.Load().DevOnly() {
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
	if cfg.Lookup.PublicURL != "" {
		if copt.PublicURL, err = url.Parse(cfg.Lookup.PublicURL); err != nil {
			return fmt.Errorf("lookup.public_url: %w", err)
		}
	}
	con, err := console.New(copt, svc.Handler(), pool, keys.KeySet, reg, log.With("component", "console"))
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
		conn, err := wiring.OpenBus(gctx, cfg, rc.Bus(), log)
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
	g.Go(func() error {
		for {
			select {
			case <-gctx.Done():
				return nil
			case <-reload:
				if err := svc.ReloadPolicy(); err != nil {
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
