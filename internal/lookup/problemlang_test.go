package lookup_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/askonce/askonce/internal/testenv"
)

// langReply is one answer with what a language test looks at.
type langReply struct {
	status  int
	lang    string // Content-Language
	vary    []string
	problem struct {
		Type, Title, Detail, Outcome, Reason string
		Errors                               []struct{ Field, Code, Message string }
	}
	raw []byte
}

// send is one request with an Accept-Language (none when lang is "-"),
// its answer checked against openapi.yaml; no 429 is waited out.
func (a *secAPI) send(method, path, key, ctype, body, lang string) langReply {
	a.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(a.ctx, method, a.base+path, rd)
	testenv.Must(a.t, err, "request")
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if lang != "-" {
		req.Header.Set("Accept-Language", lang)
	}
	resp, err := http.DefaultClient.Do(req)
	testenv.Must(a.t, err, "%s %s", method, path)
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	validateResponse(a.t, req, resp, raw)
	r := langReply{status: resp.StatusCode, lang: resp.Header.Get("Content-Language"), vary: resp.Header.Values("Vary"), raw: raw}
	_ = json.Unmarshal(raw, &r.problem)
	return r
}

func arabicLetters(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Arabic, r) && unicode.IsLetter(r) {
			return true
		}
	}
	return false
}

