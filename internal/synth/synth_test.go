package synth

import (
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/askonce/askonce/schemas"
)

func TestNIN(t *testing.T) {
	// ISO 7064 MOD 97-10: the whole number, key included, is 1 modulo 97.
	mod97 := func(s string) int {
		r := 0
		for _, c := range s {
			r = (r*10 + int(c-'0')) % 97
		}
		return r
	}
	for _, first16 := range []string{"1098599160004201", "2098799160012301", "1000000000000000", "2199999999999999"} {
		if nin := first16 + NINKey(first16); mod97(nin) != 1 {
			t.Errorf("%s mod 97 = %d", nin, mod97(nin))
		}
	}
	nin := buildNIN('F', true, 1948, 16, 42, 2)
	if len(nin) != 18 || mod97(nin) != 1 {
		t.Fatalf("buildNIN = %s", nin)
	}
	for _, c := range []struct {
		part, want string
	}{{nin[0:1], "2"}, {nin[1:2], "1"}, {nin[2:5], "948"}, {nin[5:9], "9916"}, {nin[9:14], "00042"}, {nin[14:16], "02"}} {
		if c.part != c.want {
			t.Errorf("buildNIN = %s: got %s, want %s", nin, c.part, c.want)
		}
	}
	if got := buildNIN('M', false, 2004, 5, 99999, 1)[2:5]; got != "004" {
		t.Errorf("register year 2004 gives %s", got)
	}
}

func TestRegions(t *testing.T) {
	for _, n := range []int{1, 3, 11, 58, 99} {
		regions := Regions(n)
		if len(regions) != n {
			t.Fatalf("Regions(%d) has %d regions", n, len(regions))
		}
		seen := map[int]int{}
		for r, ws := range regions {
			if len(ws) == 0 && r < NumWilayas {
				t.Errorf("Regions(%d): region %d is empty", n, r)
			}
			for _, w := range ws {
				seen[w]++
				if RegionOf(w, n) != r {
					t.Errorf("RegionOf(%d, %d) = %d, want %d", w, n, RegionOf(w, n), r)
				}
			}
		}
		for w := 1; w <= NumWilayas; w++ {
			if seen[w] != 1 {
				t.Errorf("Regions(%d): wilaya %d is in %d regions", n, w, seen[w])
			}
		}
	}
	// Roughly balanced: no region of 11 holds more than twice the mean.
	total, largest := 0, 0
	for _, ws := range Regions(11) {
		pop := 0
		for _, w := range ws {
			pop += wilayas[w].Population
		}
		total += pop
		largest = max(largest, pop)
	}
	if largest > 2*total/11 {
		t.Errorf("largest region of 11 holds %d of %d thousand", largest, total)
	}
	// Alger, the largest wilaya, shares its region with few others.
	if r := Regions(11)[RegionOf(16, 11)]; len(r) > 3 {
		t.Errorf("Alger's region holds %v", r)
	}
}

func TestDataCenters(t *testing.T) {
	dcs := DataCenters(11)
	if len(dcs) != 33 {
		t.Fatalf("DataCenters(11) = %d", len(dcs))
	}
	if dcs[0] != (DataCenter{"etatcivil", "etatcivil-dc01", "etatcivil_dc01"}) || dcs[17] != (DataCenter{"cnas", "cnas-dc07", "cnas_dc07"}) ||
		dcs[32] != (DataCenter{"casnos", "casnos-dc11", "casnos_dc11"}) {
		t.Errorf("DataCenters(11) = %v", dcs)
	}
}

