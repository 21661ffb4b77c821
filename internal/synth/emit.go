package synth

import (
	"fmt"
	"strconv"
	"strings"
)

// Tables of the synthetic agencies (sql/agency.sql).
type table uint8

const (
	tBirths table = iota
	tMarriages
	tDivorces
	tDeaths
	tAffiliations
	tEmployment
	tContributions
	numTables
)

// TableNames are the agency tables, and EntityNames the outbox entity each
// one publishes (askonce_capture's first argument), in the same order.
var (
	TableNames  = [numTables]string{"births", "marriages", "divorces", "deaths", "affiliations", "employment_periods", "contributions"}
	EntityNames = [numTables]string{"birth", "marriage", "divorce", "death", "affiliation", "employment", "contribution"}
)

// agencyTables are the tables an agency fills (every schema has all seven).
func agencyTables(agency string) []table {
	if agency == AgencyEtatCivil {
		return []table{tBirths, tMarriages, tDivorces, tDeaths}
	}
	return []table{tAffiliations, tEmployment, tContributions}
}

// columns written by the loader, in COPY order (version keeps its default).
var tableColumns = [numTables][]string{
	tBirths: {"id", "nin", "surname_latin", "surname_arabic", "first_names_latin", "first_names_arabic",
		"marital_surname_latin", "sex", "birth_date", "birth_date_presumed", "birth_commune", "birth_wilaya",
		"father_first_name_latin", "father_first_name_arabic", "mother_surname_latin", "mother_first_names_latin",
		"mother_surname_arabic", "mother_first_names_arabic", "act_number", "act_year", "act_commune",
		"registered_on", "birth_time", "marginal_notes", "father_nin", "mother_nin"},
	tMarriages: {"id", "nin", "act_number", "act_year", "act_commune", "marriage_date", "spouse_nin",
		"spouse_surname_latin", "spouse_first_names_latin", "marginal_notes"},
	tDivorces: {"id", "nin", "spouse_nin", "divorce_date", "court", "judgment_number", "marriage_act_number",
		"marriage_act_year", "marriage_act_commune", "marginal_notes"},
	tDeaths:        {"id", "nin", "act_number", "act_year", "act_commune", "date_of_death", "place_commune", "marginal_notes"},
	tAffiliations:  {"id", "nin", "nss", "fund", "start_date", "end_date", "status", "regime"},
	tEmployment:    {"id", "nin", "nss", "fund", "employer_id", "employer_name", "employer_nif", "start_date", "end_date", "status", "position"},
	tContributions: {"id", "subject", "nin", "nss", "employer_id", "fund", "period", "wage_base", "amount_due", "amount_paid", "status", "due_date", "paid_date"},
}

// Column positions used by defects, live changes and tests.
const (
	bNIN, bSurname, bBirthDate = 1, 2, 8
	bFirstNames, bSex          = 4, 7
	bFatherFirst, bMotherSur   = 12, 14
	bFatherNIN, bMotherNIN     = 24, 25
	mNIN, mActCommune, mDate   = 1, 4, 5
	mSpouseNIN                 = 6
	dvNIN, dvSpouseNIN, dvDate = 1, 2, 3
	dNIN, dDate, dPlace        = 1, 5, 6
	aNIN, aNSS, aStart         = 1, 2, 4
	aEnd, aStatus              = 5, 6
	eNIN, eName, eStart        = 1, 5, 7
	eEnd, eStatus              = 8, 9
	cNIN, cPeriod, cDue        = 2, 6, 11
)

type vkind uint8

const (
	vNull vkind = iota
	vStr
	vInt
	vDate
	vBool
	vTime // seconds of the day
	vArr
)

// val is one column value of a row being emitted.
type val struct {
	k   vkind
	s   string
	i   int64
	arr []string
}

func null() val           { return val{} }
func str(s string) val    { return val{k: vStr, s: s} }
func integer(i int64) val { return val{k: vInt, i: i} }
func date(d day) val      { return val{k: vDate, i: int64(d)} }
func boolean(b bool) val {
	if b {
		return val{k: vBool, i: 1}
	}
	return val{k: vBool}
}
func arr(a []string) val { return val{k: vArr, arr: a} }
func optDate(d day) val {
	if d == noDay {
		return null()
	}
	return date(d)
}

