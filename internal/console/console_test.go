package console_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/askonce/askonce/deploy/devfiles"
	"github.com/askonce/askonce/internal/config"
	"github.com/askonce/askonce/internal/console"
	"github.com/askonce/askonce/internal/dev"
	"github.com/askonce/askonce/internal/lookup"
	"github.com/askonce/askonce/internal/ops"
	"github.com/askonce/askonce/internal/testenv"
)

// scenario is what the tests ask: one client key and purpose, a NIN that
// gets the document issued and one that does not (from the dev samples and
// their SQL oracle), and a purpose the client is denied.
type scenario struct {
	api, key, docType, purpose, issuedNIN, notHeldNIN, deniedPurpose string
	pgURL                                                            string
}

// startDev runs `askonce dev` in process on free ports with a fresh
// database, without live changes (so the samples' expected outcomes hold).
func startDev(t *testing.T, ctx context.Context) scenario {
	t.Helper()
	cfg := config.Default()
	pg := testenv.Postgres(t)
	cfg.Postgres.URL = pg
	cfg.Connect.SourcesURL = testenv.Postgres(t)
	cfg.Broker.Listen = "127.0.0.1:0"
	cfg.Broker.DataDir = t.TempDir()
	cfg.Registry.Listen = "127.0.0.1:0"
	cfg.Lookup.Listen = "127.0.0.1:0"
	cfg.Lookup.SigningKeysDir = filepath.Join(t.TempDir(), "keys")
	cfg.Seed.Persons = 1500
	cfg.Seed.LiveRate = 0
	cfg.Lookup.PolicyFile = slowPolicy(t)
	log := ops.NewLogger(io.Discard, "error", "json")
	type ready struct {
		api     string
		samples []dev.Sample
	}
	readyc := make(chan ready, 1)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- dev.Run(runCtx, &cfg, dev.Options{Dir: t.TempDir(), Out: io.Discard, Progress: io.Discard,
			Ready: func(api string, s []dev.Sample) { readyc <- ready{api, s} }}, log)
	}()
	t.Cleanup(func() {
		stop()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("dev.Run: %v", err)
			}
		case <-time.After(60 * time.Second):
			t.Error("dev did not stop within 60s of cancel")
		}
	})
	var r ready
	select {
	case r = <-readyc:
	case err := <-done:
		t.Fatalf("dev.Run ended before ready: %v", err)
	case <-ctx.Done():
		t.Fatal("dev never got ready")
	}
	for _, a := range dev.Asks {
		sc := scenario{api: r.api, key: a.Key, docType: a.DocumentType, purpose: a.Purpose, deniedPurpose: "citizen-access-log", pgURL: pg}
		for _, s := range r.samples {
			switch want := s.Expected[a.DocumentType]; {
			case want == "issued" && sc.issuedNIN == "":
				sc.issuedNIN = s.NIN
			case strings.HasPrefix(want, "not_held/") && sc.notHeldNIN == "":
				sc.notHeldNIN = s.NIN
			}
		}
		if sc.issuedNIN != "" && sc.notHeldNIN != "" {
			return sc
		}
	}
	t.Fatalf("no document type has both an issued and a not-held sample: %+v", r.samples)
	return scenario{}
}

// slowKey is the API key of a client that may ask what the dev clients
// may, but only three requests (then one per 1000 s): the rate-limited answer.
const slowKey = "test-slow-key"

// slowPolicy is the dev policy plus the slow client.
func slowPolicy(t *testing.T) string {
	sum := sha256.Sum256([]byte(slowKey))
	var b strings.Builder
	b.Write(devfiles.Policy)
	fmt.Fprintf(&b, "\n  - id: slow-site\n    name: \"Guichet de test (débit limité)\"\n    api_keys: [\"sha256:%s\"]\n    rate: 0.001\n    burst: 3\n    allow:\n", hex.EncodeToString(sum[:]))
	for _, a := range dev.Asks {
		fmt.Fprintf(&b, "      - purpose: %s\n        documents: [%s]\n", a.Purpose, a.DocumentType)
	}
	path := filepath.Join(t.TempDir(), "policy.yaml")
	testenv.Must(t, os.WriteFile(path, []byte(b.String()), 0o644), "policy")
	return path
}

