package schemas_test

import (
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/askonce/askonce/schemas"
	"github.com/askonce/askonce/schemas/schematest"
)

// badText are values no string field may hold, with the code each gets.
var badText = []struct {
	name, value, code string
}{
	{"NUL", "AB\x00C", schemas.CodeTextInvalid},
	{"only NUL", "\x00", schemas.CodeTextInvalid},
	{"escape", "AB\x1b[31mC", schemas.CodeTextInvalid},
	{"DEL", "AB\x7fC", schemas.CodeTextInvalid},
	{"C1 NEL", "AB\u0085C", schemas.CodeTextInvalid},
	{"line separator", "AB\u2028C", schemas.CodeTextInvalid},
	{"paragraph separator", "AB\u2029C", schemas.CodeTextInvalid},
	{"noncharacter FFFE", "AB\uFFFEC", schemas.CodeTextInvalid},
	{"noncharacter FFFF", "AB\uFFFFC", schemas.CodeTextInvalid},
	{"noncharacter FDD0", "AB\uFDD0C", schemas.CodeTextInvalid},
	{"noncharacter 10FFFF", "AB\U0010FFFFC", schemas.CodeTextInvalid},
	{"invalid UTF-8 (Latin-1 é)", "B\xe9NALI", schemas.CodeTextInvalid},
	{"invalid UTF-8 (cut sequence)", "AB\xd8", schemas.CodeTextInvalid},
	{"invalid UTF-8 (surrogate)", "AB\xed\xa0\x80C", schemas.CodeTextInvalid},
	{"invalid UTF-8 (overlong NUL)", "AB\xc0\x80C", schemas.CodeTextInvalid},
	// Longer than every bound (the longest, a marginal note, is 4,096).
	{"10,001 characters", strings.Repeat("a", 10_001), schemas.CodeTextTooLong},
	// A NUL wins over the length: one violation, text.invalid.
	{"long with a NUL", strings.Repeat("a", 10_000) + "\x00", schemas.CodeTextInvalid},
}

// stringField is one string field of a record, reached by reflection: its
// name as Violation.Field gives it (the avro tags of its path), whether it
// is an array item, and how to set it.
type stringField struct {
	name string
	item bool
	set  func(string)
}

var timeType = reflect.TypeFor[time.Time]()

// stringFields lists every string, *string and []string field of the
// record v (a struct value), nested records included, in field order; a
// nil payload is skipped (another builder carries it). A *string is set
// even when absent; an array is set to one good and one bad item, so its
// violation is at item [1].
func stringFields(t *testing.T, v reflect.Value, prefix string) []stringField {
	t.Helper()
	var out []stringField
	for i := range v.NumField() {
		sf, fv := v.Type().Field(i), v.Field(i)
		tag, _, _ := strings.Cut(sf.Tag.Get("avro"), ",")
		if tag == "" {
			t.Fatalf("%s%s has no avro tag", prefix, sf.Name)
		}
		name := prefix + tag
		switch {
		case sf.Type.Kind() == reflect.String:
			out = append(out, stringField{name, false, fv.SetString})
		case sf.Type.Kind() == reflect.Pointer && sf.Type.Elem().Kind() == reflect.String:
			out = append(out, stringField{name, false, func(s string) { fv.Set(reflect.ValueOf(&s)) }})
		case sf.Type.Kind() == reflect.Slice && sf.Type.Elem().Kind() == reflect.String:
			out = append(out, stringField{name + "[1]", true, func(s string) {
				fv.Set(reflect.ValueOf([]string{"Mention valide\nsur deux lignes", s}))
			}})
		case sf.Type == timeType:
		case sf.Type.Kind() == reflect.Struct:
			out = append(out, stringFields(t, fv, name+".")...)
		case sf.Type.Kind() == reflect.Pointer && sf.Type.Elem().Kind() == reflect.Struct && sf.Type.Elem() != timeType:
			if fv.IsNil() {
				continue // another builder carries this payload
			}
			out = append(out, stringFields(t, fv.Elem(), name+".")...)
		case sf.Type.Kind() == reflect.Slice || sf.Type.Kind() == reflect.Map || sf.Type.Kind() == reflect.Array:
			t.Fatalf("%s: a %s; teach stringFields (and the text bounds table) about it", name, sf.Type)
		}
	}
	return out
}

