package schemas_test

import (
	"slices"
	"testing"
	"time"

	"github.com/askonce/askonce/schemas"
	"github.com/askonce/askonce/schemas/schematest"
)

var rules = schemas.Rules{Now: schematest.Now, AllowSynthetic: true}

func ptr[T any](v T) *T { return &v }

func TestValidRecordsPass(t *testing.T) {
	for name, v := range map[string]schemas.Violations{
		"birth":        rules.CivilStatus(schematest.Birth()),
		"child birth":  rules.CivilStatus(schematest.ChildBirth()),
		"marriage":     rules.CivilStatus(schematest.Marriage()),
		"divorce":      rules.CivilStatus(schematest.Divorce()),
		"death":        rules.CivilStatus(schematest.Death()),
		"affiliation":  rules.Employment(schematest.Affiliation()),
		"employment":   rules.Employment(schematest.Employment()),
		"contribution": rules.Contribution(schematest.Contribution()),
	} {
		if v != nil {
			t.Errorf("%s: %v", name, v)
		}
	}
}

func TestCivilStatusCodes(t *testing.T) {
	tests := []struct {
		name  string
		rules schemas.Rules
		edit  func(r *schemas.CivilStatusRecord)
		code  string
		field string
	}{
		{"nin too short", rules, func(r *schemas.CivilStatusRecord) { r.NIN = "12345" }, schemas.CodeNINFormat, "nin"},
		{"nin with letters", rules, func(r *schemas.CivilStatusRecord) { r.NIN = "10985991600042013X" }, schemas.CodeNINFormat, "nin"},
		{"nin missing", rules, func(r *schemas.CivilStatusRecord) { r.NIN = "" }, schemas.CodeRequired, "nin"},
		{"nin year vs birth act", rules, func(r *schemas.CivilStatusRecord) { r.Birth.ActYear = 1986 }, schemas.CodeNINBirthMismatch, "nin"},
		{"nin commune vs birth act", rules, func(r *schemas.CivilStatusRecord) { r.Birth.ActCommune = "9917" }, schemas.CodeNINBirthMismatch, "nin"},
		{"nin act number vs birth act", rules, func(r *schemas.CivilStatusRecord) { r.Birth.ActNumber = 43 }, schemas.CodeNINBirthMismatch, "nin"},
		{"birth in the future", rules, func(r *schemas.CivilStatusRecord) { r.Person.BirthDate = schematest.Now.AddDate(0, 0, 1) }, schemas.CodeDateFuture, "person.birth_date"},
		{"birth before 1882", rules, func(r *schemas.CivilStatusRecord) { r.Person.BirthDate = time.Date(1850, 1, 1, 0, 0, 0, 0, time.UTC) }, schemas.CodeDateRange, "person.birth_date"},
		{"presumed date not 1 January", rules, func(r *schemas.CivilStatusRecord) { r.Person.BirthDatePresumed = true }, schemas.CodeDateRange, "person.birth_date"},
		{"registered before birth", rules, func(r *schemas.CivilStatusRecord) { r.Birth.RegisteredOn = time.Date(1985, 3, 1, 0, 0, 0, 0, time.UTC) }, schemas.CodeDateOrder, "birth.registered_on"},
		{"surname missing", rules, func(r *schemas.CivilStatusRecord) { r.Person.SurnameArabic = " " }, schemas.CodeRequired, "person.surname_arabic"},
		{"bad sex", rules, func(r *schemas.CivilStatusRecord) { r.Person.Sex = "X" }, schemas.CodeEnumUnknown, "person.sex"},
		{"bad commune", rules, func(r *schemas.CivilStatusRecord) { r.Person.BirthCommune = "916" }, schemas.CodeCommuneFormat, "person.birth_commune"},
		{"commune outside wilaya", rules, func(r *schemas.CivilStatusRecord) { r.Person.BirthCommune, r.Person.BirthWilaya = "1601", "09" }, schemas.CodeCommuneFormat, "person.birth_commune"},
		{"wilaya 70", rules, func(r *schemas.CivilStatusRecord) { r.Person.BirthWilaya = "70"; r.Person.BirthCommune = "7001" }, schemas.CodeWilayaUnknown, "person.birth_wilaya"},
		{"pending wilaya 62 without flag", rules, func(r *schemas.CivilStatusRecord) { r.Person.BirthWilaya = "62"; r.Person.BirthCommune = "6201" }, schemas.CodeWilayaUnknown, "person.birth_wilaya"},
		{"synthetic in production", schemas.Rules{Now: schematest.Now}, func(*schemas.CivilStatusRecord) {}, schemas.CodeSyntheticRejected, "nin"},
		{"bad act number", rules, func(r *schemas.CivilStatusRecord) { r.Birth.ActNumber = 0 }, schemas.CodeActNumber, "birth.act_number"},
		{"kind without payload", rules, func(r *schemas.CivilStatusRecord) { r.Birth = nil }, schemas.CodeKindPayload, "birth"},
		{"extra payload", rules, func(r *schemas.CivilStatusRecord) { r.Death = schematest.Death().Death }, schemas.CodeKindPayload, "death"},
		{"unknown kind", rules, func(r *schemas.CivilStatusRecord) { r.Kind = schemas.KindUnknown }, schemas.CodeEnumUnknown, "kind"},
		{"wrong agency", rules, func(r *schemas.CivilStatusRecord) { r.Provenance.Agency = "cnas" }, schemas.CodeAgencyUnknown, "provenance.agency"},
		{"bad data center", rules, func(r *schemas.CivilStatusRecord) { r.Provenance.DataCenter = "DC 7" }, schemas.CodeDataCenter, "provenance.data_center"},
		{"zero version", rules, func(r *schemas.CivilStatusRecord) { r.Provenance.SourceVersion = 0 }, schemas.CodeSourceVersion, "provenance.source_version"},
		{"no source key", rules, func(r *schemas.CivilStatusRecord) { r.Provenance.SourceKey = "" }, schemas.CodeRequired, "provenance.source_key"},
		{"event in the future", rules, func(r *schemas.CivilStatusRecord) { r.Provenance.EventTime = schematest.Now.Add(time.Hour) }, schemas.CodeDateFuture, "provenance.event_time"},
		{"bad operation", rules, func(r *schemas.CivilStatusRecord) { r.Provenance.Operation = "MERGE" }, schemas.CodeEnumUnknown, "provenance.operation"},
		// Parents' NINs (schema v2): optional, a NIN when present, never the person's own.
		{"father nin too short", rules, func(r *schemas.CivilStatusRecord) { r.Person.FatherNIN = ptr("10985991600042") }, schemas.CodeNINFormat, "person.father_nin"},
		{"mother nin with letters", rules, func(r *schemas.CivilStatusRecord) { r.Person.MotherNIN = ptr("2098799I6001230142") }, schemas.CodeNINFormat, "person.mother_nin"},
		{"father nin empty", rules, func(r *schemas.CivilStatusRecord) { r.Person.FatherNIN = ptr(" ") }, schemas.CodeNINFormat, "person.father_nin"},
		{"father is self", rules, func(r *schemas.CivilStatusRecord) { r.Person.FatherNIN = ptr(r.NIN) }, schemas.CodeParentSelf, "person.father_nin"},
		{"mother is self", rules, func(r *schemas.CivilStatusRecord) { r.Person.MotherNIN = ptr(r.NIN) }, schemas.CodeParentSelf, "person.mother_nin"},
		{"synthetic mother in production", schemas.Rules{Now: schematest.Now}, func(r *schemas.CivilStatusRecord) { r.Person.MotherNIN = ptr(schematest.SpouseNIN) }, schemas.CodeSyntheticRejected, "person.mother_nin"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := schematest.Birth()
			tc.edit(r)
			expect(t, tc.rules.CivilStatus(r), tc.code, tc.field)
		})
	}

	acts := []struct {
		name  string
		rec   *schemas.CivilStatusRecord
		edit  func(r *schemas.CivilStatusRecord)
		code  string
		field string
	}{
		{"marriage to self", schematest.Marriage(), func(r *schemas.CivilStatusRecord) { r.Marriage.SpouseNIN = r.NIN }, schemas.CodeSpouseSelf, "marriage.spouse_nin"},
		{"marriage spouse nin", schematest.Marriage(), func(r *schemas.CivilStatusRecord) { r.Marriage.SpouseNIN = "abc" }, schemas.CodeNINFormat, "marriage.spouse_nin"},
		{"marriage in the future", schematest.Marriage(), func(r *schemas.CivilStatusRecord) { r.Marriage.MarriageDate = schematest.Now.AddDate(1, 0, 0) }, schemas.CodeDateFuture, "marriage.marriage_date"},
		{"divorce from self", schematest.Divorce(), func(r *schemas.CivilStatusRecord) { r.Divorce.SpouseNIN = r.NIN }, schemas.CodeSpouseSelf, "divorce.spouse_nin"},
		{"divorce act commune", schematest.Divorce(), func(r *schemas.CivilStatusRecord) { r.Divorce.MarriageActCommune = ptr("x") }, schemas.CodeCommuneFormat, "divorce.marriage_act_commune"},
		{"death in the future", schematest.Death(), func(r *schemas.CivilStatusRecord) { r.Death.DateOfDeath = schematest.Now.AddDate(0, 1, 0) }, schemas.CodeDateFuture, "death.date_of_death"},
		{"death place", schematest.Death(), func(r *schemas.CivilStatusRecord) { r.Death.PlaceCommune = "" }, schemas.CodeRequired, "death.place_commune"},
	}
	for _, tc := range acts {
		t.Run(tc.name, func(t *testing.T) {
			tc.edit(tc.rec)
			expect(t, rules.CivilStatus(tc.rec), tc.code, tc.field)
		})
	}
}

