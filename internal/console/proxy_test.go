package console

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/askonce/askonce/internal/clientaddr"
)

// TestSignInLimitBehindProxy: sign-in attempts are limited per client
// address: behind a trusted proxy the one it forwards for, so two clients
// behind it do not share a bucket; from an untrusted peer the peer, so a
// spoofed X-Forwarded-For buys no fresh bucket.
func TestSignInLimitBehindProxy(t *testing.T) {
	res, err := clientaddr.New([]string{"10.0.0.0/8"}, clientaddr.XForwardedFor)
	if err != nil {
		t.Fatal(err)
	}
	refuse := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusUnauthorized) })
	c, err := New(Options{VerifyRate: 0.001, VerifyBurst: 1, ClientAddr: res}, refuse, nil, nil, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	c.Register(mux)
	signIn := func(peer, xff string) (int, string) {
		t.Helper()
		tok := strings.Repeat("a", 43)
		form := url.Values{"csrf": {tok}, "api_key": {"wrong"}, "clerk_id": {"clerk-1"}}
		r := httptest.NewRequest(http.MethodPost, "/console/sign-in", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.AddCookie(&http.Cookie{Name: preCSRFCookie, Value: tok})
		r.RemoteAddr = peer
		if xff != "" {
			r.Header.Set("X-Forwarded-For", xff)
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		return w.Code, w.Header().Get("Retry-After")
	}
	const refused, limited = http.StatusUnauthorized, http.StatusTooManyRequests
	for _, step := range []struct {
		peer, xff string
		want      int
	}{
		{"10.0.0.2:40000", "198.51.100.1", refused},
		{"10.0.0.2:40001", "198.51.100.1", limited},
		{"10.0.0.2:40002", "198.51.100.2", refused},          // another client behind the proxy
		{"10.0.0.3:40003", "6.6.6.6, 198.51.100.2", limited}, // a spoofed entry left of it changes nothing
		{"203.0.113.9:50000", "198.51.100.3", refused},
		{"203.0.113.9:50001", "198.51.100.4", limited}, // untrusted peer: its header is ignored
		{"[2001:db8:1:2::1]:50000", "", refused},
		{"[2001:db8:1:2::ffff]:50000", "", limited}, // the same /64
	} {
		got, retry := signIn(step.peer, step.xff)
		if got != step.want {
			t.Errorf("sign-in from %s (X-Forwarded-For %q): %d, want %d", step.peer, step.xff, got, step.want)
		}
		// One attempt per 1000 s: the refusal says to wait that long.
		if got == limited && retry != "1000" {
			t.Errorf("sign-in from %s refused with Retry-After %q, want 1000 (the bucket's refill)", step.peer, retry)
		}
	}
}

// TestVerifyLimitRetryAfter: the verify page's per-address limit answers
// 429 with the Retry-After of its bucket's refill (2 s at 0.5/s), and a
// check made after that wait passes the limit again.
func TestVerifyLimitRetryAfter(t *testing.T) {
	c, err := New(Options{VerifyRate: 0.5, VerifyBurst: 1}, http.NotFoundHandler(), nil, nil, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	c.Register(mux)
	check := func() (int, string) {
		t.Helper()
		tok := strings.Repeat("b", 43)
		form := url.Values{"csrf": {tok}, "signed": {"not a signed document"}}
		r := httptest.NewRequest(http.MethodPost, "/verify", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.AddCookie(&http.Cookie{Name: preCSRFCookie, Value: tok})
		r.RemoteAddr = "198.51.100.20:40000"
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		return w.Code, w.Header().Get("Retry-After")
	}
	if code, _ := check(); code == http.StatusTooManyRequests {
		t.Fatal("the first check was refused")
	}
	code, retry := check()
	if code != http.StatusTooManyRequests || retry != "2" {
		t.Fatalf("second check at once: %d, Retry-After %q; want 429, 2", code, retry)
	}
	time.Sleep(2 * time.Second)
	if code, retry := check(); code == http.StatusTooManyRequests {
		t.Errorf("a check after Retry-After was refused again (Retry-After %q)", retry)
	}
}
