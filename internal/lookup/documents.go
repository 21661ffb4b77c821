package lookup

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Reasons of a not_held answer.
const (
	ReasonNoRecord     = "no_record"         // no record of the person at the agency that holds such papers
	ReasonSourceStale  = "source_stale"      // the data center that would hold it has not been heard from in time
	ReasonConditionNot = "condition_not_met" // records are held, but they do not support this document
)

// SourceRef is the provenance of one source record a document uses.
type SourceRef struct {
	Agency        string    `json:"agency"`
	DataCenter    string    `json:"data_center"`
	SourceKey     string    `json:"source_key"`
	SourceVersion int64     `json:"source_version"`
	EventTime     time.Time `json:"event_time"`
}

// decision is what a rule found in the store.
type decision struct {
	issued  bool
	reason  string // when not issued
	detail  msg    // why not issued
	fields  map[string]any
	sources []SourceRef
	// Freshness that matters: the data centers of the records used, and,
	// for a rule that relies on the absence of a record, every data center
	// of these agencies.
	dcs      []string
	agencies []string
	staleDCs []string
	// fresh is what the watermarks say of the answer (checkFresh).
	fresh Fresh
}

func notHeld(reason string, detail msg, agencies ...string) decision {
	return decision{reason: reason, detail: detail, agencies: agencies}
}

// Store reads the lookup store.
type Store struct{ pool *pgxpool.Pool }

// NewStore reads pool (the store the materializer writes).
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

const prov = "agency, data_center, source_key, version, event_time"

func scanRef(ref *SourceRef) []any {
	return []any{&ref.Agency, &ref.DataCenter, &ref.SourceKey, &ref.SourceVersion, &ref.EventTime}
}

func day(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.Format(time.DateOnly)
}

// orUnknown is *s, "?" when nil (in a sentence).
func orUnknown(s *string) string {
	if s == nil {
		return "?"
	}
	return *s
}

// affiliationStatus is a status in a sentence: in the caller's language
// when the table has it, else as the fund wrote it.
func affiliationStatus(s string) any {
	switch s {
	case "ACTIVE":
		return tr("affiliation.ACTIVE")
	case "SUSPENDED":
		return tr("affiliation.SUSPENDED")
	}
	return s
}

func str(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

type person struct {
	ref                                                     SourceRef
	surnameLatin, surnameArabic, firstLatin, firstArabic    *string
	maritalLatin, sex, commune, wilaya                      *string
	fatherLatin, fatherArabic                               *string
	motherSurLatin, motherFirstLatin, motherSurAr, motherFA *string
	birthDate, registeredOn                                 *time.Time
	presumed                                                *bool
	actNumber, actYear                                      *int32
	actCommune                                              *string
	birthTime                                               *time.Duration
	notes                                                   []string
}

func (s *Store) person(ctx context.Context, nin string) (*person, error) {
	var p person
	var bt pgtypeInterval
	err := s.pool.QueryRow(ctx, `SELECT `+prov+`, surname_latin, surname_arabic, first_names_latin, first_names_arabic,
  marital_surname_latin, sex, birth_commune, birth_wilaya, father_first_name_latin, father_first_name_arabic,
  mother_surname_latin, mother_first_names_latin, mother_surname_arabic, mother_first_names_arabic,
  birth_date, registered_on, birth_date_presumed, act_number, act_year, act_commune, birth_time, marginal_notes
FROM persons WHERE nin = $1 AND NOT deleted ORDER BY version DESC, event_time DESC LIMIT 1`, nin).Scan(append(scanRef(&p.ref),
		&p.surnameLatin, &p.surnameArabic, &p.firstLatin, &p.firstArabic, &p.maritalLatin, &p.sex, &p.commune, &p.wilaya,
		&p.fatherLatin, &p.fatherArabic, &p.motherSurLatin, &p.motherFirstLatin, &p.motherSurAr, &p.motherFA,
		&p.birthDate, &p.registeredOn, &p.presumed, &p.actNumber, &p.actYear, &p.actCommune, &bt, &p.notes)...)
	if err == pgx.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: person: %w", err)
	}
	p.birthTime = bt.d
	return &p, nil
}

