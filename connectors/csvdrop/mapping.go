package csvdrop

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/askonce/askonce/connectors/connector"
	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/schemas"
)

// fileInfo is what every record of one file shares.
type fileInfo struct {
	name      string
	hdr       *header
	origin    schemas.Origin
	eventTime time.Time
	topics    bus.Topics
}

func (fi *fileInfo) topic() string {
	switch fi.hdr.kind.Base {
	case bus.BaseCivilStatus:
		return fi.topics.CivilStatus
	case bus.BaseEmployment:
		return fi.topics.Employment
	default:
		return fi.topics.Contribution
	}
}

// toRecord maps one CSV record of the file. A record that cannot be
// mapped comes back with MapErr set (and its bytes in Raw), for the DLQ.
func (fi *fileInfo) toRecord(rec record) (out connector.Record) {
	out = connector.Record{Topic: fi.topic(), Raw: rec.raw, Position: fmt.Sprintf("%s:%d", fi.name, rec.line)}
	defer func() {
		// Bad input must never stop the connector: a mapping defect on some
		// unforeseen input dead-letters that line.
		if p := recover(); p != nil {
			out.Value = nil
			out.MapErr = &connector.MapError{Code: connector.CodePayloadInvalid, Message: fmt.Sprintf("line %d: cannot be mapped: %v", rec.line, p)}
		}
	}()
	if rec.err != nil {
		out.MapErr = rec.err
		return out
	}
	if len(rec.fields) != len(fi.hdr.cols) {
		out.MapErr = &connector.MapError{Code: connector.CodeCSVMalformed,
			Message: fmt.Sprintf("line %d has %d fields, the header has %d", rec.line, len(rec.fields), len(fi.hdr.cols))}
		return out
	}
	for i, f := range rec.fields {
		if len(f) > MaxField {
			out.MapErr = &connector.MapError{Code: connector.CodeFieldTooLong,
				Message: fmt.Sprintf("line %d: %s is %d bytes, the limit is %d", rec.line, fi.hdr.cols[i].Name, len(f), MaxField)}
			return out
		}
	}
	r := &row{h: fi.hdr, fields: rec.fields}
	id := r.str("id")
	if id != "" {
		out.Key = []byte(fi.hdr.kind.Name + "/" + id)
	}
	v, key, err := r.mapKind(fi, id)
	if err != nil {
		out.MapErr = err
		return out
	}
	out.Value = v
	if key != "" {
		out.Key = []byte(key)
	}
	return out
}

// row reads typed values out of a record's fields, keeping the first error.
type row struct {
	h      *header
	fields []string
	err    *connector.MapError
}

func (r *row) fail(code, format string, args ...any) {
	if r.err == nil {
		r.err = &connector.MapError{Code: code, Message: fmt.Sprintf(format, args...)}
	}
}

// str is the column's value without surrounding spaces; "" when the header
// lacks it.
func (r *row) str(name string) string {
	i, ok := r.h.pos[name]
	if !ok {
		return ""
	}
	return strings.TrimSpace(r.fields[i])
}

// opt is nil for an empty or absent value.
func (r *row) opt(name string) *string {
	s := r.str(name)
	if s == "" {
		return nil
	}
	return &s
}

func (r *row) integer(name string, bits int) (int64, bool) {
	s := r.str(name)
	if s == "" {
		return 0, false
	}
	v, err := strconv.ParseInt(s, 10, bits)
	if err != nil {
		what := "an integer"
		if bits == 32 {
			what = "an integer (32-bit)"
		}
		r.fail(connector.CodePayloadInvalid, "%s: %q is not %s", name, s, what)
		return 0, false
	}
	return v, true
}

func (r *row) int32(name string) int {
	v, _ := r.integer(name, 32)
	return int(v)
}

func (r *row) optInt32(name string) *int {
	v, ok := r.integer(name, 32)
	if !ok {
		return nil
	}
	n := int(v)
	return &n
}

func (r *row) int64(name string) int64 {
	v, _ := r.integer(name, 64)
	return v
}

