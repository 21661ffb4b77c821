package lookup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/askonce/askonce/internal/audit"
	"github.com/askonce/askonce/internal/clip"
	"github.com/askonce/askonce/internal/portfolio"
	"github.com/askonce/askonce/schemas"
)

// Portfolio API: an agency declares the citizens it serves and the kinds of
// change it must be told about (askonce.notify.<agency>). A client manages
// its own agency's portfolio only (client id == agency), under a purpose
// its policy grants; every call is audited like a document request, with
// document_type "portfolio".

// Bounds of a bulk upload: past them the whole upload is refused (413).
const (
	BulkMaxMembers = 10_000
	BulkMaxBytes   = 4 << 20
)

type portfolioAPI struct {
	s     *Service
	store *portfolio.Store
}

// portfolioRoutes registers the portfolio endpoints on s.mux.
func (s *Service) portfolioRoutes() {
	p := &portfolioAPI{s: s, store: portfolio.NewStore(s.pool)}
	s.mux.HandleFunc("PUT /v1/portfolios/{agency}/members/{nin}", s.wrap("portfolio-put", p.put))
	s.mux.HandleFunc("DELETE /v1/portfolios/{agency}/members/{nin}", s.wrap("portfolio-delete", p.remove))
	s.mux.HandleFunc("POST /v1/portfolios/{agency}/members:bulk", s.wrap("portfolio-bulk", p.bulk))
	s.mux.HandleFunc("GET /v1/portfolios/{agency}/members", s.wrap("portfolio-list", p.list))
}

// MemberRequest is the body of PUT /v1/portfolios/{agency}/members/{nin}
// and one item of a bulk upload (which also names the nin and may set op).
type MemberRequest struct {
	NIN     string   `json:"nin,omitempty"`
	Op      string   `json:"op,omitempty"` // bulk only: put (default) or delete
	Kinds   []string `json:"kinds"`
	Purpose string   `json:"purpose"`
}

func (p *portfolioAPI) audit(ctx context.Context, rq *request, nin, purpose, outcome, reason string) error {
	return p.s.record(ctx, rq, DocumentRequest{NIN: nin, DocumentType: audit.DocPortfolio, Purpose: purpose}, outcome, reason, "")
}

// gate authenticates, rate-limits and checks that the client manages the
// agency of the path; false when it answered.
func (p *portfolioAPI) gate(w http.ResponseWriter, r *http.Request, rq *request, nin string) (string, bool) {
	s := p.s
	if rq.client == nil {
		s.refuseUnauthenticated(w, r, rq, DocumentRequest{NIN: nin, DocumentType: audit.DocPortfolio})
		return "", false
	}
	if !s.limit(w, r, rq, rq.client) {
		return "", false
	}
	agency := r.PathValue("agency")
	if agency != rq.client.ID {
		if p.audit(r.Context(), rq, clip.Field(nin), "", audit.OutcomeDenied, "portfolio of another agency: "+clip.Field(agency)) != nil {
			s.auditFailed(w, r, rq)
			return "", false
		}
		s.problem(w, r, rq, Problem{Type: problemBase + "denied", title: tr("title.denied"), Status: http.StatusForbidden,
			detail: tr("detail.denied_portfolio_agency", "client", rq.client.ID), Outcome: audit.OutcomeDenied})
		return "", false
	}
	return agency, true
}

// memberErrors are the reasons Member.Check refused a member, as field
// errors with their texts. The values they name (a purpose, kinds) are the
// member's as sent (purpose, kinds), before Check normalized them; a reason
// this table cannot say as Check did keeps Check's words (field.invalid).
func memberErrors(errs []portfolio.Invalid, purpose string, kinds []string) []FieldError {
	allowed, known := portfolio.PurposeKinds[purpose]
	var kindTexts []msg // the kinds.* reasons, in Check's order
	for _, k := range kinds {
		switch {
		case !slices.Contains(schemas.ChangeKinds, k):
			kindTexts = append(kindTexts, tr("field.kinds.unknown", "value", quoted(clip.Field(k))))
		case known && !slices.Contains(allowed, k):
			kindTexts = append(kindTexts, tr("field.kinds.purpose", "purpose", purpose, "kind", k))
		}
	}
	out := make([]FieldError, len(errs))
	next := 0
	for i, e := range errs {
		var text msg
		switch e.Code {
		case "nin.format":
			text = tr("field.nin.format")
		case "purpose.unknown":
			text = tr("field.purpose.notify_unknown", "value", quoted(clip.Field(purpose)))
		case "kinds.empty":
			text = tr("field.kinds.empty")
		case "op.unknown":
			text = tr("field.op.unknown")
		case "kinds.unknown", "kinds.purpose":
			if next < len(kindTexts) {
				text = kindTexts[next]
			}
			next++
		}
		if text.isZero() || text.in(DefaultLanguage) != e.Message {
			text = tr("field.invalid", "said", e.Message)
		}
		out[i] = fieldError(e.Field, e.Code, text)
	}
	return out
}

