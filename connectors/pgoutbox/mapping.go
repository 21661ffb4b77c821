package pgoutbox

import (
	"fmt"
	jsoniter "github.com/json-iterator/go"
	"strings"
	"time"

	"github.com/askonce/askonce/connectors/connector"
	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/schemas"
)

// Entities are the outbox entities askonce publishes, and the topic (base
// name) each goes to. The payload of each is a JSON object whose keys are
// the columns documented in docs/integration.md (the synthetic agencies'
// tables in internal/synth/sql/agency.sql have exactly those columns).
var Entities = map[string]string{
	"birth":        bus.BaseCivilStatus,
	"marriage":     bus.BaseCivilStatus,
	"divorce":      bus.BaseCivilStatus,
	"death":        bus.BaseCivilStatus,
	"affiliation":  bus.BaseEmployment,
	"employment":   bus.BaseEmployment,
	"contribution": bus.BaseContribution,
}

// Row is one outbox row.
type Row struct {
	Seq       int64
	Entity    string
	Key       string
	Op        string
	Payload   []byte
	CreatedAt time.Time
}

// Map turns an outbox row into the record for its topic (topics names the
// topics, prefix included). A row that cannot be mapped comes back with
// MapErr set, to be dead-lettered with its payload; it never stops the
// connector.
func Map(row Row, origin schemas.Origin, topics bus.Topics) connector.Record {
	rec := connector.Record{Raw: row.Payload, Position: fmt.Sprintf("seq %d", row.Seq), Key: []byte(row.Key)}
	base, ok := Entities[row.Entity]
	switch base {
	case bus.BaseCivilStatus:
		rec.Topic = topics.CivilStatus
	case bus.BaseEmployment:
		rec.Topic = topics.Employment
	case bus.BaseContribution:
		rec.Topic = topics.Contribution
	}
	if !ok {
		rec.Topic = topics.DLQ
		rec.MapErr = &connector.MapError{Code: connector.CodeEntityUnknown, Message: fmt.Sprintf("outbox entity %q is not one askonce publishes", row.Entity)}
		return rec
	}
	var op string
	switch row.Op {
	case "upsert":
		op = schemas.OpUpsert
	case "delete":
		op = schemas.OpDelete
	case "correction":
		op = schemas.OpCorrection
	default:
		rec.MapErr = &connector.MapError{Code: connector.CodeOpUnknown, Message: fmt.Sprintf("outbox op %q is not upsert, delete or correction", row.Op)}
		return rec
	}
	var p payload
	if err := jsonAPI.Unmarshal(row.Payload, &p); err != nil {
		rec.MapErr = &connector.MapError{Code: connector.CodePayloadInvalid, Message: "payload: " + err.Error()}
		return rec
	}
	prov := schemas.Provenance{
		Agency: origin.Agency, DataCenter: origin.DataCenter, SourceKey: row.Key,
		SourceVersion: p.Version, EventTime: row.CreatedAt.UTC().Truncate(time.Millisecond), Operation: op,
	}
	var err error
	switch row.Entity {
	case "birth", "marriage", "divorce", "death":
		var v *schemas.CivilStatusRecord
		v, err = p.civil(row.Entity, prov)
		if v != nil {
			rec.Value, rec.Key = v, []byte(v.NIN)
		}
	case "affiliation", "employment":
		var v *schemas.EmploymentRecord
		v, err = p.employment(row.Entity, prov)
		if v != nil {
			rec.Value, rec.Key = v, []byte(v.NIN)
		}
	case "contribution":
		var v *schemas.ContributionRecord
		v, err = p.contribution(prov)
		if v != nil {
			rec.Value, rec.Key = v, []byte(v.Key())
		}
	}
	if err != nil {
		rec.Value = nil
		rec.MapErr = &connector.MapError{Code: connector.CodePayloadInvalid, Message: err.Error()}
	}
	return rec
}

// payload is the union of the entities' columns. Absent and null columns
// stay zero: the record rules, not the mapping, say what is required.
var jsonAPI = jsoniter.ConfigCompatibleWithStandardLibrary

