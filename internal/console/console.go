package console

import (
	"bytes"
	"compress/gzip"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/askonce/askonce/internal/attest"
	"github.com/askonce/askonce/internal/audit"
	"github.com/askonce/askonce/internal/clientaddr"
	"github.com/askonce/askonce/internal/lookup"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Options configure the console. Zero values take the defaults.
type Options struct {
	// SessionTTL is a session's absolute lifetime (8 h); IdleTimeout ends
	// it earlier when unused (30 min); MaxSessions bounds the store (2000).
	SessionTTL, IdleTimeout time.Duration
	MaxSessions             int
	// VerifyRate and VerifyBurst limit /verify per client address (1/s,
	// burst 30); sign-in attempts get the same limit.
	VerifyRate  float64
	VerifyBurst int
	// ClientAddr finds a request's client address, for those limits and
	// the logs (lookup.trusted_proxies); nil: the TCP peer.
	ClientAddr *clientaddr.Resolver
	// Identify names the client of an API key for the header (lookup.Service.ClientByAPIKey).
	Identify func(key string) (id, name string, ok bool)
	// Now is the clock (time.Now).
	Now func() time.Time
	// PublicURL (lookup.public_url) is the address verifiers reach
	// /verify at, behind a TLS-terminating proxy; nil: each request's
	// Host and TLS. An https PublicURL makes the cookies Secure.
	PublicURL *url.URL
}

func (o *Options) defaults() {
	if o.SessionTTL <= 0 {
		o.SessionTTL = 8 * time.Hour
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 30 * time.Minute
	}
	if o.MaxSessions <= 0 {
		o.MaxSessions = 2000
	}
	if o.VerifyRate <= 0 {
		o.VerifyRate = 1
	}
	if o.VerifyBurst <= 0 {
		o.VerifyBurst = 30
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// maxAddrs bounds each per-address limiter's table: past it the least
// recently seen address is forgotten.
const maxAddrs = 10000

// Console is the clerk console and the public verify page.
type Console struct {
	opt      Options
	api      http.Handler
	atts     *lookup.Attestations
	keys     func() attest.KeySet
	log      *slog.Logger
	m        *metrics
	sessions *sessions
	verifyRL *clientaddr.Limiter
	signinRL *clientaddr.Limiter
	pages    map[string]*template.Template
	static   http.Handler
	langs    []*Lang
}

// New builds the console over api, the lookup API's handler: every
// document request of a clerk is a POST /v1/document-requests served by
// it, with the clerk's agency key, so authentication, policy, rate limits,
// audit and signing are the API's. atts are the documents the API
// issued (what /verify checks), keys the issuer's public keys.
func New(opt Options, api http.Handler, atts *lookup.Attestations, keys func() attest.KeySet, reg prometheus.Registerer, log *slog.Logger) (*Console, error) {
	opt.defaults()
	c := &Console{opt: opt, api: api, atts: atts, keys: keys, log: log, m: newMetrics(reg),
		sessions: newSessions(opt.SessionTTL, opt.IdleTimeout, opt.MaxSessions),
		verifyRL: clientaddr.NewLimiter(opt.VerifyRate, opt.VerifyBurst, maxAddrs),
		signinRL: clientaddr.NewLimiter(opt.VerifyRate, opt.VerifyBurst, maxAddrs),
		langs:    Langs()}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	c.pages = pages
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	c.static = http.StripPrefix("/console/static/", http.FileServerFS(sub))
	return c, nil
}

func parsePages() (map[string]*template.Template, error) {
	base, err := template.New("layout.html").ParseFS(templateFS, "templates/layout.html", "templates/parts.html")
	if err != nil {
		return nil, fmt.Errorf("console: templates: %w", err)
	}
	pages := map[string]*template.Template{}
	for _, p := range []string{"signin", "console", "verify", "message"} {
		t, err := template.Must(base.Clone()).ParseFS(templateFS, "templates/"+p+".html")
		if err != nil {
			return nil, fmt.Errorf("console: template %s: %w", p, err)
		}
		pages[p] = t
	}
	return pages, nil
}

// Register adds the console's routes to mux: /console (sign-in, the
// request form, answers), its static files, and the public /verify pages.
func (c *Console) Register(mux *http.ServeMux) {
	h := func(f http.HandlerFunc) http.Handler { return c.secure(f) }
	mux.Handle("GET /console/static/", c.secure(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		c.static.ServeHTTP(w, r)
	})))
	mux.Handle("GET /console", h(c.home))
	mux.Handle("GET /console/", h(c.notFound))
	mux.Handle("POST /console/sign-in", h(c.signIn))
	mux.Handle("POST /console/sign-out", h(c.signOut))
	mux.Handle("POST /console/requests", h(c.request))
	mux.Handle("GET /console/answers/{n}", h(c.showAnswer))
	mux.Handle("GET /verify", h(c.verifyForm))
	mux.Handle("POST /verify", h(c.verifySigned))
	mux.Handle("GET /verify/{id}", h(c.verifyID))
	mux.Handle("GET /verify/{$}", h(func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/verify", http.StatusSeeOther) }))
}

// csp: no inline script or style, nothing from elsewhere, no framing.
const csp = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

func (c *Console) secure(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", csp)
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Cache-Control", "no-store") // pages hold personal data
		if c.isSecure(r) {
			hd.Set("Strict-Transport-Security", "max-age=31536000")
		}
		h.ServeHTTP(w, r)
	})
}

// page is what every template gets.
type page struct {
	L       *Lang
	Switch  []langLink
	Title   string
	S       *sessionView
	CSRF    string
	Info    string // message key
	Error   string // message key
	Form    formView
	Catalog *catalogView
	Answer  *answerView
	Verify  *verifyView
	gzip    bool // the response may be compressed
}

type langLink struct {
	Code, Name, URL string
	Current         bool
}

type sessionView struct{ ClientID, ClientName, Clerk string }

func (c *Console) newPage(w http.ResponseWriter, r *http.Request, titleKey string) *page {
	l := pickLang(w, r, c.langs, c.isSecure(r))
	p := &page{L: l, Title: l.T(titleKey), gzip: acceptsGzip(r)}
	for _, o := range c.langs {
		q := r.URL.Query()
		q.Set("lang", o.Code)
		p.Switch = append(p.Switch, langLink{Code: o.Code, Name: o.Name, URL: r.URL.Path + "?" + q.Encode(), Current: o == l})
	}
	return p
}

func (c *Console) render(w http.ResponseWriter, name string, status int, p *page) {
	var buf bytes.Buffer
	if err := c.pages[name].ExecuteTemplate(&buf, "layout.html", p); err != nil {
		c.log.Error("console: render", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Add("Vary", "Accept-Encoding")
	body := buf.Bytes()
	// On a slow line a long statement (a career of monthly periods) is
	// ten times smaller compressed. The session cookie is SameSite=Strict,
	// so no other site can have a browser render authenticated pages with
	// chosen input to measure them (BREACH).
	if p.gzip && len(body) > 1400 {
		var z bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&z, gzip.BestSpeed)
		zw.Write(body) //nolint:errcheck // a bytes.Buffer does not fail
		if zw.Close() == nil {
			body = z.Bytes()
			w.Header().Set("Content-Encoding", "gzip")
		}
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body) //nolint:errcheck // client went away
}

// acceptsGzip: the request's Accept-Encoding lists gzip (not with q=0).
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") {
			return strings.ReplaceAll(strings.TrimSpace(params), " ", "") != "q=0"
		}
	}
	return false
}

