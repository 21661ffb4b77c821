package lookup_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/askonce/askonce/internal/audit"
	"github.com/askonce/askonce/internal/config"
	"github.com/askonce/askonce/internal/dbroles"
	"github.com/askonce/askonce/internal/lookup"
	"github.com/askonce/askonce/internal/ops"
	"github.com/askonce/askonce/internal/policy"
	"github.com/askonce/askonce/internal/store"
	"github.com/askonce/askonce/internal/testenv"
	"github.com/askonce/askonce/internal/wiring"
	"github.com/askonce/askonce/internal/wiring/migratewire"
)

// syncBuffer collects a logger's output from many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// secAPI is `askonce serve` (wiring.Serve) on a production-like policy (not
// dev_only, hashed random keys), logging JSON at info level into logs.
type secAPI struct {
	t      *testing.T
	ctx    context.Context
	base   string
	pool   *pgxpool.Pool
	policy string
	reload chan os.Signal
	logs   *syncBuffer
	keys   map[string]string // client id -> API key
}

const secPolicy = `clients:
  - id: cnr
    name: "CNR"
    api_keys: ["%s"]
    rate: 1000
    burst: 1000
    allow:
      - purpose: pension-life-proof
        documents: [life-certificate, death-certificate]
      - purpose: pension-death-watch
        documents: [death-certificate, marriage-certificate]
  - id: cnas
    name: "CNAS"
    api_keys: ["%s"]
    rate: 1000
    burst: 1000
    allow:
      - purpose: benefit-eligibility
        documents: [contribution-status, affiliation-certificate]
      - purpose: insured-events
        documents: [death-certificate]
  - id: citizen-portal
    name: "Portail citoyen"
    api_keys: ["%s"]
    rate: 1000
    burst: 1000
    allow:
      - purpose: citizen-access-log
  - id: slow
    name: "A client with a low rate"
    api_keys: ["%s"]
    rate: 1
    burst: 2
    allow:
      - purpose: pension-life-proof
        documents: [life-certificate]
  - id: metered
    name: "A client whose budget is watched"
    api_keys: ["%s"]
    rate: 0.5
    burst: 4
    allow:
      - purpose: pension-life-proof
        documents: [life-certificate]
`

func (a *secAPI) writePolicy() {
	a.t.Helper()
	hash := func(id string) string {
		if k, ok := a.keys[id]; ok {
			return policy.HashKey(k)
		}
		return "sha256:" + strings.Repeat("0", 64) // a client whose key was revoked
	}
	body := fmt.Sprintf(secPolicy, hash("cnr"), hash("cnas"), hash("citizen-portal"), hash("slow"), hash("metered"))
	testenv.Must(a.t, os.WriteFile(a.policy, []byte(body), 0o600), "policy")
}

func startSecAPI(t *testing.T) *secAPI {
	t.Helper()
	ctx := testenv.Ctx(t, 4*time.Minute)
	a := &secAPI{t: t, ctx: ctx, policy: filepath.Join(t.TempDir(), "policy.yaml"), reload: make(chan os.Signal, 1),
		logs: &syncBuffer{}, keys: map[string]string{}}
	for _, id := range []string{"cnr", "cnas", "citizen-portal", "slow", "metered"} {
		a.keys[id] = "sk_" + testenv.Random(20)
	}
	a.writePolicy()
	cfg := config.Default()
	db := testenv.Database(t, migratewire.Migrations...)
	cfg.Postgres.URL = db.URL(dbroles.API)
	cfg.Kafka.Brokers = []string{"127.0.0.1:1"} // no Kafka: the audit table is the record
	cfg.Registry.URL = "http://127.0.0.1:1"
	cfg.Lookup.Listen = "127.0.0.1:0"
	cfg.Lookup.PolicyFile = a.policy
	cfg.Lookup.SigningKeysDir = t.TempDir()
	cfg.Lookup.CreateSigningKey = true
	var err error
	a.pool, err = store.OpenURL(ctx, db.Admin, 2)
	testenv.Must(t, err, "store")
	t.Cleanup(a.pool.Close)
	// No materializer runs here: the store holds nothing and follows its
	// (absent) sources closely, as one whose connectors write watermarks.
	keepFresh(t, ctx, a.pool)

	log := ops.NewLogger(a.logs, "info", "json")
	addr := make(chan string, 1)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		reg := ops.NewRegistry()
		done <- wiring.Serve(runCtx, &cfg, reg, ops.NewServer(reg, log), log, nil, a.reload, func(s string) { addr <- s })
	}()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("wiring.Serve: %v", err)
		}
	})
	select {
	case s := <-addr:
		a.base = "http://" + s
	case err := <-done:
		t.Fatalf("wiring.Serve: %v", err)
	}
	return a
}

