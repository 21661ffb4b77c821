package schemas

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Violation codes. They are stable: DLQ records, metrics labels and API
// errors carry them, and agencies' teams match on them. Add codes; never
// rename one.
const (
	CodeRequired          = "required"           // a required field is empty
	CodeNINFormat         = "nin.format"         // a NIN is not 18 digits
	CodeNINBirthMismatch  = "nin.birth_mismatch" // NIN positions 3-14 disagree with the birth act
	CodeNSSFormat         = "nss.format"         // an NSS is not 10-12 digits
	CodeDateFuture        = "date.future"        // a date lies in the future
	CodeDateOrder         = "date.order"         // an end (or registration) is before its start
	CodeDateRange         = "date.range"         // a date is before civil registration existed
	CodePeriodFormat      = "period.format"      // a contribution period is not YYYY-MM
	CodePeriodFuture      = "period.future"      // a contribution period is after the current month
	CodeAmountNegative    = "amount.negative"    // an amount is below zero
	CodeStatusMismatch    = "status.mismatch"    // a status contradicts the amounts or dates
	CodeEnumUnknown       = "enum.unknown"       // an enum holds a symbol this version does not handle
	CodeKindPayload       = "kind.payload"       // the payloads set do not match kind
	CodeCommuneFormat     = "commune.format"     // a commune code is not 4 digits WWCC
	CodeWilayaUnknown     = "wilaya.unknown"     // a wilaya code is not in force
	CodeSyntheticRejected = "synthetic.rejected" // a synthetic (99CC) commune where synthetic data is not allowed
	CodeActNumber         = "act.number"         // an act number is not 1-99999
	CodeSpouseSelf        = "spouse.self"        // a spouse NIN is the person's own
	CodeParentSelf        = "parent.self"        // a parent's NIN (father_nin, mother_nin) is the person's own
	CodeAgencyUnknown     = "provenance.agency"  // the agency is unknown or wrong for the topic
	CodeDataCenter        = "provenance.data_center"
	CodeSourceVersion     = "provenance.version" // the source version is not positive
	// CodeTextInvalid: a string field is not clean text: invalid UTF-8, a
	// NUL or other control character (Unicode category Cc; tab, LF and CR
	// are allowed in multi-line fields only), a line or paragraph separator
	// (U+2028, U+2029) or a noncharacter (U+FFFE, U+FFFF, U+FDD0-U+FDEF and
	// the last two code points of every plane). The field's other rules are
	// not run.
	CodeTextInvalid = "text.invalid"
	// CodeTextTooLong: a string field has more characters (runes) than its
	// bound in the text bounds table (maxName and the tables after it). The
	// field's other rules are not run.
	CodeTextTooLong = "text.too_long"
)

// Violation is one broken rule.
type Violation struct {
	Code    string `json:"code"`
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (v Violation) String() string { return v.Code + " at " + v.Field + ": " + v.Message }

// Violations is every rule a record breaks; nil when it is valid.
type Violations []Violation

func (vs Violations) Error() string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = v.String()
	}
	return strings.Join(s, "; ")
}

// Codes lists the codes, in order, for metrics and tests.
func (vs Violations) Codes() []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.Code
	}
	return out
}

// Rules validates records beyond their Avro types.
type Rules struct {
	// Now is the current time; dates after it are in the future. Zero means time.Now().
	Now time.Time
	// AllowPendingWilayas accepts the wilaya codes 59-69 (approved in
	// November 2025, not yet law).
	AllowPendingWilayas bool
	// AllowSynthetic accepts the reserved commune block 99CC of synthetic
	// test persons. Off in production: synthetic data must never mix with real.
	AllowSynthetic bool
}

// SyntheticWilaya is the reserved wilaya block of synthetic persons: NIN
// positions 6-9 and commune codes 99CC can never be a real commune.
const SyntheticWilaya = "99"

var (
	nssRe      = regexp.MustCompile(`^[0-9]{10,12}$`)
	communeRe  = regexp.MustCompile(`^[0-9]{4}$`)
	periodRe   = regexp.MustCompile(`^([0-9]{4})-(0[1-9]|1[0-2])$`)
	dataCenter = regexp.MustCompile(`^[a-z][a-z0-9-]{1,62}$`)
	// Civil registration in Algeria started in 1882; nothing earlier is real.
	firstRegister = time.Date(1882, 1, 1, 0, 0, 0, 0, time.UTC)
)

// Agencies that publish on the record topics, by topic kind.
var (
	civilAgencies = []string{"etatcivil"}
	fundAgencies  = []string{"cnas", "casnos", "cacobatph"}
)

