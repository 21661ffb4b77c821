package schemas

import "time"

// Operation values of Provenance.Operation.
const (
	OpUpsert     = "UPSERT"
	OpDelete     = "DELETE"
	OpCorrection = "CORRECTION"
)

// Fund values.
const (
	FundCNAS      = "CNAS"
	FundCASNOS    = "CASNOS"
	FundCACOBATPH = "CACOBATPH"
	FundUnknown   = "UNKNOWN"
)

// Civil-status record kinds.
const (
	KindPerson   = "PERSON"
	KindBirth    = "BIRTH"
	KindMarriage = "MARRIAGE"
	KindDivorce  = "DIVORCE"
	KindDeath    = "DEATH"
	KindUnknown  = "UNKNOWN"
)

// Employment record kinds.
const (
	KindAffiliation = "AFFILIATION"
	KindEmployment  = "EMPLOYMENT"
)

// Contribution subjects.
const (
	SubjectInsured  = "INSURED"
	SubjectEmployer = "EMPLOYER"
)

// Provenance says where a record comes from (org.askonce.common.Provenance).
type Provenance struct {
	Agency        string    `avro:"agency" json:"agency"`
	DataCenter    string    `avro:"data_center" json:"data_center"`
	SourceKey     string    `avro:"source_key" json:"source_key"`
	SourceVersion int64     `avro:"source_version" json:"source_version"`
	EventTime     time.Time `avro:"event_time" json:"event_time"`
	Operation     string    `avro:"operation" json:"operation"`
}

// CivilStatusRecord is a value of askonce.civil-status.v1 (schema
// civil-status.v2.avsc, the latest; records written with v1 read into it).
type CivilStatusRecord struct {
	Provenance Provenance      `avro:"provenance" json:"provenance"`
	NIN        string          `avro:"nin" json:"nin"`
	Kind       string          `avro:"kind" json:"kind"`
	Person     *PersonIdentity `avro:"person" json:"person,omitempty"`
	Birth      *BirthAct       `avro:"birth" json:"birth,omitempty"`
	Marriage   *MarriageAct    `avro:"marriage" json:"marriage,omitempty"`
	Divorce    *DivorceAct     `avro:"divorce" json:"divorce,omitempty"`
	Death      *DeathAct       `avro:"death" json:"death,omitempty"`
}

// PersonIdentity is a person's identity as the civil-status registry holds it.
type PersonIdentity struct {
	SurnameLatin           string    `avro:"surname_latin" json:"surname_latin"`
	SurnameArabic          string    `avro:"surname_arabic" json:"surname_arabic"`
	FirstNamesLatin        string    `avro:"first_names_latin" json:"first_names_latin"`
	FirstNamesArabic       string    `avro:"first_names_arabic" json:"first_names_arabic"`
	MaritalSurnameLatin    *string   `avro:"marital_surname_latin" json:"marital_surname_latin,omitempty"`
	Sex                    string    `avro:"sex" json:"sex"`
	BirthDate              time.Time `avro:"birth_date" json:"birth_date"`
	BirthDatePresumed      bool      `avro:"birth_date_presumed" json:"birth_date_presumed"`
	BirthCommune           string    `avro:"birth_commune" json:"birth_commune"`
	BirthWilaya            string    `avro:"birth_wilaya" json:"birth_wilaya"`
	FatherFirstNameLatin   *string   `avro:"father_first_name_latin" json:"father_first_name_latin,omitempty"`
	FatherFirstNameArabic  *string   `avro:"father_first_name_arabic" json:"father_first_name_arabic,omitempty"`
	MotherSurnameLatin     *string   `avro:"mother_surname_latin" json:"mother_surname_latin,omitempty"`
	MotherFirstNamesLatin  *string   `avro:"mother_first_names_latin" json:"mother_first_names_latin,omitempty"`
	MotherSurnameArabic    *string   `avro:"mother_surname_arabic" json:"mother_surname_arabic,omitempty"`
	MotherFirstNamesArabic *string   `avro:"mother_first_names_arabic" json:"mother_first_names_arabic,omitempty"`
	// FatherNIN and MotherNIN (schema v2) link the person to the parents'
	// fiche familiale; nil when unknown and in records written with v1.
	FatherNIN *string `avro:"father_nin" json:"father_nin,omitempty"`
	MotherNIN *string `avro:"mother_nin" json:"mother_nin,omitempty"`
}

// BirthAct is an acte de naissance.
type BirthAct struct {
	ActNumber     int            `avro:"act_number" json:"act_number"`
	ActYear       int            `avro:"act_year" json:"act_year"`
	ActCommune    string         `avro:"act_commune" json:"act_commune"`
	RegisteredOn  time.Time      `avro:"registered_on" json:"registered_on"`
	BirthTime     *time.Duration `avro:"birth_time" json:"birth_time,omitempty"`
	MarginalNotes []string       `avro:"marginal_notes" json:"marginal_notes"`
}

