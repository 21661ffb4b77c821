package lookup

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/askonce/askonce/internal/attest"
	"github.com/askonce/askonce/internal/audit"
	"github.com/askonce/askonce/internal/clip"
	"github.com/askonce/askonce/internal/policy"
	"github.com/askonce/askonce/internal/portfolio"
	"github.com/askonce/askonce/internal/store"
	"github.com/askonce/askonce/internal/watermark"
	"github.com/askonce/askonce/schemas"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrate creates or updates the lookup API's tables, portfolios included.
func Migrate(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) error {
	if _, err := store.Migrate(ctx, pool, "lookup", migrations, "migrations", log); err != nil {
		return err
	}
	return portfolio.Migrate(ctx, pool, log)
}

// CheckSchema returns an error unless the lookup API's tables, portfolios
// included, are at the version this release needs.
func CheckSchema(ctx context.Context, pool *pgxpool.Pool) error {
	if err := store.Check(ctx, pool, "lookup", migrations, "migrations"); err != nil {
		return err
	}
	return portfolio.CheckSchema(ctx, pool)
}

// Options configure the API.
type Options struct {
	MaxBodyBytes   int64
	RequestTimeout time.Duration
	// Policy is the policy in force (policy.Watcher.Current): read on
	// every request, so that a reload applies to the next one.
	Policy func() *policy.Policy
}

// Service is the lookup API.
type Service struct {
	opt          Options
	pool         *pgxpool.Pool
	store        *Store
	attestations *Attestations
	fresh        *Freshness
	signer       Signer
	audit        Auditor
	log          *slog.Logger
	now          func() time.Time
	policy       func() *policy.Policy
	m            *metrics
	mux          *http.ServeMux
	openapi      []byte
	limitMu      sync.Mutex
	limitsOf     *policy.Policy // the policy the limiters follow
	limiters     map[string]*rate.Limiter
	anon         *rate.Limiter
}

// NewService builds the API over the store pool.
func NewService(opt Options, pool *pgxpool.Pool, fresh *Freshness, signer Signer, audit Auditor, reg prometheus.Registerer, log *slog.Logger) (*Service, error) {
	if opt.Policy == nil {
		return nil, errors.New("lookup: no policy: nothing may be asked")
	}
	s := &Service{opt: opt, policy: opt.Policy, pool: pool, store: NewStore(pool), attestations: NewAttestations(pool), fresh: fresh, signer: signer, audit: audit, log: log,
		now: time.Now, limiters: map[string]*rate.Limiter{}, anon: rate.NewLimiter(20, 40), openapi: openAPI}
	s.m = newMetrics(reg)
	s.routes()
	return s, nil
}

// Handler is the API, to be combined with the ops endpoints.
func (s *Service) Handler() http.Handler { return s.mux }

func (s *Service) routes() {
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("GET /v1/document-types", s.wrap("document-types", s.documentTypes))
	s.mux.HandleFunc("POST /v1/document-requests", s.wrap("document-requests", s.documentRequest))
	s.mux.HandleFunc("GET /v1/attestations/{id}", s.wrap("attestations", s.attestation))
	s.mux.HandleFunc("GET /v1/citizens/{nin}/access-log", s.wrap("access-log", s.accessLog))
	s.mux.HandleFunc("GET /v1/keys", s.wrap("keys", s.keys))
	s.mux.HandleFunc("GET /v1/sources", s.wrap("sources", s.sources))
	s.portfolioRoutes()
	s.mux.HandleFunc("GET /openapi.yaml", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		w.Write(s.openapi) //nolint:errcheck // client went away
	})
}

// request is the per-request context the handlers share.
type request struct {
	id     string
	client *policy.Client
	start  time.Time
}

var requestIDRe = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

func newID(prefix string) string {
	b := make([]byte, 12)
	rand.Read(b) //nolint:errcheck // crypto/rand never fails on Linux
	return prefix + hex.EncodeToString(b)
}