// TestParentNINs: absent parents (v1 records, parents not registered) and
// valid parents pass; a child's own NIN differs from both.
func TestParentNINs(t *testing.T) {
	for name, r := range map[string]*schemas.CivilStatusRecord{"no parents": schematest.Birth(), "both parents": schematest.ChildBirth()} {
		if v := rules.CivilStatus(r); v != nil {
			t.Errorf("%s: %v", name, v)
		}
	}
	r := schematest.ChildBirth()
	r.Person.MotherNIN = nil
	if v := rules.CivilStatus(r); v != nil {
		t.Errorf("father only: %v", v)
	}
	// A parent's NIN never needs a birth act in the same record: no
	// birth_mismatch against the child's act.
	r = schematest.ChildBirth()
	r.Person.FatherNIN = ptr("109709916012340199")
	if v := rules.CivilStatus(r); v != nil {
		t.Errorf("another father: %v", v)
	}
}

func TestDeleteNeedsNoPayload(t *testing.T) {
	r := schematest.Death()
	r.Provenance.Operation = schemas.OpDelete
	r.Death = nil
	if v := rules.CivilStatus(r); v != nil {
		t.Fatalf("delete: %v", v)
	}
}

func TestPendingWilayasBehindFlag(t *testing.T) {
	r := schematest.Birth()
	r.Person.BirthWilaya, r.Person.BirthCommune = "62", "6201"
	withFlag := rules
	withFlag.AllowPendingWilayas = true
	if v := withFlag.CivilStatus(r); v != nil {
		t.Fatalf("wilaya 62 with the flag: %v", v)
	}
}