// Text bounds: the most characters (runes, not bytes) a string field may
// hold. Every string field of every record is untrusted text: the tables
// below list each one, as Violation.Field names it, with its bound; a field
// added to a record struct must be added here (TestEveryStringFieldIsText
// fails otherwise).
const (
	maxSymbol     = 32   // an enum symbol: kind, operation, sex, fund, subject, status
	maxIdentifier = 64   // a code or identifier: agency, data center, NIN, NSS, commune, wilaya, employer id, NIF, judgment number, period
	maxSourceKey  = 256  // a source system's key, entity/key1/key2/...
	maxName       = 100  // a surname or the first names of one person, in either script
	maxLabel      = 200  // a court, employer name, job position or affiliation regime
	maxNote       = 4096 // one marginal note (mention marginale), free text that may span lines; the CSV drop's field limit (4 KiB)
)

// textField is one string field of T: its name as Violation.Field gives it,
// its bound, whether it is multi-line free text (tab, LF and CR allowed),
// and how to read it: one reads a string (nil when an optional field is
// absent), many an array of strings.
type textField[T any] struct {
	field     string
	max       int
	multiLine bool
	one       func(*T) *string
	many      func(*T) []string
}

const (
	oneLine   = false
	multiLine = true
)

// The text bounds table, record by record, payload by payload.
var (
	provenanceText = []textField[Provenance]{
		{"provenance.agency", maxIdentifier, oneLine, func(p *Provenance) *string { return &p.Agency }, nil},
		{"provenance.data_center", maxIdentifier, oneLine, func(p *Provenance) *string { return &p.DataCenter }, nil},
		{"provenance.source_key", maxSourceKey, oneLine, func(p *Provenance) *string { return &p.SourceKey }, nil},
		{"provenance.operation", maxSymbol, oneLine, func(p *Provenance) *string { return &p.Operation }, nil},
	}
	civilStatusText = []textField[CivilStatusRecord]{
		{"nin", maxIdentifier, oneLine, func(r *CivilStatusRecord) *string { return &r.NIN }, nil},
		{"kind", maxSymbol, oneLine, func(r *CivilStatusRecord) *string { return &r.Kind }, nil},
	}
	personText = []textField[PersonIdentity]{
		{"person.surname_latin", maxName, oneLine, func(p *PersonIdentity) *string { return &p.SurnameLatin }, nil},
		{"person.surname_arabic", maxName, oneLine, func(p *PersonIdentity) *string { return &p.SurnameArabic }, nil},
		{"person.first_names_latin", maxName, oneLine, func(p *PersonIdentity) *string { return &p.FirstNamesLatin }, nil},
		{"person.first_names_arabic", maxName, oneLine, func(p *PersonIdentity) *string { return &p.FirstNamesArabic }, nil},
		{"person.marital_surname_latin", maxName, oneLine, func(p *PersonIdentity) *string { return p.MaritalSurnameLatin }, nil},
		{"person.sex", maxSymbol, oneLine, func(p *PersonIdentity) *string { return &p.Sex }, nil},
		{"person.birth_commune", maxIdentifier, oneLine, func(p *PersonIdentity) *string { return &p.BirthCommune }, nil},
		{"person.birth_wilaya", maxIdentifier, oneLine, func(p *PersonIdentity) *string { return &p.BirthWilaya }, nil},
		{"person.father_first_name_latin", maxName, oneLine, func(p *PersonIdentity) *string { return p.FatherFirstNameLatin }, nil},
		{"person.father_first_name_arabic", maxName, oneLine, func(p *PersonIdentity) *string { return p.FatherFirstNameArabic }, nil},
		{"person.mother_surname_latin", maxName, oneLine, func(p *PersonIdentity) *string { return p.MotherSurnameLatin }, nil},
		{"person.mother_first_names_latin", maxName, oneLine, func(p *PersonIdentity) *string { return p.MotherFirstNamesLatin }, nil},
		{"person.mother_surname_arabic", maxName, oneLine, func(p *PersonIdentity) *string { return p.MotherSurnameArabic }, nil},
		{"person.mother_first_names_arabic", maxName, oneLine, func(p *PersonIdentity) *string { return p.MotherFirstNamesArabic }, nil},
		{"person.father_nin", maxIdentifier, oneLine, func(p *PersonIdentity) *string { return p.FatherNIN }, nil},
		{"person.mother_nin", maxIdentifier, oneLine, func(p *PersonIdentity) *string { return p.MotherNIN }, nil},
	}
	birthText = []textField[BirthAct]{
		{"birth.act_commune", maxIdentifier, oneLine, func(b *BirthAct) *string { return &b.ActCommune }, nil},
		{"birth.marginal_notes", maxNote, multiLine, nil, func(b *BirthAct) []string { return b.MarginalNotes }},
	}
	marriageText = []textField[MarriageAct]{
		{"marriage.act_commune", maxIdentifier, oneLine, func(m *MarriageAct) *string { return &m.ActCommune }, nil},
		{"marriage.spouse_nin", maxIdentifier, oneLine, func(m *MarriageAct) *string { return &m.SpouseNIN }, nil},
		{"marriage.spouse_surname_latin", maxName, oneLine, func(m *MarriageAct) *string { return m.SpouseSurnameLatin }, nil},
		{"marriage.spouse_first_names_latin", maxName, oneLine, func(m *MarriageAct) *string { return m.SpouseFirstNamesLatin }, nil},
		{"marriage.marginal_notes", maxNote, multiLine, nil, func(m *MarriageAct) []string { return m.MarginalNotes }},
	}
	divorceText = []textField[DivorceAct]{
		{"divorce.spouse_nin", maxIdentifier, oneLine, func(d *DivorceAct) *string { return &d.SpouseNIN }, nil},
		{"divorce.court", maxLabel, oneLine, func(d *DivorceAct) *string { return d.Court }, nil},
		{"divorce.judgment_number", maxIdentifier, oneLine, func(d *DivorceAct) *string { return d.JudgmentNumber }, nil},
		{"divorce.marriage_act_commune", maxIdentifier, oneLine, func(d *DivorceAct) *string { return d.MarriageActCommune }, nil},
		{"divorce.marginal_notes", maxNote, multiLine, nil, func(d *DivorceAct) []string { return d.MarginalNotes }},
	}
	deathText = []textField[DeathAct]{
		{"death.act_commune", maxIdentifier, oneLine, func(d *DeathAct) *string { return &d.ActCommune }, nil},
		{"death.place_commune", maxIdentifier, oneLine, func(d *DeathAct) *string { return &d.PlaceCommune }, nil},
		{"death.marginal_notes", maxNote, multiLine, nil, func(d *DeathAct) []string { return d.MarginalNotes }},
	}
	employmentRecordText = []textField[EmploymentRecord]{
		{"nin", maxIdentifier, oneLine, func(r *EmploymentRecord) *string { return &r.NIN }, nil},
		{"nss", maxIdentifier, oneLine, func(r *EmploymentRecord) *string { return &r.NSS }, nil},
		{"fund", maxSymbol, oneLine, func(r *EmploymentRecord) *string { return &r.Fund }, nil},
		{"kind", maxSymbol, oneLine, func(r *EmploymentRecord) *string { return &r.Kind }, nil},
	}
	affiliationText = []textField[Affiliation]{
		{"affiliation.status", maxSymbol, oneLine, func(a *Affiliation) *string { return &a.Status }, nil},
		{"affiliation.regime", maxLabel, oneLine, func(a *Affiliation) *string { return a.Regime }, nil},
	}
	employmentPeriodText = []textField[EmploymentPeriod]{
		{"employment.employer_id", maxIdentifier, oneLine, func(e *EmploymentPeriod) *string { return &e.EmployerID }, nil},
		{"employment.employer_name", maxLabel, oneLine, func(e *EmploymentPeriod) *string { return &e.EmployerName }, nil},
		{"employment.employer_nif", maxIdentifier, oneLine, func(e *EmploymentPeriod) *string { return e.EmployerNIF }, nil},
		{"employment.status", maxSymbol, oneLine, func(e *EmploymentPeriod) *string { return &e.Status }, nil},
		{"employment.position", maxLabel, oneLine, func(e *EmploymentPeriod) *string { return e.Position }, nil},
	}
	contributionText = []textField[ContributionRecord]{
		{"subject", maxSymbol, oneLine, func(r *ContributionRecord) *string { return &r.Subject }, nil},
		{"nin", maxIdentifier, oneLine, func(r *ContributionRecord) *string { return r.NIN }, nil},
		{"nss", maxIdentifier, oneLine, func(r *ContributionRecord) *string { return r.NSS }, nil},
		{"employer_id", maxIdentifier, oneLine, func(r *ContributionRecord) *string { return r.EmployerID }, nil},
		{"fund", maxSymbol, oneLine, func(r *ContributionRecord) *string { return &r.Fund }, nil},
		{"period", maxIdentifier, oneLine, func(r *ContributionRecord) *string { return &r.Period }, nil},
		{"status", maxSymbol, oneLine, func(r *ContributionRecord) *string { return &r.Status }, nil},
	}
)