// call is one HTTP exchange; the answer is decoded when it is JSON.
type call struct {
	method, path, key, body string
	header                  map[string]string
}

type reply struct {
	status    int
	requestID string
	ctype     string
	body      map[string]any
	raw       []byte
}

// do sends c; a 429 of the anonymous rate limit (unauthenticated callers
// share 20/s) is waited out, since the test is about the answer after it.
func (a *secAPI) do(c call) reply {
	a.t.Helper()
	for attempt := 0; ; attempt++ {
		var rd io.Reader
		if c.body != "" {
			rd = strings.NewReader(c.body)
		}
		req, err := http.NewRequestWithContext(a.ctx, c.method, a.base+c.path, rd)
		testenv.Must(a.t, err, "request %s %s", c.method, c.path)
		if c.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if c.key != "" {
			req.Header.Set("Authorization", "Bearer "+c.key)
		}
		for k, v := range c.header {
			req.Header[k] = []string{v}
		}
		resp, err := http.DefaultClient.Do(req)
		testenv.Must(a.t, err, "%s %s", c.method, c.path)
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests && attempt < 30 {
			time.Sleep(time.Second)
			continue
		}
		r := reply{status: resp.StatusCode, requestID: resp.Header.Get("X-Request-ID"), ctype: resp.Header.Get("Content-Type"), raw: raw}
		_ = json.Unmarshal(raw, &r.body)
		return r
	}
}

// audited returns the audit entry of a request id ("" outcome when none).
func (a *secAPI) audited(requestID string) (outcome, reason, client string) {
	a.t.Helper()
	rows, err := a.pool.Query(a.ctx, `SELECT outcome, reason, client FROM audit_log WHERE request_id = $1`, requestID)
	testenv.Must(a.t, err, "audit")
	defer rows.Close()
	n := 0
	for rows.Next() {
		testenv.Must(a.t, rows.Scan(&outcome, &reason, &client), "audit row")
		n++
	}
	testenv.Must(a.t, rows.Err(), "audit rows")
	if n > 1 {
		a.t.Errorf("request %s audited %d times", requestID, n)
	}
	return outcome, reason, client
}

func docBody(doc, n, purpose, clerk string) string {
	b, _ := json.Marshal(map[string]string{"document_type": doc, "nin": n, "purpose": purpose, "clerk_id": clerk})
	return string(b)
}

// secCase is one refused request: its status, problem type and audit outcome.
type secCase struct {
	name    string
	call    call
	status  int
	problem string // last segment of the problem type
	outcome string // audited outcome; "" = must not be in the audit log
	client  string // audited client ("-" when unauthenticated)
}