func (c *Console) message(w http.ResponseWriter, r *http.Request, status int, title, lead string) {
	p := c.newPage(w, r, title)
	p.Error = lead
	c.render(w, "message", status, p)
}

func (c *Console) notFound(w http.ResponseWriter, r *http.Request) {
	c.message(w, r, http.StatusNotFound, "notfound", "notfound")
}

// ---- sessions and CSRF ----

const sessionCookie = "askonce_console"

func (c *Console) session(r *http.Request) *session {
	ck, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil
	}
	return c.sessions.get(ck.Value, c.opt.Now())
}

// preCSRF is the double-submit token of the forms shown before a session
// exists (sign-in, verify): a SameSite=Strict cookie the form must echo.
const preCSRFCookie = "askonce_csrf"

func (c *Console) preCSRF(w http.ResponseWriter, r *http.Request) string {
	if ck, err := r.Cookie(preCSRFCookie); err == nil && len(ck.Value) == 43 {
		return ck.Value
	}
	t := randomToken()
	http.SetCookie(w, &http.Cookie{Name: preCSRFCookie, Value: t, Path: "/", HttpOnly: true, Secure: c.isSecure(r), SameSite: http.SameSiteStrictMode})
	return t
}

func preCSRFOK(r *http.Request) bool {
	ck, err := r.Cookie(preCSRFCookie)
	return err == nil && sameToken(ck.Value, r.PostFormValue("csrf"))
}