type checker struct {
	r   Rules
	now time.Time
	out Violations
	// bad are the fields with a text violation: their other rules add
	// nothing. Nil while every field is clean text.
	bad []string
}

// checker starts the checks of one record. The checker stays on the
// caller's stack: validating a valid record allocates only what its rules
// format.
func (r Rules) checker() checker {
	now := r.Now
	if now.IsZero() {
		now = time.Now()
	}
	return checker{r: r, now: now}
}

func (c *checker) add(code, field, format string, args ...any) {
	if c.textBad(field) {
		// The text violation says what is wrong; a format or enum violation
		// on top of it (quoting the bad text) would only confuse.
		return
	}
	c.out = append(c.out, Violation{Code: code, Field: field, Message: fmt.Sprintf(format, args...)})
}

// textBad reports whether field has a text violation.
func (c *checker) textBad(field string) bool {
	return len(c.bad) > 0 && slices.Contains(c.bad, field)
}

// textOf checks the string fields of v that fields lists.
func textOf[T any](c *checker, v *T, fields []textField[T]) {
	for i := range fields {
		f := &fields[i]
		if f.many != nil {
			for j, s := range f.many(v) {
				c.text(f.field, j, s, f.max, f.multiLine)
			}
		} else if s := f.one(v); s != nil {
			c.text(f.field, -1, *s, f.max, f.multiLine)
		}
	}
}