// builders are the valid records of every kind; together they carry every
// payload.
var builders = []struct {
	name     string
	build    func() any
	validate func(any) schemas.Violations
}{
	{"birth", func() any { return schematest.ChildBirth() }, func(v any) schemas.Violations { return rules.CivilStatus(v.(*schemas.CivilStatusRecord)) }},
	{"marriage", func() any { return schematest.Marriage() }, func(v any) schemas.Violations { return rules.CivilStatus(v.(*schemas.CivilStatusRecord)) }},
	{"divorce", func() any { return schematest.Divorce() }, func(v any) schemas.Violations { return rules.CivilStatus(v.(*schemas.CivilStatusRecord)) }},
	{"death", func() any { return schematest.Death() }, func(v any) schemas.Violations { return rules.CivilStatus(v.(*schemas.CivilStatusRecord)) }},
	{"affiliation", func() any { return schematest.Affiliation() }, func(v any) schemas.Violations { return rules.Employment(v.(*schemas.EmploymentRecord)) }},
	{"employment", func() any { return schematest.Employment() }, func(v any) schemas.Violations { return rules.Employment(v.(*schemas.EmploymentRecord)) }},
	{"contribution", func() any { return schematest.Contribution() }, func(v any) schemas.Violations { return rules.Contribution(v.(*schemas.ContributionRecord)) }},
	{"employer contribution", func() any {
		r := schematest.Contribution()
		r.Subject, r.NIN, r.NSS = schemas.SubjectEmployer, nil, nil
		return r
	}, func(v any) schemas.Violations { return rules.Contribution(v.(*schemas.ContributionRecord)) }},
}

// TestEveryStringFieldIsText sets each string field of each record kind,
// found by reflection (so that no field, present or added later, is
// forgotten), to each bad value: the record gets exactly one violation,
// the bad value's code at that field, and no other rule speaks about it.
func TestEveryStringFieldIsText(t *testing.T) {
	seen := map[string]bool{}
	for _, b := range builders {
		n := len(stringFields(t, reflect.ValueOf(b.build()).Elem(), ""))
		if n < 5 {
			t.Fatalf("%s: only %d string fields found", b.name, n)
		}
		for i := range n {
			for _, bad := range badText {
				rec := b.build()
				f := stringFields(t, reflect.ValueOf(rec).Elem(), "")[i]
				f.set(bad.value)
				seen[f.name] = true
				vs := b.validate(rec)
				if len(vs) != 1 || vs[0].Code != bad.code || vs[0].Field != f.name || vs[0].Message == "" {
					t.Errorf("%s, %s = %s: want only %s at %s, got %v", b.name, f.name, bad.name, bad.code, f.name, vs)
				}
			}
		}
	}
	// Every payload was reached: the builders cover every record struct.
	for _, f := range []string{
		"provenance.agency", "provenance.data_center", "provenance.source_key", "provenance.operation", "nin", "kind",
		"person.surname_latin", "person.first_names_arabic", "person.marital_surname_latin", "person.mother_nin",
		"birth.act_commune", "birth.marginal_notes[1]", "marriage.spouse_first_names_latin", "marriage.marginal_notes[1]",
		"divorce.court", "divorce.judgment_number", "divorce.marginal_notes[1]", "death.place_commune", "death.marginal_notes[1]",
		"nss", "fund", "affiliation.regime", "affiliation.status", "employment.employer_name", "employment.employer_nif",
		"employment.position", "subject", "employer_id", "period", "status",
	} {
		if !seen[f] {
			t.Errorf("%s was never set", f)
		}
	}
	t.Logf("%d string fields checked against %d bad values", len(seen), len(badText))
}

