package console

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/askonce/askonce/internal/lookup"
	"github.com/askonce/askonce/internal/watermark"
)

func TestVerificationCode(t *testing.T) {
	doc := []byte(`{"id":"doc_0123456789abcdef01234567","type":"birth-certificate"}`)
	code := VerificationCode(doc)
	if !regexp.MustCompile(`^[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}$`).MatchString(code) {
		t.Fatalf("code %q: want four groups of four base32 characters", code)
	}
	if VerificationCode(append([]byte(nil), doc...)) != code {
		t.Error("the code is not a function of the document")
	}
	other := []byte(`{"id":"doc_0123456789abcdef01234567","type":"birth-certificatf"}`)
	if VerificationCode(other) == code {
		t.Error("two documents share a code")
	}
	for _, typed := range []string{code, strings.ToLower(code), strings.ReplaceAll(code, "-", ""), strings.ReplaceAll(code, "-", " "), " " + code + " "} {
		if !codeMatches(doc, typed) {
			t.Errorf("%q does not match its own code %s", typed, code)
		}
	}
	for _, typed := range []string{"", code[:18], code + "A", strings.Replace(code, code[:1], map[bool]string{true: "B", false: "A"}[code[0] == 'A'], 1)} {
		if codeMatches(doc, typed) {
			t.Errorf("%q matches code %s", typed, code)
		}
	}
	if codeMatches(other, code) {
		t.Error("a code matches another document")
	}
}

func TestMaskAndFormat(t *testing.T) {
	if got := maskNIN("109990160012345678"); got != strings.Repeat("•", 14)+"5678" {
		t.Errorf("maskNIN: %q", got)
	}
	for c, want := range map[int64]string{0: "0,00 DA", 5: "0,05 DA", 123456: "1\u00a0234,56 DA", 100000000: "1\u00a0000\u00a0000,00 DA", -250: "-2,50 DA"} {
		if got := formatDZD(c); got != want {
			t.Errorf("formatDZD(%d) = %q, want %q", c, got, want)
		}
	}
	fr := french()
	b := builder{l: fr, mask: true}
	var fields map[string]any
	dec := json.NewDecoder(strings.NewReader(`{"nin":"109990160012345678","birth_date":"1961-03-07","sex":"F","alive":true,
		"mother_name":{"latin":"Benali Fatima","arabic":"بن علي فاطمة"},
		"periods":[{"period":"2025-01","amount_due":123456,"spouse_nin":"109990160087654321"},{"period":"2025-02","status":"PAID"}]}`))
	dec.UseNumber()
	if err := dec.Decode(&fields); err != nil {
		t.Fatal(err)
	}
	items := b.items(fields)
	got := map[string]item{}
	for _, it := range items {
		got[it.Key] = it
	}
	if items[0].Key != "nin" || got["nin"].Text != strings.Repeat("•", 14)+"5678" {
		t.Errorf("nin first and masked: %+v", items[0])
	}
	if got["birth_date"].Text != "07/03/1961" || got["sex"].Text != "Féminin" || got["alive"].Text != "Oui" {
		t.Errorf("scalars: %q %q %q", got["birth_date"].Text, got["sex"].Text, got["alive"].Text)
	}
	if len(got["mother_name"].Sub) != 2 {
		t.Errorf("an object is a nested list: %+v", got["mother_name"])
	}
	tb := got["periods"].Table
	if tb == nil || len(tb.Rows) != 2 || len(tb.Head) != 4 {
		t.Fatalf("a list of objects is a table with the union of their keys: %+v", tb)
	}
	cells := map[string]string{}
	for _, c := range tb.Rows[0] {
		cells[c.Key] = c.Text
	}
	if cells["amount_due"] != "1\u00a0234,56 DA" || cells["spouse_nin"] != strings.Repeat("•", 14)+"4321" || tb.Rows[1][0].Key != tb.Rows[0][0].Key {
		t.Errorf("table cells: %+v", cells)
	}
}

