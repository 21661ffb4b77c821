package synth

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/askonce/askonce/schemas"
)

// This file maps agency rows (as the outbox payload: to_jsonb(row)) to the
// bus records, the way a connector does, so that tests can check every
// generated row against schemas.Rules. The connectors have their own mapping.

type birthRow struct {
	ID                     int64    `json:"id"`
	NIN                    *string  `json:"nin"`
	SurnameLatin           *string  `json:"surname_latin"`
	SurnameArabic          *string  `json:"surname_arabic"`
	FirstNamesLatin        *string  `json:"first_names_latin"`
	FirstNamesArabic       *string  `json:"first_names_arabic"`
	MaritalSurnameLatin    *string  `json:"marital_surname_latin"`
	Sex                    *string  `json:"sex"`
	BirthDate              *string  `json:"birth_date"`
	BirthDatePresumed      bool     `json:"birth_date_presumed"`
	BirthCommune           *string  `json:"birth_commune"`
	BirthWilaya            *string  `json:"birth_wilaya"`
	FatherFirstNameLatin   *string  `json:"father_first_name_latin"`
	FatherFirstNameArabic  *string  `json:"father_first_name_arabic"`
	MotherSurnameLatin     *string  `json:"mother_surname_latin"`
	MotherFirstNamesLatin  *string  `json:"mother_first_names_latin"`
	MotherSurnameArabic    *string  `json:"mother_surname_arabic"`
	MotherFirstNamesArabic *string  `json:"mother_first_names_arabic"`
	ActNumber              *int     `json:"act_number"`
	ActYear                *int     `json:"act_year"`
	ActCommune             *string  `json:"act_commune"`
	RegisteredOn           *string  `json:"registered_on"`
	BirthTime              *string  `json:"birth_time"`
	MarginalNotes          []string `json:"marginal_notes"`
	FatherNIN              *string  `json:"father_nin"`
	MotherNIN              *string  `json:"mother_nin"`
	Version                int64    `json:"version"`
}

type marriageRow struct {
	ID                    int64    `json:"id"`
	NIN                   *string  `json:"nin"`
	ActNumber             *int     `json:"act_number"`
	ActYear               *int     `json:"act_year"`
	ActCommune            *string  `json:"act_commune"`
	MarriageDate          *string  `json:"marriage_date"`
	SpouseNIN             *string  `json:"spouse_nin"`
	SpouseSurnameLatin    *string  `json:"spouse_surname_latin"`
	SpouseFirstNamesLatin *string  `json:"spouse_first_names_latin"`
	MarginalNotes         []string `json:"marginal_notes"`
	Version               int64    `json:"version"`
}

type divorceRow struct {
	ID                 int64    `json:"id"`
	NIN                *string  `json:"nin"`
	SpouseNIN          *string  `json:"spouse_nin"`
	DivorceDate        *string  `json:"divorce_date"`
	Court              *string  `json:"court"`
	JudgmentNumber     *string  `json:"judgment_number"`
	MarriageActNumber  *int     `json:"marriage_act_number"`
	MarriageActYear    *int     `json:"marriage_act_year"`
	MarriageActCommune *string  `json:"marriage_act_commune"`
	MarginalNotes      []string `json:"marginal_notes"`
	Version            int64    `json:"version"`
}

type deathRow struct {
	ID            int64    `json:"id"`
	NIN           *string  `json:"nin"`
	ActNumber     *int     `json:"act_number"`
	ActYear       *int     `json:"act_year"`
	ActCommune    *string  `json:"act_commune"`
	DateOfDeath   *string  `json:"date_of_death"`
	PlaceCommune  *string  `json:"place_commune"`
	MarginalNotes []string `json:"marginal_notes"`
	Version       int64    `json:"version"`
}

type affiliationRow struct {
	ID        int64   `json:"id"`
	NIN       *string `json:"nin"`
	NSS       *string `json:"nss"`
	Fund      *string `json:"fund"`
	StartDate *string `json:"start_date"`
	EndDate   *string `json:"end_date"`
	Status    *string `json:"status"`
	Regime    *string `json:"regime"`
	Version   int64   `json:"version"`
}

type employmentRow struct {
	ID           int64   `json:"id"`
	NIN          *string `json:"nin"`
	NSS          *string `json:"nss"`
	Fund         *string `json:"fund"`
	EmployerID   *string `json:"employer_id"`
	EmployerName *string `json:"employer_name"`
	EmployerNIF  *string `json:"employer_nif"`
	StartDate    *string `json:"start_date"`
	EndDate      *string `json:"end_date"`
	Status       *string `json:"status"`
	Position     *string `json:"position"`
	Version      int64   `json:"version"`
}