// TestTextRepresentative: the brief's cases, one field of each record
// struct, spelled out.
func TestTextRepresentative(t *testing.T) {
	long := strings.Repeat("x", 10_000)
	civil := []struct {
		name  string
		rec   func() *schemas.CivilStatusRecord
		edit  func(r *schemas.CivilStatusRecord)
		code  string
		field string
	}{
		{"NUL in a first name", schematest.Birth, func(r *schemas.CivilStatusRecord) { r.Person.FirstNamesLatin = "Youcef\x00Karim" }, schemas.CodeTextInvalid, "person.first_names_latin"},
		{"escape in a surname", schematest.Birth, func(r *schemas.CivilStatusRecord) { r.Person.SurnameArabic = "بن\x1bعلي" }, schemas.CodeTextInvalid, "person.surname_arabic"},
		{"Latin-1 in a surname", schematest.Birth, func(r *schemas.CivilStatusRecord) { r.Person.SurnameLatin = "B\xe9NALI" }, schemas.CodeTextInvalid, "person.surname_latin"},
		{"long first names", schematest.Birth, func(r *schemas.CivilStatusRecord) { r.Person.FirstNamesLatin = long }, schemas.CodeTextTooLong, "person.first_names_latin"},
		{"NUL in the provenance", schematest.Birth, func(r *schemas.CivilStatusRecord) { r.Provenance.SourceKey += "\x00" }, schemas.CodeTextInvalid, "provenance.source_key"},
		{"NUL in a NIN", schematest.Birth, func(r *schemas.CivilStatusRecord) { r.NIN = "10985991600042013\x00" }, schemas.CodeTextInvalid, "nin"},
		{"long marginal note", schematest.Birth, func(r *schemas.CivilStatusRecord) { r.Birth.MarginalNotes = []string{long} }, schemas.CodeTextTooLong, "birth.marginal_notes[0]"},
		{"NUL in a marginal note", schematest.Birth, func(r *schemas.CivilStatusRecord) { r.Birth.MarginalNotes = append(r.Birth.MarginalNotes, "a\x00") }, schemas.CodeTextInvalid, "birth.marginal_notes[1]"},
		{"escape in a spouse's name", schematest.Marriage, func(r *schemas.CivilStatusRecord) { r.Marriage.SpouseSurnameLatin = ptr("HAMIDI\x1b") }, schemas.CodeTextInvalid, "marriage.spouse_surname_latin"},
		{"invalid UTF-8 in a court", schematest.Divorce, func(r *schemas.CivilStatusRecord) { r.Divorce.Court = ptr("Tribunal d'\xc9l") }, schemas.CodeTextInvalid, "divorce.court"},
		{"long court", schematest.Divorce, func(r *schemas.CivilStatusRecord) { r.Divorce.Court = ptr(long) }, schemas.CodeTextTooLong, "divorce.court"},
		{"NUL in a death's commune", schematest.Death, func(r *schemas.CivilStatusRecord) { r.Death.PlaceCommune = "99\x0001" }, schemas.CodeTextInvalid, "death.place_commune"},
	}
	for _, tc := range civil {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.rec()
			tc.edit(r)
			expect(t, rules.CivilStatus(r), tc.code, tc.field)
		})
	}
	emp := []struct {
		name  string
		rec   func() *schemas.EmploymentRecord
		edit  func(r *schemas.EmploymentRecord)
		code  string
		field string
	}{
		{"escape in an employer name", schematest.Employment, func(r *schemas.EmploymentRecord) { r.Employment.EmployerName = "SARL \x1b[2JAtlas" }, schemas.CodeTextInvalid, "employment.employer_name"},
		{"NUL in an employer name", schematest.Employment, func(r *schemas.EmploymentRecord) { r.Employment.EmployerName = "SARL\x00" }, schemas.CodeTextInvalid, "employment.employer_name"},
		{"invalid UTF-8 in a position", schematest.Employment, func(r *schemas.EmploymentRecord) { r.Employment.Position = ptr("Technicien sup\xe9rieur") }, schemas.CodeTextInvalid, "employment.position"},
		{"long employer name", schematest.Employment, func(r *schemas.EmploymentRecord) { r.Employment.EmployerName = long }, schemas.CodeTextTooLong, "employment.employer_name"},
		{"tab in a regime", schematest.Affiliation, func(r *schemas.EmploymentRecord) { r.Affiliation.Regime = ptr("salarié\t") }, schemas.CodeTextInvalid, "affiliation.regime"},
		{"NUL in an NSS", schematest.Affiliation, func(r *schemas.EmploymentRecord) { r.NSS = "1600\x00123456" }, schemas.CodeTextInvalid, "nss"},
	}
	for _, tc := range emp {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.rec()
			tc.edit(r)
			expect(t, rules.Employment(r), tc.code, tc.field)
		})
	}
	contrib := []struct {
		name  string
		edit  func(r *schemas.ContributionRecord)
		code  string
		field string
	}{
		{"NUL in an employer id", func(r *schemas.ContributionRecord) { r.EmployerID = ptr("16E\x000099") }, schemas.CodeTextInvalid, "employer_id"},
		{"escape in a period", func(r *schemas.ContributionRecord) { r.Period = "2026-09\x1b" }, schemas.CodeTextInvalid, "period"},
		{"invalid UTF-8 in a NIN", func(r *schemas.ContributionRecord) { r.NIN = ptr("\xff" + schematest.NIN[1:]) }, schemas.CodeTextInvalid, "nin"},
		{"long NSS", func(r *schemas.ContributionRecord) { r.NSS = ptr(strings.Repeat("1", 65)) }, schemas.CodeTextTooLong, "nss"},
		{"NUL in the data center", func(r *schemas.ContributionRecord) { r.Provenance.DataCenter = "cnas-dc01\x00" }, schemas.CodeTextInvalid, "provenance.data_center"},
	}
	for _, tc := range contrib {
		t.Run(tc.name, func(t *testing.T) {
			r := schematest.Contribution()
			tc.edit(r)
			expect(t, rules.Contribution(r), tc.code, tc.field)
		})
	}
}

