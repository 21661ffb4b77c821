package console_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/askonce/askonce/internal/audit"
	"github.com/askonce/askonce/internal/console"
	"github.com/askonce/askonce/internal/lookup"
	"github.com/askonce/askonce/internal/watermark"
)

// staleAPI stands for the lookup API in a state where the store's
// watermarks are too old: its document requests are answered exactly as
// lookup.Service answers source_stale (HTTP 503 problem+json, outcome
// not_held, Retry-After), built from the API's own Problem type.
func staleAPI(t *testing.T, stale []watermark.Lagging) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/v1/document-types":
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]any{"document_types": lookup.Catalog, "purposes": lookup.Purposes, //nolint:errcheck // test
				"allowed": map[string][]string{"pension-life-proof": {lookup.DocLife}}})
		case r.Method == http.MethodPost && r.URL.Path == "/v1/document-requests":
			var req lookup.DocumentRequest
			if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
				t.Errorf("console sent %v", err)
			}
			names := make([]string, len(stale))
			for i, s := range stale {
				names[i] = s.DataCenter
			}
			p := lookup.Problem{Type: "https://askonce.dz/problems/source-stale", Title: "Sources not followed closely enough to answer",
				Status: http.StatusServiceUnavailable, RequestID: "req_stale", Outcome: audit.OutcomeNotHeld, Reason: lookup.ReasonSourceStale,
				DocumentType: req.DocumentType, Paper: "Certificat de vie (pensions CNR)", StaleSources: names, Stale: stale, RetryAfter: 30,
				Detail: "the store does not hold these data centers' records as of the last 5m0s (this document's freshness bound); retry later"}
			w.Header().Set("Content-Type", "application/problem+json")
			w.Header().Set("Retry-After", strconv.Itoa(p.RetryAfter))
			w.Header().Set("X-Request-ID", p.RequestID)
			w.WriteHeader(p.Status)
			json.NewEncoder(w).Encode(p) //nolint:errcheck // test
		default:
			http.NotFound(w, r)
		}
	})
}