// text checks that s, the value of field (item index of an array, -1 for
// none), is clean text of at most limit characters. It allocates only for a
// violation.
func (c *checker) text(field string, index int, s string, limit int, multiLine bool) {
	at, r, n := scanText(s, multiLine)
	if at < 0 && n <= limit {
		return
	}
	if index >= 0 {
		field += "[" + strconv.Itoa(index) + "]"
	}
	c.bad = append(c.bad, field)
	var v Violation
	switch {
	case at >= 0 && r < 0:
		v = Violation{CodeTextInvalid, field, fmt.Sprintf("is not valid UTF-8: byte 0x%02X at offset %d", s[at], at)}
	case at >= 0:
		v = Violation{CodeTextInvalid, field, fmt.Sprintf("holds %s at byte offset %d", describeRune(r), at)}
	default:
		v = Violation{CodeTextTooLong, field, fmt.Sprintf("is %d characters long, the limit is %d", n, limit)}
	}
	c.out = append(c.out, v)
}

// scanText finds the first byte offset at which s stops being clean text
// (at = -1 when it never does): r is the rune there, -1 for a byte that is
// not UTF-8. n counts the runes of s up to there (all of them for clean
// text).
func scanText(s string, multiLine bool) (at int, r rune, n int) {
	for i := 0; i < len(s); n++ {
		if b := s[i]; b < utf8.RuneSelf {
			// ASCII: C0 controls and DEL are Cc; tab, LF and CR only in
			// multi-line text.
			if (b < 0x20 || b == 0x7f) && !(multiLine && (b == '\t' || b == '\n' || b == '\r')) {
				return i, rune(b), n
			}
			i++
			continue
		}
		if b := s[i]; b >= 0xc2 && b < 0xe0 && i+1 < len(s) && s[i+1]&0xc0 == 0x80 {
			// Two bytes, U+0080-U+07FF: Latin accents, Arabic. Only the C1
			// controls U+0080-U+009F (C2 80 to C2 9F) are not text.
			if b == 0xc2 && s[i+1] < 0xa0 {
				return i, rune(s[i+1]), n
			}
			i += 2
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1: // also surrogates and overlong forms
			return i, -1, n
		case r <= 0x9f, // C1 controls U+0080-U+009F (Cc)
			r == 0x2028 || r == 0x2029, // line and paragraph separators
			r >= 0xfdd0 && r <= 0xfdef, // noncharacters
			r&0xfffe == 0xfffe:         // noncharacters U+FFFE, U+FFFF, U+1FFFE...
			return i, r, n
		}
		i += size
	}
	return -1, 0, n
}

// describeRune names a rune that is not allowed in text, for a message.
func describeRune(r rune) string {
	switch {
	case r == 0:
		return "a NUL character (U+0000)"
	case r == '\t' || r == '\n' || r == '\r':
		return fmt.Sprintf("a tab or line break (U+%04X), allowed only in multi-line fields such as marginal notes", r)
	case r < 0x20 || r >= 0x7f && r <= 0x9f:
		return fmt.Sprintf("the control character U+%04X", r)
	case r == 0x2028 || r == 0x2029:
		return fmt.Sprintf("a line or paragraph separator (U+%04X)", r)
	default:
		return fmt.Sprintf("the noncharacter U+%04X", r)
	}
}

func (c *checker) required(field, v string) bool {
	if strings.TrimSpace(v) == "" {
		c.add(CodeRequired, field, "is required")
		return false
	}
	return true
}

