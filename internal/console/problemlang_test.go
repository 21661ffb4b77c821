package console_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/askonce/askonce/deploy/devfiles"
	"github.com/askonce/askonce/internal/audit"
	"github.com/askonce/askonce/internal/console"
	"github.com/askonce/askonce/internal/lookup"
	"github.com/askonce/askonce/internal/policy"
)

// memAudit is an audit log in memory: the refusals below are audited
// before they are answered, and need no database.
type memAudit struct {
	mu      sync.Mutex
	entries []audit.Entry
}

func (m *memAudit) Append(_ context.Context, e audit.Entry, _ *lookup.StoredAttestation) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.entries = append(m.entries, e)
	return nil
}

func (m *memAudit) ForCitizen(context.Context, string, int) ([]audit.Entry, error) {
	return nil, nil
}

// TestProblemLanguage: the console asks the API (the real lookup.Service,
// in process) for its problem details in the clerk's language and shows
// them: an invalid NIN's message under the field and a refusal's detail,
// in Arabic or French, marked with their language; never the API's
// English. An answer shown again after the clerk switched language keeps
// the API's detail in the language it came in (marked so), and the
// console's own message for the field.
func TestProblemLanguage(t *testing.T) {
	policyFile := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(policyFile, devfiles.Policy, 0o600); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	pol, err := policy.NewWatcher(policyFile, true, lookup.PolicyCatalog, log)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := lookup.NewService(lookup.Options{MaxBodyBytes: 16 << 10, RequestTimeout: 10 * time.Second, Policy: pol.Current},
		nil, nil, nil, &memAudit{}, prometheus.NewRegistry(), log)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var asked []string // the Accept-Language of each API call
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		asked = append(asked, r.Header.Get("Accept-Language"))
		mu.Unlock()
		svc.Handler().ServeHTTP(w, r)
	})
	c, err := console.New(console.Options{}, api, nil, nil, prometheus.NewRegistry(), log)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	c.Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	type clerk struct {
		do    func(method, path string, form url.Values) (int, http.Header, string)
		token string
	}
	signIn := func(lang string) clerk {
		jar, _ := cookiejar.New(nil)
		cl := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		do := func(method, path string, form url.Values) (int, http.Header, string) {
			t.Helper()
			var body io.Reader
			if form != nil {
				body = strings.NewReader(form.Encode())
			}
			req, _ := http.NewRequest(method, srv.URL+path, body)
			if form != nil {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			resp, err := cl.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, resp.Header, string(b)
		}
		_, _, body := do(http.MethodGet, "/console?lang="+lang, nil)
		token := csrfRe.FindStringSubmatch(body)
		if token == nil {
			t.Fatalf("no CSRF token:\n%s", body)
		}
		if st, _, b := do(http.MethodPost, "/console/sign-in", url.Values{"csrf": {token[1]}, "api_key": {"dev-cnr-key"}, "clerk_id": {"guichet-5"}}); st != http.StatusSeeOther {
			t.Fatalf("sign-in: %d\n%s", st, b)
		}
		_, _, body = do(http.MethodGet, "/console", nil)
		return clerk{do: do, token: csrfRe.FindStringSubmatch(body)[1]}
	}
	ask := func(cl clerk, nin, doc, purpose string) string {
		t.Helper()
		st, h, _ := cl.do(http.MethodPost, "/console/requests", url.Values{"csrf": {cl.token}, "nin": {nin}, "document_type": {doc},
			"purpose": {purpose}, "clerk_id": {"guichet-5"}})
		if st != http.StatusSeeOther {
			t.Fatalf("request: %d", st)
		}
		return h.Get("Location")
	}
	english := []string{"a NIN is 18 digits", "may not ask for", `id="problem-detail" lang="en"`}

	for _, tc := range []struct {
		lang             string
		ninError, denied string
	}{
		{"ar", `<p class="field-error" id="nin-error">يتكون رقم التعريف الوطني من 18 رقما</p>`,
			`<p class="detail" id="problem-detail" lang="ar" dir="rtl">لا يحق للعميل cnr طلب birth-certificate للغرض civil-status-issuance</p>`},
		{"fr", `<p class="field-error" id="nin-error">un NIN compte 18 chiffres</p>`,
			`<p class="detail" id="problem-detail" lang="fr" dir="ltr">le client cnr n&#39;est pas autorisé à demander birth-certificate pour le motif civil-status-issuance</p>`},
	} {
		mu.Lock()
		asked = nil
		mu.Unlock()
		cl := signIn(tc.lang)
		invalid := ask(cl, "12 34", lookup.DocLife, "pension-life-proof")
		denied := ask(cl, "109909916000990137", lookup.DocBirth, "civil-status-issuance")
		mu.Lock()
		for i, l := range asked {
			if l != tc.lang {
				t.Errorf("%s: API call %d asked for %q", tc.lang, i, l)
			}
		}
		if len(asked) != 3 { // sign-in (the catalog), invalid, denied
			t.Errorf("%s: %d API calls, want 3", tc.lang, len(asked))
		}
		mu.Unlock()
		for path, want := range map[string]string{invalid: tc.ninError, denied: tc.denied} {
			st, _, body := cl.do(http.MethodGet, path, nil)
			if st != http.StatusUnprocessableEntity && st != http.StatusForbidden {
				t.Errorf("%s %s: %d", tc.lang, path, st)
			}
			if !strings.Contains(body, want) {
				t.Errorf("%s %s lacks %s\n%s", tc.lang, path, want, body)
			}
			for _, e := range english {
				if strings.Contains(body, e) {
					t.Errorf("%s %s says %q", tc.lang, path, e)
				}
			}
		}
		// The same answers, the page now in the other language.
		other := map[string]string{"ar": "fr", "fr": "ar"}[tc.lang]
		_, _, body := cl.do(http.MethodGet, invalid+"?lang="+other, nil)
		ownNIN := map[string]string{"fr": "Le NIN compte exactement 18 chiffres.", "ar": "يتكون رقم التعريف الوطني من 18 رقما بالضبط."}[other]
		if !strings.Contains(body, `id="nin-error">`+ownNIN+`<`) {
			t.Errorf("%s answer shown in %s: the NIN error is not the console's own %q\n%s", tc.lang, other, ownNIN, body)
		}
		_, _, body = cl.do(http.MethodGet, denied+"?lang="+other, nil)
		if !strings.Contains(body, `<html lang="`+other+`"`) || !strings.Contains(body, tc.denied) {
			t.Errorf("%s answer shown in %s: the API's detail is not kept, marked %s\n%s", tc.lang, other, tc.lang, body)
		}
	}
}