// TestSourceStaleAnswer: a 503 source_stale answer of the API is shown as
// what it is, in French and in Arabic: not a generic "unavailable" page
// and not "ask the citizen for the paper", but the store not yet fresh
// enough for this document, each lagging data center with how old its
// watermark was, when to retry, a button that asks again, and that the
// citizen is not to be sent away.
func TestSourceStaleAnswer(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	stale := []watermark.Lagging{
		{DataCenter: "cnas|casnos|cacobatph-*", Agency: "cnas|casnos|cacobatph"},
		{DataCenter: "etatcivil-dc03", Agency: "etatcivil", Watermark: now.Add(-(5*time.Minute + 5*time.Second)).Format(time.RFC3339), AgeSeconds: 5*60 + 5},
		{DataCenter: "etatcivil-dc07", Agency: "etatcivil", Watermark: now.Add(-(2*time.Hour + 3*time.Minute)).Format(time.RFC3339), AgeSeconds: 2*3600 + 3*60},
		{DataCenter: "etatcivil-dc11"},
	}
	reg := prometheus.NewRegistry()
	c, err := console.New(console.Options{Now: func() time.Time { return now }}, staleAPI(t, stale), nil, nil, reg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	c.Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
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
	token := func(body string) string {
		t.Helper()
		m := csrfRe.FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no CSRF token:\n%s", body)
		}
		return m[1]
	}
	_, _, body := do(http.MethodGet, "/console?lang=fr", nil)
	if st, _, b := do(http.MethodPost, "/console/sign-in", url.Values{"csrf": {token(body)}, "api_key": {"k"}, "clerk_id": {"guichet-3"}}); st != http.StatusSeeOther {
		t.Fatalf("sign-in: %d\n%s", st, b)
	}
	_, _, body = do(http.MethodGet, "/console", nil)
	const nin = "109990160012345678"
	st, h, _ := do(http.MethodPost, "/console/requests", url.Values{"csrf": {token(body)}, "nin": {nin}, "document_type": {lookup.DocLife},
		"purpose": {"pension-life-proof"}, "clerk_id": {"guichet-3"}})
	if st != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/console/answers/") {
		t.Fatalf("request: %d %s", st, h.Get("Location"))
	}
	answer := h.Get("Location")

	for _, tc := range []struct {
		lang  string
		want  []string
		never []string
	}{
		{"fr", []string{
			`<html lang="fr" dir="ltr">`,
			"Données pas encore à jour : réessayez dans un instant",
			"La plateforme ne détient pas encore les enregistrements de ces centres de données à une date assez récente pour délivrer ce document.",
			"Centres de données en retard",
			`<strong dir="ltr">etatcivil-dc03</strong> : données à jour au <bdi dir="ltr">25/11/2026 09:54 UTC</bdi>, soit 5 min 5 s de retard au moment de la demande`,
			`<strong dir="ltr">etatcivil-dc07</strong> : données à jour au <bdi dir="ltr">25/11/2026 07:57 UTC</bdi>, soit 2 h 3 min de retard au moment de la demande`,
			`<strong dir="ltr">etatcivil-dc11</strong> : aucune donnée de ce centre n&#39;est encore à jour dans la plateforme`,
			`aucun centre de données de l&#39;organisme <bdi dir="ltr">cnas|casnos|cacobatph</bdi> n&#39;est encore à jour dans la plateforme`,
			`<p id="retry-after"><strong>Réessayez dans 30 s.</strong></p>`,
			"Ne renvoyez pas le citoyen et ne lui demandez pas le papier pour cette raison",
			"Réessayer la même demande",
			"Certificat de vie (pensions CNR)",
		}, []string{"Demandez au citoyen le document papier", "Service momentanément indisponible", "non entendu"}},
		{"ar", []string{
			`<html lang="ar" dir="rtl">`,
			"البيانات غير محينة بعد: أعد المحاولة بعد لحظة",
			"لا تحوز المنصة بعد سجلات مراكز البيانات هذه محينة بتاريخ قريب بما يكفي لتسليم هذه الوثيقة.",
			"مراكز البيانات المتأخرة",
			`<strong dir="ltr">etatcivil-dc03</strong> : بيانات محينة في <bdi dir="ltr">25/11/2026 09:54 UTC</bdi>، أي بتأخر 5 دقائق و5 ثوان وقت الطلب`,
			`<strong dir="ltr">etatcivil-dc07</strong> : بيانات محينة في <bdi dir="ltr">25/11/2026 07:57 UTC</bdi>، أي بتأخر ساعتين و3 دقائق وقت الطلب`,
			`<strong dir="ltr">etatcivil-dc11</strong> : لا توجد بعد في المنصة بيانات محينة من هذا المركز`,
			`لا يوجد بعد في المنصة أي مركز بيانات محين للهيئة <bdi dir="ltr">cnas|casnos|cacobatph</bdi>`,
			`<p id="retry-after"><strong>أعد المحاولة بعد 30 ثانية.</strong></p>`,
			"لا تصرف المواطن ولا تطلب منه الوثيقة الورقية لهذا السبب",
			"إعادة نفس الطلب",
			"شهادة الحياة (معاشات الصندوق الوطني للتقاعد)",
		}, []string{"اطلب من المواطن الوثيقة الورقية", "الخدمة غير متوفرة مؤقتا", "لم يتم الاتصال"}},
	} {
		st, _, body := do(http.MethodGet, answer+"?lang="+tc.lang, nil)
		if st != http.StatusServiceUnavailable {
			t.Errorf("%s: the answer page is %d, want the API's 503", tc.lang, st)
		}
		if !strings.Contains(body, `data-outcome="not_held"`) || !strings.Contains(body, `data-reason="source_stale"`) || !strings.Contains(body, `id="source-stale"`) {
			t.Errorf("%s: not shown as a source_stale answer", tc.lang)
		}
		for _, w := range tc.want {
			if !strings.Contains(body, w) {
				t.Errorf("%s: the page lacks %q", tc.lang, w)
			}
		}
		for _, w := range tc.never {
			if strings.Contains(body, w) {
				t.Errorf("%s: the page says %q", tc.lang, w)
			}
		}
		if strings.Contains(body, `id="paper-to-ask"`) {
			t.Errorf("%s: a stale answer names a paper to ask the citizen for", tc.lang)
		}
		// The retry button sends the same request again.
		for _, f := range []string{`name="nin" value="` + nin + `"`, `name="document_type" value="life-certificate"`,
			`name="purpose" value="pension-life-proof"`, `name="clerk_id" value="guichet-3"`} {
			if !strings.Contains(body, f) {
				t.Errorf("%s: the retry form lacks %s", tc.lang, f)
			}
		}
		if t.Failed() {
			t.Logf("%s page:\n%s", tc.lang, body)
		}
	}
	n, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counted := false
	for _, mf := range n {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if mf.GetName() == "askonce_console_requests_total" && l.GetValue() == "source_stale" && m.GetCounter().GetValue() == 1 {
					counted = true
				}
			}
		}
	}
	if !counted {
		t.Error(`askonce_console_requests_total{outcome="source_stale"} is not 1`)
	}
}