// maxForm bounds a form body; a pasted signed document is the largest.
const maxForm = 512 << 10

func (c *Console) parseForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		c.message(w, r, http.StatusBadRequest, "csrf.title", "csrf.lead")
		return false
	}
	return true
}

func (c *Console) home(w http.ResponseWriter, r *http.Request) {
	s := c.session(r)
	if s == nil {
		p := c.newPage(w, r, "signin.title")
		p.CSRF = c.preCSRF(w, r)
		switch m := r.URL.Query().Get("m"); m {
		case "expired", "out":
			p.Info = "signin." + m
		}
		c.render(w, "signin", http.StatusOK, p)
		return
	}
	p := c.formPage(w, r, s, "form.title")
	p.Form = formView{Clerk: s.clerk}
	c.render(w, "console", http.StatusOK, p)
}

func (c *Console) signIn(w http.ResponseWriter, r *http.Request) {
	if !c.parseForm(w, r) {
		return
	}
	fail := func(status int, msg string) {
		p := c.newPage(w, r, "signin.title")
		p.CSRF = c.preCSRF(w, r)
		p.Error = msg
		p.Form.Clerk = r.PostFormValue("clerk_id")
		c.render(w, "signin", status, p)
	}
	if !preCSRFOK(r) {
		c.m.signIns.WithLabelValues("csrf").Inc()
		fail(http.StatusForbidden, "form.csrf")
		return
	}
	if ok, retry := c.signinRL.Take(c.clientAddr(r), c.opt.Now()); !ok {
		c.m.signIns.WithLabelValues("rate_limited").Inc()
		w.Header().Set("Retry-After", strconv.Itoa(retry))
		fail(http.StatusTooManyRequests, "signin.limited")
		return
	}
	key := strings.TrimSpace(r.PostFormValue("api_key"))
	clerk := strings.TrimSpace(r.PostFormValue("clerk_id"))
	if !lookup.ValidClerkID(clerk) {
		c.m.signIns.WithLabelValues("invalid").Inc()
		fail(http.StatusUnprocessableEntity, "signin.badclerk")
		return
	}
	// The key is checked by the API itself: the catalog is what the form needs anyway.
	res := c.call(r, http.MethodGet, "/v1/document-types", key, nil)
	switch {
	case res.status == http.StatusTooManyRequests:
		c.m.signIns.WithLabelValues("rate_limited").Inc()
		if ra := res.header.Get("Retry-After"); ra != "" {
			w.Header().Set("Retry-After", ra) // the agency client's bucket
		}
		fail(http.StatusTooManyRequests, "signin.limited")
		return
	case res.status >= 500:
		c.m.signIns.WithLabelValues("unavailable").Inc()
		c.log.Error("console sign-in: the API did not answer", "status", res.status)
		fail(http.StatusServiceUnavailable, "unavailable.lead")
		return
	case res.status != http.StatusOK:
		c.m.signIns.WithLabelValues("refused").Inc()
		c.log.Info("console sign-in refused", "status", res.status, "remote", c.clientAddr(r))
		fail(http.StatusUnauthorized, "signin.bad")
		return
	}
	s := &session{key: key, clerk: clerk}
	if err := json.Unmarshal(res.body, &s.catalog); err != nil {
		c.log.Error("console: document types", "err", err)
		fail(http.StatusBadGateway, "unavailable.lead")
		return
	}
	if c.opt.Identify != nil {
		s.clientID, s.clientName, _ = c.opt.Identify(key)
	}
	if err := c.sessions.create(s, c.opt.Now()); err != nil {
		c.m.signIns.WithLabelValues("full").Inc()
		fail(http.StatusServiceUnavailable, "signin.full")
		return
	}
	c.m.signIns.WithLabelValues("ok").Inc()
	c.m.sessions.Set(float64(c.sessions.len()))
	c.log.Info("console sign-in", "client", s.clientID, "clerk", clerk)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: s.id, Path: "/console", HttpOnly: true, Secure: c.isSecure(r),
		SameSite: http.SameSiteStrictMode, MaxAge: int(c.opt.SessionTTL.Seconds())})
	http.Redirect(w, r, "/console", http.StatusSeeOther)
}