func (a *secAPI) check(c secCase) {
	a.t.Helper()
	r := a.do(c.call)
	if r.status != c.status || r.ctype != "application/problem+json" || r.body["type"] != "https://askonce.dz/problems/"+c.problem {
		a.t.Errorf("%s: %d %s %s, want %d %s", c.name, r.status, r.ctype, r.raw, c.status, c.problem)
		return
	}
	if r.body["request_id"] != r.requestID || !regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`).MatchString(r.requestID) {
		a.t.Errorf("%s: request id %q in the header, %v in the body", c.name, r.requestID, r.body["request_id"])
	}
	outcome, reason, client := a.audited(r.requestID)
	if outcome != c.outcome || (c.outcome != "" && client != c.client) {
		a.t.Errorf("%s: audited %q (%s) for client %q, want %q for %q", c.name, outcome, reason, client, c.outcome, c.client)
	}
}

// TestSecurityRefusals: every way of asking what one may not is refused
// with its status and problem type, and is in the audit log.
func TestSecurityRefusals(t *testing.T) {
	a := startSecAPI(t)
	n := nin('1', 1958, 301)
	cnr, cnas, portal := a.keys["cnr"], a.keys["cnas"], a.keys["citizen-portal"]
	life := docBody(lookup.DocLife, n, "pension-life-proof", "clerk-1")
	member := `{"kinds":["DEATH"],"purpose":"pension-death-watch"}`

	cases := []secCase{
		{"no credentials", call{method: "POST", path: "/v1/document-requests", body: life}, 401, "unauthenticated", "unauthenticated", "-"},
		{"wrong key", call{method: "POST", path: "/v1/document-requests", key: "sk_" + testenv.Random(20), body: life}, 401, "unauthenticated", "unauthenticated", "-"},
		{"another client's key hash as key", call{method: "POST", path: "/v1/document-requests", key: policy.HashKey(cnr), body: life}, 401, "unauthenticated", "unauthenticated", "-"},
		{"key in X-API-Key, wrong", call{method: "POST", path: "/v1/document-requests", header: map[string]string{"X-Api-Key": "dev-cnr-key"}, body: life}, 401, "unauthenticated", "unauthenticated", "-"},
		{"dev key on a production policy", call{method: "POST", path: "/v1/document-requests", key: "dev-cnr-key", body: life}, 401, "unauthenticated", "unauthenticated", "-"},
		{"right key, wrong purpose", call{method: "POST", path: "/v1/document-requests", key: cnr, body: docBody(lookup.DocLife, n, "benefit-eligibility", "clerk-1")}, 403, "denied", "denied", "cnr"},
		{"right key, wrong document type", call{method: "POST", path: "/v1/document-requests", key: cnr, body: docBody(lookup.DocBirth, n, "pension-life-proof", "clerk-1")}, 403, "denied", "denied", "cnr"},
		{"right key, another client's grant", call{method: "POST", path: "/v1/document-requests", key: cnas, body: life}, 403, "denied", "denied", "cnas"},
		{"access log asked by an agency", call{method: "GET", path: "/v1/citizens/" + n + "/access-log", key: cnr}, 403, "denied", "denied", "cnr"},
		{"access log without credentials", call{method: "GET", path: "/v1/citizens/" + n + "/access-log"}, 401, "unauthenticated", "unauthenticated", "-"},
		{"access log with a wrong key", call{method: "GET", path: "/v1/citizens/" + n + "/access-log", key: "sk_" + testenv.Random(20)}, 401, "unauthenticated", "unauthenticated", "-"},
		{"another agency's portfolio: put", call{method: "PUT", path: "/v1/portfolios/cnr/members/" + n, key: cnas, body: member}, 403, "denied", "denied", "cnas"},
		{"another agency's portfolio: read", call{method: "GET", path: "/v1/portfolios/cnr/members?nin=" + n, key: cnas}, 403, "denied", "denied", "cnas"},
		{"another agency's portfolio: list", call{method: "GET", path: "/v1/portfolios/cnr/members", key: cnas}, 403, "denied", "denied", "cnas"},
		{"another agency's portfolio: delete", call{method: "DELETE", path: "/v1/portfolios/cnr/members/" + n, key: cnas}, 403, "denied", "denied", "cnas"},
		{"another agency's portfolio: bulk", call{method: "POST", path: "/v1/portfolios/cnr/members:bulk", key: cnas, body: `[{"nin":"` + n + `","kinds":["DEATH"],"purpose":"insured-events"}]`}, 403, "denied", "denied", "cnas"},
		{"portfolio without credentials", call{method: "PUT", path: "/v1/portfolios/cnr/members/" + n, body: member}, 401, "unauthenticated", "unauthenticated", "-"},
		{"portfolio purpose not granted", call{method: "PUT", path: "/v1/portfolios/cnas/members/" + n, key: cnas, body: member}, 403, "denied", "denied", "cnas"},
		{"attestation without credentials", call{method: "GET", path: "/v1/attestations/doc_0123456789abcdef01234567"}, 401, "unauthenticated", "unauthenticated", "-"},
		{"attestation unknown to the client", call{method: "GET", path: "/v1/attestations/doc_0123456789abcdef01234567", key: cnr}, 404, "not-found", "denied", "cnr"},
	}

	// SQL metacharacters, NUL bytes, control characters and odd Unicode in
	// every field, path parameter and header that reaches the store.
	hostile := []string{
		`' OR 1=1 --`, `'; DROP TABLE audit_log; --`, `"; DROP TABLE persons; --`, "1\x00' OR '1'='1", `\'; SELECT pg_sleep(5); --`,
		"$1", "%27%20OR%201%3D1", "Ω≈ç√ 𝕏 \u202egnp.exe", "a\r\nX-Injected: yes", strings.Repeat("'", 300), "109859916000420137' --",
		"\xff\xfe invalid utf-8",
	}
	fields := []struct{ name, problem string }{{"document_type", ""}, {"nin", ""}, {"purpose", ""}, {"clerk_id", ""}}
	for _, h := range hostile {
		for _, f := range fields {
			req := map[string]string{"document_type": lookup.DocLife, "nin": n, "purpose": "pension-life-proof", "clerk_id": "clerk-1"}
			req[f.name] = h
			b, _ := json.Marshal(req)
			cases = append(cases, secCase{fmt.Sprintf("%s = %q", f.name, h), call{method: "POST", path: "/v1/document-requests", key: cnr, body: string(b)},
				422, "invalid-request", "invalid", "cnr"})
		}
		p := url.PathEscape(h)
		cases = append(cases,
			secCase{fmt.Sprintf("access-log nin %q", h), call{method: "GET", path: "/v1/citizens/" + p + "/access-log", key: portal}, 422, "invalid-request", "invalid", "citizen-portal"},
			secCase{fmt.Sprintf("attestation id %q", h), call{method: "GET", path: "/v1/attestations/" + p, key: cnr}, 404, "not-found", "denied", "cnr"},
			secCase{fmt.Sprintf("portfolio agency %q", h), call{method: "PUT", path: "/v1/portfolios/" + p + "/members/" + n, key: cnr, body: member}, 403, "denied", "denied", "cnr"},
			secCase{fmt.Sprintf("portfolio nin %q", h), call{method: "PUT", path: "/v1/portfolios/cnr/members/" + p, key: cnr, body: member}, 422, "invalid-request", "invalid", "cnr"},
			secCase{fmt.Sprintf("access-log clerk_id %q", h), call{method: "GET", path: "/v1/citizens/" + n + "/access-log?clerk_id=" + url.QueryEscape(h), key: cnr}, 403, "denied", "denied", "cnr"},
		)
		if !strings.ContainsAny(h, "\r\n\x00") && utf8Valid(h) { // net/http refuses to send those in a header
			cases = append(cases,
				secCase{fmt.Sprintf("Authorization %q", h), call{method: "POST", path: "/v1/document-requests", header: map[string]string{"Authorization": "Bearer " + h}, body: life}, 401, "unauthenticated", "unauthenticated", "-"},
				secCase{fmt.Sprintf("X-Request-ID %q", h), call{method: "POST", path: "/v1/document-requests", key: cnr, header: map[string]string{"X-Request-Id": h}, body: docBody(lookup.DocBirth, n, "pension-life-proof", "c")}, 403, "denied", "denied", "cnr"},
			)
		}
	}
	for _, c := range cases {
		a.check(c)
	}

	// Revoked key: the client's key is removed from the policy and the
	// policy reloaded (SIGHUP); the key that worked is refused and audited.
	old := a.keys["cnas"]
	ok := a.do(call{method: "POST", path: "/v1/document-requests", key: old, body: docBody(lookup.DocContribStatus, n, "benefit-eligibility", "c")})
	if ok.status != 404 { // authenticated and allowed: not held (nothing stored)
		t.Fatalf("cnas before revocation: %d %s", ok.status, ok.raw)
	}
	delete(a.keys, "cnas")
	a.writePolicy()
	a.reload <- syscall.SIGHUP
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := a.do(call{method: "POST", path: "/v1/document-requests", key: old, body: docBody(lookup.DocContribStatus, n, "benefit-eligibility", "c")})
		if r.status == 401 {
			if outcome, _, client := a.audited(r.requestID); outcome != "unauthenticated" || client != "-" {
				t.Errorf("revoked key: audited %q for %q", outcome, client)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("revoked key still answered %d %s", r.status, r.raw)
		}
		time.Sleep(200 * time.Millisecond)
	}
	a.check(secCase{"revoked key on the access log", call{method: "GET", path: "/v1/citizens/" + n + "/access-log", key: old}, 401, "unauthenticated", "unauthenticated", "-"})

	// None of it touched the store: the tables are there, the audit chain
	// verifies, and the citizen's access log lists the refusals about them.
	for _, tbl := range []string{"persons", "audit_log", "attestations", "portfolio_members"} {
		var exists bool
		testenv.Must(t, a.pool.QueryRow(a.ctx, `SELECT to_regclass($1) IS NOT NULL`, tbl).Scan(&exists), "table %s", tbl)
		if !exists {
			t.Errorf("table %s is gone", tbl)
		}
	}
	res, err := audit.Verify(a.ctx, a.pool)
	testenv.Must(t, err, "audit verify")
	if res.FirstBad != 0 {
		t.Fatalf("audit chain broken at %d: %s", res.FirstBad, res.Reason)
	}
	logAns := a.do(call{method: "GET", path: "/v1/citizens/" + n + "/access-log", key: portal})
	accesses, _ := logAns.body["accesses"].([]any)
	if logAns.status != 200 || len(accesses) < 10 {
		t.Errorf("citizen's access log: %d, %d entries: %.300s", logAns.status, len(accesses), logAns.raw)
	}

	// No secret and no NIN in the logs at info level.
	assertNoSecrets(t, a.logs.String(), []string{cnr, cnas, portal, old}, []string{n})
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "") == s }

