// Package lookup is the lookup API: the document catalog, the decision
// rules over the lookup store, and the HTTP API that answers with a signed
// document or a clear "not held". Which client may ask which document for
// which purpose is package policy's, checked against this catalog
// (PolicyCatalog). The API owns the attestations table (the documents it
// issued); package wiring builds it and mounts the clerk console beside it.
//
// It sits at the end of the data flow: it reads only the lookup store that
// the materializer writes, takes a document's as_of from the data centers'
// watermarks, appends every request to the audit log before answering, and
// signs what it issues. It never reads the topics or the agencies' sources.
package lookup

import (
	"slices"
	"time"

	"github.com/askonce/askonce/internal/policy"
)

// Field is one field of a document.
type Field struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// DocumentType is one entry of the catalog: the paper it replaces, where
// its data comes from, the rule that decides it, and how long it is valid.
type DocumentType struct {
	Type        string   `json:"type"`
	Paper       string   `json:"paper"`
	Source      string   `json:"source"`
	Agencies    []string `json:"agencies"`
	Rule        string   `json:"decision_rule"`
	ValidMonths int      `json:"valid_months"` // 0: does not expire
	// FreshnessSeconds bounds the age of the store's watermarks an answer
	// may rest on: past it the API answers source_stale instead.
	FreshnessSeconds int     `json:"freshness_bound_seconds"`
	Fields           []Field `json:"fields"`
}

// FreshnessBound is FreshnessSeconds as a duration.
func (d DocumentType) FreshnessBound() time.Duration {
	return time.Duration(d.FreshnessSeconds) * time.Second
}

// Freshness bounds. A life certificate says a person is alive today: a
// death registered anywhere must be able to stop it within minutes. A
// status that moves monthly (contributions) or a negative answer of the
// funds may rest on a quarter of an hour; acts that change rarely (a
// birth act's marginal notes, a marriage) on an hour.
const (
	freshLife   = 5 * 60
	freshStatus = 15 * 60
	freshActs   = 60 * 60
)

// Purpose is a procedure code: why an agency asks. Each purpose sees, of
// each document type it may use, only the fields it needs.
type Purpose struct {
	Code        string              `json:"code"`
	Description string              `json:"description"`
	Fields      map[string][]string `json:"fields"` // document type -> allowed fields ("*": all)
}

// Document types.
const (
	DocBirth            = "birth-certificate"
	DocFamily           = "family-record"
	DocMarriage         = "marriage-certificate"
	DocDeath            = "death-certificate"
	DocLife             = "life-certificate"
	DocAffiliation      = "affiliation-certificate"
	DocNonAffiliation   = "non-affiliation-certificate"
	DocEmployment       = "employment-certificate"
	DocContribStatus    = "contribution-status"
	DocContribStatement = "contributions-statement"
)

var identity = []Field{
	{"nin", "National identification number (NIN), 18 digits"},
	{"surname_latin", "Surname, Latin script"},
	{"surname_arabic", "Surname, Arabic script (authoritative)"},
	{"first_names_latin", "First names, Latin script"},
	{"first_names_arabic", "First names, Arabic script"},
	{"birth_date", "Date of birth (YYYY-MM-DD; 1 January when presumed)"},
}

func with(base []Field, more ...Field) []Field { return append(slices.Clone(base), more...) }