func (c *checker) nin(field, v string) {
	if !c.required(field, v) {
		return
	}
	if !ValidNIN(v) {
		c.add(CodeNINFormat, field, "must be 18 digits, got %d characters", len(v))
		return
	}
	// Positions 6-9 are a commune code: it must be a plausible one.
	c.wilayaOf(field, v[5:9], true)
}

// optNIN checks an optional NIN: absent is fine, present must be one.
func (c *checker) optNIN(field string, v *string) {
	if v == nil {
		return
	}
	if strings.TrimSpace(*v) == "" {
		c.add(CodeNINFormat, field, "must be 18 digits or absent, got an empty string")
		return
	}
	c.nin(field, *v)
}

func (c *checker) commune(field, v string) {
	if !c.required(field, v) {
		return
	}
	if !communeRe.MatchString(v) {
		c.add(CodeCommuneFormat, field, "must be a 4-digit commune code WWCC, got %q", v)
		return
	}
	c.wilayaOf(field, v, false)
}

// wilayaOf checks the wilaya part of a commune code. In a NIN the block may
// also code a country of birth, so only the synthetic block is judged there.
func (c *checker) wilayaOf(field, code string, inNIN bool) {
	w := code[:2]
	if w == SyntheticWilaya {
		if !c.r.AllowSynthetic {
			c.add(CodeSyntheticRejected, field, "commune block 99CC is reserved for synthetic test persons")
		}
		return
	}
	if inNIN {
		return
	}
	c.wilaya(field, w)
}

func (c *checker) wilaya(field, w string) {
	if !c.required(field, w) {
		return
	}
	if w == SyntheticWilaya {
		if !c.r.AllowSynthetic {
			c.add(CodeSyntheticRejected, field, "wilaya 99 is reserved for synthetic test persons")
		}
		return
	}
	n, err := strconv.Atoi(w)
	switch {
	case err != nil || len(w) != 2:
		c.add(CodeWilayaUnknown, field, "must be a 2-digit wilaya code, got %q", w)
	case n >= 1 && n <= 58:
	case n >= 59 && n <= 69 && c.r.AllowPendingWilayas:
	case n >= 59 && n <= 69:
		c.add(CodeWilayaUnknown, field, "wilaya %s is approved but not yet in force", w)
	default:
		c.add(CodeWilayaUnknown, field, "wilaya %s does not exist", w)
	}
}

func (c *checker) date(field string, d time.Time) {
	if d.IsZero() {
		c.add(CodeRequired, field, "is required")
		return
	}
	if d.After(c.now) {
		c.add(CodeDateFuture, field, "%s is in the future", d.Format(time.DateOnly))
	}
	if d.Before(firstRegister) {
		c.add(CodeDateRange, field, "%s is before civil registration began (1882)", d.Format(time.DateOnly))
	}
}

func (c *checker) optDate(field string, d *time.Time) {
	if d != nil {
		c.date(field, *d)
	}
}

func (c *checker) order(field string, start time.Time, end *time.Time, startField string) {
	if end != nil && !start.IsZero() && end.Before(start) {
		c.add(CodeDateOrder, field, "%s is before %s %s", end.Format(time.DateOnly), startField, start.Format(time.DateOnly))
	}
}

func (c *checker) oneOf(field, v string, allowed ...string) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	c.add(CodeEnumUnknown, field, "%q is not one of %s", v, strings.Join(allowed, ", "))
}

func (c *checker) act(prefix string, number, year int, commune string) {
	if number < 1 || number > 99999 {
		c.add(CodeActNumber, prefix+".act_number", "must be 1-99999, got %d", number)
	}
	if year < 1882 || year > c.now.Year() {
		c.add(CodeDateRange, prefix+".act_year", "register year %d is not between 1882 and %d", year, c.now.Year())
	}
	c.commune(prefix+".act_commune", commune)
}

