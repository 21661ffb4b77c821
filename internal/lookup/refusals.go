package lookup

import (
	"net/http"
	"regexp"

	"github.com/askonce/askonce/internal/audit"
	"github.com/askonce/askonce/schemas"
)

// attestationIDRe is the form of the ids issue gives: anything else is
// unknown without asking the store (a NUL byte or invalid UTF-8 would make
// PostgreSQL fail the query, answering 503 to a malformed id).
var attestationIDRe = regexp.MustCompile(`^doc_[0-9a-f]{24}$`)

// refuseUnauthenticated answers 401 to a request without a known
// credential on an endpoint about a citizen, audited first (the NIN only
// when well formed): the citizen may want to know someone tried. The
// anonymous rate limit bounds what this costs the audit log.
func (s *Service) refuseUnauthenticated(w http.ResponseWriter, r *http.Request, rq *request, req DocumentRequest) {
	if !s.allow(nil) {
		s.rateLimited(w, r, rq)
		return
	}
	if !schemas.ValidNIN(req.NIN) {
		req.NIN = ""
	}
	if s.record(r.Context(), rq, req, audit.OutcomeUnauthenticated, "", "") != nil {
		s.auditFailed(w, r, rq)
		return
	}
	s.unauthenticated(w, r, rq)
}