// Catalog is the ten document types of the lookup API.
var Catalog = []DocumentType{
	{
		Type: DocBirth, Paper: "Extrait d'acte de naissance n°12", Source: "civil-status", Agencies: []string{"etatcivil"},
		Rule: "a birth act of the person is held", ValidMonths: 120, FreshnessSeconds: freshActs,
		Fields: with(identity,
			Field{"birth_date_presumed", "The birth date is presumed (year known only)"},
			Field{"birth_time", "Hour of birth (HH:MM), when recorded"},
			Field{"sex", "Sex: M or F"},
			Field{"birth_commune", "Commune of birth (WWCC)"},
			Field{"birth_wilaya", "Wilaya of birth at registration"},
			Field{"father_first_name", "Father's first name (Latin and Arabic)"},
			Field{"mother_name", "Mother's surname and first names (Latin and Arabic)"},
			Field{"marital_surname_latin", "Marital surname, when recorded"},
			Field{"act", "Birth act: number, register year, commune, registration date"},
			Field{"marginal_notes", "Marginal notes (mentions of marriage, divorce, death)"},
		),
	},
	{
		Type: DocFamily, Paper: "Fiche familiale d'état civil", Source: "civil-status", Agencies: []string{"etatcivil"},
		Rule: "a birth act of the person and at least one marriage act are held", ValidMonths: 12, FreshnessSeconds: freshActs,
		Fields: with(identity,
			Field{"spouses", "Spouses: NIN, names, marriage date and act, current or former"},
			Field{"children", "Children whose birth act names the person as father or mother: NIN, surname (Latin), first names (Latin and Arabic), sex, birth date; by birth date"},
		),
	},
	{
		Type: DocMarriage, Paper: "Acte de mariage", Source: "civil-status", Agencies: []string{"etatcivil"},
		Rule: "a marriage act of the person is held", ValidMonths: 12, FreshnessSeconds: freshActs,
		Fields: with(identity[:5],
			Field{"marriages", "Marriage acts: number, year, commune, date, spouse, dissolved by divorce"},
		),
	},
	{
		Type: DocDeath, Paper: "Acte de décès", Source: "civil-status", Agencies: []string{"etatcivil"},
		Rule: "a death act of the person is held", ValidMonths: 0, FreshnessSeconds: freshStatus,
		Fields: with(identity,
			Field{"date_of_death", "Date of death"},
			Field{"place_commune", "Commune of death"},
			Field{"act", "Death act: number, register year, commune"},
		),
	},
	{
		Type: DocLife, Paper: "Certificat de vie (pensions CNR)", Source: "civil-status", Agencies: []string{"etatcivil"},
		Rule: "a birth act is held and no death act, as of now, every civil-status data center fresh", ValidMonths: 12, FreshnessSeconds: freshLife,
		Fields: with(identity,
			Field{"alive", "Alive as of the document's as_of time"},
		),
	},
	{
		Type: DocAffiliation, Paper: "Attestation d'affiliation (CNAS/CASNOS)", Source: "employment", Agencies: []string{"cnas", "casnos", "cacobatph"},
		Rule: "an affiliation of the person at a fund is held", ValidMonths: 3, FreshnessSeconds: freshStatus,
		Fields: []Field{
			{"nin", "National identification number (NIN)"},
			{"affiliations", "Affiliations: fund, NSS, start and end dates, status, regime"},
		},
	},
	{
		Type: DocNonAffiliation, Paper: "Attestation de non-affiliation", Source: "employment", Agencies: []string{"cnas", "casnos", "cacobatph"},
		Rule: "no active affiliation at any fund, every fund data center fresh", ValidMonths: 3, FreshnessSeconds: freshStatus,
		Fields: []Field{
			{"nin", "National identification number (NIN)"},
			{"funds_checked", "Funds whose records were checked"},
			{"past_affiliations", "Closed affiliations: fund, start and end dates"},
		},
	},
	{
		Type: DocEmployment, Paper: "Attestation de travail / relevé des emplois", Source: "employment", Agencies: []string{"cnas", "casnos", "cacobatph"},
		Rule: "employment periods of the person are held", ValidMonths: 3, FreshnessSeconds: freshActs,
		Fields: []Field{
			{"nin", "National identification number (NIN)"},
			{"nss", "Social security numbers (NSS)"},
			{"periods", "Employment periods: employer, start and end dates, status, position"},
		},
	},
	{
		Type: DocContribStatus, Paper: "Attestation de mise à jour des cotisations", Source: "contribution", Agencies: []string{"cnas", "casnos", "cacobatph"},
		Rule: "contribution periods are held and none before the last due month is unpaid", ValidMonths: 3, FreshnessSeconds: freshStatus,
		Fields: []Field{
			{"nin", "National identification number (NIN)"},
			{"up_to_date", "No unpaid period before the last due month"},
			{"last_period", "Most recent period held (YYYY-MM)"},
			{"periods_checked", "Number of periods checked"},
			{"funds", "Funds the periods were declared to"},
		},
	},
	{
		Type: DocContribStatement, Paper: "Relevé des salaires et cotisations", Source: "contribution", Agencies: []string{"cnas", "casnos", "cacobatph"},
		Rule: "contribution periods of the person are held", ValidMonths: 3, FreshnessSeconds: freshActs,
		Fields: []Field{
			{"nin", "National identification number (NIN)"},
			{"periods", "Periods: month, fund, employer, wage base, amounts due and paid (centimes of DZD), status"},
			{"totals", "Totals of wages, amounts due and paid"},
		},
	},
}

var all = []string{"*"}