type contributionRow struct {
	ID         int64   `json:"id"`
	Subject    *string `json:"subject"`
	NIN        *string `json:"nin"`
	NSS        *string `json:"nss"`
	EmployerID *string `json:"employer_id"`
	Fund       *string `json:"fund"`
	Period     *string `json:"period"`
	WageBase   *int64  `json:"wage_base"`
	AmountDue  *int64  `json:"amount_due"`
	AmountPaid *int64  `json:"amount_paid"`
	Status     *string `json:"status"`
	DueDate    *string `json:"due_date"`
	PaidDate   *string `json:"paid_date"`
	Version    int64   `json:"version"`
}

func sv(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func iv(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

func i64(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

func dv(p *string) time.Time {
	if p == nil {
		return time.Time{}
	}
	t, err := time.Parse(time.DateOnly, *p)
	if err != nil {
		return time.Time{}
	}
	return t
}

func dp(p *string) *time.Time {
	if p == nil {
		return nil
	}
	t := dv(p)
	return &t
}

func notes(n []string) []string {
	if n == nil {
		return []string{}
	}
	return n
}

// mapped is a row mapped to its bus record.
type mapped struct {
	id      int64
	version int64
	nin     string
	civil   *schemas.CivilStatusRecord
	emp     *schemas.EmploymentRecord
	contrib *schemas.ContributionRecord
}

func (m mapped) validate(r schemas.Rules) schemas.Violations {
	switch {
	case m.civil != nil:
		return r.CivilStatus(m.civil)
	case m.emp != nil:
		return r.Employment(m.emp)
	default:
		return r.Contribution(m.contrib)
	}
}

var ops = map[string]string{"upsert": schemas.OpUpsert, "delete": schemas.OpDelete, "correction": schemas.OpCorrection}

// mapRow maps one outbox payload of entity to its record.
func mapRow(agency, dataCenter, entity, key, op string, payload []byte, at time.Time) (mapped, error) {
	prov := func(version int64) schemas.Provenance {
		return schemas.Provenance{Agency: agency, DataCenter: dataCenter, SourceKey: key, SourceVersion: version,
			EventTime: at, Operation: ops[op]}
	}
	var m mapped
	switch entity {
	case "birth":
		var r birthRow
		if err := json.Unmarshal(payload, &r); err != nil {
			return m, err
		}
		var bt *time.Duration
		if r.BirthTime != nil {
			if t, err := time.Parse(time.TimeOnly, *r.BirthTime); err == nil {
				d := time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute
				bt = &d
			}
		}
		m = mapped{id: r.ID, version: r.Version, nin: sv(r.NIN), civil: &schemas.CivilStatusRecord{
			Provenance: prov(r.Version), NIN: sv(r.NIN), Kind: schemas.KindBirth,
			Person: &schemas.PersonIdentity{
				SurnameLatin: sv(r.SurnameLatin), SurnameArabic: sv(r.SurnameArabic),
				FirstNamesLatin: sv(r.FirstNamesLatin), FirstNamesArabic: sv(r.FirstNamesArabic),
				MaritalSurnameLatin: r.MaritalSurnameLatin, Sex: sv(r.Sex), BirthDate: dv(r.BirthDate),
				BirthDatePresumed: r.BirthDatePresumed, BirthCommune: sv(r.BirthCommune), BirthWilaya: sv(r.BirthWilaya),
				FatherFirstNameLatin: r.FatherFirstNameLatin, FatherFirstNameArabic: r.FatherFirstNameArabic,
				MotherSurnameLatin: r.MotherSurnameLatin, MotherFirstNamesLatin: r.MotherFirstNamesLatin,
				MotherSurnameArabic: r.MotherSurnameArabic, MotherFirstNamesArabic: r.MotherFirstNamesArabic,
				FatherNIN: r.FatherNIN, MotherNIN: r.MotherNIN,
			},
			Birth: &schemas.BirthAct{ActNumber: iv(r.ActNumber), ActYear: iv(r.ActYear), ActCommune: sv(r.ActCommune),
				RegisteredOn: dv(r.RegisteredOn), BirthTime: bt, MarginalNotes: notes(r.MarginalNotes)},
		}}
	case "marriage":
		var r marriageRow
		if err := json.Unmarshal(payload, &r); err != nil {
			return m, err
		}
		m = mapped{id: r.ID, version: r.Version, nin: sv(r.NIN), civil: &schemas.CivilStatusRecord{
			Provenance: prov(r.Version), NIN: sv(r.NIN), Kind: schemas.KindMarriage,
			Marriage: &schemas.MarriageAct{ActNumber: iv(r.ActNumber), ActYear: iv(r.ActYear), ActCommune: sv(r.ActCommune),
				MarriageDate: dv(r.MarriageDate), SpouseNIN: sv(r.SpouseNIN), SpouseSurnameLatin: r.SpouseSurnameLatin,
				SpouseFirstNamesLatin: r.SpouseFirstNamesLatin, MarginalNotes: notes(r.MarginalNotes)},
		}}
	case "divorce":
		var r divorceRow
		if err := json.Unmarshal(payload, &r); err != nil {
			return m, err
		}
		m = mapped{id: r.ID, version: r.Version, nin: sv(r.NIN), civil: &schemas.CivilStatusRecord{
			Provenance: prov(r.Version), NIN: sv(r.NIN), Kind: schemas.KindDivorce,
			Divorce: &schemas.DivorceAct{SpouseNIN: sv(r.SpouseNIN), DivorceDate: dv(r.DivorceDate), Court: r.Court,
				JudgmentNumber: r.JudgmentNumber, MarriageActNumber: r.MarriageActNumber, MarriageActYear: r.MarriageActYear,
				MarriageActCommune: r.MarriageActCommune, MarginalNotes: notes(r.MarginalNotes)},
		}}
	case "death":
		var r deathRow
		if err := json.Unmarshal(payload, &r); err != nil {
			return m, err
		}
		m = mapped{id: r.ID, version: r.Version, nin: sv(r.NIN), civil: &schemas.CivilStatusRecord{
			Provenance: prov(r.Version), NIN: sv(r.NIN), Kind: schemas.KindDeath,
			Death: &schemas.DeathAct{ActNumber: iv(r.ActNumber), ActYear: iv(r.ActYear), ActCommune: sv(r.ActCommune),
				DateOfDeath: dv(r.DateOfDeath), PlaceCommune: sv(r.PlaceCommune), MarginalNotes: notes(r.MarginalNotes)},
		}}
	case "affiliation":
		var r affiliationRow
		if err := json.Unmarshal(payload, &r); err != nil {
			return m, err
		}
		m = mapped{id: r.ID, version: r.Version, nin: sv(r.NIN), emp: &schemas.EmploymentRecord{
			Provenance: prov(r.Version), NIN: sv(r.NIN), NSS: sv(r.NSS), Fund: sv(r.Fund), Kind: schemas.KindAffiliation,
			Affiliation: &schemas.Affiliation{StartDate: dv(r.StartDate), EndDate: dp(r.EndDate), Status: sv(r.Status), Regime: r.Regime},
		}}
	case "employment":
		var r employmentRow
		if err := json.Unmarshal(payload, &r); err != nil {
			return m, err
		}
		m = mapped{id: r.ID, version: r.Version, nin: sv(r.NIN), emp: &schemas.EmploymentRecord{
			Provenance: prov(r.Version), NIN: sv(r.NIN), NSS: sv(r.NSS), Fund: sv(r.Fund), Kind: schemas.KindEmployment,
			Employment: &schemas.EmploymentPeriod{EmployerID: sv(r.EmployerID), EmployerName: sv(r.EmployerName),
				EmployerNIF: r.EmployerNIF, StartDate: dv(r.StartDate), EndDate: dp(r.EndDate), Status: sv(r.Status), Position: r.Position},
		}}
	case "contribution":
		var r contributionRow
		if err := json.Unmarshal(payload, &r); err != nil {
			return m, err
		}
		m = mapped{id: r.ID, version: r.Version, nin: sv(r.NIN), contrib: &schemas.ContributionRecord{
			Provenance: prov(r.Version), Subject: sv(r.Subject), NIN: r.NIN, NSS: r.NSS, EmployerID: r.EmployerID,
			Fund: sv(r.Fund), Period: sv(r.Period), WageBase: i64(r.WageBase), AmountDue: i64(r.AmountDue),
			AmountPaid: i64(r.AmountPaid), Status: sv(r.Status), DueDate: dp(r.DueDate), PaidDate: dp(r.PaidDate),
		}}
	default:
		return m, fmt.Errorf("unknown entity %q", entity)
	}
	return m, nil
}

// rowJSON renders a generated row as its table's to_jsonb would.
func rowJSON(t table, row []val) []byte {
	obj := map[string]any{"version": 1}
	for i, col := range tableColumns[t] {
		v := row[i]
		switch v.k {
		case vNull:
			obj[col] = nil
		case vStr:
			obj[col] = v.s
		case vInt:
			obj[col] = v.i
		case vDate:
			obj[col] = day(v.i).Time().Format(time.DateOnly)
		case vBool:
			obj[col] = v.i != 0
		case vTime:
			obj[col] = fmt.Sprintf("%02d:%02d:00", v.i/3600, v.i/60%60)
		case vArr:
			obj[col] = v.arr
		}
	}
	b, err := json.Marshal(obj)
	if err != nil {
		panic(err)
	}
	return b
}

func agencyOfDC(name string) string { return strings.SplitN(name, "-", 2)[0] }