// appendCopyRow appends row in PostgreSQL's COPY text format.
func appendCopyRow(b []byte, row []val) []byte {
	for i, v := range row {
		if i > 0 {
			b = append(b, '\t')
		}
		switch v.k {
		case vNull:
			b = append(b, '\\', 'N')
		case vStr:
			b = appendCopyText(b, v.s)
		case vArr:
			b = appendCopyText(b, arrayLiteral(v.arr))
		default:
			b = appendText(b, v)
		}
	}
	return append(b, '\n')
}

// appendText appends the text of a value that is not null: the input its
// column type parses (COPY's, before COPY's own escaping).
func appendText(b []byte, v val) []byte {
	switch v.k {
	case vStr:
		b = append(b, v.s...)
	case vInt:
		b = strconv.AppendInt(b, v.i, 10)
	case vDate:
		b = day(v.i).appendISO(b)
	case vBool:
		if v.i != 0 {
			b = append(b, 't')
		} else {
			b = append(b, 'f')
		}
	case vTime:
		b = appendPad(b, int(v.i/3600), 2)
		b = append(b, ':')
		b = appendPad(b, int(v.i/60%60), 2)
		b = append(b, ':', '0', '0')
	case vArr:
		b = append(b, arrayLiteral(v.arr)...)
	}
	return b
}

// arrayLiteral is a text[] literal of a.
func arrayLiteral(a []string) string {
	var lit strings.Builder
	lit.WriteByte('{')
	for j, e := range a {
		if j > 0 {
			lit.WriteByte(',')
		}
		lit.WriteByte('"')
		for _, r := range e {
			if r == '"' || r == '\\' {
				lit.WriteByte('\\')
			}
			lit.WriteRune(r)
		}
		lit.WriteByte('"')
	}
	lit.WriteByte('}')
	return lit.String()
}

func appendCopyText(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b = append(b, '\\', '\\')
		case '\t':
			b = append(b, '\\', 't')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		default:
			b = append(b, c)
		}
	}
	return b
}

// NINKey is the control key of a synthetic NIN (positions 17-18): ISO 7064
// MOD 97-10 over the first 16 digits, 98 - (n·100 mod 97), two digits.
func NINKey(first16 string) string {
	var n uint64
	for i := 0; i < len(first16); i++ {
		n = n*10 + uint64(first16[i]-'0')
	}
	return fmt.Sprintf("%02d", 98-(n*100)%97)
}

// buildNIN assembles a synthetic NIN: sex (1 M, 2 F), mention (0 normal,
// 1 presumed date), register year (3 digits), commune 99WW, act number
// (5 digits), register series (2 digits), key.
func buildNIN(sex byte, presumed bool, actYear, wilaya, actNumber, series int) string {
	b := make([]byte, 0, 18)
	if sex == 'F' {
		b = append(b, '2')
	} else {
		b = append(b, '1')
	}
	if presumed {
		b = append(b, '1')
	} else {
		b = append(b, '0')
	}
	b = appendPad(b, actYear%1000, 3)
	b = append(b, '9', '9')
	b = appendPad(b, wilaya, 2)
	b = appendPad(b, actNumber, 5)
	b = appendPad(b, series, 2)
	var n uint64
	for _, c := range b {
		n = n*10 + uint64(c-'0')
	}
	return string(appendPad(b, int(98-(n*100)%97), 2))
}

// buildNSS: wilaya of immatriculation, birth year (2 digits), then 8
// digits of a bijection of the person index, so it is unique and opaque.
func buildNSS(w uint8, birthYear int, gi int64) string {
	b := make([]byte, 0, 12)
	b = appendPad(b, int(w), 2)
	b = appendPad(b, birthYear%100, 2)
	perm := (uint64(gi)*48271 + 12345) % 100_000_000 // 48271 is prime to 10^8
	return string(appendPad(b, int(perm), 8))
}