// TestProblemLanguages: every kind of problem (invalid NIN with its
// errors, denied, unauthenticated, not_held with its detail,
// source_stale, rate limited, malformed, wrong content type, an invalid
// portfolio member) is answered in Arabic, French or English as
// Accept-Language asks, in English when it is absent or names another
// language (de), with Content-Language saying which; type, outcome,
// reason and errors[].code do not change with the language.
func TestProblemLanguages(t *testing.T) {
	a := startSecAPI(t)
	const unknownNIN = "109909916000990137"
	// A civil-status data center whose watermark is three hours old: every
	// life certificate is source_stale.
	_, err := a.pool.Exec(a.ctx, `INSERT INTO store_watermarks (agency, data_center, watermark, updated_at)
		VALUES ('etatcivil', 'etatcivil-dc98', now() - interval '3 hours', now() - interval '3 hours')`)
	testenv.Must(t, err, "stale watermark")
	staleOff := func() {
		_, err := a.pool.Exec(a.ctx, `DELETE FROM store_watermarks WHERE data_center = 'etatcivil-dc98'`)
		testenv.Must(t, err, "fresh again")
		time.Sleep(1100 * time.Millisecond) // the API's watermark cache
	}
	type kind struct {
		name                  string
		method, path, key, ct string
		body                  string
		status                int
		typ, outcome, reason  string
		codes                 []string // errors[].code
		// title and detail (or a part of it) in en, fr and ar.
		title, detail [3]string
		// message: errors[0].message is the detail.
		message bool
	}
	cnr, cnas, slow := a.keys["cnr"], a.keys["cnas"], a.keys["slow"]
	life := func(n string) string { return docBody("life-certificate", n, "pension-life-proof", "guichet-1") }
	kinds := []kind{
		{name: "invalid NIN", method: "POST", path: "/v1/document-requests", key: cnr, ct: "application/json", body: life("12345"),
			status: 422, typ: "invalid-request", outcome: "invalid", codes: []string{"nin.format"}, message: true,
			title:  [3]string{"Invalid request", "Demande invalide", "طلب غير صالح"},
			detail: [3]string{"a NIN is 18 digits", "un NIN compte 18 chiffres", "يتكون رقم التعريف الوطني من 18 رقما"}},
		{name: "denied", method: "POST", path: "/v1/document-requests", key: cnas, ct: "application/json",
			body:   docBody("life-certificate", unknownNIN, "benefit-eligibility", "guichet-1"),
			status: 403, typ: "denied", outcome: "denied",
			title: [3]string{"Denied by policy", "Refusé par la politique d'accès", "مرفوض بموجب سياسة الوصول"},
			detail: [3]string{"client cnas may not ask for life-certificate for purpose benefit-eligibility",
				"le client cnas n'est pas autorisé à demander life-certificate pour le motif benefit-eligibility",
				"لا يحق للعميل cnas طلب life-certificate للغرض benefit-eligibility"}},
		{name: "unauthenticated", method: "POST", path: "/v1/document-requests", ct: "application/json", body: life(unknownNIN),
			status: 401, typ: "unauthenticated", outcome: "unauthenticated",
			title: [3]string{"Unauthenticated", "Non authentifié", "لم تتم المصادقة"},
			detail: [3]string{"a valid API key (Authorization: Bearer) or client certificate is required",
				"une clé d'API valide (Authorization: Bearer) ou un certificat client est requis",
				"يلزم مفتاح واجهة برمجية صالح (Authorization: Bearer) أو شهادة عميل"}},
		{name: "source stale", method: "POST", path: "/v1/document-requests", key: cnr, ct: "application/json", body: life(unknownNIN),
			status: 503, typ: "source-stale", outcome: "not_held", reason: "source_stale",
			title: [3]string{"Sources not followed closely enough to answer", "Sources non suivies d'assez près pour répondre",
				"المصادر غير متابعة عن كثب بما يكفي للإجابة"},
			detail: [3]string{"the store does not hold these data centers' records as of the last 5m0s (this document's freshness bound): etatcivil-dc98 (everything up to ",
				"la base de consultation ne détient pas les enregistrements de ces centres de données à jour à 5 min près (délai de fraîcheur de ce document) : etatcivil-dc98 (tout est appliqué jusqu'au ",
				"لا تحوز قاعدة بيانات الاستعلام سجلات مراكز البيانات هذه محينة بتأخر لا يتجاوز 5 دقائق (أجل حداثة هذه الوثيقة): etatcivil-dc98 (كل السجلات مطبقة إلى غاية "}},
		// After staleOff:
		{name: "not held", method: "POST", path: "/v1/document-requests", key: cnr, ct: "application/json", body: life(unknownNIN),
			status: 404, typ: "not-held", outcome: "not_held", reason: "no_record",
			title:  [3]string{"Not held electronically", "Non détenu électroniquement", "غير متوفرة إلكترونيا"},
			detail: [3]string{"no birth act is held for this NIN", "aucun acte de naissance n'est détenu pour ce NIN", "لا يتوفر أي عقد ميلاد لرقم التعريف الوطني هذا"}},
		{name: "malformed", method: "POST", path: "/v1/document-requests", key: cnr, ct: "application/json", body: `{"document_type":`,
			status: 400, typ: "malformed-request", outcome: "invalid",
			title: [3]string{"Malformed request", "Requête mal formée", "طلب غير سليم الصيغة"},
			detail: [3]string{"body is not a JSON document request: the JSON ends early",
				"le corps n'est pas une demande de document en JSON : le JSON est incomplet",
				"محتوى الطلب ليس طلب وثيقة بصيغة JSON: ينتهي نص JSON قبل اكتماله"}},
		{name: "unknown field", method: "POST", path: "/v1/document-requests", key: cnr, ct: "application/json", body: `{"nin":"1","color":"red"}`,
			status: 400, typ: "malformed-request", outcome: "invalid",
			title: [3]string{"Malformed request", "Requête mal formée", "طلب غير سليم الصيغة"},
			detail: [3]string{`body is not a JSON document request: unknown field "color"`,
				"le corps n'est pas une demande de document en JSON : champ inconnu «\u00a0color\u00a0»",
				"محتوى الطلب ليس طلب وثيقة بصيغة JSON: حقل غير معروف «\u00a0color\u00a0»"}},
		{name: "content type", method: "POST", path: "/v1/document-requests", key: cnr, ct: "text/plain", body: life(unknownNIN),
			status: 415, typ: "malformed-request", outcome: "invalid",
			title: [3]string{"Malformed request", "Requête mal formée", "طلب غير سليم الصيغة"},
			detail: [3]string{"send Content-Type: application/json", "envoyez Content-Type: application/json",
				"أرسل الطلب مع الترويسة Content-Type: application/json"}},
		{name: "portfolio member", method: "PUT", path: "/v1/portfolios/cnr/members/" + unknownNIN, key: cnr, ct: "application/json",
			body:   `{"kinds":["DEATH","BIRTHDAY"],"purpose":"pension-death-watch"}`,
			status: 422, typ: "invalid-request", outcome: "invalid", codes: []string{"kinds.unknown"},
			title: [3]string{"Invalid request", "Demande invalide", "طلب غير صالح"},
			detail: [3]string{`kinds: "BIRTHDAY" is not a kind of change`, "kinds : «\u00a0BIRTHDAY\u00a0» n'est pas un type de changement",
				"kinds: نوع التغيير «\u00a0BIRTHDAY\u00a0» غير معروف"}},
		{name: "rate limited", method: "POST", path: "/v1/document-requests", key: slow, ct: "application/json", body: life(unknownNIN),
			status: 429, typ: "rate-limited", outcome: "rate_limited",
			title: [3]string{"Too many requests", "Trop de demandes", "طلبات كثيرة جدا"},
			// The slow client refills one request a second: retry after 1 s.
			detail: [3]string{"over this client's rate limit; retry after 1s", "débit autorisé de ce client dépassé ; réessayez dans 1 s",
				"تجاوز هذا العميل عدد الطلبات المسموح به؛ أعد المحاولة بعد ثانية واحدة"}},
	}
	langs := []struct{ header, want string }{
		{"-", "en"}, {"en", "en"}, {"fr", "fr"}, {"fr-FR;q=0.8, de;q=0.9", "fr"}, {"ar", "ar"}, {"ar-DZ, fr;q=0.8", "ar"},
		{"de", "en"}, {"de-DE, *;q=0.1", "en"},
	}
	idx := map[string]int{"en": 0, "fr": 1, "ar": 2}
	time.Sleep(1100 * time.Millisecond) // the stale watermark past the API's cache
	for _, k := range kinds {
		if k.name == "not held" {
			staleOff()
		}
		for _, l := range langs {
			r := a.send(k.method, k.path, k.key, k.ct, k.body, l.header)
			// The slow client (rate 1/s, burst 2) is over its rate once its
			// burst is spent: ask until it says so.
			for i := 0; k.status == 429 && r.status != 429 && i < 10; i++ {
				r = a.send(k.method, k.path, k.key, k.ct, k.body, l.header)
			}
			name := k.name + " (Accept-Language " + l.header + ")"
			p := r.problem
			if r.status != k.status || p.Type != "https://askonce.dz/problems/"+k.typ || p.Outcome != k.outcome || p.Reason != k.reason {
				t.Errorf("%s: %d %s", name, r.status, r.raw)
				continue
			}
			if r.lang != l.want {
				t.Errorf("%s: Content-Language %q, want %q", name, r.lang, l.want)
			}
			if !strings.Contains(strings.Join(r.vary, ","), "Accept-Language") {
				t.Errorf("%s: Vary %v lacks Accept-Language", name, r.vary)
			}
			if (l.header == "fr" || l.header == "ar") && (k.status == 422 || k.status == 503) {
				t.Logf("%s: Content-Language: %s\n%s", name, r.lang, r.raw)
			}
			i := idx[l.want]
			if p.Title != k.title[i] {
				t.Errorf("%s: title %q, want %q", name, p.Title, k.title[i])
			}
			if !strings.HasPrefix(p.Detail, k.detail[i]) {
				t.Errorf("%s: detail %q, want %q…", name, p.Detail, k.detail[i])
			}
			if l.want == "ar" && !arabicLetters(p.Title+p.Detail) {
				t.Errorf("%s: no Arabic in %s", name, r.raw)
			}
			var codes []string
			for _, e := range p.Errors {
				codes = append(codes, e.Code)
				if e.Message == "" || (l.want == "ar") != arabicLetters(e.Message) {
					t.Errorf("%s: errors[] message %q in %s", name, e.Message, l.want)
				}
			}
			if strings.Join(codes, ",") != strings.Join(k.codes, ",") {
				t.Errorf("%s: error codes %v, want %v", name, codes, k.codes)
			}
			if k.message && (len(p.Errors) == 0 || p.Errors[0].Message != p.Detail) {
				t.Errorf("%s: errors[0].message is not the detail: %s", name, r.raw)
			}
		}
	}

	// The lines of a bulk upload speak the caller's language too.
	r := a.send("POST", "/v1/portfolios/cnr/members:bulk", cnr, "application/json",
		`[{"nin":"12","kinds":["DEATH"],"purpose":"pension-death-watch"}]`, "fr")
	if r.status != 200 || r.lang != "fr" || !strings.Contains(string(r.raw), "un NIN compte 18 chiffres") {
		t.Errorf("bulk in French: %d %s %s", r.status, r.lang, r.raw)
	}
	r = a.send("GET", "/v1/citizens/12/access-log", a.keys["citizen-portal"], "", "", "ar")
	if r.status != 422 || r.lang != "ar" || r.problem.Detail != "يتكون رقم التعريف الوطني من 18 رقما" || r.problem.Errors[0].Code != "nin.format" {
		t.Errorf("access log of a bad NIN in Arabic: %d %s %s", r.status, r.lang, r.raw)
	}
	// The decoder's own words are logged, not answered.
	if !strings.Contains(a.logs.String(), `"msg":"malformed request body"`) {
		t.Error("the decoder's error of a malformed body is not logged")
	}
}
