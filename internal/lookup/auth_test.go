package lookup_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/askonce/askonce/internal/config"
	"github.com/askonce/askonce/internal/dbroles"
	"github.com/askonce/askonce/internal/ops"
	"github.com/askonce/askonce/internal/policy"
	"github.com/askonce/askonce/internal/store"
	"github.com/askonce/askonce/internal/testenv"
	"github.com/askonce/askonce/internal/wiring"
	"github.com/askonce/askonce/internal/wiring/migratewire"
)

type pki struct {
	caPEM, serverCert, serverKey string
	client                       tls.Certificate
	clientFP                     string
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	testenv.Must(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600), "write %s", path)
}

// newPKI makes a CA, a server certificate for 127.0.0.1 and a client certificate.
func newPKI(t *testing.T) pki {
	t.Helper()
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "askonce test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	testenv.Must(t, err, "ca")
	ca, _ := x509.ParseCertificate(caDER)
	leaf := func(cn string, usage x509.ExtKeyUsage, ip bool) ([]byte, *ecdsa.PrivateKey) {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{usage},
			KeyUsage: x509.KeyUsageDigitalSignature}
		if ip {
			tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		testenv.Must(t, err, "leaf")
		return der, k
	}
	p := pki{caPEM: filepath.Join(dir, "ca.pem"), serverCert: filepath.Join(dir, "server.pem"), serverKey: filepath.Join(dir, "server.key")}
	writePEM(t, p.caPEM, "CERTIFICATE", caDER)
	sDER, sKey := leaf("api", x509.ExtKeyUsageServerAuth, true)
	writePEM(t, p.serverCert, "CERTIFICATE", sDER)
	b, _ := x509.MarshalPKCS8PrivateKey(sKey)
	writePEM(t, p.serverKey, "PRIVATE KEY", b)
	cDER, cKey := leaf("cnr-backoffice", x509.ExtKeyUsageClientAuth, false)
	p.client = tls.Certificate{Certificate: [][]byte{cDER}, PrivateKey: cKey}
	sum := sha256.Sum256(cDER)
	p.clientFP = "sha256:" + hex.EncodeToString(sum[:])
	return p
}