// Defects: each table has mutations that schemas.Rules rejects after the
// connector maps the row (the test proves every one is caught).
type defect struct {
	name string
	fn   func(pl *plan, h uint64, row []val)
}

// lookalike letters, as from a badly scanned register.
var lookalike = map[byte]byte{'0': 'O', '1': 'I', '5': 'S', '8': 'B', '2': 'Z', '6': 'G', '3': 'E', '4': 'A', '7': 'T', '9': 'g'}

func ninLetters(col int) defect {
	return defect{"nin.letters", func(_ *plan, h uint64, row []val) {
		s := []byte(row[col].s)
		if len(s) == 0 {
			s = []byte("000000000000000000")
		}
		i := int(h % uint64(len(s)))
		s[i] = lookalike[s[i]]
		if s[i] == 0 {
			s[i] = 'X'
		}
		row[col] = str(string(s))
	}}
}

func ninShort(col int) defect {
	return defect{"nin.length", func(_ *plan, h uint64, row []val) {
		s := row[col].s
		cut := 1 + int(h%3)
		if len(s) > cut {
			s = s[:len(s)-cut]
		}
		row[col] = str(s)
	}}
}

func futureDate(col int) defect {
	return defect{"date.future", func(pl *plan, h uint64, row []val) {
		// 15 to 35 years ahead: in the future for as long as the data is used.
		row[col] = date(pl.asOf.addYears(15 + float64(h%20)))
	}}
}

func missing(col int) defect {
	return defect{"required", func(_ *plan, _ uint64, row []val) { row[col] = null() }}
}

func endBeforeStart(start, end, status int) defect {
	return defect{"date.order", func(_ *plan, h uint64, row []val) {
		row[end] = date(day(row[start].i) - 30 - day(h%3000))
		row[status] = str("CLOSED")
	}}
}

var defects = [numTables][]defect{
	tBirths:       {ninLetters(bNIN), ninShort(bNIN), futureDate(bBirthDate), missing(bSurname)},
	tMarriages:    {ninLetters(mNIN), futureDate(mDate), missing(mActCommune), missing(mSpouseNIN)},
	tDivorces:     {ninShort(dvNIN), futureDate(dvDate), missing(dvDate), ninLetters(dvSpouseNIN)},
	tDeaths:       {ninLetters(dNIN), futureDate(dDate), missing(dPlace)},
	tAffiliations: {ninShort(aNIN), futureDate(aStart), missing(aNSS), endBeforeStart(aStart, aEnd, aStatus)},
	tEmployment:   {ninLetters(eNIN), endBeforeStart(eStart, eEnd, eStatus), missing(eName), futureDate(eStart)},
	tContributions: {ninShort(cNIN), missing(cPeriod), {"period.future", func(pl *plan, h uint64, row []val) {
		row[cPeriod] = str(periodString(pl.lastPeriod + 12*(15+int(h%20))))
	}}, futureDate(cDue)},
}

// defectOf says whether row id of table t is defective on purpose, and how.
// The decision is a hash of (seed, table, id): the same rows are defective
// whatever the order or parallelism of generation, and live changes use it too.
func defectOf(seed uint64, rate float64, t table, id int64) (defect, uint64, bool) {
	if rate <= 0 {
		return defect{}, 0, false
	}
	h := hash3(seed, 0xdefec7^uint64(t), uint64(id))
	if unit(h) >= rate {
		return defect{}, 0, false
	}
	h2 := splitmix64(h)
	ds := defects[t]
	return ds[h2%uint64(len(ds))], h2 >> 8, true
}

// Defective reports whether the row id of the agency table tableName is
// defective on purpose under seed and rate.
func Defective(seed int64, rate float64, tableName string, id int64) bool {
	for t, n := range TableNames {
		if n == tableName {
			_, _, ok := defectOf(uint64(seed), rate, table(t), id)
			return ok
		}
	}
	return false
}

// chunk holds the COPY text of generated rows, per data center and table.
type chunk struct {
	bufs    [][]byte
	rows    []int64
	defects []int64
}