// Purposes are the procedure codes clients may invoke.
var Purposes = []Purpose{
	{Code: "pension-life-proof", Description: "CNR: yearly proof of life of a pensioner",
		Fields: map[string][]string{
			DocLife:  {"nin", "surname_latin", "surname_arabic", "first_names_latin", "first_names_arabic", "birth_date", "alive"},
			DocDeath: {"nin", "surname_latin", "first_names_latin", "date_of_death"},
		}},
	{Code: "pension-award", Description: "CNR: award of a retirement or survivor's pension",
		Fields: map[string][]string{DocBirth: all, DocFamily: all, DocMarriage: all, DocDeath: all, DocLife: all,
			DocEmployment: all, DocContribStatement: all, DocAffiliation: all}},
	{Code: "insured-registration", Description: "CNAS/CASNOS: registration (immatriculation) of an insured person and dependants",
		Fields: map[string][]string{
			DocBirth:          {"nin", "surname_latin", "surname_arabic", "first_names_latin", "first_names_arabic", "birth_date", "birth_date_presumed", "sex", "birth_commune", "father_first_name", "mother_name"},
			DocFamily:         all,
			DocAffiliation:    all,
			DocNonAffiliation: all,
		}},
	{Code: "benefit-eligibility", Description: "CNAS: eligibility to sickness, maternity and work-injury benefits",
		Fields: map[string][]string{DocAffiliation: all, DocContribStatus: all, DocContribStatement: all, DocEmployment: all}},
	{Code: "unemployment-registration", Description: "ANEM/CNAC: registration of a job seeker, unemployment insurance",
		Fields: map[string][]string{
			DocBirth:          {"nin", "surname_latin", "surname_arabic", "first_names_latin", "first_names_arabic", "birth_date", "sex"},
			DocNonAffiliation: all,
			DocEmployment:     all,
		}},
	{Code: "civil-status-issuance", Description: "APC: issuing a civil-status extract at the citizen's request",
		Fields: map[string][]string{DocBirth: all, DocFamily: all, DocMarriage: all, DocDeath: all, DocLife: all}},
	{Code: "citizen-access-log", Description: "Citizen portal: the citizen reads who looked at their data",
		Fields: map[string][]string{}},
	// Notification purposes: a portfolio entry (PUT /v1/portfolios/...) is
	// held under one of them, and each allows some kinds of change
	// (portfolio.PurposeKinds). Their documents are the ones whose facts
	// the notifications carry, reduced to those facts.
	{Code: "pension-death-watch", Description: "CNR: be told of the death, marriage or divorce of a pensioner or survivor (no yearly life certificate)",
		Fields: map[string][]string{
			DocDeath:    {"nin", "surname_latin", "first_names_latin", "date_of_death"},
			DocMarriage: {"nin", "marriages"},
		}},
	{Code: "insured-events", Description: "CNAS/CASNOS: be told of the life events, employment and contribution arrears of insured persons",
		Fields: map[string][]string{
			DocDeath:         {"nin", "surname_latin", "first_names_latin", "date_of_death"},
			DocFamily:        all,
			DocEmployment:    all,
			DocContribStatus: all,
		}},
	{Code: "unemployment-events", Description: "ANEM/CNAC: be told when a job seeker starts or ends employment, or dies",
		Fields: map[string][]string{
			DocDeath:      {"nin", "surname_latin", "first_names_latin", "date_of_death"},
			DocEmployment: all,
		}},
}

// DocumentByType finds a catalog entry.
func DocumentByType(t string) (DocumentType, bool) {
	for _, d := range Catalog {
		if d.Type == t {
			return d, true
		}
	}
	return DocumentType{}, false
}

// PurposeByCode finds a purpose.
func PurposeByCode(c string) (Purpose, bool) {
	for _, p := range Purposes {
		if p.Code == c {
			return p, true
		}
	}
	return Purpose{}, false
}

// validUntil is the end of validity of a document issued at t, nil when it
// does not expire.
func (d DocumentType) validUntil(t time.Time) *time.Time {
	if d.ValidMonths == 0 {
		return nil
	}
	v := t.AddDate(0, d.ValidMonths, 0)
	return &v
}

// PolicyCatalog is the catalog as policy.Load checks a policy's grants
// against it.
var PolicyCatalog policy.Catalog = policyCatalog{}

type policyCatalog struct{}

func (policyCatalog) IsPurpose(code string) bool {
	_, ok := PurposeByCode(code)
	return ok
}

func (policyCatalog) IsDocument(docType string) bool {
	_, ok := DocumentByType(docType)
	return ok
}

func (policyCatalog) Covers(purpose, docType string) bool {
	p, ok := PurposeByCode(purpose)
	if !ok {
		return false
	}
	_, ok = p.Fields[docType]
	return ok
}