func (r *row) boolean(name string) bool {
	switch s := strings.ToLower(r.str(name)); s {
	case "", "false", "f", "0", "no", "n":
		return false
	case "true", "t", "1", "yes", "y":
		return true
	default:
		r.fail(connector.CodePayloadInvalid, "%s: %q is not true or false", name, s)
		return false
	}
}

func (r *row) date(name string) time.Time {
	s := r.str(name)
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		r.fail(connector.CodePayloadInvalid, "%s: %q is not a YYYY-MM-DD date", name, s)
	}
	return t
}

func (r *row) optDate(name string) *time.Time {
	if r.str(name) == "" {
		return nil
	}
	t := r.date(name)
	return &t
}

func (r *row) clock(name string) *time.Duration {
	s := r.str(name)
	if s == "" {
		return nil
	}
	t, err := time.Parse("15:04:05.999999", s)
	if err != nil {
		t, err = time.Parse("15:04", s)
	}
	if err != nil {
		r.fail(connector.CodePayloadInvalid, "%s: %q is not a HH:MM[:SS] time", name, s)
		return nil
	}
	v := time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute + time.Duration(t.Second())*time.Second
	return &v
}

// notes splits a '|'-separated list, dropping empty items.
func (r *row) notes(name string) []string {
	out := []string{}
	for n := range strings.SplitSeq(r.str(name), "|") {
		if n = strings.TrimSpace(n); n != "" {
			out = append(out, n)
		}
	}
	return out
}

func (r *row) op() string {
	switch s := strings.ToLower(r.str("op")); s {
	case "", "upsert":
		return schemas.OpUpsert
	case "delete":
		return schemas.OpDelete
	case "correction":
		return schemas.OpCorrection
	default:
		r.fail(connector.CodeOpUnknown, "op %q is not upsert, delete or correction", s)
		return ""
	}
}

// mapKind builds the record of the file's kind and its Kafka key.
func (r *row) mapKind(fi *fileInfo, id string) (any, string, *connector.MapError) {
	if id == "" {
		return nil, "", &connector.MapError{Code: schemas.CodeRequired, Message: "id: is required (the row's key in the legacy system)"}
	}
	if r.str("version") == "" {
		return nil, "", &connector.MapError{Code: schemas.CodeRequired, Message: "version: is required (the row's version, positive and growing with every change)"}
	}
	k := fi.hdr.kind
	prov := schemas.Provenance{
		Agency: fi.origin.Agency, DataCenter: fi.origin.DataCenter, SourceKey: k.Name + "/" + id,
		SourceVersion: r.int64("version"), EventTime: fi.eventTime, Operation: r.op(),
	}
	var v any
	var key string
	switch k.Base {
	case bus.BaseCivilStatus:
		c := r.civil(k.Name, prov)
		v, key = c, c.NIN
	case bus.BaseEmployment:
		e := r.employment(k.Name, prov)
		v, key = e, e.NIN
	default:
		c := r.contribution(prov)
		v, key = c, c.Key()
	}
	if r.err != nil {
		return nil, "", r.err
	}
	return v, key, nil
}