// MarriageAct is an acte de mariage seen from one spouse.
type MarriageAct struct {
	ActNumber             int       `avro:"act_number" json:"act_number"`
	ActYear               int       `avro:"act_year" json:"act_year"`
	ActCommune            string    `avro:"act_commune" json:"act_commune"`
	MarriageDate          time.Time `avro:"marriage_date" json:"marriage_date"`
	SpouseNIN             string    `avro:"spouse_nin" json:"spouse_nin"`
	SpouseSurnameLatin    *string   `avro:"spouse_surname_latin" json:"spouse_surname_latin,omitempty"`
	SpouseFirstNamesLatin *string   `avro:"spouse_first_names_latin" json:"spouse_first_names_latin,omitempty"`
	MarginalNotes         []string  `avro:"marginal_notes" json:"marginal_notes"`
}

// DivorceAct is a divorce transcribed on the marriage act.
type DivorceAct struct {
	SpouseNIN          string    `avro:"spouse_nin" json:"spouse_nin"`
	DivorceDate        time.Time `avro:"divorce_date" json:"divorce_date"`
	Court              *string   `avro:"court" json:"court,omitempty"`
	JudgmentNumber     *string   `avro:"judgment_number" json:"judgment_number,omitempty"`
	MarriageActNumber  *int      `avro:"marriage_act_number" json:"marriage_act_number,omitempty"`
	MarriageActYear    *int      `avro:"marriage_act_year" json:"marriage_act_year,omitempty"`
	MarriageActCommune *string   `avro:"marriage_act_commune" json:"marriage_act_commune,omitempty"`
	MarginalNotes      []string  `avro:"marginal_notes" json:"marginal_notes"`
}

// DeathAct is an acte de décès.
type DeathAct struct {
	ActNumber     int       `avro:"act_number" json:"act_number"`
	ActYear       int       `avro:"act_year" json:"act_year"`
	ActCommune    string    `avro:"act_commune" json:"act_commune"`
	DateOfDeath   time.Time `avro:"date_of_death" json:"date_of_death"`
	PlaceCommune  string    `avro:"place_commune" json:"place_commune"`
	MarginalNotes []string  `avro:"marginal_notes" json:"marginal_notes"`
}

// EmploymentRecord is a value of askonce.employment.v1.
type EmploymentRecord struct {
	Provenance  Provenance        `avro:"provenance" json:"provenance"`
	NIN         string            `avro:"nin" json:"nin"`
	NSS         string            `avro:"nss" json:"nss"`
	Fund        string            `avro:"fund" json:"fund"`
	Kind        string            `avro:"kind" json:"kind"`
	Affiliation *Affiliation      `avro:"affiliation" json:"affiliation,omitempty"`
	Employment  *EmploymentPeriod `avro:"employment" json:"employment,omitempty"`
}

// Affiliation is an affiliation (immatriculation) to a fund.
type Affiliation struct {
	StartDate time.Time  `avro:"start_date" json:"start_date"`
	EndDate   *time.Time `avro:"end_date" json:"end_date,omitempty"`
	Status    string     `avro:"status" json:"status"`
	Regime    *string    `avro:"regime" json:"regime,omitempty"`
}

// EmploymentPeriod is a period of employment declared by an employer.
type EmploymentPeriod struct {
	EmployerID   string     `avro:"employer_id" json:"employer_id"`
	EmployerName string     `avro:"employer_name" json:"employer_name"`
	EmployerNIF  *string    `avro:"employer_nif" json:"employer_nif,omitempty"`
	StartDate    time.Time  `avro:"start_date" json:"start_date"`
	EndDate      *time.Time `avro:"end_date" json:"end_date,omitempty"`
	Status       string     `avro:"status" json:"status"`
	Position     *string    `avro:"position" json:"position,omitempty"`
}

// ContributionRecord is a value of askonce.contribution.v1. Amounts are
// centimes of DZD.
type ContributionRecord struct {
	Provenance Provenance `avro:"provenance" json:"provenance"`
	Subject    string     `avro:"subject" json:"subject"`
	NIN        *string    `avro:"nin" json:"nin,omitempty"`
	NSS        *string    `avro:"nss" json:"nss,omitempty"`
	EmployerID *string    `avro:"employer_id" json:"employer_id,omitempty"`
	Fund       string     `avro:"fund" json:"fund"`
	Period     string     `avro:"period" json:"period"`
	WageBase   int64      `avro:"wage_base" json:"wage_base"`
	AmountDue  int64      `avro:"amount_due" json:"amount_due"`
	AmountPaid int64      `avro:"amount_paid" json:"amount_paid"`
	Status     string     `avro:"status" json:"status"`
	DueDate    *time.Time `avro:"due_date" json:"due_date,omitempty"`
	PaidDate   *time.Time `avro:"paid_date" json:"paid_date,omitempty"`
}

// Key is the Kafka key of a contribution record: the insured's NIN, or the
// employer's id.
func (c *ContributionRecord) Key() string {
	if c.Subject == SubjectInsured && c.NIN != nil {
		return *c.NIN
	}
	if c.EmployerID != nil {
		return *c.EmployerID
	}
	return ""
}