func (s *Service) wrap(endpoint string, h func(http.ResponseWriter, *http.Request, *request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rq := &request{id: r.Header.Get("X-Request-ID"), start: s.now()}
		if !requestIDRe.MatchString(rq.id) {
			rq.id = newID("req_")
		}
		w.Header().Set("X-Request-ID", rq.id)
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		ctx, cancel := context.WithTimeout(r.Context(), s.opt.RequestTimeout)
		defer cancel()
		rq.client = s.authenticate(r)
		s.showBudget(w, rq.client)
		h(w, r.WithContext(ctx), rq)
		s.m.duration.WithLabelValues(endpoint).Observe(time.Since(rq.start).Seconds())
	}
}

// authenticate finds the client of a request: a client certificate (mTLS)
// or an API key (Authorization: Bearer, or X-API-Key). nil when none or unknown.
func (s *Service) authenticate(r *http.Request) *policy.Client {
	p := s.policy()
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		if c := p.ByCertificate(r.TLS.PeerCertificates[0].Raw); c != nil {
			return c
		}
	}
	key := r.Header.Get("X-API-Key")
	if a := r.Header.Get("Authorization"); key == "" && len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		key = strings.TrimSpace(a[7:])
	}
	return p.ByAPIKey(key)
}

// Problem is an RFC 9457 problem document.
type Problem struct {
	Type         string   `json:"type"`
	Title        string   `json:"title"`
	Status       int      `json:"status"`
	Detail       string   `json:"detail,omitempty"`
	Instance     string   `json:"instance,omitempty"`
	RequestID    string   `json:"request_id"`
	Outcome      string   `json:"outcome,omitempty"`
	Reason       string   `json:"reason,omitempty"`
	DocumentType string   `json:"document_type,omitempty"`
	Paper        string   `json:"paper,omitempty"`
	StaleSources []string `json:"stale_sources,omitempty"`
	// Stale says, for source_stale, which data centers lag and by how much.
	Stale []watermark.Lagging `json:"stale,omitempty"`
	// RetryAfter (seconds), for temporary conditions; also in Retry-After.
	RetryAfter int `json:"retry_after,omitempty"`
	// AsOf, for not_held: the absence holds as of this instant (the
	// oldest watermark of the data centers read).
	AsOf   string       `json:"as_of,omitempty"`
	Errors []FieldError `json:"errors,omitempty"`

	// title and detail are Title and Detail in every language: problem
	// writes them in the caller's (i18n.go).
	title, detail msg
}

// FieldError names one invalid request field. Message is in the default
// language until the answer writes it in the caller's.
type FieldError struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
	text    msg
}

// fieldError is an invalid field with the text of its message.
func fieldError(field, code string, text msg) FieldError {
	return FieldError{Field: field, Code: code, Message: text.in(DefaultLanguage), text: text}
}

// localize writes the problem's texts in lang.
func (p *Problem) localize(lang string) {
	if !p.title.isZero() {
		p.Title = p.title.in(lang)
	}
	if !p.detail.isZero() {
		p.Detail = p.detail.in(lang)
	}
	localizeErrors(p.Errors, lang)
}

func localizeErrors(errs []FieldError, lang string) {
	for i := range errs {
		if !errs[i].text.isZero() {
			errs[i].Message = errs[i].text.in(lang)
		}
	}
}

const problemBase = "https://askonce.dz/problems/"