type payload struct {
	Version int64  `json:"version"`
	NIN     string `json:"nin"`

	// birth
	SurnameLatin           string   `json:"surname_latin"`
	SurnameArabic          string   `json:"surname_arabic"`
	FirstNamesLatin        string   `json:"first_names_latin"`
	FirstNamesArabic       string   `json:"first_names_arabic"`
	MaritalSurnameLatin    *string  `json:"marital_surname_latin"`
	Sex                    string   `json:"sex"`
	BirthDate              *string  `json:"birth_date"`
	BirthDatePresumed      bool     `json:"birth_date_presumed"`
	BirthCommune           string   `json:"birth_commune"`
	BirthWilaya            string   `json:"birth_wilaya"`
	FatherFirstNameLatin   *string  `json:"father_first_name_latin"`
	FatherFirstNameArabic  *string  `json:"father_first_name_arabic"`
	MotherSurnameLatin     *string  `json:"mother_surname_latin"`
	MotherFirstNamesLatin  *string  `json:"mother_first_names_latin"`
	MotherSurnameArabic    *string  `json:"mother_surname_arabic"`
	MotherFirstNamesArabic *string  `json:"mother_first_names_arabic"`
	FatherNIN              *string  `json:"father_nin"`
	MotherNIN              *string  `json:"mother_nin"`
	ActNumber              int      `json:"act_number"`
	ActYear                int      `json:"act_year"`
	ActCommune             string   `json:"act_commune"`
	RegisteredOn           *string  `json:"registered_on"`
	BirthTime              *string  `json:"birth_time"`
	MarginalNotes          []string `json:"marginal_notes"`

	// marriage, divorce
	MarriageDate          *string `json:"marriage_date"`
	SpouseNIN             string  `json:"spouse_nin"`
	SpouseSurnameLatin    *string `json:"spouse_surname_latin"`
	SpouseFirstNamesLatin *string `json:"spouse_first_names_latin"`
	DivorceDate           *string `json:"divorce_date"`
	Court                 *string `json:"court"`
	JudgmentNumber        *string `json:"judgment_number"`
	MarriageActNumber     *int    `json:"marriage_act_number"`
	MarriageActYear       *int    `json:"marriage_act_year"`
	MarriageActCommune    *string `json:"marriage_act_commune"`

	// death
	DateOfDeath  *string `json:"date_of_death"`
	PlaceCommune string  `json:"place_commune"`

	// affiliation, employment, contribution
	NSS          *string `json:"nss"`
	Fund         string  `json:"fund"`
	StartDate    *string `json:"start_date"`
	EndDate      *string `json:"end_date"`
	Status       string  `json:"status"`
	Regime       *string `json:"regime"`
	EmployerID   *string `json:"employer_id"`
	EmployerName string  `json:"employer_name"`
	EmployerNIF  *string `json:"employer_nif"`
	Position     *string `json:"position"`
	Subject      string  `json:"subject"`
	Period       string  `json:"period"`
	WageBase     int64   `json:"wage_base"`
	AmountDue    int64   `json:"amount_due"`
	AmountPaid   int64   `json:"amount_paid"`
	DueDate      *string `json:"due_date"`
	PaidDate     *string `json:"paid_date"`
}

// dates parses the date columns it is given, collecting the first error.
type dates struct{ err error }

func (d *dates) day(field string, s *string) time.Time {
	if s == nil || *s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.DateOnly, *s)
	if err != nil && d.err == nil {
		d.err = fmt.Errorf("%s: %q is not a YYYY-MM-DD date", field, *s)
	}
	return t
}

func (d *dates) opt(field string, s *string) *time.Time {
	if s == nil || *s == "" {
		return nil
	}
	t := d.day(field, s)
	return &t
}

func (d *dates) clock(field string, s *string) *time.Duration {
	if s == nil || *s == "" {
		return nil
	}
	t, err := time.Parse("15:04:05.999999", *s)
	if err != nil {
		if d.err == nil {
			d.err = fmt.Errorf("%s: %q is not a HH:MM:SS time", field, *s)
		}
		return nil
	}
	v := time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute + time.Duration(t.Second())*time.Second
	return &v
}

func notes(n []string) []string {
	if n == nil {
		return []string{}
	}
	return n
}

func nonEmpty(s *string) *string {
	if s == nil || strings.TrimSpace(*s) == "" {
		return nil
	}
	return s
}