// client is a browser-like HTTP client: cookies, no redirect following.
type client struct {
	t    *testing.T
	ctx  context.Context
	base string
	http *http.Client
	// lastAnswer is the path of the last answer ask followed.
	lastAnswer string
}

func newClient(t *testing.T, ctx context.Context, base string) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, ctx: ctx, base: base, http: &http.Client{Jar: jar, Timeout: 60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	status int
	header http.Header
	body   string
}

func (c *client) do(method, path string, form url.Values) page {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(c.ctx, method, c.base+path, body)
	testenv.Must(c.t, err, "request")
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.http.Do(req)
	testenv.Must(c.t, err, "%s %s", method, path)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	testenv.Must(c.t, err, "read %s", path)
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") && len(b) >= 100<<10 {
		c.t.Errorf("%s %s: %d bytes, over 100 KB", method, path, len(b))
	}
	return page{resp.StatusCode, resp.Header, string(b)}
}

func (c *client) get(path string) page                   { return c.do(http.MethodGet, path, nil) }
func (c *client) post(path string, form url.Values) page { return c.do(http.MethodPost, path, form) }

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrf(t *testing.T, p page) string {
	t.Helper()
	m := csrfRe.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no CSRF token in the page:\n%s", p.body)
	}
	return m[1]
}

func find(t *testing.T, body, re string) string {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("%s not in the page:\n%s", re, body)
	}
	return m[1]
}

// ask submits the request form and follows the redirect to the answer.
func (c *client) ask(token, nin, docType, purpose string) page {
	c.t.Helper()
	p := c.post("/console/requests", url.Values{"csrf": {token}, "nin": {nin}, "document_type": {docType}, "purpose": {purpose}, "clerk_id": {"guichet-7"}})
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/console/answers/") {
		c.t.Fatalf("request form: %d %s, want 303 to an answer", p.status, p.header.Get("Location"))
	}
	c.lastAnswer = p.header.Get("Location")
	return c.get(c.lastAnswer)
}

// staleSources makes the store's watermarks too old for a document type,
// and fresh again: one made-up data center per agency the type reads
// (<agency>-dc99, which no connector writes) with a watermark three hours
// old, past every freshness bound of the catalog. The API reads every
// data center of those agencies, so its answers for the type are 503
// source_stale while the rows exist.
type staleSources struct {
	t    *testing.T
	ctx  context.Context
	pool *pgxpool.Pool
	dcs  []string
}

func staleDataCenters(t *testing.T, ctx context.Context, pool *pgxpool.Pool, docType string) *staleSources {
	t.Helper()
	s := &staleSources{t: t, ctx: ctx, pool: pool}
	for _, d := range lookup.Catalog {
		if d.Type == docType {
			for _, a := range d.Agencies {
				s.dcs = append(s.dcs, a+"-dc99")
			}
		}
	}
	if len(s.dcs) == 0 {
		t.Fatalf("%s is not in the catalog", docType)
	}
	return s
}

// watermarkCache is how long the API may answer from watermarks it read
// before (watermark.Reader caches them a second).
const watermarkCache = 1100 * time.Millisecond

func (s *staleSources) on() { s.t.Helper(); testenv.Must(s.t, s.set(true), "stale watermarks") }
func (s *staleSources) off() {
	s.t.Helper()
	testenv.Must(s.t, s.set(false), "remove the stale watermarks")
}

// set adds (stale) or removes the made-up data centers' watermarks, then
// waits out the API's cache of them.
func (s *staleSources) set(stale bool) error {
	if !stale {
		if _, err := s.pool.Exec(s.ctx, `DELETE FROM store_watermarks WHERE data_center = ANY($1)`, s.dcs); err != nil {
			return err
		}
	}
	for _, dc := range s.dcs {
		if !stale {
			break
		}
		agency, _, _ := strings.Cut(dc, "-")
		if _, err := s.pool.Exec(s.ctx, `INSERT INTO store_watermarks (agency, data_center, watermark, updated_at)
			VALUES ($1, $2, now() - interval '3 hours', now() - interval '3 hours')`, agency, dc); err != nil {
			return fmt.Errorf("stale watermark for %s: %w", dc, err)
		}
	}
	time.Sleep(watermarkCache)
	return nil
}