func TestEmploymentCodes(t *testing.T) {
	tests := []struct {
		name  string
		rec   *schemas.EmploymentRecord
		edit  func(r *schemas.EmploymentRecord)
		code  string
		field string
	}{
		{"end before start", schematest.Employment(), func(r *schemas.EmploymentRecord) {
			r.Employment.EndDate = ptr(time.Date(2007, 1, 1, 0, 0, 0, 0, time.UTC))
		}, schemas.CodeDateOrder, "employment.end_date"},
		{"closed without end", schematest.Employment(), func(r *schemas.EmploymentRecord) { r.Employment.EndDate = nil }, schemas.CodeStatusMismatch, "employment.end_date"},
		{"open but ended", schematest.Employment(), func(r *schemas.EmploymentRecord) { r.Employment.Status = "OPEN" }, schemas.CodeStatusMismatch, "employment.status"},
		{"start in the future", schematest.Employment(), func(r *schemas.EmploymentRecord) {
			r.Employment.StartDate = schematest.Now.AddDate(0, 0, 2)
			r.Employment.EndDate = nil
			r.Employment.Status = "OPEN"
		}, schemas.CodeDateFuture, "employment.start_date"},
		{"no employer", schematest.Employment(), func(r *schemas.EmploymentRecord) { r.Employment.EmployerID = "" }, schemas.CodeRequired, "employment.employer_id"},
		{"bad nss", schematest.Affiliation(), func(r *schemas.EmploymentRecord) { r.NSS = "16-00" }, schemas.CodeNSSFormat, "nss"},
		{"unknown fund", schematest.Affiliation(), func(r *schemas.EmploymentRecord) { r.Fund = schemas.FundUnknown }, schemas.CodeEnumUnknown, "fund"},
		{"wrong agency", schematest.Affiliation(), func(r *schemas.EmploymentRecord) { r.Provenance.Agency = "etatcivil" }, schemas.CodeAgencyUnknown, "provenance.agency"},
		{"affiliation end before start", schematest.Affiliation(), func(r *schemas.EmploymentRecord) {
			r.Affiliation.EndDate = ptr(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC))
		}, schemas.CodeDateOrder, "affiliation.end_date"},
		{"bad affiliation status", schematest.Affiliation(), func(r *schemas.EmploymentRecord) { r.Affiliation.Status = "UNKNOWN" }, schemas.CodeEnumUnknown, "affiliation.status"},
		{"payload mismatch", schematest.Affiliation(), func(r *schemas.EmploymentRecord) { r.Kind = schemas.KindEmployment }, schemas.CodeKindPayload, "employment"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.edit(tc.rec)
			expect(t, rules.Employment(tc.rec), tc.code, tc.field)
		})
	}
}