// identityFields are the identity part of civil-status documents.
func (p *person) identity(nin string) map[string]any {
	return map[string]any{
		"nin": nin, "surname_latin": str(p.surnameLatin), "surname_arabic": str(p.surnameArabic),
		"first_names_latin": str(p.firstLatin), "first_names_arabic": str(p.firstArabic), "birth_date": day(p.birthDate),
	}
}

type death struct {
	ref               SourceRef
	date              *time.Time
	place, actCommune *string
	number, year      *int32
}

func (s *Store) death(ctx context.Context, nin string) (*death, error) {
	var d death
	err := s.pool.QueryRow(ctx, `SELECT `+prov+`, date_of_death, place_commune, act_number, act_year, act_commune
FROM deaths WHERE nin = $1 AND NOT deleted ORDER BY date_of_death DESC NULLS LAST LIMIT 1`, nin).Scan(append(scanRef(&d.ref),
		&d.date, &d.place, &d.number, &d.year, &d.actCommune)...)
	if err == pgx.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: death: %w", err)
	}
	return &d, nil
}

// decide applies the rule of document type doc to the store, as of now.
func (s *Store) decide(ctx context.Context, doc, nin string, now time.Time) (decision, error) {
	switch doc {
	case DocBirth:
		return s.birth(ctx, nin)
	case DocFamily:
		return s.family(ctx, nin)
	case DocMarriage:
		return s.marriage(ctx, nin)
	case DocDeath:
		return s.deathCert(ctx, nin)
	case DocLife:
		return s.life(ctx, nin)
	case DocAffiliation:
		return s.affiliation(ctx, nin)
	case DocNonAffiliation:
		return s.nonAffiliation(ctx, nin)
	case DocEmployment:
		return s.employment(ctx, nin)
	case DocContribStatus:
		return s.contribStatus(ctx, nin, now)
	case DocContribStatement:
		return s.contribStatement(ctx, nin)
	}
	return decision{}, fmt.Errorf("no rule for %s", doc)
}

func (s *Store) birth(ctx context.Context, nin string) (decision, error) {
	p, err := s.person(ctx, nin)
	if err != nil || p == nil {
		return notHeld(ReasonNoRecord, tr("notheld.no_birth_act"), "etatcivil"), err
	}
	f := p.identity(nin)
	f["birth_date_presumed"] = p.presumed != nil && *p.presumed
	if p.birthTime != nil {
		f["birth_time"] = fmt.Sprintf("%02d:%02d", int(p.birthTime.Hours()), int(p.birthTime.Minutes())%60)
	} else {
		f["birth_time"] = nil
	}
	f["sex"] = str(p.sex)
	f["birth_commune"] = str(p.commune)
	f["birth_wilaya"] = str(p.wilaya)
	f["father_first_name"] = map[string]any{"latin": str(p.fatherLatin), "arabic": str(p.fatherArabic)}
	f["mother_name"] = map[string]any{"surname_latin": str(p.motherSurLatin), "first_names_latin": str(p.motherFirstLatin),
		"surname_arabic": str(p.motherSurAr), "first_names_arabic": str(p.motherFA)}
	f["marital_surname_latin"] = str(p.maritalLatin)
	f["act"] = map[string]any{"number": p.actNumber, "year": p.actYear, "commune": str(p.actCommune), "registered_on": day(p.registeredOn)}
	notes := p.notes
	if notes == nil {
		notes = []string{}
	}
	f["marginal_notes"] = notes
	return decision{issued: true, fields: f, sources: []SourceRef{p.ref}, dcs: []string{p.ref.DataCenter}}, nil
}

type marriage struct {
	ref                SourceRef
	number, year       *int32
	commune            *string
	date               *time.Time
	spouse             *string
	spouseSur, spouseF *string
	divorced           bool
}