func newChunk(ndc int) *chunk {
	n := ndc * int(numTables)
	return &chunk{bufs: make([][]byte, n), rows: make([]int64, n), defects: make([]int64, n)}
}

func (c *chunk) reset() {
	for i := range c.bufs {
		c.bufs[i] = c.bufs[i][:0]
		c.rows[i], c.defects[i] = 0, 0
	}
}

// emitter turns generated persons into table rows.
type emitter struct {
	pl        *plan
	countOnly bool // pass 1: count rows, build nothing
	out       *chunk
	row       [32]val
	emps      map[uint32]*employerInfo
	// sink, when set, sees every row before a defect is applied (tests).
	sink func(dc int, t table, row []val)
}

func newEmitter(pl *plan) *emitter {
	return &emitter{pl: pl, emps: map[uint32]*employerInfo{}}
}

// dcIndex is the index in DataCenters(n) of agency a's data center for wilaya w.
func (e *emitter) dcIndex(agency int, w uint8) int {
	return agency*e.pl.nRegions + int(e.pl.regions[w])
}

func (e *emitter) put(dc int, t table, id int64, row []val) {
	k := dc*int(numTables) + int(t)
	e.out.rows[k]++
	if e.sink != nil {
		e.sink(dc, t, row)
	}
	if d, h, ok := defectOf(e.pl.seed, e.pl.p.Defects, t, id); ok {
		d.fn(e.pl, h, row)
		e.out.defects[k]++
	}
	e.out.bufs[k] = appendCopyRow(e.out.bufs[k], row)
}

func (e *emitter) tally(dc int, t table) { e.out.rows[dc*int(numTables)+int(t)]++ }

func joinNames(list []name, idx [2]int16, arabic bool) string {
	pick := func(i int16) string {
		if arabic {
			return list[i].Arabic
		}
		return list[i].Latin
	}
	if idx[1] < 0 {
		return pick(idx[0])
	}
	return pick(idx[0]) + " " + pick(idx[1])
}

func firstList(sex byte, era uint8) []name {
	if sex == 'F' {
		return femaleNames[era]
	}
	return maleNames[era]
}

func (p *person) firstLatin() string   { return joinNames(firstList(p.sex, p.era), p.first, false) }
func (p *person) firstArabic() string  { return joinNames(firstList(p.sex, p.era), p.first, true) }
func (p *person) surnameLatin() string { return surnames[p.surname].Latin }

// ids: deterministic, unique per table across every data center.
func birthID(gi int64) int64              { return gi + 1 }
func affiliationID(gi int64, k int) int64 { return 2*gi + int64(k) + 1 }
func jobID(gi int64, j int) int64         { return gi*8 + int64(j) + 1 }
func contributionID(gi int64, j int, mi int) int64 {
	return (gi*8+int64(j))<<10 + int64(mi) + 1
}

// casnosSlot is the job slot of CASNOS contributions in contributionID.
const casnosSlot = 7

func (e *emitter) nin(g *gen, i int) string {
	p := &g.ps[i]
	gi := g.base + int64(i)
	series := 1
	if p.actYear() > p.birth.Year() {
		series = 2 // registered late, by judgment
	}
	return buildNIN(p.sex, p.presumed, p.actYear(), int(p.birthW), int(e.pl.birthAct[gi]), series)
}

func feminine(sex byte, s string) string {
	if sex == 'F' {
		return s + "e"
	}
	return s
}

func courtOf(w uint8) string { return "Tribunal de " + wilayas[w].Name }

func judgmentNumber(seed uint64, gi int64, year int) string {
	return fmt.Sprintf("%d/%05d", year, 1+hash3(seed, 0x1d6e, uint64(gi))%99999)
}

// block emits the rows of every person of g's block.
func (e *emitter) block(g *gen) {
	for i := range g.ps {
		e.person(g, i)
	}
}