func (c *Console) signOut(w http.ResponseWriter, r *http.Request) {
	if !c.parseForm(w, r) {
		return
	}
	if s := c.session(r); s != nil {
		if !sameToken(s.csrf, r.PostFormValue("csrf")) {
			c.message(w, r, http.StatusForbidden, "csrf.title", "csrf.lead")
			return
		}
		c.sessions.remove(s.id)
		c.m.sessions.Set(float64(c.sessions.len()))
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/console", MaxAge: -1, HttpOnly: true,
		Secure: c.isSecure(r), SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/console?m=out", http.StatusSeeOther)
}

// ---- the API, in process ----

// recorder is an in-memory http.ResponseWriter for in-process API calls.
type recorder struct {
	header http.Header
	status int
	body   []byte
}

func (rec *recorder) Header() http.Header { return rec.header }
func (rec *recorder) WriteHeader(s int) {
	if rec.status == 0 {
		rec.status = s
	}
}
func (rec *recorder) Write(b []byte) (int, error) {
	rec.WriteHeader(http.StatusOK)
	rec.body = append(rec.body, b...)
	return len(b), nil
}

// call serves one API request through the API's handler, with the
// clerk's agency key, from the clerk's address, its problem details asked
// for in the clerk's language (Accept-Language).
func (c *Console) call(r *http.Request, method, path, key string, body []byte) *recorder {
	req, err := http.NewRequestWithContext(r.Context(), method, path, bytes.NewReader(body))
	rec := &recorder{header: http.Header{}}
	if err != nil {
		rec.status = http.StatusInternalServerError
		return rec
	}
	req.RemoteAddr = r.RemoteAddr
	req.Host = r.Host
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Accept-Language", clerkLang(r, c.langs).Code)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	c.api.ServeHTTP(rec, req)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return rec
}

// catalog is GET /v1/document-types.
type catalog lookup.DocumentTypes

func (ct catalog) paper(docType string) string {
	for _, d := range ct.DocumentTypes {
		if d.Type == docType {
			return d.Paper
		}
	}
	return ""
}

// answer is the API's answer to one form submission, kept in the session
// so that the answer page can be shown again (in the other language, or
// after a reload) without asking the API again.
type answer struct {
	n         int
	req       formView
	status    int
	outcome   string
	requestID string
	signed    attest.Signed
	problem   lookup.Problem
	// lang is the language of the problem's texts (the API's
	// Content-Language): the clerk's when the answer came, which the page
	// may no longer be in.
	lang string
}

// problemLang is the language of an API answer's problem texts: its
// Content-Language, English (the API's default) when it says none.
func problemLang(h http.Header) string {
	switch l := strings.ToLower(strings.TrimSpace(h.Get("Content-Language"))); l {
	case "ar", "fr", "en":
		return l
	}
	return "en"
}

// sourceStale: the API did not answer from the store because a data
// center the document depends on lags beyond its freshness bound (HTTP
// 503, outcome not_held, reason source_stale). Nothing is known to be
// missing: the clerk retries, the citizen is not sent away.
func (a *answer) sourceStale() bool {
	return a.outcome == audit.OutcomeNotHeld && a.problem.Reason == lookup.ReasonSourceStale
}

type formView struct {
	NIN, DocumentType, Purpose, Clerk string
	Errors                            map[string]string // field -> message, in the page's language
}

// outUnavailable is the console's outcome for an answer the API could
// not give (HTTP 5xx) or that could not be read; the others are the API's
// (audit.Outcome*).
const outUnavailable = "unavailable"

func (c *Console) request(w http.ResponseWriter, r *http.Request) {
	if !c.parseForm(w, r) {
		return
	}
	s := c.session(r)
	if s == nil {
		http.Redirect(w, r, "/console?m=expired", http.StatusSeeOther)
		return
	}
	if !sameToken(s.csrf, r.PostFormValue("csrf")) {
		c.message(w, r, http.StatusForbidden, "csrf.title", "csrf.lead")
		return
	}
	f := formView{NIN: strings.Join(strings.Fields(r.PostFormValue("nin")), ""), DocumentType: r.PostFormValue("document_type"),
		Purpose: r.PostFormValue("purpose"), Clerk: strings.TrimSpace(r.PostFormValue("clerk_id"))}
	body, _ := json.Marshal(map[string]string{"nin": f.NIN, "document_type": f.DocumentType, "purpose": f.Purpose, "clerk_id": f.Clerk})
	res := c.call(r, http.MethodPost, "/v1/document-requests", s.key, body)
	a := &answer{req: f, status: res.status, requestID: res.header.Get("X-Request-ID")}
	if res.status == http.StatusOK {
		var ok struct {
			Outcome string `json:"outcome"`
			attest.Signed
		}
		if err := json.Unmarshal(res.body, &ok); err == nil && ok.Outcome == audit.OutcomeIssued {
			a.outcome, a.signed = audit.OutcomeIssued, ok.Signed
		} else {
			a.outcome, a.status = outUnavailable, http.StatusBadGateway
		}
	} else {
		json.Unmarshal(res.body, &a.problem) //nolint:errcheck // an undecodable problem is shown by its status
		a.lang = problemLang(res.header)
		a.outcome = a.problem.Outcome
		if a.problem.RetryAfter <= 0 {
			a.problem.RetryAfter, _ = strconv.Atoi(res.header.Get("Retry-After"))
		}
		switch {
		case res.status == http.StatusUnauthorized:
			// The key was revoked since sign-in (policy reload).
			c.sessions.remove(s.id)
			c.m.requests.WithLabelValues("unauthenticated").Inc()
			http.Redirect(w, r, "/console?m=expired", http.StatusSeeOther)
			return
		case res.status == http.StatusTooManyRequests:
			a.outcome = audit.OutcomeRateLimited
		case a.outcome == audit.OutcomeNotHeld || a.outcome == audit.OutcomeDenied || a.outcome == audit.OutcomeInvalid:
		case res.status >= 500:
			a.outcome = outUnavailable
		default:
			a.outcome = audit.OutcomeInvalid
		}
	}
	counted := a.outcome
	if a.sourceStale() {
		counted = "source_stale"
	}
	c.m.requests.WithLabelValues(counted).Inc()
	n := s.add(a)
	http.Redirect(w, r, "/console/answers/"+strconv.Itoa(n), http.StatusSeeOther)
}

func (c *Console) formPage(w http.ResponseWriter, r *http.Request, s *session, titleKey string) *page {
	p := c.newPage(w, r, titleKey)
	p.S = &sessionView{ClientID: s.clientID, ClientName: s.clientName, Clerk: s.clerk}
	p.CSRF = s.csrf
	p.Catalog = buildCatalog(s.catalog, p.L)
	return p
}

// catalogView is the form's choices, in the clerk's language, with what
// the agency may ask marked (the others stay choosable: the API decides).
type catalogView struct {
	Types    []option
	Purposes []option
	Allowed  []allowedView
}

type option struct {
	Value, Label string
	Allowed      bool
}

type allowedView struct {
	Purpose string
	Papers  []string
}

func buildCatalog(ct catalog, l *Lang) *catalogView {
	v := &catalogView{}
	allowedDoc := map[string]bool{}
	for _, docs := range ct.Allowed {
		for _, d := range docs {
			allowedDoc[d] = true
		}
	}
	for _, d := range ct.DocumentTypes {
		v.Types = append(v.Types, option{Value: d.Type, Label: l.Paper(d.Type, d.Paper), Allowed: allowedDoc[d.Type]})
	}
	for _, p := range ct.Purposes {
		docs, ok := ct.Allowed[p.Code]
		v.Purposes = append(v.Purposes, option{Value: p.Code, Label: l.Purpose(p.Code), Allowed: ok})
		if ok && len(docs) > 0 {
			a := allowedView{Purpose: l.Purpose(p.Code)}
			for _, d := range docs {
				a.Papers = append(a.Papers, l.Paper(d, ct.paper(d)))
			}
			v.Allowed = append(v.Allowed, a)
		}
	}
	return v
}

// answerView is an answer laid out for the page.
type answerView struct {
	Outcome   string
	Status    int
	RequestID string
	Doc       *docView
	Paper     string
	Reason    string // message key
	// Detail is the API's problem detail, in DetailLang (the clerk's
	// language when the answer came), written in DetailDir.
	Detail                string
	DetailLang, DetailDir string
	// SourceStale: the store is not fresh enough for this document yet;
	// Stale lists the lagging data centers, RetryAfter says when to retry.
	SourceStale bool
	Stale       []staleView
	RetryAfter  string // when to retry, a sentence in the page's language
	// AsOf, for not_held: the instant the absence was found as of.
	AsOf string
}

// staleView is one lagging data center, in the page's language.
type staleView struct {
	DataCenter string        // the data center, or "<agencies>-*"
	Text       template.HTML // how far behind it is (escaped; times and names isolated left to right)
}

// ltr escapes s and isolates it left to right (a time or a code inside an
// Arabic sentence).
func ltr(s string) string { return `<bdi dir="ltr">` + template.HTMLEscapeString(s) + `</bdi>` }

// staleViews lays out a source_stale problem's data centers; when the
// problem has no "stale" list (an older API), its stale_sources names.
func staleViews(p lookup.Problem, l *Lang) []staleView {
	var out []staleView
	for _, s := range p.Stale {
		v := staleView{DataCenter: s.DataCenter}
		msg := func(key string) string { return template.HTMLEscapeString(l.T(key)) }
		switch {
		case s.Watermark == "" && strings.HasSuffix(s.DataCenter, "-*"):
			v.Text = template.HTML(fmt.Sprintf(msg("stale.dc.none_of_agency"), ltr(strings.TrimSuffix(s.DataCenter, "-*"))))
		case s.Watermark == "":
			v.Text = template.HTML(msg("stale.dc.none"))
		default:
			v.Text = template.HTML(fmt.Sprintf(msg("stale.dc.lag"), ltr(formatStamp(s.Watermark)),
				template.HTMLEscapeString(l.Duration(time.Duration(s.AgeSeconds)*time.Second))))
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		for _, dc := range p.StaleSources {
			out = append(out, staleView{DataCenter: dc})
		}
	}
	return out
}

func (c *Console) showAnswer(w http.ResponseWriter, r *http.Request) {
	s := c.session(r)
	if s == nil {
		http.Redirect(w, r, "/console?m=expired", http.StatusSeeOther)
		return
	}
	n, err := strconv.Atoi(r.PathValue("n"))
	a := s.answer(n)
	if err != nil || a == nil {
		// Older answers are not kept: back to the form.
		http.Redirect(w, r, "/console", http.StatusSeeOther)
		return
	}
	p := c.formPage(w, r, s, "answer.title")
	p.Form = a.req
	av := &answerView{Outcome: a.outcome, Status: a.status, RequestID: a.requestID, Detail: a.problem.Detail,
		DetailLang: a.lang, DetailDir: "ltr"}
	if a.lang == "ar" {
		av.DetailDir = "rtl"
	}
	switch a.outcome {
	case audit.OutcomeIssued:
		d, err := parseDocument(a.signed.Document)
		if err != nil {
			c.log.Error("console: issued document", "request_id", a.requestID, "err", err)
			c.message(w, r, http.StatusBadGateway, "unavailable.title", "unavailable.lead")
			return
		}
		av.Doc = buildDoc(d, p.L, false, c.opt.Now())
		av.Doc.KID = a.signed.Signature.KID
		canon, err := attest.Canonical(a.signed.Document)
		if err != nil {
			c.log.Error("console: canonical document", "request_id", a.requestID, "err", err)
			c.message(w, r, http.StatusBadGateway, "unavailable.title", "unavailable.lead")
			return
		}
		av.Doc.Code = VerificationCode(canon)
		av.Doc.VerifyURL = c.verifyURL(r, d.ID, av.Doc.Code)
		if av.Doc.QR, err = qrSVG(av.Doc.VerifyURL, p.L.T("doc.qr")); err != nil {
			c.log.Error("console: QR code", "err", err)
		}
		p.Title = av.Doc.Paper
	case audit.OutcomeNotHeld:
		av.Paper = p.L.Paper(a.req.DocumentType, a.problem.Paper)
		av.Reason = "reason." + a.problem.Reason
		if !p.L.HasMessage(av.Reason) {
			av.Reason = ""
		}
		if a.sourceStale() {
			av.SourceStale = true
			av.Stale = staleViews(a.problem, p.L)
			if a.problem.RetryAfter > 0 {
				av.RetryAfter = fmt.Sprintf(p.L.T("stale.retry"), p.L.Duration(time.Duration(a.problem.RetryAfter)*time.Second))
			}
			p.Title = p.L.T("stale.title")
		} else if t, err := time.Parse(time.RFC3339, a.problem.AsOf); err == nil && t.Year() >= 2000 {
			av.AsOf = formatTime(t)
		}
	case audit.OutcomeInvalid:
		// The API's message, in the clerk's language; the console's own
		// when the page is now in another language or the API said none.
		p.Form.Errors = map[string]string{}
		for _, e := range a.problem.Errors {
			msg := e.Message
			if a.lang != p.L.Code || msg == "" {
				msg = p.L.T("err." + e.Field)
			}
			if _, dup := p.Form.Errors[e.Field]; !dup {
				p.Form.Errors[e.Field] = msg
			}
		}
	}
	p.Answer = av
	c.render(w, "console", a.status, p)
}

// verifyURL is the absolute address the QR code and the printed link open:
// under Options.PublicURL when set, else the request's own.
func (c *Console) verifyURL(r *http.Request, id, code string) string {
	base := "http://" + r.Host
	if r.TLS != nil {
		base = "https://" + r.Host
	}
	if u := c.opt.PublicURL; u != nil {
		base = u.Scheme + "://" + u.Host
	}
	return base + "/verify/" + url.PathEscape(id) + "?c=" + url.QueryEscape(code)
}

// isSecure: the clerk reached the console over TLS (here, or at the proxy
// named by Options.PublicURL).
func (c *Console) isSecure(r *http.Request) bool {
	return r.TLS != nil || (c.opt.PublicURL != nil && c.opt.PublicURL.Scheme == "https")
}

var errNotAuthentic = errors.New("not authentic")
