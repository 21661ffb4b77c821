package lookup_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/askonce/askonce/internal/config"
	"github.com/askonce/askonce/internal/policy"
	"github.com/askonce/askonce/internal/testenv"
)

// TestRevocationWithoutSignal: a client removed from the policy file is
// refused (401) within lookup.policy_poll, with no SIGHUP and no restart;
// a client whose entry is unchanged keeps its rate-limit bucket across
// the reload (an exhausted bucket is not refilled by it).
func TestRevocationWithoutSignal(t *testing.T) {
	ctx := testenv.Ctx(t, 2*time.Minute)
	policyFile := filepath.Join(t.TempDir(), "policy.yaml")
	write := func(body string) { testenv.Must(t, os.WriteFile(policyFile, []byte(body), 0o600), "policy") }
	const cnr = `  - id: cnr
    api_keys: ["` + "%s" + `"]
    rate: 100
    allow: [{purpose: pension-life-proof, documents: [life-certificate]}]
`
	// cnas may ask twice, then once every 1000 s: within the test its
	// bucket is refilled only by a reload that starts it afresh.
	const cnas = `  - id: cnas
    api_keys: ["` + "%s" + `"]
    rate: 0.001
    burst: 2
    allow: [{purpose: benefit-eligibility, documents: [contribution-status]}]
`
	cnrEntry := fmt.Sprintf(cnr, policy.HashKey("cnr-secret"))
	cnasEntry := fmt.Sprintf(cnas, policy.HashKey("cnas-secret"))
	write("clients:\n" + cnrEntry + cnasEntry)

	const poll = 200 * time.Millisecond
	addr, _ := startAPI(t, ctx, policyFile, nil, func(cfg *config.Config) { cfg.Lookup.PolicyPoll = poll })
	base := "http://" + addr // no reload channel: nothing but the poll can reload the policy
	post := func(key, doc, purpose string) int {
		t.Helper()
		body := fmt.Sprintf(`{"document_type":%q,"nin":"109859916000420137","purpose":%q,"clerk_id":"t"}`, doc, purpose)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/document-requests", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-API-Key", key)
		resp, err := http.DefaultClient.Do(req)
		testenv.Must(t, err, "post")
		io.Copy(io.Discard, resp.Body) //nolint:errcheck // drain
		resp.Body.Close()
		return resp.StatusCode
	}
	asCNR := func() int { return post("cnr-secret", "life-certificate", "pension-life-proof") }
	asCNAS := func() int { return post("cnas-secret", "contribution-status", "benefit-eligibility") }

	// Authenticated (not held: no record, 404) while in the policy.
	if s := asCNR(); s != 404 {
		t.Fatalf("cnr before revocation: %d, want 404", s)
	}
	// cnas spends its bucket.
	if a, b, c := asCNAS(), asCNAS(), asCNAS(); a != 404 || b != 404 || c != 429 {
		t.Fatalf("cnas burst: %d %d %d, want 404 404 429", a, b, c)
	}

	// cnr removed from the file; cnas's entry unchanged. No signal.
	write("clients:\n" + cnasEntry)
	revoked := time.Now()
	for asCNR() != 401 {
		if time.Since(revoked) > poll+3*time.Second {
			t.Fatalf("cnr still accepted %s after its removal from the policy file", time.Since(revoked))
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("revoked key refused after %s (policy_poll %s)", time.Since(revoked).Round(time.Millisecond), poll)
	if s := asCNAS(); s != 429 {
		t.Fatalf("cnas after the reload: %d, want 429 (its bucket survives a reload that leaves it unchanged)", s)
	}

	// Its limit changed, cnas starts afresh at the new rate.
	write("clients:\n" + strings.Replace(cnasEntry, "burst: 2", "burst: 3", 1))
	changed := time.Now()
	for asCNAS() != 404 {
		if time.Since(changed) > poll+3*time.Second {
			t.Fatal("cnas's changed limit was not applied")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