func (e *emitter) person(g *gen, i int) {
	p := &g.ps[i]
	gi := g.base + int64(i)
	civil := e.dcIndex(0, p.birthW)
	var husband, wife *person
	var wifeGi int64
	if p.spouse >= 0 {
		husband, wife, wifeGi = p, &g.ps[p.spouse], g.base+int64(p.spouse)
		if p.sex == 'F' {
			husband, wife, wifeGi = wife, p, gi
		}
	}
	if e.countOnly {
		e.tally(civil, tBirths)
		if p.spouse >= 0 {
			e.tally(civil, tMarriages)
			if p.divorced != noDay {
				e.tally(civil, tDivorces)
			}
		}
		if p.death != noDay {
			e.tally(civil, tDeaths)
		}
	} else {
		nin := e.nin(g, i)
		var notes []string
		var spouseNIN string
		if p.spouse >= 0 {
			spouseNIN = e.nin(g, int(p.spouse))
			notes = append(notes, fmt.Sprintf("%s le %s à %s avec %s", feminine(p.sex, "Marié"), p.married.french(), syntheticCommune(int(p.marriageW)), spouseNIN))
			if p.divorced != noDay {
				notes = append(notes, fmt.Sprintf("%s le %s par jugement n° %s du %s", feminine(p.sex, "Divorcé"), p.divorced.french(),
					judgmentNumber(e.pl.seed, wifeGi, p.divorced.Year()), courtOf(husband.resW)))
			}
		}
		if p.death != noDay {
			notes = append(notes, fmt.Sprintf("%s le %s à %s", feminine(p.sex, "Décédé"), p.death.french(), syntheticCommune(int(p.resW))))
		}
		if notes == nil {
			notes = []string{}
		}
		fatherList, motherList := maleNames[p.fatherEra], femaleNames[p.motherEra]
		birthTime := null()
		if h := hash3(e.pl.seed, 0xb1, uint64(gi)); !p.presumed && h%10 < 7 {
			birthTime = val{k: vTime, i: int64(h>>8) % 86400 / 60 * 60}
		}
		marital := null()
		if p.marital && husband != nil {
			marital = str(husband.surnameLatin())
		}
		commune := syntheticCommune(int(p.birthW))
		fatherNIN, motherNIN := null(), null()
		if p.dad >= 0 {
			fatherNIN = str(e.nin(g, int(p.dad)))
		}
		if p.mum >= 0 {
			motherNIN = str(e.nin(g, int(p.mum)))
		}
		row := e.row[:0]
		row = append(row,
			integer(birthID(gi)), str(nin), str(p.surnameLatin()), str(surnames[p.surname].Arabic),
			str(p.firstLatin()), str(p.firstArabic()), marital, str(sexCode(p.sex)),
			date(p.birth), boolean(p.presumed), str(commune), str(wilayaCode(p.birthW)),
			str(joinNames(fatherList, p.father, false)), str(joinNames(fatherList, p.father, true)),
			str(surnames[p.motherSur].Latin), str(joinNames(motherList, p.mother, false)),
			str(surnames[p.motherSur].Arabic), str(joinNames(motherList, p.mother, true)),
			integer(int64(e.pl.birthAct[gi])), integer(int64(p.actYear())), str(commune),
			date(p.reg), birthTime, arr(notes), fatherNIN, motherNIN)
		e.put(civil, tBirths, birthID(gi), row)

		if p.spouse >= 0 {
			sp := &g.ps[p.spouse]
			mnotes := []string{}
			if p.divorced != noDay {
				mnotes = append(mnotes, "Dissous par jugement de divorce du "+p.divorced.french())
			}
			mcommune := syntheticCommune(int(p.marriageW))
			row = e.row[:0]
			row = append(row, integer(birthID(gi)), str(nin), integer(int64(e.pl.marriageAct[wifeGi])),
				integer(int64(p.married.Year())), str(mcommune), date(p.married), str(spouseNIN),
				str(sp.surnameLatin()), str(sp.firstLatin()), arr(mnotes))
			e.put(civil, tMarriages, birthID(gi), row)
			if p.divorced != noDay {
				row = e.row[:0]
				row = append(row, integer(birthID(gi)), str(nin), str(spouseNIN), date(p.divorced),
					str(courtOf(husband.resW)), str(judgmentNumber(e.pl.seed, wifeGi, p.divorced.Year())),
					integer(int64(e.pl.marriageAct[wifeGi])), integer(int64(p.married.Year())), str(mcommune), arr([]string{}))
				e.put(civil, tDivorces, birthID(gi), row)
			}
		}
		if p.death != noDay {
			dc := syntheticCommune(int(p.resW))
			row = e.row[:0]
			row = append(row, integer(birthID(gi)), str(nin), integer(int64(e.pl.deathAct[gi])),
				integer(int64(p.death.Year())), str(dc), date(p.death), str(dc), arr([]string{}))
			e.put(civil, tDeaths, birthID(gi), row)
		}
	}
	if p.cnas.status == affNone && p.casnos.status == affNone {
		return
	}
	e.funds(g, i)
}

