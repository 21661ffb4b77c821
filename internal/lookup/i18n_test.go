package lookup

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/askonce/askonce/internal/portfolio"
	"github.com/askonce/askonce/internal/watermark"
)

var placeholderRe = regexp.MustCompile(`\{([a-z_]+)\}`)

func placeholders(s string) []string {
	var out []string
	for _, m := range placeholderRe.FindAllStringSubmatch(s, -1) {
		if !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	slices.Sort(out)
	return out
}

func hasArabic(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Arabic, r) && unicode.IsLetter(r) {
			return true
		}
	}
	return false
}

// TestMessagesComplete walks the message table: every problem title,
// detail and field message exists in English, French and Arabic, with the
// same placeholders in each; the Arabic is written in Arabic and the French
// is not the English. A key missing a language fails the build.
func TestMessagesComplete(t *testing.T) {
	if len(messages) < 50 {
		t.Fatalf("%d messages: the table is not the one problem texts come from", len(messages))
	}
	for key, m := range messages {
		texts := map[string]string{LangEnglish: m.en, LangFrench: m.fr, LangArabic: m.ar}
		for _, lang := range Languages {
			if strings.TrimSpace(texts[lang]) == "" {
				t.Errorf("message %q has no %s text", key, lang)
			}
		}
		want := placeholders(m.en)
		for _, lang := range []string{LangFrench, LangArabic} {
			if got := placeholders(texts[lang]); !slices.Equal(got, want) {
				t.Errorf("message %q: %s placeholders %v, English %v", key, lang, got, want)
			}
		}
		// What is left once the placeholders are taken out must be Arabic,
		// unless nothing is left but punctuation.
		rest := placeholderRe.ReplaceAllString(m.ar, "")
		if strings.IndexFunc(rest, unicode.IsLetter) >= 0 && !hasArabic(rest) {
			t.Errorf("message %q: the Arabic text %q has no Arabic", key, m.ar)
		}
		if m.fr == m.en && strings.IndexFunc(placeholderRe.ReplaceAllString(m.en, ""), unicode.IsLetter) >= 0 {
			t.Errorf("message %q: the French text is the English one: %q", key, m.fr)
		}
		if strings.Contains(m.fr+m.ar, "%") && !strings.Contains(m.en, "%") {
			t.Errorf("message %q: a fmt verb in a translation", key)
		}
	}
}

// TestMessageKeysInCode reads the package's code: every tr(key, ...) names
// a key of the table, as a literal, with exactly the placeholders of its
// texts; every key of the table is used; no problem title or detail and no
// field message is written as a string (Problem{Title: ...}, FieldError{...}
// outside fieldError): every text a caller reads goes through the table.
func TestMessageKeysInCode(t *testing.T) {
	fset := token.NewFileSet()
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		var fn string
		ast.Inspect(f, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.FuncDecl:
				fn = x.Name.Name
			case *ast.CallExpr:
				id, ok := x.Fun.(*ast.Ident)
				if !ok || id.Name != "tr" || fn == "tr" {
					return true
				}
				pos := fset.Position(x.Pos())
				lit, ok := x.Args[0].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					t.Errorf("%s: tr with a key that is not a literal", pos)
					return true
				}
				key, _ := strconv.Unquote(lit.Value)
				used[key] = true
				m, ok := messages[key]
				if !ok {
					t.Errorf("%s: message key %q is not in the table", pos, key)
					return true
				}
				if len(x.Args)%2 != 1 {
					t.Errorf("%s: tr(%q) with an odd number of name, value arguments", pos, key)
					return true
				}
				var names []string
				for i := 1; i < len(x.Args); i += 2 {
					nl, ok := x.Args[i].(*ast.BasicLit)
					if !ok || nl.Kind != token.STRING {
						t.Errorf("%s: tr(%q): placeholder name %d is not a literal", pos, key, i/2+1)
						continue
					}
					name, _ := strconv.Unquote(nl.Value)
					names = append(names, name)
				}
				slices.Sort(names)
				if want := placeholders(m.en); !slices.Equal(names, want) {
					t.Errorf("%s: tr(%q) gives %v, its texts have %v", pos, key, names, want)
				}
			case *ast.CompositeLit:
				id, ok := x.Type.(*ast.Ident)
				if !ok {
					return true
				}
				switch {
				case id.Name == "Problem":
					titled := false
					for _, el := range x.Elts {
						if kv, ok := el.(*ast.KeyValueExpr); ok {
							k, _ := kv.Key.(*ast.Ident)
							switch {
							case k == nil:
							case k.Name == "Title" || k.Name == "Detail":
								t.Errorf("%s: Problem{%s: ...}: set title or detail with tr, in every language", fset.Position(kv.Pos()), k.Name)
							case k.Name == "title":
								titled = true
							}
						}
					}
					if !titled {
						t.Errorf("%s: a Problem without a title", fset.Position(x.Pos()))
					}
				case id.Name == "FieldError" && fn != "fieldError":
					t.Errorf("%s: FieldError{...}: use fieldError with a tr text", fset.Position(x.Pos()))
				}
			}
			return true
		})
	}
	for key := range messages {
		if !used[key] {
			t.Errorf("message %q is in the table but never used", key)
		}
	}
}