func (p *payload) civil(entity string, prov schemas.Provenance) (*schemas.CivilStatusRecord, error) {
	var d dates
	r := &schemas.CivilStatusRecord{Provenance: prov, NIN: p.NIN}
	switch entity {
	case "birth":
		r.Kind = schemas.KindBirth
		r.Person = &schemas.PersonIdentity{
			SurnameLatin: p.SurnameLatin, SurnameArabic: p.SurnameArabic,
			FirstNamesLatin: p.FirstNamesLatin, FirstNamesArabic: p.FirstNamesArabic,
			MaritalSurnameLatin: nonEmpty(p.MaritalSurnameLatin), Sex: p.Sex,
			BirthDate: d.day("birth_date", p.BirthDate), BirthDatePresumed: p.BirthDatePresumed,
			BirthCommune: p.BirthCommune, BirthWilaya: p.BirthWilaya,
			FatherFirstNameLatin: nonEmpty(p.FatherFirstNameLatin), FatherFirstNameArabic: nonEmpty(p.FatherFirstNameArabic),
			MotherSurnameLatin: nonEmpty(p.MotherSurnameLatin), MotherFirstNamesLatin: nonEmpty(p.MotherFirstNamesLatin),
			MotherSurnameArabic: nonEmpty(p.MotherSurnameArabic), MotherFirstNamesArabic: nonEmpty(p.MotherFirstNamesArabic),
			FatherNIN: nonEmpty(p.FatherNIN), MotherNIN: nonEmpty(p.MotherNIN),
		}
		r.Birth = &schemas.BirthAct{
			ActNumber: p.ActNumber, ActYear: p.ActYear, ActCommune: p.ActCommune,
			RegisteredOn: d.day("registered_on", p.RegisteredOn), BirthTime: d.clock("birth_time", p.BirthTime),
			MarginalNotes: notes(p.MarginalNotes),
		}
	case "marriage":
		r.Kind = schemas.KindMarriage
		r.Marriage = &schemas.MarriageAct{
			ActNumber: p.ActNumber, ActYear: p.ActYear, ActCommune: p.ActCommune,
			MarriageDate: d.day("marriage_date", p.MarriageDate), SpouseNIN: p.SpouseNIN,
			SpouseSurnameLatin: nonEmpty(p.SpouseSurnameLatin), SpouseFirstNamesLatin: nonEmpty(p.SpouseFirstNamesLatin),
			MarginalNotes: notes(p.MarginalNotes),
		}
	case "divorce":
		r.Kind = schemas.KindDivorce
		r.Divorce = &schemas.DivorceAct{
			SpouseNIN: p.SpouseNIN, DivorceDate: d.day("divorce_date", p.DivorceDate),
			Court: nonEmpty(p.Court), JudgmentNumber: nonEmpty(p.JudgmentNumber),
			MarriageActNumber: p.MarriageActNumber, MarriageActYear: p.MarriageActYear,
			MarriageActCommune: nonEmpty(p.MarriageActCommune), MarginalNotes: notes(p.MarginalNotes),
		}
	case "death":
		r.Kind = schemas.KindDeath
		r.Death = &schemas.DeathAct{
			ActNumber: p.ActNumber, ActYear: p.ActYear, ActCommune: p.ActCommune,
			DateOfDeath: d.day("date_of_death", p.DateOfDeath), PlaceCommune: p.PlaceCommune,
			MarginalNotes: notes(p.MarginalNotes),
		}
	}
	return r, d.err
}

func (p *payload) employment(entity string, prov schemas.Provenance) (*schemas.EmploymentRecord, error) {
	var d dates
	r := &schemas.EmploymentRecord{Provenance: prov, NIN: p.NIN, Fund: p.Fund}
	if p.NSS != nil {
		r.NSS = *p.NSS
	}
	switch entity {
	case "affiliation":
		r.Kind = schemas.KindAffiliation
		r.Affiliation = &schemas.Affiliation{
			StartDate: d.day("start_date", p.StartDate), EndDate: d.opt("end_date", p.EndDate),
			Status: p.Status, Regime: nonEmpty(p.Regime),
		}
	case "employment":
		r.Kind = schemas.KindEmployment
		e := &schemas.EmploymentPeriod{
			EmployerName: p.EmployerName, EmployerNIF: nonEmpty(p.EmployerNIF),
			StartDate: d.day("start_date", p.StartDate), EndDate: d.opt("end_date", p.EndDate),
			Status: p.Status, Position: nonEmpty(p.Position),
		}
		if p.EmployerID != nil {
			e.EmployerID = *p.EmployerID
		}
		r.Employment = e
	}
	return r, d.err
}

func (p *payload) contribution(prov schemas.Provenance) (*schemas.ContributionRecord, error) {
	var d dates
	r := &schemas.ContributionRecord{
		Provenance: prov, Subject: p.Subject, NIN: nonEmpty(&p.NIN), NSS: nonEmpty(p.NSS),
		EmployerID: nonEmpty(p.EmployerID), Fund: p.Fund, Period: p.Period,
		WageBase: p.WageBase, AmountDue: p.AmountDue, AmountPaid: p.AmountPaid, Status: p.Status,
		DueDate: d.opt("due_date", p.DueDate), PaidDate: d.opt("paid_date", p.PaidDate),
	}
	return r, d.err
}