func (p *portfolioAPI) invalid(w http.ResponseWriter, r *http.Request, rq *request, errs []FieldError) {
	nin := r.PathValue("nin")
	if nin == "" {
		nin = r.URL.Query().Get("nin")
	}
	if p.audit(r.Context(), rq, clip.Field(nin), "", audit.OutcomeInvalid, errs[0].Code) != nil {
		p.s.auditFailed(w, r, rq)
		return
	}
	msgs := make(semicolons, len(errs))
	for i, e := range errs {
		msgs[i] = tr("detail.field_error", "field", e.Field, "message", e.text)
	}
	p.s.problem(w, r, rq, Problem{Type: problemBase + "invalid-request", title: tr("title.invalid"), Status: http.StatusUnprocessableEntity,
		detail: tr("detail.field_errors", "errors", msgs), Outcome: audit.OutcomeInvalid, Errors: errs})
}

func (p *portfolioAPI) malformed(w http.ResponseWriter, r *http.Request, rq *request, status int, detail msg) {
	p.s.problem(w, r, rq, Problem{Type: problemBase + "malformed-request", title: tr("title.malformed"), Status: status,
		detail: detail, Outcome: audit.OutcomeInvalid})
}

func (p *portfolioAPI) denyPurpose(w http.ResponseWriter, r *http.Request, rq *request, m portfolio.Member) {
	if p.audit(r.Context(), rq, m.NIN, clip.Field(m.Purpose), audit.OutcomeDenied, "policy") != nil {
		p.s.auditFailed(w, r, rq)
		return
	}
	p.s.problem(w, r, rq, Problem{Type: problemBase + "denied", title: tr("title.denied"), Status: http.StatusForbidden,
		detail: tr("detail.denied_portfolio_purpose", "client", rq.client.ID, "purpose", quoted(clip.Field(m.Purpose))), Outcome: audit.OutcomeDenied})
}

func (p *portfolioAPI) unavailable(w http.ResponseWriter, r *http.Request, rq *request, err error) {
	p.s.log.Error("portfolio store", "request_id", rq.id, "err", err)
	w.Header().Set("Retry-After", "5")
	p.s.problem(w, r, rq, Problem{Type: problemBase + "unavailable", title: tr("title.store_unavailable"), Status: http.StatusServiceUnavailable,
		detail: tr("detail.store_unavailable")})
}