func TestProblemLanguage(t *testing.T) {
	for _, c := range []struct{ header, want string }{
		{"", "en"},
		{"ar", "ar"},
		{"AR", "ar"},
		{"ar-DZ", "ar"},
		{"fr", "fr"},
		{"fr-FR;q=0.8", "fr"},
		{"en", "en"},
		{"de", "en"},
		{"de-DE, es;q=0.9", "en"},
		{"*", "en"},
		{"de, *;q=0.1", "en"},
		{"ar;q=0, *", "en"},
		{"en;q=0, *", "fr"},
		{"fr-FR;q=0.8, ar;q=0.9", "ar"},
		{"fr-FR;q=0.8, en;q=0.5", "fr"},
		{"ar-DZ, fr;q=0.8, en;q=0.5", "ar"},
		{"fr, ar", "fr"},
		{"ar, fr", "ar"},
		{"en-GB, ar;q=0.5", "en"},
		{"de, fr;q=0.2", "fr"},
		{"*;q=0.5, ar;q=0.4", "en"}, // "*" gives en and fr 0.5, over ar's 0.4; the default wins among them
		{"fr;q=0", "en"},
		{"fr;q=1.5", "en"},   // not a qvalue: ignored
		{"fr;q=abc", "en"},   // idem
		{"fr;q=0.001", "fr"}, // low, but the only one
		{"ar-DZ;q=0.3, ar;q=0.9, fr;q=0.5", "ar"},
		{"ar;q=0.2, ar-DZ;q=0.9, fr;q=0.5", "fr"}, // the bare range decides for ar
		{" fr-CA ; q=0.7 ,  en ; q=0.6", "fr"},
		{"arabic", "en"},
	} {
		if got := problemLanguage(c.header); got != c.want {
			t.Errorf("Accept-Language %q: %s, want %s", c.header, got, c.want)
		}
	}
}