// TestTextKeepsOtherViolations: a bad field silences only its own rules.
func TestTextKeepsOtherViolations(t *testing.T) {
	r := schematest.Birth()
	r.Person.SurnameLatin = "BEN\x00ALI"
	r.Person.Sex = "X"
	r.Provenance.SourceVersion = 0
	vs := rules.CivilStatus(r)
	expect(t, vs, schemas.CodeTextInvalid, "person.surname_latin")
	expect(t, vs, schemas.CodeEnumUnknown, "person.sex")
	expect(t, vs, schemas.CodeSourceVersion, "provenance.source_version")
	if len(vs) != 3 || vs[0].Code != schemas.CodeTextInvalid {
		t.Errorf("want the text violation first and 3 in all, got %v", vs)
	}

	// A wilaya that is not text does not make its commune "not in wilaya
	// <garbage>"; a birth act commune that is not text is not compared
	// with the NIN.
	r = schematest.Birth()
	r.Person.BirthWilaya = "9\x00"
	r.Birth.ActCommune = "99\x0016"
	vs = rules.CivilStatus(r)
	if len(vs) != 2 || vs[0].Field != "person.birth_wilaya" || vs[1].Field != "birth.act_commune" {
		t.Errorf("want text.invalid at person.birth_wilaya and birth.act_commune only, got %v", vs)
	}
	// Nor is a parent's or spouse's NIN that is not text compared with the person's.
	r = schematest.ChildBirth()
	r.NIN += "\x00"
	r.Person.FatherNIN = ptr(r.NIN)
	vs = rules.CivilStatus(r)
	if len(vs) != 2 || vs[0].Field != "nin" || vs[1].Field != "person.father_nin" {
		t.Errorf("want text.invalid at nin and person.father_nin only, got %v", vs)
	}
}