func TestContributionCodes(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(r *schemas.ContributionRecord)
		code  string
		field string
	}{
		{"period format", func(r *schemas.ContributionRecord) { r.Period = "2026/09" }, schemas.CodePeriodFormat, "period"},
		{"period month 13", func(r *schemas.ContributionRecord) { r.Period = "2026-13" }, schemas.CodePeriodFormat, "period"},
		{"period in the future", func(r *schemas.ContributionRecord) { r.Period = "2027-01" }, schemas.CodePeriodFuture, "period"},
		{"negative due", func(r *schemas.ContributionRecord) { r.AmountDue = -1 }, schemas.CodeAmountNegative, "amount_due"},
		{"negative wage base", func(r *schemas.ContributionRecord) { r.WageBase = -5 }, schemas.CodeAmountNegative, "wage_base"},
		{"paid but short", func(r *schemas.ContributionRecord) { r.Status = "PAID" }, schemas.CodeStatusMismatch, "status"},
		{"unpaid but paid", func(r *schemas.ContributionRecord) { r.Status = "UNPAID" }, schemas.CodeStatusMismatch, "status"},
		{"insured without nin", func(r *schemas.ContributionRecord) { r.NIN = nil }, schemas.CodeRequired, "nin"},
		{"employer without id", func(r *schemas.ContributionRecord) { r.Subject = schemas.SubjectEmployer; r.EmployerID = nil }, schemas.CodeRequired, "employer_id"},
		{"bad subject", func(r *schemas.ContributionRecord) { r.Subject = "STATE" }, schemas.CodeEnumUnknown, "subject"},
		{"bad status", func(r *schemas.ContributionRecord) { r.Status = "LATE" }, schemas.CodeEnumUnknown, "status"},
		{"due date in the future", func(r *schemas.ContributionRecord) { r.DueDate = ptr(schematest.Now.AddDate(0, 2, 0)) }, schemas.CodeDateFuture, "due_date"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := schematest.Contribution()
			tc.edit(r)
			expect(t, rules.Contribution(r), tc.code, tc.field)
		})
	}
}

func expect(t *testing.T, vs schemas.Violations, code, field string) {
	t.Helper()
	for _, v := range vs {
		if v.Code == code && v.Field == field {
			if v.Message == "" {
				t.Errorf("%s at %s has no message", code, field)
			}
			return
		}
	}
	t.Errorf("want %s at %s, got %v", code, field, vs)
}

func TestViolationsError(t *testing.T) {
	r := schematest.Contribution()
	r.Period, r.AmountDue = "x", -1
	vs := rules.Contribution(r)
	if !slices.Contains(vs.Codes(), schemas.CodePeriodFormat) || vs.Error() == "" {
		t.Fatalf("%v", vs)
	}
}