// TestTexts: placeholders, quoted input, durations and lists as each
// language writes them.
func TestTexts(t *testing.T) {
	stale := list{
		tr("stale.behind", "data_center", "etatcivil-dc07", "watermark", "2026-11-25T07:57:00Z", "age", 2*time.Hour+3*time.Minute),
		tr("stale.no_watermark", "data_center", "etatcivil-dc11"),
	}
	m := tr("detail.source_stale", "bound", 5*time.Minute, "sources", stale)
	for lang, want := range map[string]string{
		"en": "the store does not hold these data centers' records as of the last 5m0s (this document's freshness bound): " +
			"etatcivil-dc07 (everything up to 2026-11-25T07:57:00Z applied, 2h3m0s ago), etatcivil-dc11 (no watermark yet); retry later",
		"fr": "la base de consultation ne détient pas les enregistrements de ces centres de données à jour à 5 min près (délai de fraîcheur de ce document) : " +
			"etatcivil-dc07 (tout est appliqué jusqu'au 2026-11-25T07:57:00Z, il y a 2 h 3 min), etatcivil-dc11 (n'a pas encore signalé jusqu'où il est à jour) ; réessayez plus tard",
		"ar": "لا تحوز قاعدة بيانات الاستعلام سجلات مراكز البيانات هذه محينة بتأخر لا يتجاوز 5 دقائق (أجل حداثة هذه الوثيقة): " +
			"etatcivil-dc07 (كل السجلات مطبقة إلى غاية 2026-11-25T07:57:00Z، أي منذ ساعتين و3 دقائق)، etatcivil-dc11 (لم يبلغ بعد عن تاريخ تحيينه)؛ أعد المحاولة لاحقا",
	} {
		if got := m.in(lang); got != want {
			t.Errorf("%s:\n got %s\nwant %s", lang, got, want)
		}
	}
	q := tr("field.document_type.unknown", "value", quoted("pass\"port\n"))
	for lang, want := range map[string]string{
		"en": `"pass\"port\n" is not a document type (GET /v1/document-types)`,
		"fr": "«\u00a0pass\"port\\n\u00a0» n'est pas un type de document (GET /v1/document-types)",
		"ar": "نوع الوثيقة «\u00a0pass\"port\\n\u00a0» غير معروف (GET /v1/document-types)",
	} {
		if got := q.in(lang); got != want {
			t.Errorf("%s: %q, want %q", lang, got, want)
		}
	}
	for _, c := range []struct {
		d      time.Duration
		fr, ar string
	}{
		{0, "0 s", "0 ثانية"},
		{30 * time.Second, "30 s", "30 ثانية"},
		{5*time.Minute + 5*time.Second, "5 min 5 s", "5 دقائق و5 ثوان"},
		{time.Hour, "1 h", "ساعة واحدة"},
		{3*time.Hour + 1*time.Second, "3 h", "3 ساعات"},
		{15 * time.Minute, "15 min", "15 دقيقة"},
	} {
		if got := SpellDuration(c.d, "fr"); got != c.fr {
			t.Errorf("%s in French: %q, want %q", c.d, got, c.fr)
		}
		if got := SpellDuration(c.d, "ar"); got != c.ar {
			t.Errorf("%s in Arabic: %q, want %q", c.d, got, c.ar)
		}
	}
	joined := tr("detail.field_errors", "errors", semicolons{
		tr("detail.field_error", "field", "nin", "message", tr("field.nin.format")),
		tr("detail.field_error", "field", "kinds", "message", tr("field.kinds.empty")),
	})
	for lang, want := range map[string]string{
		"en": "nin: a NIN is 18 digits; kinds: subscribe to at least one kind of change",
		"fr": "nin : un NIN compte 18 chiffres ; kinds : abonnez-vous à au moins un type de changement",
		"ar": "nin: يتكون رقم التعريف الوطني من 18 رقما؛ kinds: اشترك في نوع واحد على الأقل من التغييرات",
	} {
		if got := joined.in(lang); got != want {
			t.Errorf("%s: %q, want %q", lang, got, want)
		}
	}
}

// TestStaleDetailEnglish: the source_stale detail says in English what it
// always said (checkFresh's words, now from the table).
func TestStaleDetailEnglish(t *testing.T) {
	d := decision{}
	f := Fresh{Bound: 15 * time.Minute, Lagging: []watermark.Lagging{
		{DataCenter: "cnas|casnos|cacobatph-*", Agency: "cnas|casnos|cacobatph"},
		{DataCenter: "etatcivil-dc11", Agency: "etatcivil"},
		{DataCenter: "etatcivil-dc03", Agency: "etatcivil", Watermark: "2026-11-25T09:54:55Z", AgeSeconds: 305},
	}}
	parts := make(list, len(f.Lagging))
	for i, l := range f.Lagging {
		switch {
		case l.Watermark == "" && strings.HasSuffix(l.DataCenter, "-*"):
			parts[i] = tr("stale.no_watermark_in_agency", "data_center", l.DataCenter, "agency", l.Agency)
		case l.Watermark == "":
			parts[i] = tr("stale.no_watermark", "data_center", l.DataCenter)
		default:
			parts[i] = tr("stale.behind", "data_center", l.DataCenter, "watermark", l.Watermark, "age", time.Duration(l.AgeSeconds)*time.Second)
		}
	}
	d.detail = tr("detail.source_stale", "bound", f.Bound, "sources", parts)
	want := "the store does not hold these data centers' records as of the last 15m0s (this document's freshness bound): " +
		"cnas|casnos|cacobatph-* (no data center of cnas|casnos|cacobatph has a watermark yet), etatcivil-dc11 (no watermark yet), " +
		"etatcivil-dc03 (everything up to 2026-11-25T09:54:55Z applied, 5m5s ago); retry later"
	if got := d.detail.in("en"); got != want {
		t.Errorf("\n got %s\nwant %s", got, want)
	}
}