// TestAuthTLSRateLimitAndReload: a client authenticated by its certificate
// over mutual TLS, a client over its rate limit (429), and a policy change
// applied on SIGHUP (a revoked key is refused; a broken policy keeps the
// previous one in force).
func TestAuthTLSRateLimitAndReload(t *testing.T) {
	ctx := testenv.Ctx(t, 2*time.Minute)
	p := newPKI(t)
	policyFile := filepath.Join(t.TempDir(), "policy.yaml")
	write := func(body string) { testenv.Must(t, os.WriteFile(policyFile, []byte(body), 0o600), "policy") }
	const tmpl = `clients:
  - id: cnr
    certificates: ["%s"]
    rate: 100
    allow: [{purpose: pension-life-proof, documents: [life-certificate]}]
  - id: cnas
    api_keys: ["%s"]
    rate: 1
    burst: 2
    allow: [{purpose: benefit-eligibility, documents: [contribution-status]}]
`
	write(fmt.Sprintf(tmpl, p.clientFP, policy.HashKey("cnas-secret-1")))

	reload := make(chan os.Signal, 1)
	addr, pool := startAPI(t, ctx, policyFile, reload, func(cfg *config.Config) {
		cfg.Lookup.TLSCertFile, cfg.Lookup.TLSKeyFile, cfg.Lookup.ClientCAFile = p.serverCert, p.serverKey, p.caPEM
	})
	base := "https://" + addr
	caPEM, _ := os.ReadFile(p.caPEM)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	withCert := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{p.client}}}}
	noCert := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	post := func(c *http.Client, key, doc, purpose string) int {
		t.Helper()
		body := fmt.Sprintf(`{"document_type":%q,"nin":"109859916000420137","purpose":%q,"clerk_id":"t"}`, doc, purpose)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/document-requests", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("X-API-Key", key)
		}
		resp, err := c.Do(req)
		testenv.Must(t, err, "post")
		io.Copy(io.Discard, resp.Body) //nolint:errcheck // drain
		resp.Body.Close()
		return resp.StatusCode
	}

	// mTLS: the certificate is the credential. No record is held, and no
	// data center was ever heard from: not_held (404), but authenticated.
	if s := post(withCert, "", "life-certificate", "pension-life-proof"); s != 404 {
		t.Fatalf("client certificate: %d, want 404 (authenticated, not held)", s)
	}
	if s := post(noCert, "", "life-certificate", "pension-life-proof"); s != 401 {
		t.Fatalf("no certificate, no key: %d, want 401", s)
	}
	// Rate limit: burst 2, then 429 with Retry-After.
	var codes []int
	for i := 0; i < 5; i++ {
		codes = append(codes, post(noCert, "cnas-secret-1", "contribution-status", "benefit-eligibility"))
	}
	if codes[0] == 429 || codes[4] != 429 {
		t.Fatalf("rate limit: %v", codes)
	}

	// SIGHUP: the key is rotated; the old one is refused, the new one accepted.
	write(fmt.Sprintf(tmpl, p.clientFP, policy.HashKey("cnas-secret-2")))
	reload <- syscall.SIGHUP
	waitStatus := func(key string, want int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			s := post(noCert, key, "contribution-status", "benefit-eligibility")
			if s == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("key %s: %d, want %d", key, s, want)
			}
			time.Sleep(600 * time.Millisecond) // let the bucket refill
		}
	}
	waitStatus("cnas-secret-1", 401)
	waitStatus("cnas-secret-2", 404)
	// A broken policy is refused on reload; the previous one stays in force.
	write("clients: [{id: cnas, rate: 1}]\n")
	reload <- syscall.SIGHUP
	time.Sleep(200 * time.Millisecond)
	waitStatus("cnas-secret-2", 404)

	// Every request above is audited, the refused ones included.
	var n int
	testenv.Must(t, pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE outcome IN ('unauthenticated', 'not_held')`).Scan(&n), "audit")
	if n < 4 {
		t.Errorf("audit log holds %d entries", n)
	}
}

// startAPI runs `askonce serve` (wiring.Serve) on policyFile, a private
// database kept fresh, a new signing key and no Kafka (the audit mirror
// is off, the API still serves) until the test ends; edit adjusts the
// configuration. It returns the address listened on and the store.
func startAPI(t *testing.T, ctx context.Context, policyFile string, reload <-chan os.Signal, edit func(*config.Config)) (string, *pgxpool.Pool) {
	t.Helper()
	cfg := config.Default()
	db := testenv.Database(t, migratewire.Migrations...)
	cfg.Postgres.URL = db.URL(dbroles.API)
	cfg.Kafka.Brokers = []string{"127.0.0.1:1"}
	cfg.Registry.URL = "http://127.0.0.1:1"
	cfg.Lookup.Listen = "127.0.0.1:0"
	cfg.Lookup.PolicyFile = policyFile
	cfg.Lookup.SigningKeysDir = t.TempDir()
	cfg.Lookup.CreateSigningKey = true
	edit(&cfg)
	pool, err := store.OpenURL(ctx, db.Admin, 2)
	testenv.Must(t, err, "store")
	t.Cleanup(pool.Close)
	keepFresh(t, ctx, pool)

	log := ops.NewLogger(io.Discard, "error", "json")
	addr := make(chan string, 1)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		reg := ops.NewRegistry()
		done <- wiring.Serve(runCtx, &cfg, reg, ops.NewServer(reg, log), log, nil, reload, func(a string) { addr <- a })
	}()
	select {
	case a := <-addr:
		t.Cleanup(func() {
			stop()
			if err := <-done; err != nil {
				t.Errorf("wiring.Serve: %v", err)
			}
		})
		return a, pool
	case err := <-done:
		stop()
		t.Fatalf("wiring.Serve: %v", err)
		return "", nil
	}
}
