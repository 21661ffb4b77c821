package synth

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// day is a calendar date as days since 1970-01-01 (UTC).
type day int32

// noDay is an absent date.
const noDay day = math.MinInt32

func dayOf(y int, m time.Month, d int) day {
	return day(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

func dayOfTime(t time.Time) day {
	y, m, d := t.UTC().Date()
	return dayOf(y, m, d)
}

func (d day) Time() time.Time { return time.Unix(int64(d)*86400, 0).UTC() }

func (d day) Year() int { return d.Time().Year() }

func (d day) addYears(f float64) day { return d + day(math.Round(f*365.2425)) }

// years between two days, as a fraction.
func yearsBetween(a, b day) float64 { return float64(b-a) / 365.2425 }

// appendISO appends YYYY-MM-DD.
func (d day) appendISO(b []byte) []byte {
	y, m, dd := d.Time().Date()
	b = appendPad(b, y, 4)
	b = append(b, '-')
	b = appendPad(b, int(m), 2)
	b = append(b, '-')
	return appendPad(b, dd, 2)
}

// french formats DD/MM/YYYY, as on paper.
func (d day) french() string {
	y, m, dd := d.Time().Date()
	b := make([]byte, 0, 10)
	b = appendPad(b, dd, 2)
	b = append(b, '/')
	b = appendPad(b, int(m), 2)
	b = append(b, '/')
	return string(appendPad(b, y, 4))
}

func appendPad(b []byte, v, width int) []byte {
	var tmp [20]byte
	i := len(tmp)
	neg := v < 0
	if neg {
		v = -v
	}
	for v > 0 || i == len(tmp) {
		i--
		tmp[i] = byte('0' + v%10)
		v /= 10
	}
	for len(tmp)-i < width {
		i--
		tmp[i] = '0'
	}
	if neg {
		b = append(b, '-')
	}
	return append(b, tmp[i:]...)
}

// monthIndex is year*12 + month-1.
func monthIndex(d day) int {
	y, m, _ := d.Time().Date()
	return y*12 + int(m) - 1
}

func monthStart(mi int) day { return dayOf(mi/12, time.Month(mi%12+1), 1) }
func monthEnd(mi int) day   { return monthStart(mi+1) - 1 }

func periodString(mi int) string {
	b := make([]byte, 0, 7)
	b = appendPad(b, mi/12, 4)
	b = append(b, '-')
	return string(appendPad(b, mi%12+1, 2))
}

// splitmix64 is the row-level hash: deterministic per (seed, table, id).
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func hash3(a, b, c uint64) uint64 {
	return splitmix64(splitmix64(splitmix64(a)^b) ^ c)
}

// unit maps a hash to [0,1).
func unit(h uint64) float64 { return float64(h>>11) / (1 << 53) }

// Params are the inputs of a synthetic population: the same Params give
// the same rows, byte for byte, whatever the machine or parallelism.
type Params struct {
	Persons     int
	Seed        int64
	Defects     float64
	DataCenters int
	Months      int
	// AsOf is the month of the seed (only its year and month count): every
	// date is before its first day, and contributions cover the Months
	// months before it. Zero means the current month.
	AsOf time.Time
}

// MaxPersons bounds the population: one synthetic commune per wilaya has
// act numbers 1-99999 per year.
const MaxPersons = 20_000_000

func (p Params) normalize() (Params, error) {
	if p.AsOf.IsZero() {
		p.AsOf = time.Now()
	}
	y, m, _ := p.AsOf.UTC().Date()
	p.AsOf = time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
	var errs []error
	if p.Persons < 1 || p.Persons > MaxPersons {
		errs = append(errs, fmt.Errorf("persons must be 1-%d, got %d", MaxPersons, p.Persons))
	}
	if p.Defects < 0 || p.Defects > 0.5 {
		errs = append(errs, fmt.Errorf("defects must be between 0 and 0.5, got %g", p.Defects))
	}
	if p.DataCenters < 1 || p.DataCenters > 99 {
		errs = append(errs, fmt.Errorf("data centers must be 1-99, got %d", p.DataCenters))
	}
	if p.Months < 1 || p.Months > 600 {
		errs = append(errs, fmt.Errorf("months must be 1-600, got %d", p.Months))
	}
	if y < 1990 {
		errs = append(errs, fmt.Errorf("as-of month %s is too early", p.AsOf.Format("2006-01")))
	}
	if p.AsOf.After(time.Now()) {
		// Rows would be dated in the future: all invalid.
		errs = append(errs, fmt.Errorf("as-of month %s is after the current month", p.AsOf.Format("2006-01")))
	}
	if len(errs) > 0 {
		return p, fmt.Errorf("synth: %w", errors.Join(errs...))
	}
	return p, nil
}

// blockSize is the number of persons generated from one RNG stream. Every
// family lives inside one block, so blocks are generated independently (in
// parallel) and person i of the population is always person i%blockSize of
// block i/blockSize.
const blockSize = 1024

// plan is what every block's generation shares.
type plan struct {
	p           Params
	seed        uint64
	asOf        day // first day of the as-of month
	end         day // the last day of any event: the day before asOf
	endYear     int
	nRegions    int
	regions     regionMap
	blocks      int
	employers   [NumWilayas + 1]int // employers per wilaya
	firstPeriod int                 // month index of the first contribution period
	lastPeriod  int
	// Act numbers (pass 1), by global person index: the birth act of the
	// person, the marriage act of which the person is the wife, the death
	// act of the person. 0 when none.
	birthAct, marriageAct, deathAct []int32
}

func newPlan(p Params) (*plan, error) {
	p, err := p.normalize()
	if err != nil {
		return nil, err
	}
	pl := &plan{p: p, seed: uint64(p.Seed), nRegions: p.DataCenters}
	pl.asOf = dayOfTime(p.AsOf)
	pl.end = pl.asOf - 1
	pl.endYear = pl.end.Year()
	pl.regions = newRegionMap(p.DataCenters)
	pl.blocks = (p.Persons + blockSize - 1) / blockSize
	for w := 1; w <= NumWilayas; w++ {
		// About one employer per 125 inhabitants (355k employers, 47 M people).
		pl.employers[w] = max(2, int(math.Ceil(float64(p.Persons)*wilayaShare(w)*0.008)))
	}
	pl.lastPeriod = monthIndex(pl.asOf) - 1
	pl.firstPeriod = pl.lastPeriod - p.Months + 1
	return pl, nil
}

// blockCap is the number of persons of block b.
func (pl *plan) blockCap(b int) int {
	if b == pl.blocks-1 {
		return pl.p.Persons - b*blockSize
	}
	return blockSize
}

// Affiliation statuses.
const (
	affNone uint8 = iota
	affActive
	affSuspended
	affClosed
)

var affStatus = [...]string{"", "ACTIVE", "SUSPENDED", "CLOSED"}

type aff struct {
	start, end day
	status     uint8
	regime     uint8
	nonPayer   bool
	base       int32 // CASNOS: declared monthly income, DA
}

type job struct {
	start, end day // end noDay: OPEN
	emp        int32
	empW       uint8
	wage       int32 // monthly gross wage, DA
}

// person is one member of the synthetic population. Names are indexes in
// the lists of names.go.
type person struct {
	sex        byte // 'M' or 'F'
	era        uint8
	first      [2]int16 // first[1] < 0: a single first name
	surname    int16
	fatherEra  uint8
	father     [2]int16
	motherEra  uint8
	motherSur  int16
	mother     [2]int16
	birth, reg day
	presumed   bool
	inlaw      bool  // married into a family of the block: not a lineage member
	dad, mum   int32 // local indexes of the parents, -1 when outside the population
	birthW     uint8
	resW       uint8
	death      day
	spouse     int32 // local index, -1 when never married
	married    day
	divorced   day
	marital    bool  // the wife uses her husband's surname
	marriageW  uint8 // wilaya of the marriage act's commune
	jobOff     int32
	jobN       uint8
	cnas       aff
	casnos     aff
}

func (p *person) actYear() int { return p.reg.Year() }

// gen generates the persons of one block.
type gen struct {
	pl   *plan
	r    *rand.Rand
	src  *rand.PCG
	ps   []person
	jobs []job
	cap  int
	base int64 // global index of the block's first person
}

func newGen(pl *plan) *gen {
	src := rand.NewPCG(0, 0)
	return &gen{pl: pl, src: src, r: rand.New(src), ps: make([]person, 0, blockSize), jobs: make([]job, 0, blockSize)}
}

// block generates block b into g.ps (and g.jobs).
func (g *gen) block(b int) {
	g.src.Seed(g.pl.seed, uint64(b)*0x9e3779b97f4a7c15^0x5eed5eed)
	g.ps, g.jobs = g.ps[:0], g.jobs[:0]
	g.cap = g.pl.blockCap(b)
	g.base = int64(b) * blockSize
	for len(g.ps) < g.cap {
		start := len(g.ps)
		g.root()
		// Breadth first: every lineage member (root, children) may marry
		// and have children, who are processed in turn.
		for i := start; i < len(g.ps); i++ {
			if !g.ps[i].inlaw {
				g.life(i)
			}
		}
	}
	for i := range g.ps {
		g.career(i)
	}
}

func (g *gen) uniform(lo, hi float64) float64 { return lo + (hi-lo)*g.r.Float64() }

func (g *gen) chance(p float64) bool { return g.r.Float64() < p }

// skewed picks an index in [0,n), favouring the head of lists sorted by frequency.
func (g *gen) skewed(n int, power float64) int {
	i := int(float64(n) * math.Pow(g.r.Float64(), power))
	return min(i, n-1)
}

func (g *gen) sex() byte {
	if g.r.IntN(204) < 104 { // 104 boys per 100 girls
		return 'M'
	}
	return 'F'
}

func (g *gen) firstNames(sex byte, era int) [2]int16 {
	list := maleNames[era]
	if sex == 'F' {
		list = femaleNames[era]
	}
	a := int16(g.skewed(len(list), 1.7))
	out := [2]int16{a, -1}
	if g.chance(0.12) {
		b := int16(g.r.IntN(len(list)))
		if b != a && list[b].Arabic != list[a].Arabic {
			out[1] = b
		}
	}
	return out
}

func (g *gen) surname() int16 { return int16(g.skewed(len(surnames), 1.3)) }

// residence: most people live in their wilaya of birth; some moved to the
// big cities.
func (g *gen) residence(birthW int) uint8 {
	u := g.r.Float64()
	switch {
	case u < 0.93:
		return uint8(birthW)
	case u < 0.955:
		return 16 // Alger
	case u < 0.967:
		return 31 // Oran
	case u < 0.975:
		return 25 // Constantine
	default:
		return uint8(pickWilaya(g.r.Float64()))
	}
}

// rootYear draws the birth year of a lineage root: a person whose parents
// are not in the population. Roots are mostly older, their descendants fill
// the base of the pyramid.
func (g *gen) rootYear() int {
	type span struct {
		from, to int
		w        float64
	}
	spans := [...]span{
		{1925, 1934, 0.9}, {1935, 1944, 1.5}, {1945, 1954, 1.9}, {1955, 1964, 1.9},
		{1965, 1974, 1.5}, {1975, 1984, 1.1}, {1985, 1994, 0.9}, {1995, 2004, 0.7},
		{2005, 2014, 0.7}, {2015, 2025, 0.6},
	}
	// The last span runs to the as-of year.
	spans[len(spans)-1].to = max(spans[len(spans)-1].from, g.pl.endYear)
	total := 0.0
	for _, s := range spans {
		total += s.w
	}
	u := g.r.Float64() * total
	for _, s := range spans {
		if u < s.w {
			return s.from + min(s.to-s.from, int(u/s.w*float64(s.to-s.from+1)))
		}
		u -= s.w
	}
	return 1960
}

// newPerson appends a person born on birth. alive is the age in years the
// person is known to have reached (marriage of an in-law): no death before.
func (g *gen) newPerson(sex byte, birth day, birthW int, external bool, alive float64) int {
	p := person{sex: sex, birth: birth, birthW: uint8(birthW), spouse: -1, dad: -1, mum: -1, married: noDay, divorced: noDay}
	by := birth.Year()
	p.era = uint8(eraOf(by))
	p.first = g.firstNames(sex, int(p.era))
	if external {
		// Parents outside the population: filiation names only.
		p.surname = g.surname()
		p.fatherEra = uint8(eraOf(by - 32))
		p.father = g.firstNames('M', int(p.fatherEra))
		p.motherEra = uint8(eraOf(by - 26))
		p.motherSur = g.surname()
		p.mother = g.firstNames('F', int(p.motherEra))
		// Presumed dates (year known only): common before independence.
		pr := 0.002
		switch {
		case by < 1950:
			pr = 0.30
		case by < 1963:
			pr = 0.12
		case by < 1980:
			pr = 0.02
		}
		p.presumed = g.chance(pr)
	}
	p.resW = g.residence(birthW)
	if p.presumed {
		p.birth = dayOf(by, time.January, 1)
		ry := by
		if !g.chance(0.4) {
			ry += 1 + g.r.IntN(20) // late registration by judgment
		}
		ry = min(ry, g.pl.endYear)
		lo, hi := max(dayOf(ry, time.January, 1), p.birth), min(dayOf(ry, time.December, 31), g.pl.end)
		p.reg = lo + day(g.r.IntN(int(hi-lo)+1))
	} else {
		delay := 4
		if wilayas[birthW].South {
			delay = 16
		}
		p.reg = min(p.birth+day(g.r.IntN(delay)), g.pl.end)
	}
	if p.reg.Year() < 2020 && splitFrom[birthW] != 0 {
		// Registered before the 2019 wilayas existed: the act carries the
		// former wilaya's code; the residence keeps the current one.
		p.birthW = splitFrom[birthW]
	}
	if p.presumed {
		alive = max(alive, yearsBetween(p.birth, p.reg))
	}
	p.death = g.deathDay(p.birth, p.reg, alive, alive == 0)
	g.ps = append(g.ps, p)
	return len(g.ps) - 1
}

// Gompertz mortality h(t) = a·e^(b·t): about 2‰ a year at 40, 6% at 80,
// median age at death near 80.
const (
	gompA = 6.7e-5
	gompB = 0.085
)

func infantMortality(year int) float64 {
	switch {
	case year < 1965:
		return 0.15
	case year < 1975:
		return 0.12
	case year < 1985:
		return 0.08
	case year < 1995:
		return 0.05
	case year < 2005:
		return 0.035
	case year < 2015:
		return 0.025
	default:
		return 0.02
	}
}

// deathDay draws the death of a person alive at age t0 (years), or noDay
// when the person is still alive at the end.
func (g *gen) deathDay(birth, reg day, t0 float64, infant bool) day {
	var d day
	if infant && g.chance(infantMortality(birth.Year())) {
		d = reg + 1 + day(g.r.IntN(360))
	} else {
		u := 1 - g.r.Float64() // (0,1]
		t := math.Log(math.Exp(gompB*t0)-gompB*math.Log(u)/gompA) / gompB
		d = birth.addYears(t)
		if d <= reg {
			d = reg + 1
		}
	}
	if d > g.pl.end {
		return noDay
	}
	return d
}

func dead(d, at day) bool { return d != noDay && d <= at }

// root adds a lineage root: a person of the population whose parents are not in it.
func (g *gen) root() {
	y := min(g.rootYear(), g.pl.endYear)
	lo := dayOf(y, time.January, 1)
	hi := min(dayOf(y, time.December, 31), g.pl.end)
	birth := lo + day(g.r.IntN(int(hi-lo)+1))
	g.newPerson(g.sex(), birth, pickWilaya(g.r.Float64()), true, 0)
}

func marriageAge(sex byte, year int) (mean float64, never float64) {
	if sex == 'M' {
		switch {
		case year < 1950:
			return 26, 0.05
		case year < 1970:
			return 28, 0.06
		case year < 1985:
			return 31, 0.08
		default:
			return 33, 0.10
		}
	}
	switch {
	case year < 1950:
		return 20, 0.04
	case year < 1970:
		return 23, 0.06
	case year < 1985:
		return 27, 0.09
	default:
		return 29, 0.12
	}
}

// fertility is the mean number of children of a couple married in year
// (total fertility rate of Algeria, roughly).
func fertility(year int) float64 {
	switch {
	case year < 1970:
		return 7.0
	case year < 1980:
		return 6.5
	case year < 1985:
		return 5.5
	case year < 1990:
		return 4.5
	case year < 1995:
		return 3.6
	case year < 2000:
		return 2.8
	case year < 2005:
		return 2.4
	case year < 2010:
		return 2.7
	default:
		return 3.0
	}
}

func (g *gen) poisson(lambda float64) int {
	l, k, p := math.Exp(-lambda), 0, 1.0
	for {
		p *= g.r.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// life marries lineage member i (to a new person) and adds their children.
func (g *gen) life(i int) {
	p := g.ps[i]
	if len(g.ps) >= g.cap {
		return
	}
	mean, never := marriageAge(p.sex, p.birth.Year())
	if g.chance(never) {
		return
	}
	minAge := 19.0
	if p.sex == 'F' {
		minAge = 17
	}
	age := max(minAge, mean+4*g.r.NormFloat64())
	mdate := p.birth.addYears(age)
	if mdate > g.pl.end || dead(p.death, mdate) || mdate < p.reg {
		return
	}
	// The husband is older, by 5 years on average.
	gap := min(15, max(0, 5+3*g.r.NormFloat64()))
	var sb day
	if p.sex == 'M' {
		sb = p.birth.addYears(gap)
		if yearsBetween(sb, mdate) < 17 {
			sb = mdate.addYears(-17 - g.uniform(0, 2))
		}
	} else {
		sb = p.birth.addYears(-gap)
		if yearsBetween(sb, mdate) < 19 {
			sb = mdate.addYears(-19 - g.uniform(0, 3))
		}
	}
	sw := int(p.resW)
	if !g.chance(0.6) {
		sw = pickWilaya(g.r.Float64())
	}
	other := byte('F')
	if p.sex == 'F' {
		other = 'M'
	}
	s := g.newPerson(other, sb, sw, true, yearsBetween(sb, mdate))
	sp := &g.ps[s]
	if mdate < sp.reg { // a late-registered spouse: marry after the registration
		mdate = sp.reg + 30
		if mdate > g.pl.end || dead(p.death, mdate) || dead(sp.death, mdate) {
			g.ps = g.ps[:s]
			return
		}
	}
	sp.inlaw = true
	sp.resW = p.resW
	husband, wife := i, s
	if p.sex == 'F' {
		husband, wife = s, i
	}
	h, w := &g.ps[husband], &g.ps[wife]
	h.spouse, w.spouse = int32(wife), int32(husband)
	h.married, w.married = mdate, mdate
	h.marriageW, w.marriageW = w.birthW, w.birthW
	// Divorce: rarer in older generations.
	pd := 0.08
	if mdate.Year() >= 1985 {
		pd = 0.15
	}
	if g.chance(pd) {
		dd := mdate.addYears(g.uniform(1, 15))
		if dd <= g.pl.end && !dead(h.death, dd) && !dead(w.death, dd) {
			h.divorced, w.divorced = dd, dd
		}
	}
	w.marital = w.divorced == noDay && g.chance(0.4)

	// Children, while the mother is under 45, both parents alive (the
	// father up to nine months after his death) and still married.
	limit := min(w.birth.addYears(45), g.pl.end)
	if w.death != noDay {
		limit = min(limit, w.death)
	}
	if h.death != noDay {
		limit = min(limit, h.death+270)
	}
	if w.divorced != noDay {
		limit = min(limit, w.divorced)
	}
	k := min(12, g.poisson(fertility(mdate.Year())))
	t := mdate + 270 + day(g.r.IntN(450))
	for c := 0; c < k && t <= limit && len(g.ps) < g.cap; c++ {
		g.child(husband, wife, t)
		t += 420 + day(g.r.IntN(900))
	}
}

func (g *gen) child(husband, wife int, birth day) {
	h, w := g.ps[husband], g.ps[wife]
	c := g.newPerson(g.sex(), birth, int(h.resW), false, 0)
	cp := &g.ps[c]
	cp.surname = h.surname
	cp.fatherEra, cp.father = h.era, h.first
	cp.motherEra, cp.motherSur, cp.mother = w.era, w.surname, w.first
	// Both parents are in the block: the birth act carries their NINs.
	cp.dad, cp.mum = int32(husband), int32(wife)
}

// empWilaya: most people work in their wilaya of residence, some in Alger.
func (g *gen) empWilaya(resW uint8) uint8 {
	u := g.r.Float64()
	switch {
	case u < 0.85:
		return resW
	case u < 0.95:
		return 16
	default:
		return uint8(pickWilaya(g.r.Float64()))
	}
}

// employer picks an employer of wilaya w: a few big ones employ many.
func (g *gen) employer(w uint8) int32 {
	n := g.pl.employers[w]
	u := g.r.Float64()
	return int32(min(n-1, int(float64(n)*u*u)))
}

func (g *gen) wage(base float64) int32 {
	v := base * math.Exp(0.45*g.r.NormFloat64())
	return int32(max(snmg, math.Round(v/10)*10))
}

// snmg is the guaranteed national minimum wage (DA per month).
const snmg = 20000

var (
	careerFloor = dayOf(1970, time.January, 1) // the funds' oldest digitized records
)

// career adds the person's affiliations and jobs: salaried (CNAS), self
// employed (CASNOS), or both one after the other; many have none.
func (g *gen) career(i int) {
	p := &g.ps[i]
	p.jobOff = int32(len(g.jobs))
	if p.birth.Year() < 1940 {
		return
	}
	u := g.r.Float64()
	var cnas, casnos bool
	if p.sex == 'M' {
		cnas, casnos = u < 0.60, u >= 0.55 && u < 0.77
	} else {
		cnas, casnos = u < 0.21, u >= 0.20 && u < 0.26
	}
	if !cnas && !casnos {
		return
	}
	start := max(p.birth.addYears(g.uniform(19, 28)), careerFloor+day(g.r.IntN(365)))
	if start > g.pl.end || dead(p.death, start) {
		return
	}
	retireAge := 60.0
	if p.sex == 'F' {
		retireAge = 55
	}
	limit := min(p.birth.addYears(retireAge), g.pl.end)
	if p.death != noDay {
		limit = min(limit, p.death)
	}
	if start >= limit {
		return
	}
	p.cnas.status, p.casnos.status = affNone, affNone
	if cnas {
		cnasLimit := limit
		if casnos { // salaried first, then self-employed
			cnasLimit = min(limit, start.addYears(g.uniform(3, 15)))
		}
		end := g.jobsCNAS(p, start, cnasLimit)
		p.cnas = aff{start: start, end: noDay, status: affActive}
		open := p.jobN > 0 && g.jobs[p.jobOff+int32(p.jobN)-1].end == noDay
		switch {
		case open:
		case casnos || cnasLimit < g.pl.end && cnasLimit == limit:
			// Retired, dead, or gone self-employed: the affiliation is closed.
			p.cnas.status, p.cnas.end = affClosed, end
		case g.chance(0.1):
			p.cnas.status = affSuspended
		}
		if casnos {
			start = end + 30 + day(g.r.IntN(300))
			if start >= limit {
				return
			}
		}
	}
	if casnos {
		climit := min(p.birth.addYears(retireAge+5), g.pl.end)
		if p.death != noDay {
			climit = min(climit, p.death)
		}
		if start >= climit {
			return
		}
		a := aff{start: start, end: noDay, status: affActive, regime: uint8(g.r.IntN(len(casnosRegimes)))}
		a.base = g.wage(35000)
		a.nonPayer = g.chance(0.35) // about half of CASNOS affiliates do not pay
		switch u := g.r.Float64(); {
		case climit < g.pl.end:
			a.status, a.end = affClosed, climit
		case u < 0.10:
			a.status = affSuspended
		case u < 0.20:
			a.status = affClosed
			a.end = start + 1 + day(g.r.IntN(int(g.pl.end-start)))
		}
		p.casnos = a
	}
}

// jobsCNAS adds successive employment periods from start until limit and
// returns the end of the last one (limit when it is still open).
func (g *gen) jobsCNAS(p *person, start, limit day) day {
	n := 1
	for n < 6 && g.chance(0.55) {
		n++
	}
	t := start
	last := t
	for j := 0; j < n && t < limit; j++ {
		w := g.empWilaya(p.resW)
		jb := job{start: t, empW: w, emp: g.employer(w), wage: g.wage(38000 + 2500*float64(j))}
		jend := t + day(g.r.ExpFloat64()*7*365)
		if j == n-1 || jend >= limit {
			switch {
			case limit == g.pl.end && g.chance(0.88):
				jend = noDay // still employed
			case limit == g.pl.end:
				jend = max(t+30, limit-day(g.r.IntN(3*365)))
				jend = min(jend, g.pl.end)
			default:
				jend = limit
			}
			n = j + 1
		}
		jb.end = jend
		g.jobs = append(g.jobs, jb)
		p.jobN++
		if jend == noDay {
			return limit
		}
		last = jend
		t = jend + 1 + day(g.r.IntN(540))
	}
	return last
}