// problem answers p, its texts in the language the request accepts
// (Content-Language says which).
func (s *Service) problem(w http.ResponseWriter, r *http.Request, rq *request, p Problem) {
	lang := problemLanguage(r.Header.Get("Accept-Language"))
	p.localize(lang)
	p.RequestID = rq.id
	p.Instance = r.URL.Path
	if p.Type == "" {
		p.Type = "about:blank"
	}
	if p.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="askonce"`)
	}
	if p.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(p.RetryAfter))
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Content-Language", lang)
	w.Header().Add("Vary", "Accept-Language")
	w.WriteHeader(p.Status)
	json.NewEncoder(w).Encode(p) //nolint:errcheck // client went away
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v) //nolint:errcheck // client went away
}

func (s *Service) unauthenticated(w http.ResponseWriter, r *http.Request, rq *request) {
	s.problem(w, r, rq, Problem{Type: problemBase + "unauthenticated", title: tr("title.unauthenticated"), Status: http.StatusUnauthorized,
		detail: tr("detail.unauthenticated"), Outcome: audit.OutcomeUnauthenticated})
}

func (s *Service) documentTypes(w http.ResponseWriter, r *http.Request, rq *request) {
	if rq.client == nil {
		s.unauthenticated(w, r, rq)
		return
	}
	if !s.limit(w, r, rq, rq.client) {
		return
	}
	writeJSON(w, http.StatusOK, DocumentTypes{Allowed: rq.client.Purposes(), DocumentTypes: Catalog, Purposes: Purposes})
}

// DocumentTypes is the answer of GET /v1/document-types: the catalog, the
// purposes, and what the calling client may ask (purpose -> document
// types).
type DocumentTypes struct {
	Allowed       map[string][]string `json:"allowed"`
	DocumentTypes []DocumentType      `json:"document_types"`
	Purposes      []Purpose           `json:"purposes"`
}

// DocumentRequest is the body of POST /v1/document-requests.
type DocumentRequest struct {
	DocumentType string `json:"document_type"`
	NIN          string `json:"nin"`
	Purpose      string `json:"purpose"`
	ClerkID      string `json:"clerk_id"`
}

var clerkRe = regexp.MustCompile(`^[A-Za-z0-9._@:-]{1,64}$`)

// ValidClerkID reports whether s is a clerk id the API accepts: 1 to 64
// letters, digits and . _ @ : - (an agency's own staff identifier).
func ValidClerkID(s string) bool { return clerkRe.MatchString(s) }

// RequestError says why a body is not a request: Error in the default
// language, the problem's detail in the caller's. It wraps the decoder's
// error, which is logged, not answered (it names Go types).
type RequestError struct {
	// TooLarge: the body is over the size limit (413).
	TooLarge bool
	text     msg
	err      error
}

func (e *RequestError) Error() string { return e.text.in(DefaultLanguage) }
func (e *RequestError) Unwrap() error { return e.err }

// bodyError is the RequestError of a body the JSON decoder refused.
func bodyError(err error, max int64) *RequestError {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return &RequestError{TooLarge: true, text: tr("detail.body_too_large", "max", max), err: err}
	}
	return &RequestError{text: tr("detail.body_not_request", "why", whyNotJSON(err)), err: err}
}

// whyNotJSON says what the decoder found wrong, in words that hold in
// every language and name no Go type: where the syntax breaks, which
// field is unknown or not a string.
func whyNotJSON(err error) msg {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return tr("body.syntax", "offset", syn.Offset)
	case errors.Is(err, io.EOF):
		return tr("body.empty")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return tr("body.truncated")
	case errors.As(err, &typ) && typ.Field == "":
		return tr("body.not_object")
	case errors.As(err, &typ):
		return tr("body.field_type", "field", quoted(clip.Field(typ.Field)))
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if field, uerr := strconv.Unquote(name); uerr == nil {
			return tr("body.unknown_field", "field", quoted(clip.Field(field)))
		}
	}
	return tr("body.unreadable")
}

// DecodeRequest reads a document request body: JSON, one object, known
// fields only, at most max bytes. Its errors are *RequestError.
func DecodeRequest(body io.Reader, max int64) (DocumentRequest, error) {
	var req DocumentRequest
	dec := json.NewDecoder(io.LimitReader(body, max+1))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return req, bodyError(err, max)
	}
	if dec.More() {
		return req, &RequestError{text: tr("detail.body_more_values")}
	}
	if _, err := dec.Token(); err != io.EOF {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return req, bodyError(err, max)
		}
		return req, &RequestError{text: tr("detail.body_more_values"), err: err}
	}
	return req, nil
}

// Validate checks the fields of a request against the catalog.
func (req DocumentRequest) Validate() []FieldError {
	var errs []FieldError
	if !schemas.ValidNIN(req.NIN) {
		errs = append(errs, fieldError("nin", "nin.format", tr("field.nin.format")))
	}
	if _, ok := DocumentByType(req.DocumentType); !ok {
		errs = append(errs, fieldError("document_type", "document_type.unknown", tr("field.document_type.unknown", "value", quoted(clip.Field(req.DocumentType)))))
	}
	if _, ok := PurposeByCode(req.Purpose); !ok {
		errs = append(errs, fieldError("purpose", "purpose.unknown", tr("field.purpose.unknown", "value", quoted(clip.Field(req.Purpose)))))
	}
	if !ValidClerkID(req.ClerkID) {
		errs = append(errs, fieldError("clerk_id", "clerk_id.format", tr("field.clerk_id.format")))
	}
	return errs
}

func (s *Service) record(ctx context.Context, rq *request, req DocumentRequest, outcome, reason, docID string) error {
	return s.recordWith(ctx, rq, req, outcome, reason, docID, nil)
}

func (s *Service) recordWith(ctx context.Context, rq *request, req DocumentRequest, outcome, reason, docID string, att *StoredAttestation) error {
	clientID := "-"
	if rq.client != nil {
		clientID = rq.client.ID
	}
	start := s.now()
	err := s.audit.Append(ctx, audit.Entry{At: start, RequestID: rq.id, Client: clientID, ClerkID: clip.Field(req.ClerkID), NIN: clip.Field(req.NIN),
		DocumentType: clip.Field(req.DocumentType), Purpose: clip.Field(req.Purpose), Outcome: outcome, Reason: reason, DocumentID: docID}, att)
	s.m.auditSeconds.Observe(time.Since(start).Seconds())
	if err != nil {
		s.log.Error("audit append failed: request refused", "request_id", rq.id, "err", err)
	}
	return err
}

func (s *Service) auditFailed(w http.ResponseWriter, r *http.Request, rq *request) {
	w.Header().Set("Retry-After", "5")
	s.problem(w, r, rq, Problem{Type: problemBase + "audit-unavailable", title: tr("title.audit_unavailable"), Status: http.StatusServiceUnavailable,
		detail: tr("detail.audit_unavailable")})
}

// malformedBody answers a body that is not a request: 413 when too large,
// else 400, in the caller's language; the decoder's own words go to the
// log only.
func (s *Service) malformedBody(w http.ResponseWriter, r *http.Request, rq *request, err error) {
	var re *RequestError
	if !errors.As(err, &re) {
		re = &RequestError{text: tr("detail.body_not_request", "why", tr("body.unreadable")), err: err}
	}
	status := http.StatusBadRequest
	if re.TooLarge {
		status = http.StatusRequestEntityTooLarge
	}
	if re.err != nil {
		s.log.Info("malformed request body", "request_id", rq.id, "path", r.URL.Path, "err", re.err)
	}
	s.problem(w, r, rq, Problem{Type: problemBase + "malformed-request", title: tr("title.malformed"), Status: status, detail: re.text, Outcome: audit.OutcomeInvalid})
}

func (s *Service) count(doc, outcome string) {
	if _, ok := DocumentByType(doc); !ok {
		doc = "unknown"
	}
	s.m.requests.WithLabelValues(doc, outcome).Inc()
}

func (s *Service) documentRequest(w http.ResponseWriter, r *http.Request, rq *request) {
	ctx := r.Context()
	if !s.limit(w, r, rq, rq.client) {
		s.count("unknown", audit.OutcomeRateLimited)
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		s.count("unknown", audit.OutcomeInvalid)
		s.problem(w, r, rq, Problem{Type: problemBase + "malformed-request", title: tr("title.malformed"), Status: http.StatusUnsupportedMediaType,
			detail: tr("detail.content_type_json"), Outcome: audit.OutcomeInvalid})
		return
	}
	req, err := DecodeRequest(http.MaxBytesReader(w, r.Body, s.opt.MaxBodyBytes), s.opt.MaxBodyBytes)
	if err != nil {
		s.count("unknown", audit.OutcomeInvalid)
		s.malformedBody(w, r, rq, err)
		return
	}
	if rq.client == nil {
		// Someone without credentials asked about a citizen: the citizen
		// may want to know, so it is audited too (the NIN only if well formed).
		if !schemas.ValidNIN(req.NIN) {
			req.NIN = ""
		}
		s.count(req.DocumentType, audit.OutcomeUnauthenticated)
		if s.record(ctx, rq, req, audit.OutcomeUnauthenticated, "", "") != nil {
			s.auditFailed(w, r, rq)
			return
		}
		s.unauthenticated(w, r, rq)
		return
	}
	if errs := req.Validate(); len(errs) > 0 {
		s.count(req.DocumentType, audit.OutcomeInvalid)
		if s.record(ctx, rq, req, audit.OutcomeInvalid, errs[0].Code, "") != nil {
			s.auditFailed(w, r, rq)
			return
		}
		s.problem(w, r, rq, Problem{Type: problemBase + "invalid-request", title: tr("title.invalid"), Status: http.StatusUnprocessableEntity,
			detail: errs[0].text, Outcome: audit.OutcomeInvalid, Errors: errs})
		return
	}
	doc, _ := DocumentByType(req.DocumentType)
	if !rq.client.Allowed(req.Purpose, req.DocumentType) {
		s.count(req.DocumentType, audit.OutcomeDenied)
		if s.record(ctx, rq, req, audit.OutcomeDenied, "policy", "") != nil {
			s.auditFailed(w, r, rq)
			return
		}
		s.problem(w, r, rq, Problem{Type: problemBase + "denied", title: tr("title.denied"), Status: http.StatusForbidden,
			detail:  tr("detail.denied_document", "client", rq.client.ID, "document_type", req.DocumentType, "purpose", req.Purpose),
			Outcome: audit.OutcomeDenied, DocumentType: req.DocumentType})
		return
	}
	now := s.now().UTC().Truncate(time.Second)
	d, err := s.store.decide(ctx, req.DocumentType, req.NIN, now)
	if err == nil {
		err = s.checkFresh(ctx, doc, &d, now)
	}
	if err != nil {
		s.log.Error("lookup failed", "request_id", rq.id, "document_type", req.DocumentType, "err", err)
		s.problem(w, r, rq, Problem{Type: problemBase + "unavailable", title: tr("title.store_unavailable"), Status: http.StatusServiceUnavailable,
			detail: tr("detail.store_unavailable")})
		return
	}
	if d.reason == ReasonSourceStale {
		s.count(req.DocumentType, audit.OutcomeNotHeld)
		s.m.stale.WithLabelValues(req.DocumentType).Inc()
		if s.record(ctx, rq, req, audit.OutcomeNotHeld, d.reason, "") != nil {
			s.auditFailed(w, r, rq)
			return
		}
		s.problem(w, r, rq, Problem{Type: problemBase + "source-stale", title: tr("title.source_stale"), Status: http.StatusServiceUnavailable,
			detail: d.detail, Outcome: audit.OutcomeNotHeld, Reason: d.reason, DocumentType: req.DocumentType, Paper: doc.Paper,
			StaleSources: d.stale(), Stale: d.fresh.Lagging, RetryAfter: staleRetryAfter})
		return
	}
	if !d.issued {
		s.count(req.DocumentType, audit.OutcomeNotHeld)
		if s.record(ctx, rq, req, audit.OutcomeNotHeld, d.reason, "") != nil {
			s.auditFailed(w, r, rq)
			return
		}
		title := tr("title.not_held")
		if d.reason == ReasonConditionNot {
			title = tr("title.condition_not_met")
		}
		s.problem(w, r, rq, Problem{Type: problemBase + "not-held", title: title, Status: http.StatusNotFound, detail: d.detail,
			Outcome: audit.OutcomeNotHeld, Reason: d.reason, DocumentType: req.DocumentType, Paper: doc.Paper, AsOf: d.fresh.AsOf.Format(time.RFC3339)})
		return
	}
	signed, att, err := s.issue(rq, req, doc, d, now)
	if err != nil {
		s.log.Error("issue failed", "request_id", rq.id, "err", err)
		s.problem(w, r, rq, Problem{Type: problemBase + "unavailable", title: tr("title.issue_failed"), Status: http.StatusServiceUnavailable,
			detail: tr("detail.issue_failed")})
		return
	}
	// The document is stored with the audit entry of its issue, in one
	// transaction: never a document handed out without its entry.
	if s.recordWith(ctx, rq, req, audit.OutcomeIssued, "", att.ID, att) != nil {
		s.auditFailed(w, r, rq)
		return
	}
	s.count(req.DocumentType, audit.OutcomeIssued)
	s.m.asksAvoided.WithLabelValues(req.DocumentType, rq.client.ID).Inc()
	w.Header().Set("Location", "/v1/attestations/"+att.ID)
	// The signed bytes as they are (canonical JSON): no re-encoding.
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	out := make([]byte, 0, len(signed.Document)+len(att.Signature)+64)
	out = append(out, `{"outcome":"issued","document":`...)
	out = append(out, signed.Document...)
	out = append(out, `,"signature":`...)
	out = append(out, att.Signature...)
	out = append(out, "}\n"...)
	w.Write(out) //nolint:errcheck // client went away
}

func (d *decision) stale() []string { return d.staleDCs }

// Decide runs the rule of document type doc for nin on the store: the
// store queries of a document request without authentication, policy,
// signing or audit (the ceiling `askonce bench` compares the API with).
// It reports whether the document would be issued.
func (s *Store) Decide(ctx context.Context, doc, nin string, now time.Time) (bool, error) {
	d, err := s.decide(ctx, doc, nin, now)
	return d.issued, err
}

// staleRetryAfter is the Retry-After of a source_stale answer: a few
// watermark rounds, the time a store that is only a little behind needs.
const staleRetryAfter = 30

// checkFresh takes the answer's as_of from the store's watermarks and turns
// it into source_stale when a data center it reads lags beyond the
// document type's freshness bound (or has no watermark at all).
func (s *Service) checkFresh(ctx context.Context, doc DocumentType, d *decision, now time.Time) error {
	f, err := s.fresh.Check(ctx, doc, d.dcs, d.agencies, now)
	if err != nil {
		return err
	}
	if len(f.Lagging) == 0 && !f.AsOf.IsZero() {
		d.fresh = f
		return nil
	}
	names := make([]string, len(f.Lagging))
	parts := make(list, len(f.Lagging))
	for i, l := range f.Lagging {
		names[i] = l.DataCenter
		switch {
		case l.Watermark == "" && strings.HasSuffix(l.DataCenter, "-*"):
			parts[i] = tr("stale.no_watermark_in_agency", "data_center", l.DataCenter, "agency", l.Agency)
		case l.Watermark == "":
			parts[i] = tr("stale.no_watermark", "data_center", l.DataCenter)
		default:
			parts[i] = tr("stale.behind", "data_center", l.DataCenter, "watermark", l.Watermark, "age", time.Duration(l.AgeSeconds)*time.Second)
		}
	}
	*d = decision{reason: ReasonSourceStale, staleDCs: names, fresh: f,
		detail: tr("detail.source_stale", "bound", f.Bound, "sources", parts)}
	return nil
}

func (s *Service) issue(rq *request, req DocumentRequest, doc DocumentType, d decision, now time.Time) (attest.Signed, *StoredAttestation, error) {
	id := newID("doc_")
	pur, _ := PurposeByCode(req.Purpose)
	fields := minimize(d.fields, pur.Fields[req.DocumentType])
	var validUntil any
	if v := doc.validUntil(now); v != nil {
		validUntil = v.Format(time.RFC3339)
	}
	sources := make([]any, len(d.sources))
	for i, r := range d.sources {
		sources[i] = map[string]any{"agency": r.Agency, "data_center": r.DataCenter, "source_key": r.SourceKey,
			"source_version": r.SourceVersion, "event_time": r.EventTime.UTC().Format(time.RFC3339Nano)}
	}
	body := map[string]any{
		"id": id, "type": doc.Type, "paper": doc.Paper, "nin": req.NIN, "purpose": req.Purpose,
		"requested_by": map[string]any{"client": rq.client.ID, "agency": rq.client.Name, "clerk_id": req.ClerkID},
		"issued_at":    now.Format(time.RFC3339), "as_of": d.fresh.AsOf.Format(time.RFC3339), "valid_until": validUntil,
		"fields": fields, "provenance": sources, "issuer": "askonce",
	}
	canon, err := s.signer.Canonical(body)
	if err != nil {
		return attest.Signed{}, nil, fmt.Errorf("canonical form: %w", err)
	}
	sig := s.signer.Sign(canon)
	sigJSON, _ := json.Marshal(sig)
	return attest.Signed{Document: canon, Signature: sig}, &StoredAttestation{ID: id, Client: rq.client.ID, DocumentType: doc.Type, NIN: req.NIN,
		IssuedAt: now, Document: string(canon), Signature: sigJSON}, nil
}

// minimize keeps the fields a purpose may see.
func minimize(fields map[string]any, allowed []string) map[string]any {
	if len(allowed) == 1 && allowed[0] == "*" {
		return fields
	}
	out := map[string]any{}
	for _, k := range allowed {
		if v, ok := fields[k]; ok {
			out[k] = v
		}
	}
	return out
}

func (s *Service) attestation(w http.ResponseWriter, r *http.Request, rq *request) {
	id := r.PathValue("id")
	if rq.client == nil {
		s.refuseUnauthenticated(w, r, rq, DocumentRequest{DocumentType: audit.DocAttestation})
		return
	}
	if !s.limit(w, r, rq, rq.client) {
		return
	}
	doc, err := s.attestations.Get(r.Context(), id, rq.client.ID)
	if errors.Is(err, ErrNoAttestation) {
		// Another client's document is as absent as a missing one; the
		// attempt is audited with the id asked for.
		if s.record(r.Context(), rq, DocumentRequest{DocumentType: audit.DocAttestation}, audit.OutcomeDenied, "attestation.unknown", clip.Field(id)) != nil {
			s.auditFailed(w, r, rq)
			return
		}
		s.problem(w, r, rq, Problem{Type: problemBase + "not-found", title: tr("title.attestation_not_found"), Status: http.StatusNotFound})
		return
	}
	if err != nil {
		s.problem(w, r, rq, Problem{Type: problemBase + "unavailable", title: tr("title.store_unavailable"), Status: http.StatusServiceUnavailable,
			detail: tr("detail.store_unavailable")})
		return
	}
	// Reading an issued document again discloses the citizen's data again.
	if s.record(r.Context(), rq, DocumentRequest{NIN: doc.NIN, DocumentType: audit.DocAttestation}, audit.OutcomeIssued, "attestation.read", id) != nil {
		s.auditFailed(w, r, rq)
		return
	}
	writeJSON(w, http.StatusOK, doc.Signed)
}

func (s *Service) keys(w http.ResponseWriter, _ *http.Request, _ *request) {
	w.Header().Set("Cache-Control", "max-age=300")
	writeJSON(w, http.StatusOK, s.signer.PublicKeys())
}

func (s *Service) sources(w http.ResponseWriter, r *http.Request, rq *request) {
	if rq.client == nil {
		s.unauthenticated(w, r, rq)
		return
	}
	rep, err := s.fresh.Report(r.Context())
	if err != nil {
		s.problem(w, r, rq, Problem{Type: problemBase + "unavailable", title: tr("title.store_unavailable"), Status: http.StatusServiceUnavailable,
			detail: tr("detail.store_unavailable")})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"sources": rep})
}

func (s *Service) accessLog(w http.ResponseWriter, r *http.Request, rq *request) {
	ctx := r.Context()
	req := DocumentRequest{NIN: r.PathValue("nin"), DocumentType: "access-log", Purpose: "citizen-access-log", ClerkID: r.URL.Query().Get("clerk_id")}
	if req.ClerkID == "" {
		req.ClerkID = "portal"
	}
	if rq.client == nil {
		s.refuseUnauthenticated(w, r, rq, req)
		return
	}
	if !s.limit(w, r, rq, rq.client) {
		return
	}
	if !schemas.ValidNIN(req.NIN) {
		if s.record(ctx, rq, req, audit.OutcomeInvalid, "nin.format", "") != nil {
			s.auditFailed(w, r, rq)
			return
		}
		s.problem(w, r, rq, Problem{Type: problemBase + "invalid-request", title: tr("title.invalid"), Status: http.StatusUnprocessableEntity,
			detail: tr("field.nin.format"), Outcome: audit.OutcomeInvalid, Errors: []FieldError{fieldError("nin", "nin.format", tr("field.nin.format"))}})
		return
	}
	if !rq.client.HasPurpose("citizen-access-log") {
		if s.record(ctx, rq, req, audit.OutcomeDenied, "policy", "") != nil {
			s.auditFailed(w, r, rq)
			return
		}
		s.problem(w, r, rq, Problem{Type: problemBase + "denied", title: tr("title.denied"), Status: http.StatusForbidden,
			detail: tr("detail.denied_access_log", "client", rq.client.ID), Outcome: audit.OutcomeDenied})
		return
	}
	entries, err := s.audit.ForCitizen(ctx, req.NIN, 500)
	if err != nil {
		s.problem(w, r, rq, Problem{Type: problemBase + "unavailable", title: tr("title.audit_unavailable"), Status: http.StatusServiceUnavailable,
			detail: tr("detail.audit_unreadable")})
		return
	}
	if s.record(ctx, rq, req, audit.OutcomeIssued, "", "") != nil {
		s.auditFailed(w, r, rq)
		return
	}
	names := map[string]string{}
	for _, c := range s.policy().Clients() {
		names[c.ID] = c.Name
	}
	out := []map[string]any{}
	for _, e := range entries {
		out = append(out, map[string]any{"at": e.At.UTC().Format(time.RFC3339), "agency": names[e.Client], "client": e.Client,
			"purpose": e.Purpose, "document_type": e.DocumentType, "outcome": e.Outcome})
	}
	writeJSON(w, http.StatusOK, map[string]any{"nin": req.NIN, "accesses": out})
}

type metrics struct {
	requests     *prometheus.CounterVec
	asksAvoided  *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	auditSeconds prometheus.Histogram
	stale        *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "askonce", Subsystem: "lookup",
			Name: "requests_total", Help: "Document requests by document type and outcome."}, []string{"document_type", "outcome"}),
		asksAvoided: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "askonce",
			Name: "asks_avoided_total", Help: "Documents issued: papers the citizen did not have to bring."}, []string{"document_type", "client"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "askonce", Subsystem: "lookup",
			Name: "request_duration_seconds", Help: "Request latency, audit included.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .2, .5, 1, 2, 5}}, []string{"endpoint"}),
		auditSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "askonce", Subsystem: "lookup",
			Name: "audit_append_duration_seconds", Help: "Time until a request's audit entry is durable.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .2, .5, 1}}),
	}
	m.stale = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "askonce", Subsystem: "lookup",
		Name: "source_stale_total", Help: "Document requests refused because a data center they read lags beyond the document type's freshness bound."}, []string{"document_type"})
	for _, d := range Catalog {
		m.stale.WithLabelValues(d.Type) // 0 from the start: increase() sees the first refusal
	}
	reg.MustRegister(m.requests, m.asksAvoided, m.duration, m.auditSeconds, m.stale)
	return m
}