// TestTranslations: every message the templates use exists in both
// languages, and both have the same keys.
func TestTranslations(t *testing.T) {
	fr, ar := french(), arabic()
	for k := range fr.msg {
		if !ar.HasMessage(k) {
			t.Errorf("message %q has no Arabic", k)
		}
	}
	for k := range ar.msg {
		if !fr.HasMessage(k) {
			t.Errorf("message %q has no French", k)
		}
	}
	for k := range fr.fields {
		if !ar.HasField(k) {
			t.Errorf("field %q has no Arabic label", k)
		}
	}
	for k := range fr.purposes {
		if !ar.HasPurpose(k) {
			t.Errorf("purpose %q has no Arabic label", k)
		}
	}
	// A message formatted with arguments has the same verbs in both.
	verbs := regexp.MustCompile(`%[a-z]`)
	for k, m := range fr.msg {
		if got, want := verbs.FindAllString(ar.msg[k], -1), verbs.FindAllString(m, -1); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("message %q: Arabic has verbs %v, French %v", k, got, want)
		}
	}
	used := regexp.MustCompile(`\.T "([a-z_.A-Z]+)"`)
	err := fs.WalkDir(templateFS, "templates", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(templateFS, path)
		if err != nil {
			return err
		}
		for _, m := range used.FindAllStringSubmatch(string(b), -1) {
			for _, l := range []*Lang{fr, ar} {
				if !l.HasMessage(m[1]) {
					t.Errorf("%s uses %q, missing in %s", path, m[1], l.Code)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parsePages(); err != nil {
		t.Fatal(err)
	}
}

func TestQRSVG(t *testing.T) {
	svg, err := qrSVG("https://askonce.example/verify/doc_0123456789abcdef01234567?c=ABCD-EFGH-IJKL-MNOP", `say "<hi>"`)
	if err != nil {
		t.Fatal(err)
	}
	s := string(svg)
	if !strings.HasPrefix(s, "<svg ") || !strings.Contains(s, `aria-label="say &#34;&lt;hi&gt;&#34;"`) || strings.Contains(s, "<hi>") {
		t.Errorf("svg: %.300s", s)
	}
	if len(s) > 20<<10 {
		t.Errorf("QR code of a verify URL is %d bytes", len(s))
	}
}

func TestSessions(t *testing.T) {
	now := time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC)
	ss := newSessions(8*time.Hour, 30*time.Minute, 2)
	a, b := &session{key: "k1"}, &session{key: "k2"}
	if err := ss.create(a, now); err != nil {
		t.Fatal(err)
	}
	if len(a.id) != 43 || a.csrf == "" || a.csrf == a.id {
		t.Fatalf("session id %q csrf %q: want 256 random bits each", a.id, a.csrf)
	}
	if err := ss.create(b, now); err != nil {
		t.Fatal(err)
	}
	if err := ss.create(&session{}, now.Add(time.Minute)); err != errTooManySessions {
		t.Fatalf("third session in a store of 2: %v", err)
	}
	// Idle: a used every 20 minutes stays, b expires after 30 idle minutes.
	for i := 1; i <= 3; i++ {
		if ss.get(a.id, now.Add(time.Duration(i)*20*time.Minute)) == nil {
			t.Fatalf("session a expired while used (%d)", i)
		}
	}
	if ss.get(b.id, now.Add(61*time.Minute)) != nil {
		t.Error("idle session b still served")
	}
	if err := ss.create(&session{}, now.Add(62*time.Minute)); err != nil {
		t.Errorf("a slot freed by expiry: %v", err)
	}
	// Absolute: a expires after 8 h however busy.
	for m := 80; m < 8*60; m += 20 {
		ss.get(a.id, now.Add(time.Duration(m)*time.Minute))
	}
	if ss.get(a.id, now.Add(8*time.Hour)) != nil {
		t.Error("session served past its absolute lifetime")
	}
	c := &session{}
	ss.create(c, now) //nolint:errcheck // room was made above
	ss.remove(c.id)
	if ss.get(c.id, now) != nil {
		t.Error("removed session still served")
	}
	for i := 0; i < 8; i++ {
		c.add(&answer{outcome: "issued"})
	}
	if c.answer(1) != nil || c.answer(8) == nil || c.answer(4) == nil || c.answer(3) != nil {
		t.Errorf("a session keeps its last %d answers", maxAnswers)
	}
}

// TestLongStatement: a 40-year contributions statement (480 monthly
// periods, as many source records) stays a page a slow line can carry:
// the provenance is grouped by data center and the page is sent
// compressed under 100 KB.
func TestLongStatement(t *testing.T) {
	c, err := New(Options{}, http.NotFoundHandler(), nil, nil, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	var periods, prov []string
	start := time.Date(1986, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 480; i++ {
		m := start.AddDate(0, i, 0).Format("2006-01")
		periods = append(periods, fmt.Sprintf(`{"period":"%s","fund":"CNAS","employer_id":"16%08d","wage_base":%d,"amount_due":%d,"amount_paid":%d,"status":"PAID"}`,
			m, i/60, 4500000+i*1000, 1575000+i*350, 1575000+i*350))
		prov = append(prov, fmt.Sprintf(`{"agency":"cnas","data_center":"cnas-dc%02d","source_key":"contribution/%d","source_version":1,"event_time":"%sT00:00:00Z"}`,
			1+i/240, 100000+i, start.AddDate(0, i+1, 0).Format("2006-01-02")))
	}
	doc := `{"id":"doc_0123456789abcdef01234567","type":"contributions-statement","paper":"Relevé des salaires et cotisations","nin":"109990160012345678",
		"purpose":"pension-award","requested_by":{"client":"cnr","agency":"CNR","clerk_id":"g-1"},"issued_at":"2026-11-25T10:00:00Z","as_of":"2026-11-25T10:00:00Z",
		"valid_until":"2027-02-25T10:00:00Z","issuer":"askonce","fields":{"nin":"109990160012345678","periods":[` + strings.Join(periods, ",") + `],
		"totals":{"wages":1,"due":2,"paid":3}},"provenance":[` + strings.Join(prov, ",") + `]}`
	d, err := parseDocument([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range Langs() {
		v := buildDoc(d, l, false, time.Date(2026, 11, 25, 11, 0, 0, 0, time.UTC))
		if len(v.Provenance) != 2 || !strings.HasPrefix(v.Provenance[0].SourceKey, "240 ") || v.Provenance[1].EventTime != "01/01/2026 00:00 UTC" {
			t.Fatalf("%s: provenance of 480 records in 2 data centers: %+v", l.Code, v.Provenance)
		}
		v.Code, v.VerifyURL = VerificationCode([]byte(doc)), "https://askonce.example/verify/"+d.ID+"?c=X"
		if v.QR, err = qrSVG(v.VerifyURL, "QR"); err != nil {
			t.Fatal(err)
		}
		p := &page{L: l, Title: v.Paper, S: &sessionView{ClientID: "cnr", Clerk: "g-1"}, CSRF: "t", Catalog: &catalogView{},
			Answer: &answerView{Outcome: "issued", Status: 200, Doc: v}, gzip: true}
		rec := httptest.NewRecorder()
		c.render(rec, "console", http.StatusOK, p)
		if rec.Header().Get("Content-Encoding") != "gzip" {
			t.Fatalf("not compressed: %v", rec.Header())
		}
		zr, err := gzip.NewReader(bytes.NewReader(rec.Body.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		html, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Count(string(html), "<tr>"); got < 480 {
			t.Errorf("%s: %d table rows, want every period", l.Code, got)
		}
		n, _ := strconv.Atoi(rec.Header().Get("Content-Length"))
		t.Logf("%s: 480-period statement: %d bytes of HTML, %d sent compressed", l.Code, len(html), n)
		if n >= 100<<10 || n == 0 {
			t.Errorf("%s: %d bytes sent, want under 100 KB", l.Code, n)
		}
	}
}

// TestPublicURL: behind a TLS-terminating proxy (lookup.public_url) the
// printed link is the public https address and the cookies are Secure;
// without it, the request's own Host and scheme.
func TestPublicURL(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "http://10.0.0.7:8080/console", nil)
	direct := &Console{}
	if got := direct.verifyURL(r, "doc_1", "ABC"); got != "http://10.0.0.7:8080/verify/doc_1?c=ABC" {
		t.Errorf("without public_url: %s", got)
	}
	if direct.isSecure(r) {
		t.Error("plain HTTP without public_url is secure")
	}
	u, err := url.Parse("https://api.askonce.example")
	if err != nil {
		t.Fatal(err)
	}
	proxied := &Console{opt: Options{PublicURL: u}}
	if got := proxied.verifyURL(r, "doc_1", "ABC"); got != "https://api.askonce.example/verify/doc_1?c=ABC" {
		t.Errorf("with public_url: %s", got)
	}
	if !proxied.isSecure(r) {
		t.Error("an https public_url does not make the cookies Secure")
	}
}

// TestDuration: how old a data center's watermark is, as a clerk reads it.
func TestDuration(t *testing.T) {
	fr, ar := french(), arabic()
	for d, want := range map[time.Duration][2]string{
		0:                                      {"0 s", "0 ثانية"},
		time.Second:                            {"1 s", "ثانية واحدة"},
		30 * time.Second:                       {"30 s", "30 ثانية"},
		5*time.Minute + 5*time.Second:          {"5 min 5 s", "5 دقائق و5 ثوان"},
		2*time.Minute + 2*time.Second:          {"2 min 2 s", "دقيقتين وثانيتين"},
		12*time.Minute + 59*time.Second:        {"12 min", "12 دقيقة"},
		time.Hour:                              {"1 h", "ساعة واحدة"},
		26*time.Hour + 3*time.Minute:           {"26 h 3 min", "26 ساعة و3 دقائق"},
		-time.Second:                           {"0 s", "0 ثانية"},
		10*time.Minute + 1500*time.Millisecond: {"10 min", "10 دقائق"},
	} {
		if got := fr.Duration(d); got != want[0] {
			t.Errorf("fr %s: %q, want %q", d, got, want[0])
		}
		if got := ar.Duration(d); got != want[1] {
			t.Errorf("ar %s: %q, want %q", d, got, want[1])
		}
	}
}

// TestStaleViewsEscape: what the API says of a lagging data center is
// escaped (the sentence is HTML so that times read left to right in
// Arabic, never so that a value could add markup).
func TestStaleViewsEscape(t *testing.T) {
	p := lookup.Problem{Stale: []watermark.Lagging{
		{DataCenter: `a<b>-*`, Agency: `a<b>`},
		{DataCenter: "x", Watermark: `<img src=x>`, AgeSeconds: 400},
	}}
	for _, l := range Langs() {
		for _, v := range staleViews(p, l) {
			if strings.Contains(string(v.Text), "<b>") || strings.Contains(string(v.Text), "<img") {
				t.Errorf("%s: unescaped %q", l.Code, v.Text)
			}
		}
	}
	// An older API without the "stale" list: the names alone.
	if v := staleViews(lookup.Problem{StaleSources: []string{"etatcivil-dc01"}}, french()); len(v) != 1 || v[0].DataCenter != "etatcivil-dc01" || v[0].Text != "" {
		t.Errorf("stale_sources only: %+v", v)
	}
}