// funds emits the person's affiliations, employment periods and monthly contributions.
func (e *emitter) funds(g *gen, i int) {
	p := &g.ps[i]
	gi := g.base + int64(i)
	var nin, nss string
	if !e.countOnly {
		nin = e.nin(g, i)
		nss = buildNSS(p.resW, p.birth.Year(), gi)
	}
	pl := e.pl
	for k, a := range [2]*aff{&p.cnas, &p.casnos} {
		if a.status == affNone {
			continue
		}
		agency, fund, regime := 1, "CNAS", "salarié"
		if k == 1 {
			agency, fund, regime = 2, "CASNOS", casnosRegimes[a.regime]
		}
		dc := e.dcIndex(agency, p.resW)
		if e.countOnly {
			e.tally(dc, tAffiliations)
		} else {
			row := e.row[:0]
			row = append(row, integer(affiliationID(gi, k)), str(nin), str(nss), str(fund), date(a.start),
				optDate(a.end), str(affStatus[a.status]), str(regime))
			e.put(dc, tAffiliations, affiliationID(gi, k), row)
		}
	}
	for j := 0; j < int(p.jobN); j++ {
		jb := &g.jobs[p.jobOff+int32(j)]
		dc := e.dcIndex(1, jb.empW)
		var emp *employerInfo
		if e.countOnly {
			e.tally(dc, tEmployment)
		} else {
			emp = e.employerInfo(jb.empW, jb.emp)
			status := "OPEN"
			if jb.end != noDay {
				status = "CLOSED"
			}
			pos := emp.sector.Positions[hash3(pl.seed, 0x905, uint64(jobID(gi, j)))%uint64(len(emp.sector.Positions))]
			row := e.row[:0]
			row = append(row, integer(jobID(gi, j)), str(nin), str(nss), str("CNAS"), str(emp.id), str(emp.name),
				str(emp.nif), date(jb.start), optDate(jb.end), str(status), str(pos))
			e.put(dc, tEmployment, jobID(gi, j), row)
		}
		for mi := pl.firstPeriod; mi <= pl.lastPeriod; mi++ {
			if jb.start > monthEnd(mi) || (jb.end != noDay && jb.end < monthStart(mi)) {
				continue
			}
			if e.countOnly {
				e.tally(dc, tContributions)
				continue
			}
			id := contributionID(gi, j, mi-pl.firstPeriod)
			wage := int64(jb.wage) * 100
			due := wage * 345 / 1000 // employer 26% + employee 9% + 0.5% social housing
			arrears := emp.arrears > 0 && mi > pl.lastPeriod-emp.arrears
			e.contribution(dc, id, nin, nss, emp.id, "CNAS", mi, wage, due, arrears, 0.93, 0.955)
		}
	}
	if a := &p.casnos; a.status == affActive || a.status == affClosed {
		dc := e.dcIndex(2, p.resW)
		for mi := pl.firstPeriod; mi <= pl.lastPeriod; mi++ {
			if a.start > monthEnd(mi) || (a.end != noDay && a.end < monthStart(mi)) {
				continue
			}
			if e.countOnly {
				e.tally(dc, tContributions)
				continue
			}
			id := contributionID(gi, casnosSlot, mi-pl.firstPeriod)
			base := int64(a.base) * 100
			e.contribution(dc, id, nin, nss, "", "CASNOS", mi, base, base*15/100, a.nonPayer, 0.88, 0.92)
		}
	}
}