func (r *row) civil(entity string, prov schemas.Provenance) *schemas.CivilStatusRecord {
	rec := &schemas.CivilStatusRecord{Provenance: prov, NIN: r.str("nin")}
	switch entity {
	case "birth":
		rec.Kind = schemas.KindBirth
		rec.Person = &schemas.PersonIdentity{
			SurnameLatin: r.str("surname_latin"), SurnameArabic: r.str("surname_arabic"),
			FirstNamesLatin: r.str("first_names_latin"), FirstNamesArabic: r.str("first_names_arabic"),
			MaritalSurnameLatin: r.opt("marital_surname_latin"), Sex: r.str("sex"),
			BirthDate: r.date("birth_date"), BirthDatePresumed: r.boolean("birth_date_presumed"),
			BirthCommune: r.str("birth_commune"), BirthWilaya: r.str("birth_wilaya"),
			FatherFirstNameLatin: r.opt("father_first_name_latin"), FatherFirstNameArabic: r.opt("father_first_name_arabic"),
			MotherSurnameLatin: r.opt("mother_surname_latin"), MotherFirstNamesLatin: r.opt("mother_first_names_latin"),
			MotherSurnameArabic: r.opt("mother_surname_arabic"), MotherFirstNamesArabic: r.opt("mother_first_names_arabic"),
			FatherNIN: r.opt("father_nin"), MotherNIN: r.opt("mother_nin"),
		}
		rec.Birth = &schemas.BirthAct{
			ActNumber: r.int32("act_number"), ActYear: r.int32("act_year"), ActCommune: r.str("act_commune"),
			RegisteredOn: r.date("registered_on"), BirthTime: r.clock("birth_time"),
			MarginalNotes: r.notes("marginal_notes"),
		}
	case "marriage":
		rec.Kind = schemas.KindMarriage
		rec.Marriage = &schemas.MarriageAct{
			ActNumber: r.int32("act_number"), ActYear: r.int32("act_year"), ActCommune: r.str("act_commune"),
			MarriageDate: r.date("marriage_date"), SpouseNIN: r.str("spouse_nin"),
			SpouseSurnameLatin: r.opt("spouse_surname_latin"), SpouseFirstNamesLatin: r.opt("spouse_first_names_latin"),
			MarginalNotes: r.notes("marginal_notes"),
		}
	case "divorce":
		rec.Kind = schemas.KindDivorce
		rec.Divorce = &schemas.DivorceAct{
			SpouseNIN: r.str("spouse_nin"), DivorceDate: r.date("divorce_date"),
			Court: r.opt("court"), JudgmentNumber: r.opt("judgment_number"),
			MarriageActNumber: r.optInt32("marriage_act_number"), MarriageActYear: r.optInt32("marriage_act_year"),
			MarriageActCommune: r.opt("marriage_act_commune"), MarginalNotes: r.notes("marginal_notes"),
		}
	case "death":
		rec.Kind = schemas.KindDeath
		rec.Death = &schemas.DeathAct{
			ActNumber: r.int32("act_number"), ActYear: r.int32("act_year"), ActCommune: r.str("act_commune"),
			DateOfDeath: r.date("date_of_death"), PlaceCommune: r.str("place_commune"),
			MarginalNotes: r.notes("marginal_notes"),
		}
	}
	return rec
}

func (r *row) employment(entity string, prov schemas.Provenance) *schemas.EmploymentRecord {
	rec := &schemas.EmploymentRecord{Provenance: prov, NIN: r.str("nin"), NSS: r.str("nss"), Fund: r.str("fund")}
	switch entity {
	case "affiliation":
		rec.Kind = schemas.KindAffiliation
		rec.Affiliation = &schemas.Affiliation{
			StartDate: r.date("start_date"), EndDate: r.optDate("end_date"),
			Status: r.str("status"), Regime: r.opt("regime"),
		}
	case "employment":
		rec.Kind = schemas.KindEmployment
		rec.Employment = &schemas.EmploymentPeriod{
			EmployerID: r.str("employer_id"), EmployerName: r.str("employer_name"), EmployerNIF: r.opt("employer_nif"),
			StartDate: r.date("start_date"), EndDate: r.optDate("end_date"),
			Status: r.str("status"), Position: r.opt("position"),
		}
	}
	return rec
}

func (r *row) contribution(prov schemas.Provenance) *schemas.ContributionRecord {
	return &schemas.ContributionRecord{
		Provenance: prov, Subject: r.str("subject"), NIN: r.opt("nin"), NSS: r.opt("nss"),
		EmployerID: r.opt("employer_id"), Fund: r.str("fund"), Period: r.str("period"),
		WageBase: r.int64("wage_base"), AmountDue: r.int64("amount_due"), AmountPaid: r.int64("amount_paid"),
		Status: r.str("status"), DueDate: r.optDate("due_date"), PaidDate: r.optDate("paid_date"),
	}
}

// provenanceOf is the provenance of a mapped record, nil for none.
func provenanceOf(v any) *schemas.Provenance {
	if rec, ok := v.(schemas.Record); ok {
		return rec.Prov()
	}
	return nil
}