func (p *portfolioAPI) put(w http.ResponseWriter, r *http.Request, rq *request) {
	nin := r.PathValue("nin")
	agency, ok := p.gate(w, r, rq, nin)
	if !ok {
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		p.malformed(w, r, rq, http.StatusUnsupportedMediaType, tr("detail.content_type_json"))
		return
	}
	var req MemberRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, p.s.opt.MaxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			p.malformed(w, r, rq, http.StatusRequestEntityTooLarge, tr("detail.body_too_large", "max", p.s.opt.MaxBodyBytes))
			return
		}
		p.s.log.Info("malformed request body", "request_id", rq.id, "path", r.URL.Path, "err", err)
		p.malformed(w, r, rq, http.StatusBadRequest, tr("detail.member_not_json"))
		return
	}
	if req.NIN != "" && req.NIN != nin {
		p.invalid(w, r, rq, []FieldError{fieldError("nin", "nin.mismatch", tr("field.nin.mismatch"))})
		return
	}
	m := portfolio.Member{Agency: agency, NIN: nin, Kinds: req.Kinds, Purpose: req.Purpose}
	if errs := m.Check(); len(errs) > 0 {
		p.invalid(w, r, rq, memberErrors(errs, req.Purpose, req.Kinds))
		return
	}
	if !rq.client.MayHold(m.Purpose) {
		p.denyPurpose(w, r, rq, m)
		return
	}
	// Audited first: a change that is not in the audit log is not made.
	if p.audit(r.Context(), rq, m.NIN, m.Purpose, audit.OutcomeIssued, "portfolio put "+strings.Join(m.Kinds, ",")) != nil {
		p.s.auditFailed(w, r, rq)
		return
	}
	out, err := p.store.Put(r.Context(), m, "api:"+rq.id)
	if errors.Is(err, portfolio.ErrNewerChange) {
		p.s.problem(w, r, rq, Problem{Type: problemBase + "conflict", title: tr("title.conflict"), Status: http.StatusConflict,
			detail: tr("detail.portfolio_newer")})
		return
	}
	if err != nil {
		p.unavailable(w, r, rq, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (p *portfolioAPI) remove(w http.ResponseWriter, r *http.Request, rq *request) {
	nin := r.PathValue("nin")
	agency, ok := p.gate(w, r, rq, nin)
	if !ok {
		return
	}
	m := portfolio.Member{NIN: nin}
	if errs := m.Check(); len(errs) > 0 && errs[0].Field == "nin" {
		p.invalid(w, r, rq, memberErrors(errs[:1], "", nil))
		return
	}
	if p.audit(r.Context(), rq, nin, "", audit.OutcomeIssued, "portfolio delete") != nil {
		p.s.auditFailed(w, r, rq)
		return
	}
	existed, err := p.store.Delete(r.Context(), agency, nin, "api:"+rq.id)
	if err != nil {
		p.unavailable(w, r, rq, err)
		return
	}
	if !existed {
		p.s.problem(w, r, rq, Problem{Type: problemBase + "not-found", title: tr("title.not_found"), Status: http.StatusNotFound,
			detail: tr("detail.member_not_found")})
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (p *portfolioAPI) list(w http.ResponseWriter, r *http.Request, rq *request) {
	q := r.URL.Query()
	nin := q.Get("nin")
	agency, ok := p.gate(w, r, rq, nin)
	if !ok {
		return
	}
	ctx := r.Context()
	if nin != "" {
		if !schemas.ValidNIN(nin) {
			p.invalid(w, r, rq, []FieldError{fieldError("nin", "nin.format", tr("field.nin.format"))})
			return
		}
		m, found, err := p.store.Get(ctx, agency, nin)
		if err != nil {
			p.unavailable(w, r, rq, err)
			return
		}
		if p.audit(ctx, rq, nin, m.Purpose, audit.OutcomeIssued, "portfolio read") != nil {
			p.s.auditFailed(w, r, rq)
			return
		}
		members := []portfolio.Member{}
		if found {
			members = append(members, m)
		}
		writeJSON(w, http.StatusOK, map[string]any{"agency": agency, "members": members})
		return
	}
	limit := 1000
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > BulkMaxMembers {
			p.invalid(w, r, rq, []FieldError{fieldError("limit", "limit.range", tr("field.limit.range", "max", BulkMaxMembers))})
			return
		}
		limit = n
	}
	after := q.Get("after")
	members, err := p.store.List(ctx, agency, after, limit)
	if err != nil {
		p.unavailable(w, r, rq, err)
		return
	}
	if p.audit(ctx, rq, "", "", audit.OutcomeIssued, fmt.Sprintf("portfolio list: %d members", len(members))) != nil {
		p.s.auditFailed(w, r, rq)
		return
	}
	out := map[string]any{"agency": agency, "members": members}
	if len(members) == limit {
		out["next_after"] = members[len(members)-1].NIN
	}
	writeJSON(w, http.StatusOK, out)
}

// BulkResult is the outcome of one line of a bulk upload.
type BulkResult struct {
	Line   int          `json:"line"`
	NIN    string       `json:"nin,omitempty"`
	Status int          `json:"status"`
	Errors []FieldError `json:"errors,omitempty"`
}

// tooManyMembers refuses an upload of more than BulkMaxMembers.
var tooManyMembers = &RequestError{TooLarge: true, text: tr("detail.bulk_too_large", "members", BulkMaxMembers, "bytes", BulkMaxBytes,
	"why", tr("bulk.too_many", "max", BulkMaxMembers))}

// decodeBulk reads a JSON array of members or JSON lines (one member per
// line, blank lines skipped). A line that is not a member is a result with
// status 400, not a failure of the upload. Its errors are *RequestError.
func decodeBulk(body io.Reader, lines bool) ([]MemberRequest, []BulkResult, error) {
	var reqs []MemberRequest
	var results []BulkResult
	add := func(n int, raw []byte) {
		var m MemberRequest
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&m); err != nil || dec.More() {
			results = append(results, BulkResult{Line: n, Status: http.StatusBadRequest,
				Errors: []FieldError{fieldError("line", "line.malformed", tr("field.line.malformed"))}})
			reqs = append(reqs, MemberRequest{})
			return
		}
		results = append(results, BulkResult{Line: n, NIN: clip.Field(m.NIN)})
		reqs = append(reqs, m)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, nil, &RequestError{TooLarge: true, text: tr("detail.bulk_too_large", "members", BulkMaxMembers, "bytes", BulkMaxBytes,
				"why", tr("detail.body_too_large", "max", int64(BulkMaxBytes))), err: err}
		}
		return nil, nil, &RequestError{text: tr("body.unreadable"), err: err}
	}
	if lines {
		for i, l := range strings.Split(string(b), "\n") {
			if strings.TrimSpace(l) == "" {
				continue
			}
			if len(reqs) == BulkMaxMembers {
				return nil, nil, tooManyMembers
			}
			add(i+1, []byte(l))
		}
		return reqs, results, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(b, &items); err != nil {
		return nil, nil, &RequestError{text: tr("detail.bulk_not_array"), err: err}
	}
	if len(items) > BulkMaxMembers {
		return nil, nil, tooManyMembers
	}
	for i, it := range items {
		add(i+1, it)
	}
	return reqs, results, nil
}

func (p *portfolioAPI) bulk(w http.ResponseWriter, r *http.Request, rq *request) {
	agency, ok := p.gate(w, r, rq, "")
	if !ok {
		return
	}
	ctx := r.Context()
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/json" && mt != "application/x-ndjson" && mt != "application/jsonl") {
		p.malformed(w, r, rq, http.StatusUnsupportedMediaType, tr("detail.bulk_content_type"))
		return
	}
	reqs, results, err := decodeBulk(http.MaxBytesReader(w, r.Body, BulkMaxBytes), mt != "application/json")
	if err != nil {
		p.s.malformedBody(w, r, rq, err)
		return
	}
	type job struct {
		i       int
		m       portfolio.Member
		del     bool
		outcome string
		reason  string
	}
	var jobs []job
	for i, req := range reqs {
		if results[i].Status != 0 {
			continue
		}
		m := portfolio.Member{Agency: agency, NIN: req.NIN, Kinds: req.Kinds, Purpose: req.Purpose}
		var errs []portfolio.Invalid
		del := false
		switch req.Op {
		case "", "put":
			errs = m.Check()
		case "delete":
			del = true
			if e := m.Check(); len(e) > 0 && e[0].Field == "nin" {
				errs = e[:1]
			}
		default:
			errs = []portfolio.Invalid{{Field: "op", Code: "op.unknown", Message: tr("field.op.unknown").in(DefaultLanguage)}}
		}
		if len(errs) > 0 {
			results[i].Status = http.StatusUnprocessableEntity
			results[i].Errors = memberErrors(errs, req.Purpose, req.Kinds)
			continue
		}
		switch {
		case del:
			jobs = append(jobs, job{i: i, m: m, del: true, outcome: audit.OutcomeIssued, reason: "portfolio delete (bulk)"})
		case !rq.client.MayHold(m.Purpose):
			results[i].Status = http.StatusForbidden
			results[i].Errors = []FieldError{fieldError("purpose", "purpose.denied", tr("detail.denied_portfolio_purpose", "client", rq.client.ID, "purpose", m.Purpose))}
			jobs = append(jobs, job{i: i, m: m, outcome: audit.OutcomeDenied, reason: "policy"})
		default:
			jobs = append(jobs, job{i: i, m: m, outcome: audit.OutcomeIssued, reason: "portfolio put (bulk) " + strings.Join(m.Kinds, ",")})
		}
	}
	// Each line is audited (the audit log is read per citizen); appends
	// run concurrently so that the log's group commit batches them.
	auditErrs := make([]error, len(jobs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for k, j := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			auditErrs[k] = p.audit(ctx, rq, j.m.NIN, j.m.Purpose, j.outcome, j.reason)
		}()
	}
	wg.Wait()
	if err := errors.Join(auditErrs...); err != nil {
		p.s.auditFailed(w, r, rq)
		return
	}
	var puts []portfolio.Member
	var putIdx []int
	accepted, rejected := 0, 0
	for _, j := range jobs {
		switch {
		case j.outcome != audit.OutcomeIssued:
		case j.del:
			if _, err := p.store.Delete(ctx, agency, j.m.NIN, "api:"+rq.id); err != nil {
				p.unavailable(w, r, rq, err)
				return
			}
			results[j.i].Status = http.StatusOK
		default:
			puts = append(puts, j.m)
			putIdx = append(putIdx, j.i)
		}
	}
	if len(puts) > 0 {
		applied, err := p.store.PutMany(ctx, puts, "api:"+rq.id)
		if err != nil {
			p.unavailable(w, r, rq, err)
			return
		}
		for k, i := range putIdx {
			results[i].Status = http.StatusOK
			if !applied[k] {
				results[i].Status = http.StatusConflict
				results[i].Errors = []FieldError{fieldError("nin", "portfolio.newer", tr("field.portfolio.newer"))}
			}
		}
	}
	for _, res := range results {
		if res.Status == http.StatusOK {
			accepted++
		} else {
			rejected++
		}
	}
	// The lines' messages in the caller's language, as in a problem.
	lang := problemLanguage(r.Header.Get("Accept-Language"))
	for i := range results {
		localizeErrors(results[i].Errors, lang)
	}
	w.Header().Set("Content-Language", lang)
	w.Header().Add("Vary", "Accept-Language")
	writeJSON(w, http.StatusOK, map[string]any{"agency": agency, "accepted": accepted, "rejected": rejected, "results": results})
}
