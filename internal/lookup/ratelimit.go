package lookup

import (
	"math"
	"net/http"
	"strconv"
	"time"

	"golang.org/x/time/rate"

	"github.com/askonce/askonce/internal/audit"
	"github.com/askonce/askonce/internal/clientaddr"
	"github.com/askonce/askonce/internal/policy"
)

// Rate-limit header fields, as draft-ietf-httpapi-ratelimit-headers-11
// (23 May 2026) defines them: two Structured Fields (RFC 9651) Lists.
//
//	RateLimit-Policy: "client";q=<burst>;w=<seconds>
//	RateLimit: "client";r=<available>;t=<seconds>
//
// Every answer to an authenticated client carries both, computed from its
// own token bucket (policy: rate and burst) when the answer is written;
// errors and 429s included. The bucket holds at most q requests and
// refills continuously at the client's rate, so that an empty bucket is
// full again after w seconds (w = ceil(burst/rate)): q;w is the policy,
// r the whole requests the bucket holds now, t the seconds until it is
// full again (0 when it is). A 429 adds Retry-After: the seconds until the
// bucket holds one request, rounded up, at least 1; the draft (§7) has
// clients follow Retry-After over t when both are present. (Its §6 would
// rather Retry-After not end before t; with a burst over 1 it does, by
// design: waiting for the whole burst to come back would idle a client
// that can be served again after one refill.) Answers to
// unauthenticated callers, who share one bucket, carry no RateLimit fields
// (the draft's §8.2: no traffic information to an untrusted party), only
// Retry-After on a 429.
const (
	rateLimitPolicyName = "client"
	headerRatePolicy    = "RateLimit-Policy"
	headerRateLimit     = "RateLimit"
)

// budget is the state of a client's bucket in the draft's terms.
type budget struct {
	quota, window    int // q, w
	available, reset int // r, t
}

func budgetOf(l *rate.Limiter, now time.Time) budget {
	per := float64(l.Limit())
	burst := l.Burst()
	tokens := min(max(l.TokensAt(now), 0), float64(burst))
	b := budget{quota: burst, window: 1, available: int(math.Floor(tokens))}
	if per > 0 && l.Limit() != rate.Inf {
		b.window = max(1, int(math.Ceil(float64(burst)/per)))
		if missing := float64(burst) - tokens; missing > 0 {
			b.reset = max(1, int(math.Ceil(missing/per)))
		}
	}
	return b
}

// set writes the two fields.
func (b budget) set(h http.Header) {
	h.Set(headerRatePolicy, `"`+rateLimitPolicyName+`";q=`+strconv.Itoa(b.quota)+";w="+strconv.Itoa(b.window))
	h.Set(headerRateLimit, `"`+rateLimitPolicyName+`";r=`+strconv.Itoa(b.available)+";t="+strconv.Itoa(b.reset))
}

// limiter is the bucket of client c (nil: the one unauthenticated callers
// share). A reloaded policy keeps the bucket of every client whose limit
// is unchanged (a reload, every few seconds when the file changes, must
// not refill them); a removed client's bucket goes, a changed limit starts
// afresh at the new rate.
func (s *Service) limiter(c *policy.Client) *rate.Limiter {
	if c == nil {
		return s.anon
	}
	s.limitMu.Lock()
	defer s.limitMu.Unlock()
	if p := s.policy(); p != s.limitsOf {
		kept := make(map[string]*rate.Limiter, len(s.limiters))
		for id, l := range s.limiters {
			if nc := p.Client(id); nc != nil && l.Limit() == rate.Limit(nc.Rate) && l.Burst() == nc.Burst {
				kept[id] = l
			}
		}
		s.limiters, s.limitsOf = kept, p
	}
	l := s.limiters[c.ID]
	if l == nil {
		l = rate.NewLimiter(rate.Limit(c.Rate), c.Burst)
		s.limiters[c.ID] = l
	}
	return l
}

// showBudget writes the RateLimit fields of an authenticated client's
// bucket as it is, spending nothing: the fields of an answer that costs
// no request (or before the handler spends one, which writes them again).
func (s *Service) showBudget(w http.ResponseWriter, c *policy.Client) {
	if c == nil {
		return
	}
	budgetOf(s.limiter(c), time.Now()).set(w.Header())
}

// limit spends a request of c's bucket (nil: the unauthenticated one) and
// writes the RateLimit fields of an authenticated client. When the bucket
// is empty it answers 429 with Retry-After and returns false.
func (s *Service) limit(w http.ResponseWriter, r *http.Request, rq *request, c *policy.Client) bool {
	l := s.limiter(c)
	now := time.Now()
	ok := l.AllowN(now, 1)
	if c != nil {
		budgetOf(l, now).set(w.Header())
	}
	if ok {
		return true
	}
	s.rateLimited(w, r, rq, clientaddr.RetryAfter(l, now))
	return false
}

// rateLimited answers 429: retry after retryAfter seconds (Retry-After,
// retry_after and the detail, in the caller's language).
func (s *Service) rateLimited(w http.ResponseWriter, r *http.Request, rq *request, retryAfter int) {
	s.problem(w, r, rq, Problem{Type: problemBase + "rate-limited", title: tr("title.rate_limited"), Status: http.StatusTooManyRequests,
		detail:  tr("detail.rate_limited", "after", time.Duration(retryAfter)*time.Second),
		Outcome: audit.OutcomeRateLimited, RetryAfter: retryAfter})
}
