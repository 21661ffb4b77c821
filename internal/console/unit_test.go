package console

import (
	"encoding/json"
	"io/fs"
	"regexp"
	"strings"
	"testing"
	"time"
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

func TestIPLimiter(t *testing.T) {
	now := time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC)
	l := newIPLimiter(1, 3, 2)
	for i := 0; i < 3; i++ {
		if !l.allow("10.0.0.1", now) {
			t.Fatalf("call %d within the burst refused", i)
		}
	}
	if l.allow("10.0.0.1", now) {
		t.Error("call past the burst allowed")
	}
	if !l.allow("10.0.0.2", now) {
		t.Error("another address shares the bucket")
	}
	if !l.allow("10.0.0.1", now.Add(1100*time.Millisecond)) {
		t.Error("no refill after a second")
	}
	l.allow("10.0.0.3", now.Add(time.Hour)) // over max: idle buckets dropped
	if len(l.m) > 2 {
		t.Errorf("limiter holds %d addresses, max 2", len(l.m))
	}
}