func (c *checker) provenance(p Provenance, agencies []string) {
	if c.required("provenance.agency", p.Agency) {
		c.oneOf2(CodeAgencyUnknown, "provenance.agency", p.Agency, agencies)
	}
	if c.required("provenance.data_center", p.DataCenter) {
		switch {
		case !dataCenter.MatchString(p.DataCenter):
			c.add(CodeDataCenter, "provenance.data_center", "must be lower-case letters, digits and '-', got %q", p.DataCenter)
		case slices.Contains(agencies, p.Agency) && !DataCenterOf(p.Agency, p.DataCenter):
			// No agency speaks for another's data center.
			c.add(CodeDataCenter, "provenance.data_center", "%q is not a data center of %s (<agency>-...)", p.DataCenter, p.Agency)
		}
	}
	c.required("provenance.source_key", p.SourceKey)
	if p.SourceVersion <= 0 {
		c.add(CodeSourceVersion, "provenance.source_version", "must be positive, got %d", p.SourceVersion)
	}
	if p.EventTime.IsZero() {
		c.add(CodeRequired, "provenance.event_time", "is required")
	} else if p.EventTime.After(c.now.Add(5 * time.Minute)) {
		// Five minutes of clock skew between data centers are tolerated.
		c.add(CodeDateFuture, "provenance.event_time", "%s is in the future", p.EventTime.UTC().Format(time.RFC3339))
	}
	c.oneOf("provenance.operation", p.Operation, OpUpsert, OpDelete, OpCorrection)
}

func (c *checker) oneOf2(code, field, v string, allowed []string) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	c.add(code, field, "%q is not one of %s", v, strings.Join(allowed, ", "))
}

// payloads checks that exactly the payloads of kind are set.
func (c *checker) payloads(kind string, set map[string]bool, want ...string) {
	wanted := map[string]bool{}
	for _, w := range want {
		wanted[w] = true
		if !set[w] {
			c.add(CodeKindPayload, w, "a %s record needs %s", kind, w)
		}
	}
	for name, isSet := range set {
		if isSet && !wanted[name] {
			c.add(CodeKindPayload, name, "a %s record must not carry %s", kind, name)
		}
	}
}