// TestMemberErrors: the reasons portfolio.Member.Check gives are said in
// the three languages, the English being Check's own words (never the
// fallback of a reason the table cannot say).
func TestMemberErrors(t *testing.T) {
	for _, m := range []portfolio.Member{
		{NIN: "12", Purpose: "curiosity", Kinds: []string{"DEATH", "BIRTHDAY"}},
		{NIN: "109859916000420137", Purpose: "pension-death-watch", Kinds: []string{"EMPLOYMENT_START", "NOPE", "DEATH", "EMPLOYMENT_END"}},
		{NIN: "109859916000420137", Purpose: "insured-events"},
		{NIN: "109859916000420137", Purpose: strings.Repeat("p", 80), Kinds: []string{strings.Repeat("k", 80), "DEATH"}},
	} {
		purpose, kinds := m.Purpose, slices.Clone(m.Kinds)
		errs := m.Check()
		if len(errs) == 0 {
			t.Fatalf("%+v: no error", m)
		}
		fe := memberErrors(errs, purpose, kinds)
		for i, e := range fe {
			if e.text.key == "field.invalid" {
				t.Errorf("%+v: reason %q (%s) not in the table", m, errs[i].Message, errs[i].Code)
			}
			if e.Message != errs[i].Message || e.Code != errs[i].Code || e.Field != errs[i].Field {
				t.Errorf("%+v: %+v, Check said %+v", m, e, errs[i])
			}
			for _, lang := range []string{"fr", "ar"} {
				if s := e.text.in(lang); s == e.Message || s == "" {
					t.Errorf("%+v: %s not translated to %s: %q", m, e.Code, lang, s)
				}
			}
		}
	}
	// A reason the table does not know keeps Check's words.
	fe := memberErrors([]portfolio.Invalid{{Field: "kinds", Code: "kinds.new", Message: "something new"}}, "", nil)
	if fe[0].Message != "something new" || fe[0].text.in("fr") != "valeur invalide (something new)" {
		t.Errorf("unknown reason: %+v, %q", fe[0], fe[0].text.in("fr"))
	}
}

// TestDecodeErrors: a body that is not a request is refused with a stable
// sentence that names no Go type (the decoder's words are logged, not
// answered), with the position or field when there is one.
func TestDecodeErrors(t *testing.T) {
	for body, want := range map[string]string{
		`{"document_type":`:            "body is not a JSON document request: the JSON ends early",
		``:                             "body is not a JSON document request: the body is empty",
		`[]`:                           `body is not a JSON document request: a JSON object {"document_type", "nin", "purpose", "clerk_id"} is expected`,
		`{"nin":1}`:                    `body is not a JSON document request: "nin" must be a string`,
		`{"nin":"1","extra":true}`:     `body is not a JSON document request: unknown field "extra"`,
		`{"nin":"1"} x`:                "body holds more than one JSON value",
		`{"nin":"1"} {}`:               "body holds more than one JSON value",
		`{"nin": tru}`:                 "body is not a JSON document request: invalid JSON at offset 12",
		"{\"nin\":\"1\"}\n" + `"tail"`: "body holds more than one JSON value",
	} {
		_, err := DecodeRequest(bytes.NewReader([]byte(body)), 1<<10)
		if err == nil {
			t.Errorf("%q: accepted", body)
			continue
		}
		if err.Error() != want {
			t.Errorf("%q: %q, want %q", body, err.Error(), want)
		}
		re, ok := err.(*RequestError)
		if !ok {
			t.Errorf("%q: %T, want *RequestError", body, err)
			continue
		}
		for _, lang := range []string{"fr", "ar"} {
			s := re.text.in(lang)
			if strings.Contains(s, "Go value") || strings.Contains(s, "lookup.") || s == want {
				t.Errorf("%q in %s: %q", body, lang, s)
			}
		}
	}
}