func (s *Store) marriages(ctx context.Context, nin string) ([]marriage, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+prov+`, act_number, act_year, act_commune, marriage_date, spouse_nin,
  spouse_surname_latin, spouse_first_names_latin,
  EXISTS (SELECT 1 FROM divorces d WHERE NOT d.deleted AND d.nin = m.nin AND d.spouse_nin = m.spouse_nin AND d.divorce_date >= m.marriage_date)
FROM marriages m WHERE nin = $1 AND NOT deleted ORDER BY marriage_date, source_key`, nin)
	if err != nil {
		return nil, fmt.Errorf("store: marriages: %w", err)
	}
	defer rows.Close()
	var out []marriage
	for rows.Next() {
		var m marriage
		if err := rows.Scan(append(scanRef(&m.ref), &m.number, &m.year, &m.commune, &m.date, &m.spouse, &m.spouseSur, &m.spouseF, &m.divorced)...); err != nil {
			return nil, fmt.Errorf("store: marriages: %w", err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

func refsOf[T any](xs []T, ref func(T) SourceRef) ([]SourceRef, []string) {
	var refs []SourceRef
	var dcs []string
	for _, x := range xs {
		r := ref(x)
		refs = append(refs, r)
		if !slices.Contains(dcs, r.DataCenter) {
			dcs = append(dcs, r.DataCenter)
		}
	}
	return refs, dcs
}

type child struct {
	ref                                    SourceRef
	nin                                    string
	surnameLatin, firstLatin, firstAr, sex *string
	birthDate                              *time.Time
}

// children are the persons whose birth act names nin as father or mother
// (civil-status v2: father_nin, mother_nin), by birth date. Each child is
// judged on its current record, as person() reads it: the link must hold
// on the latest non-deleted version.
func (s *Store) children(ctx context.Context, nin string) ([]child, error) {
	rows, err := s.pool.Query(ctx, `WITH linked AS (
  SELECT nin FROM persons WHERE NOT deleted AND father_nin = $1
  UNION
  SELECT nin FROM persons WHERE NOT deleted AND mother_nin = $1)
SELECT c.agency, c.data_center, c.source_key, c.version, c.event_time, c.nin, c.surname_latin, c.first_names_latin,
  c.first_names_arabic, c.sex, c.birth_date
FROM linked l CROSS JOIN LATERAL (
  SELECT * FROM persons p WHERE p.nin = l.nin AND NOT p.deleted ORDER BY p.version DESC, p.event_time DESC LIMIT 1) c
WHERE (c.father_nin = $1 OR c.mother_nin = $1) AND c.nin <> $1
ORDER BY c.birth_date NULLS LAST, c.nin`, nin)
	if err != nil {
		return nil, fmt.Errorf("store: children: %w", err)
	}
	defer rows.Close()
	var out []child
	for rows.Next() {
		var c child
		if err := rows.Scan(append(scanRef(&c.ref), &c.nin, &c.surnameLatin, &c.firstLatin, &c.firstAr, &c.sex, &c.birthDate)...); err != nil {
			return nil, fmt.Errorf("store: children: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

func (s *Store) family(ctx context.Context, nin string) (decision, error) {
	p, err := s.person(ctx, nin)
	if err != nil || p == nil {
		return notHeld(ReasonNoRecord, tr("notheld.no_birth_act"), "etatcivil"), err
	}
	ms, err := s.marriages(ctx, nin)
	if err != nil {
		return decision{}, err
	}
	if len(ms) == 0 {
		// No marriage held: the fiche familiale cannot be drawn up from
		// what the registry holds. Absence relies on every data center.
		return notHeld(ReasonNoRecord, tr("notheld.no_marriage_act"), "etatcivil"), nil
	}
	f := p.identity(nin)
	spouses := []any{}
	for _, m := range ms {
		status := "current"
		if m.divorced {
			status = "former"
		}
		spouses = append(spouses, map[string]any{"nin": str(m.spouse), "surname_latin": str(m.spouseSur), "first_names_latin": str(m.spouseF),
			"marriage_date": day(m.date), "act": map[string]any{"number": m.number, "year": m.year, "commune": str(m.commune)}, "status": status})
	}
	f["spouses"] = spouses
	cs, err := s.children(ctx, nin)
	if err != nil {
		return decision{}, err
	}
	children := []any{}
	for _, c := range cs {
		children = append(children, map[string]any{"nin": c.nin, "surname_latin": str(c.surnameLatin), "first_names_latin": str(c.firstLatin),
			"first_names_arabic": str(c.firstAr), "sex": str(c.sex), "birth_date": day(c.birthDate)})
	}
	f["children"] = children
	refs, dcs := refsOf(ms, func(m marriage) SourceRef { return m.ref })
	crefs, cdcs := refsOf(cs, func(c child) SourceRef { return c.ref })
	refs = append(append([]SourceRef{p.ref}, refs...), crefs...)
	dcs = append(dcs, p.ref.DataCenter)
	for _, dc := range cdcs {
		if !slices.Contains(dcs, dc) {
			dcs = append(dcs, dc)
		}
	}
	return decision{issued: true, fields: f, sources: refs, dcs: dcs}, nil
}

func (s *Store) marriage(ctx context.Context, nin string) (decision, error) {
	ms, err := s.marriages(ctx, nin)
	if err != nil {
		return decision{}, err
	}
	if len(ms) == 0 {
		return notHeld(ReasonNoRecord, tr("notheld.no_marriage_act"), "etatcivil"), nil
	}
	f := map[string]any{"nin": nin}
	p, err := s.person(ctx, nin)
	if err != nil {
		return decision{}, err
	}
	var refs []SourceRef
	if p != nil {
		for k, v := range p.identity(nin) {
			if k != "birth_date" {
				f[k] = v
			}
		}
		refs = append(refs, p.ref)
	}
	list := []any{}
	for _, m := range ms {
		list = append(list, map[string]any{"number": m.number, "year": m.year, "commune": str(m.commune), "marriage_date": day(m.date),
			"spouse_nin": str(m.spouse), "spouse_surname_latin": str(m.spouseSur), "spouse_first_names_latin": str(m.spouseF), "dissolved_by_divorce": m.divorced})
	}
	f["marriages"] = list
	mrefs, dcs := refsOf(ms, func(m marriage) SourceRef { return m.ref })
	return decision{issued: true, fields: f, sources: append(refs, mrefs...), dcs: dcs}, nil
}

func (s *Store) deathCert(ctx context.Context, nin string) (decision, error) {
	d, err := s.death(ctx, nin)
	if err != nil || d == nil {
		return notHeld(ReasonNoRecord, tr("notheld.no_death_act"), "etatcivil"), err
	}
	f := map[string]any{"nin": nin, "date_of_death": day(d.date), "place_commune": str(d.place),
		"act": map[string]any{"number": d.number, "year": d.year, "commune": str(d.actCommune)}}
	refs := []SourceRef{d.ref}
	if p, err := s.person(ctx, nin); err != nil {
		return decision{}, err
	} else if p != nil {
		for k, v := range p.identity(nin) {
			f[k] = v
		}
		refs = append(refs, p.ref)
	} else {
		for _, k := range []string{"surname_latin", "surname_arabic", "first_names_latin", "first_names_arabic", "birth_date"} {
			f[k] = nil
		}
	}
	return decision{issued: true, fields: f, sources: refs, dcs: []string{d.ref.DataCenter}}, nil
}

func (s *Store) life(ctx context.Context, nin string) (decision, error) {
	// One round trip: the birth act's identity and the latest death act.
	var p person
	var dAgency, dDC, dKey *string
	var dVersion *int64
	var dEvent, dDate *time.Time
	err := s.pool.QueryRow(ctx, `SELECT p.agency, p.data_center, p.source_key, p.version, p.event_time,
  p.surname_latin, p.surname_arabic, p.first_names_latin, p.first_names_arabic, p.birth_date,
  d.agency, d.data_center, d.source_key, d.version, d.event_time, d.date_of_death
FROM persons p
LEFT JOIN LATERAL (SELECT agency, data_center, source_key, version, event_time, date_of_death
  FROM deaths WHERE nin = p.nin AND NOT deleted ORDER BY date_of_death DESC NULLS LAST LIMIT 1) d ON true
WHERE p.nin = $1 AND NOT p.deleted ORDER BY p.version DESC, p.event_time DESC LIMIT 1`, nin).Scan(append(scanRef(&p.ref),
		&p.surnameLatin, &p.surnameArabic, &p.firstLatin, &p.firstArabic, &p.birthDate,
		&dAgency, &dDC, &dKey, &dVersion, &dEvent, &dDate)...)
	if err == pgx.ErrNoRows {
		return notHeld(ReasonNoRecord, tr("notheld.no_birth_act"), "etatcivil"), nil
	}
	if err != nil {
		return decision{}, fmt.Errorf("store: life: %w", err)
	}
	if dKey != nil {
		ref := SourceRef{Agency: *dAgency, DataCenter: *dDC, SourceKey: *dKey, SourceVersion: *dVersion, EventTime: *dEvent}
		detail := tr("notheld.death_act_held_undated")
		if dDate != nil {
			detail = tr("notheld.death_act_held", "date", dDate.Format(time.DateOnly))
		}
		return decision{reason: ReasonConditionNot, detail: detail,
			sources: []SourceRef{ref}, dcs: []string{ref.DataCenter}}, nil
	}
	f := p.identity(nin)
	f["alive"] = true
	// Alive is a statement about the absence of a death act anywhere:
	// every civil-status data center must be fresh.
	return decision{issued: true, fields: f, sources: []SourceRef{p.ref}, dcs: []string{p.ref.DataCenter}, agencies: []string{"etatcivil"}}, nil
}

type affiliation struct {
	ref                    SourceRef
	nss, fund, status, reg *string
	start, end             *time.Time
}

func (s *Store) affiliations(ctx context.Context, nin string) ([]affiliation, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+prov+`, nss, fund, status, regime, start_date, end_date
FROM affiliations WHERE nin = $1 AND NOT deleted ORDER BY start_date, source_key`, nin)
	if err != nil {
		return nil, fmt.Errorf("store: affiliations: %w", err)
	}
	defer rows.Close()
	var out []affiliation
	for rows.Next() {
		var a affiliation
		if err := rows.Scan(append(scanRef(&a.ref), &a.nss, &a.fund, &a.status, &a.reg, &a.start, &a.end)...); err != nil {
			return nil, fmt.Errorf("store: affiliations: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

var fundAgencies = []string{"cnas", "casnos", "cacobatph"}

func (s *Store) affiliation(ctx context.Context, nin string) (decision, error) {
	as, err := s.affiliations(ctx, nin)
	if err != nil {
		return decision{}, err
	}
	if len(as) == 0 {
		return notHeld(ReasonNoRecord, tr("notheld.no_affiliation"), fundAgencies...), nil
	}
	list := []any{}
	for _, a := range as {
		list = append(list, map[string]any{"fund": str(a.fund), "nss": str(a.nss), "start_date": day(a.start), "end_date": day(a.end),
			"status": str(a.status), "regime": str(a.reg)})
	}
	refs, dcs := refsOf(as, func(a affiliation) SourceRef { return a.ref })
	return decision{issued: true, fields: map[string]any{"nin": nin, "affiliations": list}, sources: refs, dcs: dcs}, nil
}

func (s *Store) nonAffiliation(ctx context.Context, nin string) (decision, error) {
	as, err := s.affiliations(ctx, nin)
	if err != nil {
		return decision{}, err
	}
	past := []any{}
	for _, a := range as {
		if a.status != nil && *a.status != "CLOSED" {
			return decision{reason: ReasonConditionNot, detail: tr("notheld.affiliation_open", "fund", orUnknown(a.fund), "status", affiliationStatus(*a.status)),
				sources: []SourceRef{a.ref}, dcs: []string{a.ref.DataCenter}}, nil
		}
		past = append(past, map[string]any{"fund": str(a.fund), "start_date": day(a.start), "end_date": day(a.end)})
	}
	refs, dcs := refsOf(as, func(a affiliation) SourceRef { return a.ref })
	if refs == nil {
		refs = []SourceRef{}
	}
	return decision{issued: true, fields: map[string]any{"nin": nin, "funds_checked": []any{"CNAS", "CASNOS", "CACOBATPH"}, "past_affiliations": past},
		sources: refs, dcs: dcs, agencies: fundAgencies}, nil
}

type period struct {
	ref                       SourceRef
	nss, fund, employer, name *string
	nif, status, position     *string
	start, end                *time.Time
}

func (s *Store) employment(ctx context.Context, nin string) (decision, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+prov+`, nss, fund, employer_id, employer_name, employer_nif, status, position, start_date, end_date
FROM employment_periods WHERE nin = $1 AND NOT deleted ORDER BY start_date, source_key`, nin)
	if err != nil {
		return decision{}, fmt.Errorf("store: employment: %w", err)
	}
	var ps []period
	for rows.Next() {
		var p period
		if err := rows.Scan(append(scanRef(&p.ref), &p.nss, &p.fund, &p.employer, &p.name, &p.nif, &p.status, &p.position, &p.start, &p.end)...); err != nil {
			rows.Close()
			return decision{}, fmt.Errorf("store: employment: %w", err)
		}
		ps = append(ps, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return decision{}, fmt.Errorf("store: employment: %w", err)
	}
	if len(ps) == 0 {
		return notHeld(ReasonNoRecord, tr("notheld.no_employment"), fundAgencies...), nil
	}
	list := []any{}
	nss := []any{}
	for _, p := range ps {
		list = append(list, map[string]any{"employer_id": str(p.employer), "employer_name": str(p.name), "employer_nif": str(p.nif),
			"fund": str(p.fund), "start_date": day(p.start), "end_date": day(p.end), "status": str(p.status), "position": str(p.position)})
		if p.nss != nil && !slices.Contains(nss, any(*p.nss)) {
			nss = append(nss, *p.nss)
		}
	}
	refs, dcs := refsOf(ps, func(p period) SourceRef { return p.ref })
	return decision{issued: true, fields: map[string]any{"nin": nin, "nss": nss, "periods": list}, sources: refs, dcs: dcs}, nil
}

type contribution struct {
	ref                        SourceRef
	fund, employer, period, st *string
	wage, due, paid            *int64
}

func (s *Store) contributions(ctx context.Context, nin string) ([]contribution, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+prov+`, fund, employer_id, period, status, wage_base, amount_due, amount_paid
FROM contributions WHERE nin = $1 AND NOT deleted ORDER BY period, source_key`, nin)
	if err != nil {
		return nil, fmt.Errorf("store: contributions: %w", err)
	}
	defer rows.Close()
	var out []contribution
	for rows.Next() {
		var c contribution
		if err := rows.Scan(append(scanRef(&c.ref), &c.fund, &c.employer, &c.period, &c.st, &c.wage, &c.due, &c.paid)...); err != nil {
			return nil, fmt.Errorf("store: contributions: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// lastDuePeriod is the last month whose contributions are due by now: the
// month before the current one (contributions of a month are due within
// the following month).
func lastDuePeriod(now time.Time) string {
	y, m, _ := now.Date()
	return time.Date(y, m-1, 1, 0, 0, 0, 0, time.UTC).Format("2006-01")
}

func (s *Store) contribStatus(ctx context.Context, nin string, now time.Time) (decision, error) {
	cs, err := s.contributions(ctx, nin)
	if err != nil {
		return decision{}, err
	}
	if len(cs) == 0 {
		return notHeld(ReasonNoRecord, tr("notheld.no_contribution"), fundAgencies...), nil
	}
	due := lastDuePeriod(now)
	unpaid := 0
	funds := []any{}
	for _, c := range cs {
		if c.period != nil && *c.period < due && c.st != nil && (*c.st == "UNPAID" || *c.st == "PARTIAL") {
			unpaid++
		}
		if c.fund != nil && !slices.Contains(funds, any(*c.fund)) {
			funds = append(funds, *c.fund)
		}
	}
	refs, dcs := refsOf(cs, func(c contribution) SourceRef { return c.ref })
	if unpaid > 0 {
		return decision{reason: ReasonConditionNot, detail: tr("notheld.unpaid", "count", unpaid, "period", due),
			sources: refs, dcs: dcs}, nil
	}
	return decision{issued: true, fields: map[string]any{"nin": nin, "up_to_date": true, "last_period": str(cs[len(cs)-1].period),
		"periods_checked": len(cs), "funds": funds}, sources: refs, dcs: dcs}, nil
}

func (s *Store) contribStatement(ctx context.Context, nin string) (decision, error) {
	cs, err := s.contributions(ctx, nin)
	if err != nil {
		return decision{}, err
	}
	if len(cs) == 0 {
		return notHeld(ReasonNoRecord, tr("notheld.no_contribution"), fundAgencies...), nil
	}
	list := []any{}
	var wage, due, paid int64
	for _, c := range cs {
		list = append(list, map[string]any{"period": str(c.period), "fund": str(c.fund), "employer_id": str(c.employer),
			"wage_base": c.wage, "amount_due": c.due, "amount_paid": c.paid, "status": str(c.st)})
		if c.wage != nil {
			wage += *c.wage
		}
		if c.due != nil {
			due += *c.due
		}
		if c.paid != nil {
			paid += *c.paid
		}
	}
	refs, dcs := refsOf(cs, func(c contribution) SourceRef { return c.ref })
	return decision{issued: true, fields: map[string]any{"nin": nin, "periods": list,
		"totals": map[string]any{"wage_base": wage, "amount_due": due, "amount_paid": paid}}, sources: refs, dcs: dcs}, nil
}