// generate runs both passes in memory and returns the COPY text per data
// center and table; sink sees every clean row.
func generate(t testing.TB, p Params, workers int, sink func(dc int, tb table, row []val)) (*plan, *chunk) {
	t.Helper()
	pl, err := newPlan(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pl.prepare(context.Background(), workers); err != nil {
		t.Fatal(err)
	}
	em := newEmitter(pl)
	em.out = newChunk(len(Agencies) * pl.nRegions)
	em.sink = sink
	g := newGen(pl)
	for b := 0; b < pl.blocks; b++ {
		g.block(b)
		em.block(g)
	}
	return pl, em.out
}

func digest(c *chunk) string {
	h := sha256.New()
	for _, b := range c.bufs {
		h.Write(b)
		h.Write([]byte{0})
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

var fixedAsOf = time.Date(2025, time.November, 1, 0, 0, 0, 0, time.UTC)

func TestGenerationIsDeterministic(t *testing.T) {
	p := Params{Persons: 5000, Seed: 7, Defects: 0.02, DataCenters: 4, Months: 12, AsOf: fixedAsOf}
	_, a := generate(t, p, 1, nil)
	_, b := generate(t, p, 4, nil)
	if digest(a) != digest(b) {
		t.Fatal("the same parameters with other parallelism gave other rows")
	}
	p2 := p
	p2.Seed = 8
	if _, c := generate(t, p2, 2, nil); digest(c) == digest(a) {
		t.Fatal("another seed gave the same rows")
	}
	// Blocks are independent: generated in any order, each gives the same rows.
	pl, err := newPlan(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pl.prepare(context.Background(), 3); err != nil {
		t.Fatal(err)
	}
	g, em := newGen(pl), newEmitter(pl)
	perBlock := func(b int) string {
		em.out = newChunk(len(Agencies) * pl.nRegions)
		g.block(b)
		em.block(g)
		return digest(em.out)
	}
	var forward []string
	for b := 0; b < pl.blocks; b++ {
		forward = append(forward, perBlock(b))
	}
	for b := pl.blocks - 1; b >= 0; b-- {
		if perBlock(b) != forward[b] {
			t.Fatalf("block %d differs when generated after later blocks", b)
		}
	}
}

// TestRowsAreValidAndDefectsRejected maps every generated row the way a
// connector does: clean rows pass schemas.Rules{AllowSynthetic: true}, and
// every defect kind, applied to many rows, is rejected.
func TestRowsAreValidAndDefectsRejected(t *testing.T) {
	rules := schemas.Rules{AllowSynthetic: true, Now: time.Now()}
	p := Params{Persons: 4000, Seed: 3, Defects: 0.0, DataCenters: 3, Months: 12}
	dcs := DataCenters(p.DataCenters)
	var pl *plan
	type birthInfo struct {
		dc                   int
		sex, first, surname  string
		birth                int64
		fatherNIN, motherNIN string
		fatherFirst, motherS string
	}
	births := map[string]birthInfo{}
	marriages := map[string]string{}
	counts := map[string]int{}
	caught := map[string]int{}
	sexes := map[string]int{}
	var n int
	check := func(dc int, tb table, row []val) {
		n++
		dcName := dcs[dc].Name
		key := fmt.Sprintf("%s/%d", EntityNames[tb], row[0].i)
		m, err := mapRow(agencyOfDC(dcName), dcName, EntityNames[tb], key, "upsert", rowJSON(tb, row), time.Now().Add(-time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if vs := m.validate(rules); len(vs) > 0 {
			t.Errorf("%s %s is invalid: %v\n%s", dcName, key, vs, rowJSON(tb, row))
		}
		counts[EntityNames[tb]]++
		switch tb {
		case tBirths:
			nin := row[bNIN].s
			if NINKey(nin[:16]) != nin[16:] {
				t.Errorf("%s: wrong key", nin)
			}
			if _, dup := births[nin]; dup {
				t.Errorf("NIN %s twice", nin)
			}
			bi := birthInfo{dc: dc, sex: row[bSex].s, first: row[bFirstNames].s, surname: row[bSurname].s, birth: row[bBirthDate].i,
				fatherFirst: row[bFatherFirst].s, motherS: row[bMotherSur].s}
			for _, c := range []struct {
				col int
				to  *string
			}{{bFatherNIN, &bi.fatherNIN}, {bMotherNIN, &bi.motherNIN}} {
				switch row[c.col].k {
				case vStr:
					*c.to = row[c.col].s
				case vNull:
				default:
					t.Errorf("birth %s: parent NIN column %d of kind %d", nin, c.col, row[c.col].k)
				}
			}
			if (bi.fatherNIN == "") != (bi.motherNIN == "") {
				t.Errorf("birth %s: father NIN %q, mother NIN %q: both or neither", nin, bi.fatherNIN, bi.motherNIN)
			}
			births[nin] = bi
			w := wilayaOfCommune(row[10].s)
			if row[11].s != fmt.Sprintf("%02d", w) || row[20].s != row[10].s || dc != int(pl.regions[w]) {
				t.Errorf("birth %s: commune %s wilaya %s in data center %s", nin, row[10].s, row[11].s, dcName)
			}
			sexes[row[7].s]++
			if row[9].i == 1 {
				counts["presumed"]++
				if nin[1] != '1' {
					t.Errorf("presumed birth date but NIN mention %c", nin[1])
				}
			}
			if row[6].k == vStr {
				counts["marital_surname"]++
			}
		case tMarriages:
			marriages[row[mNIN].s] = row[mSpouseNIN].s
		case tContributions:
			counts["contribution "+row[10].s]++
		case tEmployment:
			counts["employment "+row[9].s]++
		}
		// Every defect kind of the table, on every third row.
		if n%3 != 0 {
			return
		}
		for i, d := range defects[tb] {
			bad := slices.Clone(row)
			d.fn(pl, uint64(n)*7919+uint64(i), bad)
			m, err := mapRow(agencyOfDC(dcName), dcName, EntityNames[tb], key, "upsert", rowJSON(tb, bad), time.Now().Add(-time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			vs := m.validate(rules)
			if len(vs) == 0 {
				t.Errorf("defect %s of %s is not rejected:\n%s", d.name, key, rowJSON(tb, bad))
			}
			caught[EntityNames[tb]+" "+d.name]++
		}
	}
	var err error
	pl, err = newPlan(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pl.prepare(context.Background(), 2); err != nil {
		t.Fatal(err)
	}
	em := newEmitter(pl)
	em.out = newChunk(len(dcs))
	em.sink = check
	g := newGen(pl)
	for b := 0; b < pl.blocks; b++ {
		g.block(b)
		em.block(g)
	}
	if t.Failed() {
		return
	}
	for tb, ds := range defects {
		for _, d := range ds {
			if caught[EntityNames[tb]+" "+d.name] == 0 {
				t.Errorf("defect %s of %s never tried", d.name, EntityNames[tb])
			}
		}
	}
	// The person graph holds together.
	if len(births) != p.Persons {
		t.Errorf("%d births for %d persons", len(births), p.Persons)
	}
	for nin, spouse := range marriages {
		if _, ok := births[spouse]; !ok {
			t.Errorf("spouse %s of %s has no birth act", spouse, nin)
		} else if marriages[spouse] != nin {
			t.Errorf("spouse %s of %s is married to %s", spouse, nin, marriages[spouse])
		}
	}
	// Children born in the population carry their parents' NINs: a
	// married couple of the population, older than the child, whose names
	// are the filiation on the child's act.
	linked := 0
	for nin, c := range births {
		if c.fatherNIN == "" {
			continue
		}
		linked++
		f, okF := births[c.fatherNIN]
		m, okM := births[c.motherNIN]
		switch {
		case !okF || !okM:
			t.Errorf("child %s: parents %s, %s have no birth act", nin, c.fatherNIN, c.motherNIN)
		case f.sex != "M" || m.sex != "F":
			t.Errorf("child %s: father %s is %s, mother %s is %s", nin, c.fatherNIN, f.sex, c.motherNIN, m.sex)
		case marriages[c.fatherNIN] != c.motherNIN:
			t.Errorf("child %s: parents %s and %s are not married to each other", nin, c.fatherNIN, c.motherNIN)
		case f.birth >= c.birth || m.birth >= c.birth:
			t.Errorf("child %s: born before a parent", nin)
		case c.fatherFirst != f.first || c.surname != f.surname || c.motherS != m.surname:
			t.Errorf("child %s: filiation %s/%s does not match the parents' acts %s %s / %s", nin, c.fatherFirst, c.motherS, f.surname, f.first, m.surname)
		}
	}
	// Lineage roots and in-laws have no parents in the population; the
	// others (most of the population) do.
	if linked < p.Persons/4 || linked == len(births) {
		t.Errorf("%d of %d births carry parents' NINs", linked, len(births))
	}
	counts["children linked"] = linked
	ratio := float64(sexes["M"]) / float64(sexes["F"])
	if ratio < 0.97 || ratio > 1.12 {
		t.Errorf("sex ratio %.3f", ratio)
	}
	for _, what := range []string{"marriage", "divorce", "death", "affiliation", "presumed", "marital_surname",
		"employment OPEN", "employment CLOSED", "contribution PAID", "contribution PARTIAL", "contribution UNPAID"} {
		if counts[what] == 0 {
			t.Errorf("no %s in %d persons: %v", what, p.Persons, counts)
		}
	}
	t.Logf("rows: %v", counts)
}

func TestCorrectName(t *testing.T) {
	for _, c := range []struct{ first, sur, wantFirst, wantSur string }{
		{"Youcef Karim", "SAIDI", "Youssef Karim", "SAIDI"},
		{"Nadir", "BENALI", "Nadir", "BEN ALI"},
		{"Nadir", "BEN ALI", "Nadir", "BENALI"},
	} {
		f, s, ok := correctName(c.first, c.sur)
		if !ok || f != c.wantFirst || s != c.wantSur {
			t.Errorf("correctName(%q, %q) = %q, %q, %v", c.first, c.sur, f, s, ok)
		}
	}
	if _, _, ok := correctName("Nadir", "SAIDI"); ok {
		t.Error("correctName found a variant of Nadir SAIDI")
	}
}

func TestPrintManifest(t *testing.T) {
	var b strings.Builder
	err := PrintManifest(&b, []ManifestRow{
		{"cnas-dc01", "cnas", "contribution", 1200, 12}, {"etatcivil-dc01", "etatcivil", "birth", 1000, 10},
	})
	if err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"etatcivil-dc01", "1,000 (10)", "1,200 (12)", "2,200 (22)"} {
		if !strings.Contains(out, want) {
			t.Errorf("manifest table lacks %q:\n%s", want, out)
		}
	}
	if strings.Index(out, "etatcivil-dc01") > strings.Index(out, "cnas-dc01") {
		t.Errorf("etatcivil should come first:\n%s", out)
	}
}

func TestParamsAreChecked(t *testing.T) {
	good := Params{Persons: 10, Seed: 1, DataCenters: 11, Months: 12}
	if _, err := good.normalize(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []func(p *Params){
		func(p *Params) { p.Persons = 0 },
		func(p *Params) { p.Defects = 0.6 },
		func(p *Params) { p.DataCenters = 100 },
		func(p *Params) { p.Months = 0 },
		func(p *Params) { p.AsOf = time.Now().AddDate(0, 2, 0) },
	} {
		p := good
		bad(&p)
		if _, err := p.normalize(); err == nil {
			t.Errorf("%+v accepted", p)
		}
	}
}