// TestMultiLineText: tab, LF and CR are text in marginal notes only.
func TestMultiLineText(t *testing.T) {
	for _, ws := range []string{"\t", "\n", "\r", "\r\n"} {
		r := schematest.Birth()
		r.Birth.MarginalNotes = []string{"Marié le 02/07/2012" + ws + "à 9916 avec 209879916001230142", "تزوج" + ws + "في 2012"}
		if vs := rules.CivilStatus(r); vs != nil {
			t.Errorf("marginal note with %q: %v", ws, vs)
		}
		r = schematest.Birth()
		r.Person.FirstNamesLatin = "Youcef" + ws + "Karim"
		expect(t, rules.CivilStatus(r), schemas.CodeTextInvalid, "person.first_names_latin")
		d := schematest.Divorce()
		d.Divorce.Court = ptr("Tribunal" + ws + "de Sidi M'Hamed")
		expect(t, rules.CivilStatus(d), schemas.CodeTextInvalid, "divorce.court")
		e := schematest.Employment()
		e.Employment.EmployerName = "SARL" + ws + "Atlas"
		expect(t, rules.Employment(e), schemas.CodeTextInvalid, "employment.employer_name")
	}
	// Other controls are refused in notes too.
	for _, c := range []string{"\x00", "\x0b", "\x0c", "\x1b", "\u0085", "\u2028"} {
		r := schematest.Death()
		r.Death.MarginalNotes = []string{"ok", "a" + c + "b"}
		expect(t, rules.CivilStatus(r), schemas.CodeTextInvalid, "death.marginal_notes[1]")
	}
}

// TestRealText: Arabic, French accents, ligatures, apostrophes and the
// format characters of bidirectional text are text, up to the bound
// counted in characters, not bytes.
func TestRealText(t *testing.T) {
	r := schematest.ChildBirth()
	p := r.Person
	p.SurnameLatin, p.SurnameArabic = "BEN ABDELKADER-LAÏCHE", "بن عبد القادر"
	p.FirstNamesLatin, p.FirstNamesArabic = "Hélène Françoise Œdipe Zoé", "مُحَمَّد الأمين"
	p.MaritalSurnameLatin = ptr("D'ALMEIDA ÉPOUSE N’GUYEN")
	p.MotherSurnameArabic = ptr("\u200fحمّادي\u200c") // RLM and ZWNJ, format characters (Cf)
	p.MotherFirstNamesArabic = ptr("فاطمة الزهراء")
	r.Birth.MarginalNotes = []string{"Mentionné en marge : mariage célébré à Aïn Témouchent.\r\nتم الزواج في عين تموشنت", "\U0001F600 émoji"}
	if vs := rules.CivilStatus(r); vs != nil {
		t.Fatalf("real text: %v", vs)
	}
	// Bounds are characters: 100 Arabic letters (200 bytes) are a name, 101 are not.
	p.SurnameArabic = strings.Repeat("ع", 100)
	if vs := rules.CivilStatus(r); vs != nil {
		t.Fatalf("100 Arabic characters: %v", vs)
	}
	p.SurnameArabic += "ع"
	expect(t, rules.CivilStatus(r), schemas.CodeTextTooLong, "person.surname_arabic")
	p.SurnameArabic = "بن علي"
	r.Birth.MarginalNotes = []string{strings.Repeat("é", 4096)}
	if vs := rules.CivilStatus(r); vs != nil {
		t.Fatalf("a 4,096-character note: %v", vs)
	}
	r.Birth.MarginalNotes[0] += "é"
	expect(t, rules.CivilStatus(r), schemas.CodeTextTooLong, "birth.marginal_notes[0]")

	e := schematest.Employment()
	e.Employment.EmployerName = "EURL Boulangerie « Le Blé d’Or » — فرع وهران"
	e.Employment.Position = ptr("Chef d'équipe maçonnerie")
	if vs := rules.Employment(e); vs != nil {
		t.Fatalf("real employer: %v", vs)
	}
}