// assertNoSecrets fails when logs hold a key, a NIN of the requests, or
// any 18-digit run.
func assertNoSecrets(t *testing.T, logs string, secrets, nins []string) {
	t.Helper()
	if !strings.Contains(logs, `"level":"INFO"`) {
		t.Fatalf("no info-level log captured: %.500s", logs)
	}
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("an API key is in the logs")
		}
	}
	for _, n := range nins {
		if strings.Contains(logs, n) {
			t.Errorf("NIN %s is in the logs", n)
		}
	}
	if m := regexp.MustCompile(`(^|[^0-9A-Za-z])[0-9]{18}([^0-9A-Za-z]|$)`).FindString(logs); m != "" {
		t.Errorf("an 18-digit number is in the logs: %q", m)
	}
}

// TestLimits: the API bounds what a client can make it hold: the body size
// (413), the request time (the handler's context), and the rate (429 with
// Retry-After); the HTTP server of wiring.Serve bounds headers.
func TestLimits(t *testing.T) {
	a := startSecAPI(t)
	n := nin('1', 1958, 302)
	n2 := n
	cnr := a.keys["cnr"]
	// Over lookup.max_body_bytes (16 KiB by default), even when valid JSON.
	big := `{"document_type":"life-certificate","nin":"` + n + `","purpose":"pension-life-proof","clerk_id":"` + strings.Repeat("c", 20<<10) + `"}`
	if r := a.do(call{method: "POST", path: "/v1/document-requests", key: cnr, body: big}); r.status != 413 || r.body["type"] != "https://askonce.dz/problems/malformed-request" {
		t.Errorf("oversize body: %d %s", r.status, r.raw)
	}
	// Headers over the server's MaxHeaderBytes (32 KiB) are refused by net/http.
	r := a.do(call{method: "POST", path: "/v1/document-requests", key: cnr, header: map[string]string{"X-Padding": strings.Repeat("x", 64<<10)},
		body: docBody(lookup.DocLife, n, "pension-life-proof", "c")})
	if r.status != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("oversize headers: %d", r.status)
	}
	// A client that never finishes its headers (slowloris) is cut off by
	// the server's ReadHeaderTimeout (5 s) instead of holding a connection
	// and a goroutine forever. The bound waited here is generous: only an
	// absent timeout fails.
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(a.base, "http://"), 10*time.Second)
	testenv.Must(t, err, "dial")
	defer conn.Close()
	_, err = conn.Write([]byte("POST /v1/document-requests HTTP/1.1\r\nHost: x\r\nX-Slow: 1"))
	testenv.Must(t, err, "write")
	testenv.Must(t, conn.SetReadDeadline(time.Now().Add(2*time.Minute)), "deadline")
	if _, err := io.ReadAll(conn); err != nil {
		t.Errorf("a connection with unfinished headers was not closed by the server: %v", err)
	}
	// Rate limits: a client's token bucket (this one: 1/s, burst 2) and the
	// one unauthenticated callers share (20/s, burst 40). Requests are sent
	// at once, many more than the bucket can pass in the time they take to
	// arrive, so some are refused with 429 and Retry-After.
	burstOf := func(key string, n int) (limited int, retryAfter string) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequestWithContext(a.ctx, "POST", a.base+"/v1/document-requests", strings.NewReader(docBody(lookup.DocLife, n2, "pension-life-proof", "c")))
				req.Header.Set("Content-Type", "application/json")
				if key != "" {
					req.Header.Set("Authorization", "Bearer "+key)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Errorf("post: %v", err)
					return
				}
				io.Copy(io.Discard, resp.Body) //nolint:errcheck // drain
				resp.Body.Close()
				mu.Lock()
				defer mu.Unlock()
				if resp.StatusCode == 429 {
					limited++
					retryAfter = resp.Header.Get("Retry-After")
				}
			}()
		}
		wg.Wait()
		return limited, retryAfter
	}
	if limited, ra := burstOf(a.keys["slow"], 40); limited == 0 || ra == "" {
		t.Errorf("40 requests at once of a client limited to 1/s (burst 2): none refused (Retry-After %q)", ra)
	}
	if limited, ra := burstOf("", 300); limited == 0 || ra == "" {
		t.Errorf("300 unauthenticated requests at once: none refused (Retry-After %q)", ra)
	}
}

// keepFresh moves the watermark of one data center of each agency to now,
// every second, until the test ends: the store of an API under test with
// no materializer follows its sources.
func keepFresh(t *testing.T, ctx context.Context, pool *pgxpool.Pool) {
	t.Helper()
	mark := func() error {
		_, err := pool.Exec(ctx, `INSERT INTO store_watermarks (agency, data_center, watermark)
SELECT a, a || '-dc01', now() FROM unnest(ARRAY['etatcivil', 'cnas', 'casnos', 'cacobatph']) AS a
ON CONFLICT (data_center) DO UPDATE SET watermark = excluded.watermark, updated_at = now()`)
		return err
	}
	testenv.Must(t, mark(), "watermarks")
	fctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-fctx.Done():
				return
			case <-tick.C:
				mark() //nolint:errcheck // the next tick tries again
			}
		}
	}()
	t.Cleanup(func() { stop(); <-done })
}