// TestConsole runs `askonce dev` once, checks the console and /verify over
// HTTP, then drives them in headless Chromium.
func TestConsole(t *testing.T) {
	ctx := testenv.Ctx(t, 9*time.Minute)
	sc := startDev(t, ctx)
	t.Logf("askonce dev at %s; %s/%s with %s: issued for %s, not held for %s", sc.api, sc.docType, sc.purpose, sc.key, sc.issuedNIN, sc.notHeldNIN)

	t.Run("http", func(t *testing.T) { testHTTP(t, ctx, sc) })
	t.Run("browser", func(t *testing.T) {
		if testing.Short() {
			t.Skip("-short: the browser test needs Chromium and npm")
		}
		testBrowser(t, ctx, sc)
	})
}

func testHTTP(t *testing.T, ctx context.Context, sc scenario) {
	c := newClient(t, ctx, sc.api)

	// Sign-in page, security headers, French by default.
	p := c.get("/console")
	if p.status != http.StatusOK || !strings.Contains(p.body, `<html lang="fr" dir="ltr">`) || !strings.Contains(p.body, `for="api_key"`) {
		t.Fatalf("GET /console: %d\n%s", p.status, p.body)
	}
	for h, want := range map[string]string{"Content-Security-Policy": "default-src 'self'", "X-Frame-Options": "DENY",
		"Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"} {
		if !strings.Contains(p.header.Get(h), want) {
			t.Errorf("%s: %q, want %q", h, p.header.Get(h), want)
		}
	}
	if strings.Contains(p.body, "<script>") || strings.Contains(p.body, "https://") {
		t.Error("inline script or external resource on the sign-in page")
	}
	token := csrf(t, p)

	// Sign-in refusals: no CSRF token, a wrong key, a bad clerk id.
	if p := c.post("/console/sign-in", url.Values{"api_key": {sc.key}, "clerk_id": {"guichet-7"}}); p.status != http.StatusForbidden {
		t.Errorf("sign-in without CSRF token: %d, want 403", p.status)
	}
	p = c.post("/console/sign-in", url.Values{"csrf": {token}, "api_key": {"dev-nobody-key"}, "clerk_id": {"guichet-7"}})
	if p.status != http.StatusUnauthorized || !strings.Contains(p.body, `id="signin-error"`) {
		t.Errorf("sign-in with a wrong key: %d\n%s", p.status, p.body)
	}
	if p := c.post("/console/sign-in", url.Values{"csrf": {token}, "api_key": {sc.key}, "clerk_id": {"guichet 7 <b>"}}); p.status != http.StatusUnprocessableEntity {
		t.Errorf("sign-in with a bad clerk id: %d, want 422", p.status)
	}
	// Pages that need a session send to the sign-in page.
	if p := c.get("/console/answers/1"); p.status != http.StatusSeeOther || p.header.Get("Location") != "/console?m=expired" {
		t.Errorf("answer without a session: %d %s", p.status, p.header.Get("Location"))
	}

	// Sign in.
	p = c.post("/console/sign-in", url.Values{"csrf": {token}, "api_key": {sc.key}, "clerk_id": {"guichet-7"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("sign-in: %d\n%s", p.status, p.body)
	}
	var sessionCookie string
	for _, sc := range p.header.Values("Set-Cookie") {
		if strings.HasPrefix(sc, "askonce_console=") {
			sessionCookie = sc
		}
	}
	if !strings.Contains(sessionCookie, "HttpOnly") || !strings.Contains(sessionCookie, "SameSite=Strict") || strings.Contains(sessionCookie, sc.key) {
		t.Errorf("session cookie %q: want HttpOnly, SameSite=Strict, no key", sessionCookie)
	}
	p = c.get("/console")
	if !strings.Contains(p.body, `id="request-form"`) || !strings.Contains(p.body, "guichet-7") {
		t.Fatalf("form page after sign-in:\n%s", p.body)
	}
	token = csrf(t, p)
	if p := c.post("/console/requests", url.Values{"nin": {sc.issuedNIN}, "document_type": {sc.docType}, "purpose": {sc.purpose}, "clerk_id": {"g"}}); p.status != http.StatusForbidden {
		t.Errorf("request without CSRF token: %d, want 403", p.status)
	}

	// Issued: the paper, its verification code, the QR code.
	p = c.ask(token, sc.issuedNIN, sc.docType, sc.purpose)
	if p.status != http.StatusOK || !strings.Contains(p.body, `data-outcome="issued"`) || !strings.Contains(p.body, `<svg`) {
		t.Fatalf("issued answer: %d\n%s", p.status, p.body)
	}
	docID := find(t, p.body, `id="doc-id">(doc_[0-9a-f]{24})<`)
	code := find(t, p.body, `id="verify-code">([A-Z2-7-]{19})<`)
	link := find(t, p.body, `id="verify-link" [^>]*>([^<]+)<`)
	if want := sc.api + "/verify/" + docID + "?c=" + code; link != want {
		t.Errorf("verify link %q, want %q", link, want)
	}
	pool, err := pgxpool.New(ctx, sc.pgURL)
	testenv.Must(t, err, "pool")
	defer pool.Close()
	var stored string
	testenv.Must(t, pool.QueryRow(ctx, `SELECT document FROM attestations WHERE id = $1`, docID).Scan(&stored), "stored attestation")
	if want := console.VerificationCode([]byte(stored)); code != want {
		t.Errorf("printed code %s, want %s (SHA-256 of the stored document)", code, want)
	}
	var audited int
	testenv.Must(t, pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE document_id = $1 AND clerk_id = 'guichet-7'`, docID).Scan(&audited), "audit")
	if audited != 1 {
		t.Errorf("the console's request is audited %d times, want 1 (through the API)", audited)
	}
	issuedPath := "/console/answers/1"
	// The document's as_of, labelled as what it is: the store's data as of then.
	var storedAsOf string
	testenv.Must(t, pool.QueryRow(ctx, `SELECT document::jsonb->>'as_of' FROM attestations WHERE id = $1`, docID).Scan(&storedAsOf), "as_of")
	asOf, err := time.Parse(time.RFC3339, storedAsOf)
	testenv.Must(t, err, "as_of %q", storedAsOf)
	if got := find(t, p.body, `id="doc-asof">([^<]+)<`); got != asOf.UTC().Format("02/01/2006 15:04")+" UTC" || !strings.Contains(p.body, "Données à jour au") {
		t.Errorf("as_of shown as %q, want the document's %s labelled \"Données à jour au\"", got, storedAsOf)
	}

	// The same answer in Arabic, and the choice persists.
	p = c.get(issuedPath + "?lang=ar")
	if !strings.Contains(p.body, `<html lang="ar" dir="rtl">`) || !strings.Contains(p.body, docID) {
		t.Errorf("Arabic answer:\n%s", p.body)
	}
	if p = c.get("/console"); !strings.Contains(p.body, `lang="ar"`) {
		t.Error("the language choice does not persist")
	}
	c.get("/console?lang=fr")

	// not_held names the paper and why; denied; invalid re-renders the form.
	p = c.ask(token, sc.notHeldNIN, sc.docType, sc.purpose)
	if p.status != http.StatusNotFound || !strings.Contains(p.body, `data-outcome="not_held"`) || !strings.Contains(p.body, `id="paper-to-ask"`) ||
		!strings.Contains(p.body, `id="not-held-asof"`) || strings.Contains(p.body, `data-reason="source_stale"`) {
		t.Errorf("not held answer: %d\n%s", p.status, p.body)
	}
	// The API's detail comes in the clerk's language (the console sends
	// it as Accept-Language), marked as such.
	if !strings.Contains(p.body, `id="problem-detail" lang="fr" dir="ltr">`) || strings.Contains(p.body, "this NIN") || strings.Contains(p.body, "unpaid or partly") {
		t.Errorf("not held answer: the API's detail is not in French:\n%s", p.body)
	}
	// source_stale, from the real API: a data center of the document's
	// agency whose watermark is three hours old (past every freshness
	// bound) makes it answer 503 source_stale; the console shows that, in
	// French and in Arabic, with the data center and its lag, and never
	// as "ask the citizen for the paper".
	stale := staleDataCenters(t, ctx, pool, sc.docType)
	stale.on()
	p = c.ask(token, sc.issuedNIN, sc.docType, sc.purpose)
	stale.off()
	arPage := c.get(c.lastAnswer + "?lang=ar")
	c.get("/console?lang=fr")
	for _, w := range []string{`data-outcome="not_held"`, `data-reason="source_stale"`, "Données pas encore à jour : réessayez dans un instant",
		`data-data-center="` + stale.dcs[0] + `"`, "soit 3 h de retard au moment de la demande", "Réessayez dans 30 s.", `id="retry-form"`,
		"Ne renvoyez pas le citoyen", `id="problem-detail" lang="fr" dir="ltr">la base de consultation ne détient pas`} {
		if p.status != http.StatusServiceUnavailable || !strings.Contains(p.body, w) {
			t.Errorf("source_stale answer in French (%d) lacks %q", p.status, w)
		}
	}
	for _, w := range []string{`<html lang="ar" dir="rtl">`, `data-reason="source_stale"`, "البيانات غير محينة بعد: أعد المحاولة بعد لحظة",
		`data-data-center="` + stale.dcs[0] + `"`, "أي بتأخر 3 ساعات وقت الطلب", "أعد المحاولة بعد 30 ثانية.", "لا تصرف المواطن"} {
		if arPage.status != http.StatusServiceUnavailable || !strings.Contains(arPage.body, w) {
			t.Errorf("source_stale answer in Arabic (%d) lacks %q", arPage.status, w)
		}
	}
	if strings.Contains(p.body, `id="paper-to-ask"`) || t.Failed() {
		t.Fatalf("source_stale answer: %d\n%s\n%s", p.status, p.body, arPage.body)
	}
	p = c.ask(token, sc.issuedNIN, sc.docType, sc.deniedPurpose)
	if p.status != http.StatusForbidden || !strings.Contains(p.body, `data-outcome="denied"`) || !strings.Contains(p.body, "n&#39;est pas autorisé à demander") {
		t.Errorf("denied answer: %d\n%s", p.status, p.body)
	}
	p = c.ask(token, "12 34", sc.docType, sc.purpose)
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, `id="nin-error"`) || !strings.Contains(p.body, `value="1234"`) {
		t.Errorf("invalid answer: %d\n%s", p.status, p.body)
	}

	// /verify: the right code shows the paper's content, NIN masked.
	v := newClient(t, ctx, sc.api) // a stranger, no session
	p = v.get("/verify/" + docID + "?c=" + url.QueryEscape(code))
	if p.status != http.StatusOK || !strings.Contains(p.body, `data-result="authentic"`) {
		t.Fatalf("verify: %d\n%s", p.status, p.body)
	}
	if strings.Contains(p.body, sc.issuedNIN) || !strings.Contains(p.body, sc.issuedNIN[14:]) {
		t.Errorf("verify page shows the full NIN or not its last digits")
	}
	if p := v.get("/verify/" + docID + "?c=" + url.QueryEscape(strings.ToLower(strings.ReplaceAll(code, "-", "")))); p.status != http.StatusOK {
		t.Errorf("a code typed in lower case without dashes: %d", p.status)
	}
	// A wrong code and an unknown id get the same page.
	wrong := code[:len(code)-1] + map[bool]string{true: "B", false: "A"}[strings.HasSuffix(code, "A")]
	bad := v.get("/verify/" + docID + "?c=" + wrong)
	otherID := "doc_" + strings.Repeat("0", 24)
	unknown := v.get("/verify/" + otherID + "?c=" + wrong)
	if bad.status != http.StatusNotFound || !strings.Contains(bad.body, `data-result="not_authentic"`) {
		t.Errorf("tampered code: %d\n%s", bad.status, bad.body)
	}
	if strings.ReplaceAll(bad.body, docID, "ID") != strings.ReplaceAll(unknown.body, otherID, "ID") || bad.status != unknown.status {
		t.Error("a wrong code and an unknown id are told apart")
	}
	if p := v.get("/verify/" + docID); p.status != http.StatusOK || strings.Contains(p.body, "data-result") {
		t.Errorf("verify without a code should ask for it: %d", p.status)
	}
	if p := v.get("/verify/"); p.status != http.StatusSeeOther || p.header.Get("Location") != "/verify" {
		t.Errorf("GET /verify/: %d %s, want a redirect to the form", p.status, p.header.Get("Location"))
	}
	if p := v.get("/console/nothing-here"); p.status != http.StatusNotFound || !strings.Contains(p.body, "<html") {
		t.Errorf("an unknown console page: %d, want an HTML 404", p.status)
	}

	// A pasted signed document: its signature checks; a changed one does not.
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, sc.api+"/v1/attestations/"+docID, nil)
	req.Header.Set("Authorization", "Bearer "+sc.key)
	resp, err := http.DefaultClient.Do(req)
	testenv.Must(t, err, "GET attestation")
	signed, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	vp := v.get("/verify")
	vt := csrf(t, vp)
	if p := v.post("/verify", url.Values{"csrf": {vt}, "signed": {string(signed)}}); p.status != http.StatusOK || !strings.Contains(p.body, `data-result="signature_valid"`) {
		t.Errorf("pasted signed document: %d\n%s", p.status, p.body)
	}
	var env map[string]any
	testenv.Must(t, json.Unmarshal(signed, &env), "signed JSON")
	env["document"].(map[string]any)["issued_at"] = "2001-01-01T00:00:00Z"
	tampered, _ := json.Marshal(env)
	if p := v.post("/verify", url.Values{"csrf": {vt}, "signed": {string(tampered)}}); p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, `data-result="signature_invalid"`) {
		t.Errorf("tampered signed document: %d\n%s", p.status, p.body)
	}
	if p := v.post("/verify", url.Values{"signed": {string(signed)}}); p.status != http.StatusForbidden {
		t.Errorf("verify POST without CSRF token: %d, want 403", p.status)
	}

	// Static files are small, and no page plus its assets reaches 100 KB.
	css, js := c.get("/console/static/console.css"), c.get("/console/static/console.js")
	if css.status != http.StatusOK || js.status != http.StatusOK {
		t.Fatalf("static: %d %d", css.status, js.status)
	}
	if n := len(c.get(issuedPath).body) + len(css.body) + len(js.body); n >= 100<<10 {
		t.Errorf("issued answer page with its assets: %d bytes, over 100 KB", n)
	}

	// A client over its rate limit is told so, and may ask again later.
	slow := newClient(t, ctx, sc.api)
	p = slow.get("/console")
	p = slow.post("/console/sign-in", url.Values{"csrf": {csrf(t, p)}, "api_key": {slowKey}, "clerk_id": {"guichet-9"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("slow client sign-in: %d\n%s", p.status, p.body)
	}
	slowToken := csrf(t, slow.get("/console"))
	limited := false
	for i := 0; i < 5 && !limited; i++ {
		p = slow.ask(slowToken, sc.issuedNIN, sc.docType, sc.purpose)
		limited = p.status == http.StatusTooManyRequests
	}
	if !limited || !strings.Contains(p.body, `data-outcome="rate_limited"`) || !strings.Contains(p.body, `id="request-form"`) {
		t.Errorf("no rate-limited answer after 5 requests of a client with a burst of 3: %d\n%s", p.status, p.body)
	}

	// Metrics.
	m := c.get("/metrics").body
	for _, want := range []string{`askonce_console_requests_total{outcome="issued"}`, `askonce_console_requests_total{outcome="not_held"} 1`,
		`askonce_console_requests_total{outcome="denied"} 1`, `askonce_console_requests_total{outcome="invalid"} 1`,
		`askonce_console_sign_ins_total{result="ok"} 2`, `askonce_console_sign_ins_total{result="refused"} 1`,
		`askonce_console_requests_total{outcome="rate_limited"} 1`, `askonce_console_requests_total{outcome="source_stale"} 1`,
		`askonce_console_verify_checks_total{method="code",result="authentic"} 2`,
		`askonce_console_verify_checks_total{method="code",result="not_authentic"} 2`,
		`askonce_console_verify_checks_total{method="signature",result="signature_valid"} 1`,
		`askonce_console_verify_checks_total{method="signature",result="signature_invalid"} 1`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	// Sign-out ends the session on the server.
	p = c.get("/console")
	if p := c.post("/console/sign-out", url.Values{"csrf": {csrf(t, p)}}); p.status != http.StatusSeeOther {
		t.Errorf("sign-out: %d", p.status)
	}
	if p := c.get(issuedPath); p.status != http.StatusSeeOther {
		t.Errorf("answer after sign-out: %d, want a redirect to sign in", p.status)
	}
}

// testBrowser runs browser/console.test.mjs in Debian's Chromium.
func testBrowser(t *testing.T, ctx context.Context, sc scenario) {
	var missing []string
	node, err := exec.LookPath("node")
	if err != nil {
		missing = append(missing, "node")
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		missing = append(missing, "npm")
	}
	const chromium = "/usr/bin/chromium"
	if _, err := os.Stat(chromium); err != nil {
		missing = append(missing, chromium)
	}
	if len(missing) > 0 {
		t.Fatalf("%s missing: `make deps` (deploy/devfiles/deps.sh) installs them", strings.Join(missing, ", "))
	}
	root := testenv.RepoRoot(t)
	dir := filepath.Join(root, "internal", "console", "browser")
	npmCI(t, ctx, npm, root, dir)

	// The script makes the store stale and fresh again through this
	// address (only the test reaches it): POST /stale/on, /stale/off.
	pool, err := pgxpool.New(ctx, sc.pgURL)
	testenv.Must(t, err, "pool")
	defer pool.Close()
	stale := staleDataCenters(t, ctx, pool, sc.docType)
	control := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || (r.URL.Path != "/stale/on" && r.URL.Path != "/stale/off") {
			http.NotFound(w, r)
			return
		}
		if err := stale.set(r.URL.Path == "/stale/on"); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Write([]byte(strings.Join(stale.dcs, ","))) //nolint:errcheck // the script reads it
	}))
	defer control.Close()

	artifacts := filepath.Join(root, ".var", "artifacts", "console")
	testenv.Must(t, os.RemoveAll(artifacts), "clean artifacts")
	testenv.Must(t, os.MkdirAll(artifacts, 0o755), "artifacts")
	cmd := exec.CommandContext(ctx, node, "console.test.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "BASE_URL="+sc.api, "API_KEY="+sc.key, "CLERK_ID=guichet-browser", "DOC_TYPE="+sc.docType,
		"PURPOSE="+sc.purpose, "ISSUED_NIN="+sc.issuedNIN, "NOT_HELD_NIN="+sc.notHeldNIN, "DENIED_PURPOSE="+sc.deniedPurpose,
		"ARTIFACTS="+artifacts, "CHROMIUM="+chromium, "STALE_CONTROL="+control.URL)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 10 * time.Second
	err = cmd.Run()
	t.Logf("node console.test.mjs:\n%s", out.String())
	t.Logf("screenshots and PDFs: %s", artifacts)
	fmt.Fprintf(os.Stderr, "console browser test artifacts: %s\n", artifacts)
	if err != nil {
		t.Fatalf("browser test failed: %v", err)
	}
	for _, name := range []string{"fr-issued.pdf", "ar-issued.pdf"} {
		b, err := os.ReadFile(filepath.Join(artifacts, name))
		testenv.Must(t, err, "read %s", name)
		if !bytes.HasPrefix(b, []byte("%PDF-")) {
			t.Errorf("%s is not a PDF", name)
		}
	}
	for _, name := range []string{"fr-issued", "ar-issued", "ar-not-held", "fr-not-held", "fr-denied", "fr-invalid", "fr-source-stale", "ar-source-stale", "fr-verify-authentic", "ar-verify-authentic", "fr-verify-tampered"} {
		if st, err := os.Stat(filepath.Join(artifacts, name+".png")); err != nil || st.Size() == 0 {
			t.Errorf("screenshot %s missing", name)
		}
	}
}

// npmCI installs playwright-core from the lock file when node_modules is
// missing or was installed from another lock (a stamp holds its hash);
// npm's cache is kept under .var/ so that a re-install is offline-fast.
func npmCI(t *testing.T, ctx context.Context, npm, root, dir string) {
	lock, err := os.ReadFile(filepath.Join(dir, "package-lock.json"))
	testenv.Must(t, err, "package-lock.json")
	sum := sha256.Sum256(lock)
	want := hex.EncodeToString(sum[:])
	stamp := filepath.Join(dir, "node_modules", ".askonce-lock-sha256")
	if got, err := os.ReadFile(stamp); err == nil && strings.TrimSpace(string(got)) == want {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", "playwright-core", "package.json")); err == nil {
			return
		}
	}
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--cache", filepath.Join(root, ".var", "npm-cache"))
	cmd.Dir = dir
	// Never download a browser: the test drives Debian's /usr/bin/chromium.
	cmd.Env = append(os.Environ(), "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("npm ci in %s: %v\n%s", dir, err, out)
	}
	testenv.Must(t, os.WriteFile(stamp, []byte(want+"\n"), 0o644), "stamp")
}