// TestTextRunes checks every rune of the first 64K code points, and the
// last two of every plane, against the definition: refused exactly when
// it is Cc, U+2028, U+2029 or a noncharacter.
func TestTextRunes(t *testing.T) {
	refused := func(r rune) bool {
		return unicode.Is(unicode.Cc, r) || r == 0x2028 || r == 0x2029 || r >= 0xfdd0 && r <= 0xfdef || r&0xfffe == 0xfffe
	}
	var runes []rune
	for r := rune(0); r < 0x10000; r++ {
		if r < 0xd800 || r > 0xdfff { // surrogates are not runes of UTF-8 text
			runes = append(runes, r)
		}
	}
	for plane := rune(1); plane <= 0x10; plane++ {
		runes = append(runes, plane<<16, plane<<16|0xfffd, plane<<16|0xfffe, plane<<16|0xffff)
	}
	r := schematest.Birth()
	for _, c := range runes {
		r.Person.FirstNamesLatin = "Y" + string(c) + "K"
		vs := rules.CivilStatus(r)
		if got := vs != nil; got != refused(c) {
			t.Errorf("U+%04X: refused %v, want %v (%v)", c, got, refused(c), vs)
		}
	}
}

// TestTextMessages: a message says what and where, without echoing the
// (possibly huge, possibly terminal-hostile) value.
func TestTextMessages(t *testing.T) {
	for _, tc := range []struct{ value, want string }{
		{"BEN\x00ALI", "NUL character (U+0000) at byte offset 3"},
		{"BEN\x1bALI", "control character U+001B at byte offset 3"},
		{"B\xe9NALI", "not valid UTF-8: byte 0xE9 at offset 1"},
		{"BEN\tALI", "tab or line break (U+0009)"},
		{strings.Repeat("é", 150), "is 150 characters long, the limit is 100"},
	} {
		r := schematest.Birth()
		r.Person.SurnameLatin = tc.value
		vs := rules.CivilStatus(r)
		if len(vs) != 1 || !strings.Contains(vs[0].Message, tc.want) || strings.Contains(vs[0].Message, "ALI") {
			t.Errorf("%q: want one message with %q, got %v", tc.value, tc.want, vs)
		}
	}
}

// TestValidTextAllocatesNothing: checking clean text allocates nothing, so
// a record with many more and longer strings (that no other rule reads)
// allocates exactly what the plain one does.
func TestValidTextAllocatesNothing(t *testing.T) {
	if raceDetector {
		// The race detector drops sync.Pool items at random (regexp keeps
		// its matchers in one), so allocation counts vary from run to run.
		t.Skip("allocation counts are measured without -race: make test runs this test again without it")
	}
	plain := schematest.Birth()
	rich := schematest.Birth()
	p := rich.Person
	p.MaritalSurnameLatin, p.FatherFirstNameArabic = ptr("D'ALMEIDA ÉPOUSE N’GUYEN"), ptr("مُحَمَّد الأمين")
	p.MotherSurnameArabic, p.MotherFirstNamesArabic = ptr("حمّادي"), ptr("فاطمة الزهراء")
	for range 50 {
		rich.Birth.MarginalNotes = append(rich.Birth.MarginalNotes, strings.Repeat("Mention marginale: mariage célébré à Aïn Témouchent.\r\nتم الزواج في عين تموشنت ", 20))
	}
	if vs := rules.CivilStatus(rich); vs != nil {
		t.Fatal(vs)
	}
	a := testing.AllocsPerRun(100, func() { rules.CivilStatus(plain) })
	b := testing.AllocsPerRun(100, func() { rules.CivilStatus(rich) })
	if a != b {
		t.Errorf("a birth allocates %v times, the same with 50 long notes and 4 more names %v times", a, b)
	}
	emp, contrib := schematest.Employment(), schematest.Contribution()
	t.Logf("allocations per record: birth %v, employment %v, contribution %v", a,
		testing.AllocsPerRun(100, func() { rules.Employment(emp) }), testing.AllocsPerRun(100, func() { rules.Contribution(contrib) }))
}

// BenchmarkRules validates a typical record of each topic (the
// materializer runs this on every record).
func BenchmarkRules(b *testing.B) {
	birth, emp, contrib := schematest.ChildBirth(), schematest.Employment(), schematest.Contribution()
	b.Run("birth", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if rules.CivilStatus(birth) != nil {
				b.Fatal("invalid")
			}
		}
	})
	b.Run("employment", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if rules.Employment(emp) != nil {
				b.Fatal("invalid")
			}
		}
	})
	b.Run("contribution", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if rules.Contribution(contrib) != nil {
				b.Fatal("invalid")
			}
		}
	})
}