// contribution emits one insured month: PAID below pPaid, PARTIAL below
// pPartial, UNPAID otherwise or when the month is in arrears.
func (e *emitter) contribution(dc int, id int64, nin, nss, employer, fund string, mi int, wage, due int64, arrears bool, pPaid, pPartial float64) {
	pl := e.pl
	h := hash3(pl.seed, 0xc0, uint64(id))
	u := unit(h)
	dueDate := monthEnd(mi) // due with the month's wages
	status, paid, paidDate := "UNPAID", int64(0), noDay
	switch {
	case arrears:
	case u < pPaid:
		status, paid = "PAID", due
	case u < pPartial:
		status = "PARTIAL"
		paid = max(1, min(due-1, due*int64(20+h%60)/100))
	}
	if paid > 0 {
		if mi == pl.lastPeriod {
			paidDate = dueDate - day(h>>20%6)
		} else {
			paidDate = dueDate + day(h>>20%30)
		}
	}
	employerVal := null()
	if employer != "" {
		employerVal = str(employer)
	}
	row := e.row[:0]
	row = append(row, integer(id), str("INSURED"), str(nin), str(nss), employerVal, str(fund), str(periodString(mi)),
		integer(wage), integer(due), integer(paid), str(status), date(dueDate), optDate(paidDate))
	e.put(dc, tContributions, id, row)
}

// employerInfo is a synthetic employer, a pure function of (seed, wilaya, index).
type employerInfo struct {
	id, name, nif string
	sector        *sector
	arrears       int // months in arrears, ending last month (0: up to date)
}

func (e *emitter) employerInfo(w uint8, k int32) *employerInfo {
	key := uint32(w)<<24 | uint32(k)
	if info, ok := e.emps[key]; ok {
		return info
	}
	info := makeEmployer(e.pl, w, k)
	e.emps[key] = info
	return info
}

func makeEmployer(pl *plan, w uint8, k int32) *employerInfo {
	h := hash3(pl.seed, 0xe3, uint64(w)<<32|uint64(k))
	info := &employerInfo{id: fmt.Sprintf("%02dE%05d", w, k)}
	var sec int
	if h%100 < 28 { // the public sector is a large employer
		sec = len(sectors) - 3 + int(h>>8%3)
	} else {
		sec = int(h >> 8 % uint64(len(sectors)-3))
	}
	info.sector = &sectors[sec]
	wname := wilayas[w].Name
	place := placeWords[h>>16%uint64(len(placeWords))]
	word := info.sector.Words[h>>24%uint64(len(info.sector.Words))]
	switch {
	case info.sector.Public && word == "APC":
		info.name = fmt.Sprintf("APC %s (%s)", place, wname)
	case info.sector.Public && strings.HasPrefix(word, "Direction"):
		info.name = fmt.Sprintf("Lycée %s (%s)", place, wname)
	case info.sector.Public:
		info.name = fmt.Sprintf("EPH %s (%s)", place, wname)
	default:
		form := legalForms[h>>32%uint64(len(legalForms))]
		owner := place
		if h>>40%2 == 0 {
			owner = titleCase(surnames[h>>44%uint64(len(surnames))].Latin)
		}
		info.name = fmt.Sprintf("%s %s %s", form, owner, word)
	}
	info.nif = fmt.Sprintf("0%02d%02d%05d%05d", 60+h>>48%60%40, w, k, h>>20%100000)
	// A few employers are in arrears for several months: every employee's
	// months are then unpaid.
	if h>>56%100 < 4 {
		info.arrears = min(pl.p.Months, 2+int(h>>12%8))
	}
	return info
}

func sexCode(s byte) string {
	if s == 'F' {
		return "F"
	}
	return "M"
}

func wilayaCode(w uint8) string { return syntheticCommune(int(w))[2:] }

// titleCase turns "AIT AHMED" into "Ait Ahmed".
func titleCase(s string) string {
	words := strings.Fields(strings.ToLower(s))
	for i, w := range words {
		words[i] = strings.ToUpper(w[:1]) + w[1:]
	}
	return strings.Join(words, " ")
}
