package lookup_test

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/askonce/askonce/internal/lookup"
	"github.com/askonce/askonce/internal/testenv"
)

// rateFields is what an answer says of the caller's budget.
type rateFields struct {
	status            int
	policy, limit     string // RateLimit-Policy, RateLimit as sent
	q, w, r, t        int    // their parameters; -1 when absent
	retryAfter        string
	problemRetryAfter int
	detail, lang      string
}

var (
	policyRe = regexp.MustCompile(`^"client";q=(\d+);w=(\d+)$`)
	limitRe  = regexp.MustCompile(`^"client";r=(\d+);t=(\d+)$`)
)

// TestRateLimitHeaders: every answer to an authenticated client says its
// budget (RateLimit-Policy, RateLimit: draft-ietf-httpapi-ratelimit-headers)
// from its own bucket: the metered client (0.5 request/s, burst 4) sees r
// go down with each request, errors included, until it is refused with 429
// and a Retry-After that the problem's retry_after and detail repeat in
// the caller's language; after waiting that long it is served again. An
// answer that costs nothing shows the budget without spending it, and an
// unauthenticated caller is told nothing of any bucket.
func TestRateLimitHeaders(t *testing.T) {
	a := startSecAPI(t)
	key := a.keys["metered"]
	n := nin('1', 1958, 302)
	send := func(method, path, key, body, lang string) rateFields {
		t.Helper()
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, err := http.NewRequestWithContext(a.ctx, method, a.base+path, rd)
		testenv.Must(t, err, "request")
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		if lang != "" {
			req.Header.Set("Accept-Language", lang)
		}
		resp, err := http.DefaultClient.Do(req)
		testenv.Must(t, err, "%s %s", method, path)
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		validateResponse(t, req, resp, raw)
		f := rateFields{status: resp.StatusCode, policy: resp.Header.Get("RateLimit-Policy"), limit: resp.Header.Get("RateLimit"),
			q: -1, w: -1, r: -1, t: -1, retryAfter: resp.Header.Get("Retry-After"), lang: resp.Header.Get("Content-Language")}
		if m := policyRe.FindStringSubmatch(f.policy); m != nil {
			f.q, _ = strconv.Atoi(m[1])
			f.w, _ = strconv.Atoi(m[2])
		} else if f.policy != "" {
			t.Errorf("%s %s: RateLimit-Policy %q is not \"client\";q=<n>;w=<n>", method, path, f.policy)
		}
		if m := limitRe.FindStringSubmatch(f.limit); m != nil {
			f.r, _ = strconv.Atoi(m[1])
			f.t, _ = strconv.Atoi(m[2])
		} else if f.limit != "" {
			t.Errorf("%s %s: RateLimit %q is not \"client\";r=<n>;t=<n>", method, path, f.limit)
		}
		var p struct {
			RetryAfter int    `json:"retry_after"`
			Detail     string `json:"detail"`
		}
		if json.Unmarshal(raw, &p) == nil {
			f.problemRetryAfter, f.detail = p.RetryAfter, p.Detail
		}
		return f
	}
	types := func() rateFields { return send("GET", "/v1/document-types", key, "", "") }

	// The policy: burst 4, an empty bucket full again after 4/0.5 = 8 s.
	// Four requests spend it: two answered 200, one refused by the policy
	// (403: another purpose), one invalid (422); each says one request less.
	steps := []struct {
		name string
		do   func() rateFields
		want int
	}{
		{"catalog", types, 200},
		{"denied", func() rateFields {
			return send("POST", "/v1/document-requests", key, docBody(lookup.DocDeath, n, "pension-death-watch", "c"), "")
		}, 403},
		{"invalid", func() rateFields {
			return send("POST", "/v1/document-requests", key, docBody(lookup.DocLife, "12", "pension-life-proof", "c"), "")
		}, 422},
		{"catalog again", types, 200},
	}
	prev := rateFields{r: 4, t: 0}
	for i, s := range steps {
		f := s.do()
		if f.status != s.want {
			t.Fatalf("%s: %d, want %d", s.name, f.status, s.want)
		}
		if f.q != 4 || f.w != 8 {
			t.Errorf("%s: RateLimit-Policy %q, want \"client\";q=4;w=8", s.name, f.policy)
		}
		// A request takes far less than the 2 s a token takes to come
		// back: each spends one, and the bucket is further from full.
		if f.r != 3-i || f.t < prev.t || f.t < 1 || f.t > 8 {
			t.Errorf("%s: RateLimit %q after %s; want r=%d and t in [%d, 8]", s.name, f.limit, prev.limit, 3-i, max(prev.t, 1))
		}
		t.Logf("%s %d: RateLimit-Policy: %s | RateLimit: %s", s.name, f.status, f.policy, f.limit)
		if f.retryAfter != "" {
			t.Errorf("%s: Retry-After %q on an answer that was not refused", s.name, f.retryAfter)
		}
		prev = f
	}

	// Empty: refused, with when to retry, in French as asked.
	f := send("GET", "/v1/document-types", key, "", "fr")
	retry, err := strconv.Atoi(f.retryAfter)
	if f.status != 429 || err != nil || retry < 1 || retry > 2 {
		t.Fatalf("over budget: %d, Retry-After %q; want 429 and 1 or 2 s (a token every 2 s)", f.status, f.retryAfter)
	}
	t.Logf("429: RateLimit-Policy: %s | RateLimit: %s | Retry-After: %s", f.policy, f.limit, f.retryAfter)
	if f.r != 0 || f.q != 4 {
		t.Errorf("429: RateLimit %q, RateLimit-Policy %q; want r=0, q=4", f.limit, f.policy)
	}
	if f.problemRetryAfter != retry {
		t.Errorf("429: retry_after %d, Retry-After %d", f.problemRetryAfter, retry)
	}
	if wantDetail := "réessayez dans " + lookup.SpellDuration(time.Duration(retry)*time.Second, "fr"); f.lang != "fr" || !strings.HasSuffix(f.detail, wantDetail) {
		t.Errorf("429 in French: Content-Language %q, detail %q; want it to end with %q", f.lang, f.detail, wantDetail)
	}

	// An answer that costs no request (the sources) shows the budget as it
	// is: still nothing whole in the bucket.
	if s := send("GET", "/v1/sources", key, "", ""); s.status != 200 || s.q != 4 || s.r != 0 || s.retryAfter != "" {
		t.Errorf("sources: %d, RateLimit %q, RateLimit-Policy %q, Retry-After %q", s.status, s.limit, s.policy, s.retryAfter)
	}
	// Unauthenticated callers learn nothing of a bucket.
	if u := send("GET", "/v1/document-types", "", "", ""); u.status != 401 || u.policy != "" || u.limit != "" {
		t.Errorf("unauthenticated: %d, RateLimit-Policy %q, RateLimit %q", u.status, u.policy, u.limit)
	}

	// After Retry-After, served again.
	time.Sleep(time.Duration(retry) * time.Second)
	if f := types(); f.status != 200 || f.q != 4 || f.r < 0 {
		t.Errorf("after Retry-After (%d s): %d, RateLimit %q", retry, f.status, f.limit)
	}
}
