package lookup

import (
	"net/http"

	"github.com/askonce/askonce/internal/audit"
	"github.com/askonce/askonce/schemas"
)

// refuseUnauthenticated answers 401 to a request without a known
// credential on an endpoint about a citizen, audited first (the NIN only
// when well formed): the citizen may want to know someone tried. The
// anonymous rate limit bounds what this costs the audit log.
func (s *Service) refuseUnauthenticated(w http.ResponseWriter, r *http.Request, rq *request, req DocumentRequest) {
	if !s.limit(w, r, rq, nil) {
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