// CivilStatus validates a civil-status record. A DELETE needs only its
// provenance and NIN: the payload of a withdrawn act is not required.
func (r Rules) CivilStatus(rec *CivilStatusRecord) Violations {
	cv := r.checker()
	c := &cv
	// Text first, every field present whatever the kind and operation: a
	// record with a field that is not clean text never reaches a store.
	textOf(c, &rec.Provenance, provenanceText)
	textOf(c, rec, civilStatusText)
	if rec.Person != nil {
		textOf(c, rec.Person, personText)
	}
	if rec.Birth != nil {
		textOf(c, rec.Birth, birthText)
	}
	if rec.Marriage != nil {
		textOf(c, rec.Marriage, marriageText)
	}
	if rec.Divorce != nil {
		textOf(c, rec.Divorce, divorceText)
	}
	if rec.Death != nil {
		textOf(c, rec.Death, deathText)
	}
	c.provenance(rec.Provenance, civilAgencies)
	c.nin("nin", rec.NIN)
	set := map[string]bool{"person": rec.Person != nil, "birth": rec.Birth != nil, "marriage": rec.Marriage != nil, "divorce": rec.Divorce != nil, "death": rec.Death != nil}
	if rec.Provenance.Operation == OpDelete {
		c.oneOf("kind", rec.Kind, KindPerson, KindBirth, KindMarriage, KindDivorce, KindDeath)
		return c.out
	}
	switch rec.Kind {
	case KindPerson:
		c.payloads(rec.Kind, set, "person")
	case KindBirth:
		c.payloads(rec.Kind, set, "person", "birth")
	case KindMarriage:
		c.payloads(rec.Kind, set, "marriage")
	case KindDivorce:
		c.payloads(rec.Kind, set, "divorce")
	case KindDeath:
		c.payloads(rec.Kind, set, "death")
	default:
		c.add(CodeEnumUnknown, "kind", "%q is not a civil-status kind this version handles", rec.Kind)
	}
	if p := rec.Person; p != nil {
		c.required("person.surname_latin", p.SurnameLatin)
		c.required("person.surname_arabic", p.SurnameArabic)
		c.required("person.first_names_latin", p.FirstNamesLatin)
		c.required("person.first_names_arabic", p.FirstNamesArabic)
		c.oneOf("person.sex", p.Sex, "M", "F")
		c.date("person.birth_date", p.BirthDate)
		if p.BirthDatePresumed && !p.BirthDate.IsZero() && (p.BirthDate.Month() != time.January || p.BirthDate.Day() != 1) {
			c.add(CodeDateRange, "person.birth_date", "a presumed birth date is 1 January of its year, got %s", p.BirthDate.Format(time.DateOnly))
		}
		c.commune("person.birth_commune", p.BirthCommune)
		c.wilaya("person.birth_wilaya", p.BirthWilaya)
		if communeRe.MatchString(p.BirthCommune) && p.BirthWilaya != "" && !c.textBad("person.birth_wilaya") && p.BirthCommune[:2] != p.BirthWilaya && p.BirthCommune[:2] != SyntheticWilaya {
			// Wilayas were re-mapped in 1984, 2019 and 2025: the commune code
			// keeps the wilaya of registration, which birth_wilaya records.
			c.add(CodeCommuneFormat, "person.birth_commune", "commune %s is not in wilaya %s", p.BirthCommune, p.BirthWilaya)
		}
		// Parents' NINs (schema v2): optional, but a NIN when present, and
		// never the person's own.
		for _, parent := range []struct {
			field string
			nin   *string
		}{{"person.father_nin", p.FatherNIN}, {"person.mother_nin", p.MotherNIN}} {
			c.optNIN(parent.field, parent.nin)
			if parent.nin != nil && *parent.nin == rec.NIN && rec.NIN != "" {
				c.add(CodeParentSelf, parent.field, "is the person's own NIN")
			}
		}
	}
	if b := rec.Birth; b != nil {
		c.act("birth", b.ActNumber, b.ActYear, b.ActCommune)
		c.date("birth.registered_on", b.RegisteredOn)
		if p := rec.Person; p != nil && !p.BirthDate.IsZero() && !b.RegisteredOn.IsZero() && b.RegisteredOn.Before(p.BirthDate) {
			c.add(CodeDateOrder, "birth.registered_on", "registered %s before the birth %s", b.RegisteredOn.Format(time.DateOnly), p.BirthDate.Format(time.DateOnly))
		}
		if ValidNIN(rec.NIN) {
			// NIN positions 3-5: register year (last 3 digits); 6-9: commune;
			// 10-14: act number.
			if got, want := rec.NIN[2:5], fmt.Sprintf("%03d", b.ActYear%1000); got != want {
				c.add(CodeNINBirthMismatch, "nin", "positions 3-5 are %s, the birth register year %d gives %s", got, b.ActYear, want)
			}
			if got := rec.NIN[5:9]; got != b.ActCommune && !c.textBad("birth.act_commune") {
				c.add(CodeNINBirthMismatch, "nin", "positions 6-9 are %s, the birth act commune is %s", got, b.ActCommune)
			}
			if got, want := rec.NIN[9:14], fmt.Sprintf("%05d", b.ActNumber); got != want {
				c.add(CodeNINBirthMismatch, "nin", "positions 10-14 are %s, the birth act number gives %s", got, want)
			}
		}
	}
	if m := rec.Marriage; m != nil {
		c.act("marriage", m.ActNumber, m.ActYear, m.ActCommune)
		c.date("marriage.marriage_date", m.MarriageDate)
		c.nin("marriage.spouse_nin", m.SpouseNIN)
		if m.SpouseNIN == rec.NIN && rec.NIN != "" {
			c.add(CodeSpouseSelf, "marriage.spouse_nin", "is the person's own NIN")
		}
	}
	if d := rec.Divorce; d != nil {
		c.nin("divorce.spouse_nin", d.SpouseNIN)
		c.date("divorce.divorce_date", d.DivorceDate)
		if d.SpouseNIN == rec.NIN && rec.NIN != "" {
			c.add(CodeSpouseSelf, "divorce.spouse_nin", "is the person's own NIN")
		}
		if d.MarriageActCommune != nil {
			c.commune("divorce.marriage_act_commune", *d.MarriageActCommune)
		}
	}
	if d := rec.Death; d != nil {
		c.act("death", d.ActNumber, d.ActYear, d.ActCommune)
		c.date("death.date_of_death", d.DateOfDeath)
		c.commune("death.place_commune", d.PlaceCommune)
	}
	return c.out
}

// Employment validates an employment record.
func (r Rules) Employment(rec *EmploymentRecord) Violations {
	cv := r.checker()
	c := &cv
	textOf(c, &rec.Provenance, provenanceText)
	textOf(c, rec, employmentRecordText)
	if rec.Affiliation != nil {
		textOf(c, rec.Affiliation, affiliationText)
	}
	if rec.Employment != nil {
		textOf(c, rec.Employment, employmentPeriodText)
	}
	c.provenance(rec.Provenance, fundAgencies)
	c.nin("nin", rec.NIN)
	if c.required("nss", rec.NSS) && !nssRe.MatchString(rec.NSS) {
		c.add(CodeNSSFormat, "nss", "must be 10-12 digits")
	}
	c.oneOf("fund", rec.Fund, FundCNAS, FundCASNOS, FundCACOBATPH)
	if rec.Provenance.Operation == OpDelete {
		c.oneOf("kind", rec.Kind, KindAffiliation, KindEmployment)
		return c.out
	}
	set := map[string]bool{"affiliation": rec.Affiliation != nil, "employment": rec.Employment != nil}
	switch rec.Kind {
	case KindAffiliation:
		c.payloads(rec.Kind, set, "affiliation")
	case KindEmployment:
		c.payloads(rec.Kind, set, "employment")
	default:
		c.add(CodeEnumUnknown, "kind", "%q is not an employment kind this version handles", rec.Kind)
	}
	if a := rec.Affiliation; a != nil {
		c.date("affiliation.start_date", a.StartDate)
		c.optDate("affiliation.end_date", a.EndDate)
		c.order("affiliation.end_date", a.StartDate, a.EndDate, "start_date")
		c.oneOf("affiliation.status", a.Status, "ACTIVE", "SUSPENDED", "CLOSED")
		if a.Status == "CLOSED" && a.EndDate == nil {
			c.add(CodeStatusMismatch, "affiliation.end_date", "a CLOSED affiliation needs an end_date")
		}
	}
	if e := rec.Employment; e != nil {
		c.required("employment.employer_id", e.EmployerID)
		c.required("employment.employer_name", e.EmployerName)
		c.date("employment.start_date", e.StartDate)
		c.optDate("employment.end_date", e.EndDate)
		c.order("employment.end_date", e.StartDate, e.EndDate, "start_date")
		c.oneOf("employment.status", e.Status, "OPEN", "CLOSED")
		if e.Status == "CLOSED" && e.EndDate == nil {
			c.add(CodeStatusMismatch, "employment.end_date", "a CLOSED employment period needs an end_date")
		}
		if e.Status == "OPEN" && e.EndDate != nil && e.EndDate.Before(c.now) {
			c.add(CodeStatusMismatch, "employment.status", "OPEN but ended on %s", e.EndDate.Format(time.DateOnly))
		}
	}
	return c.out
}

// Contribution validates a contribution record.
func (r Rules) Contribution(rec *ContributionRecord) Violations {
	cv := r.checker()
	c := &cv
	textOf(c, &rec.Provenance, provenanceText)
	textOf(c, rec, contributionText)
	c.provenance(rec.Provenance, fundAgencies)
	c.oneOf("subject", rec.Subject, SubjectInsured, SubjectEmployer)
	switch rec.Subject {
	case SubjectInsured:
		if rec.NIN == nil {
			c.add(CodeRequired, "nin", "is required for an INSURED record")
		} else {
			c.nin("nin", *rec.NIN)
		}
		if rec.NSS != nil && !nssRe.MatchString(*rec.NSS) {
			c.add(CodeNSSFormat, "nss", "must be 10-12 digits")
		}
	case SubjectEmployer:
		if rec.EmployerID == nil || strings.TrimSpace(*rec.EmployerID) == "" {
			c.add(CodeRequired, "employer_id", "is required for an EMPLOYER record")
		}
	}
	c.oneOf("fund", rec.Fund, FundCNAS, FundCASNOS, FundCACOBATPH)
	if m := periodRe.FindStringSubmatch(rec.Period); m == nil {
		c.add(CodePeriodFormat, "period", "must be YYYY-MM, got %q", rec.Period)
	} else {
		y, _ := strconv.Atoi(m[1])
		mo, _ := strconv.Atoi(m[2])
		if y*12+mo > c.now.Year()*12+int(c.now.Month()) {
			c.add(CodePeriodFuture, "period", "%s is after the current month", rec.Period)
		}
		if y < 1949 {
			c.add(CodeDateRange, "period", "%s is before social insurance existed", rec.Period)
		}
	}
	if rec.Provenance.Operation == OpDelete {
		return c.out
	}
	for _, a := range []struct {
		field string
		v     int64
	}{{"wage_base", rec.WageBase}, {"amount_due", rec.AmountDue}, {"amount_paid", rec.AmountPaid}} {
		if a.v < 0 {
			c.add(CodeAmountNegative, a.field, "must not be negative, got %d", a.v)
		}
	}
	c.oneOf("status", rec.Status, "PAID", "PARTIAL", "UNPAID", "EXEMPT")
	switch {
	case rec.Status == "PAID" && rec.AmountPaid < rec.AmountDue:
		c.add(CodeStatusMismatch, "status", "PAID but %d of %d centimes paid", rec.AmountPaid, rec.AmountDue)
	case rec.Status == "UNPAID" && rec.AmountPaid > 0:
		c.add(CodeStatusMismatch, "status", "UNPAID but %d centimes paid", rec.AmountPaid)
	case rec.Status == "PARTIAL" && (rec.AmountPaid == 0 || rec.AmountPaid >= rec.AmountDue):
		c.add(CodeStatusMismatch, "status", "PARTIAL needs 0 < amount_paid < amount_due")
	}
	c.optDate("due_date", rec.DueDate)
	c.optDate("paid_date", rec.PaidDate)
	return c.out
}
