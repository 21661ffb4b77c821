package synth

import (
	"fmt"
	"math"
	"sort"
)

// Agencies seeded by askonce seed.
const (
	AgencyEtatCivil = "etatcivil" // civil-status registry
	AgencyCNAS      = "cnas"      // salaried workers' fund
	AgencyCASNOS    = "casnos"    // non-salaried workers' fund
)

// Agencies lists the seeded agencies in data-center order.
var Agencies = []string{AgencyEtatCivil, AgencyCNAS, AgencyCASNOS}

// DataCenter is one synthetic agency data center: its agency, its name
// (<agency>-dcNN, the provenance data_center) and the PostgreSQL schema
// holding its tables and outbox (<agency>_dcNN).
type DataCenter struct{ Agency, Name, Schema string }

// DataCenters lists the n data centers of each seeded agency (etatcivil,
// cnas, casnos), numbered 01..n: 3n in all. Data center dcNN of an agency
// serves region NN of Regions(n).
func DataCenters(n int) []DataCenter {
	out := make([]DataCenter, 0, len(Agencies)*n)
	for _, a := range Agencies {
		for i := 1; i <= n; i++ {
			out = append(out, DataCenter{
				Agency: a,
				Name:   fmt.Sprintf("%s-dc%02d", a, i),
				Schema: fmt.Sprintf("%s_dc%02d", a, i),
			})
		}
	}
	return out
}

// Wilaya is one of the 58 wilayas in force (codes 01-58).
type Wilaya struct {
	Code int
	Name string
	// Population in thousands: the 2008 census, with the 2019 wilayas
	// (49-58) split off their former wilayas by rough estimates. Only the
	// proportions matter: they weight births and employers.
	Population int
	// Longitude of the chef-lieu (approximate), used to group wilayas into
	// contiguous west-to-east regions.
	Longitude float64
	// South wilayas, where births may be declared within 20 days instead of 5.
	South bool
}

// wilayas is indexed by code (wilayas[0] unused).
var wilayas = [...]Wilaya{
	{},
	{1, "Adrar", 264, -0.29, true},
	{2, "Chlef", 1002, 1.33, false},
	{3, "Laghouat", 456, 2.87, false},
	{4, "Oum El Bouaghi", 622, 7.11, false},
	{5, "Batna", 1120, 6.17, false},
	{6, "Béjaïa", 913, 5.08, false},
	{7, "Biskra", 551, 5.73, false},
	{8, "Béchar", 220, -2.22, true},
	{9, "Blida", 1003, 2.83, false},
	{10, "Bouira", 696, 3.90, false},
	{11, "Tamanrasset", 115, 5.52, true},
	{12, "Tébessa", 649, 8.12, false},
	{13, "Tlemcen", 949, -1.31, false},
	{14, "Tiaret", 847, 1.32, false},
	{15, "Tizi Ouzou", 1128, 4.05, false},
	{16, "Alger", 2988, 3.06, false},
	{17, "Djelfa", 1092, 3.25, false},
	{18, "Jijel", 637, 5.77, false},
	{19, "Sétif", 1490, 5.41, false},
	{20, "Saïda", 331, 0.15, false},
	{21, "Skikda", 899, 6.91, false},
	{22, "Sidi Bel Abbès", 605, -0.63, false},
	{23, "Annaba", 609, 7.77, false},
	{24, "Guelma", 482, 7.43, false},
	{25, "Constantine", 938, 6.61, false},
	{26, "Médéa", 820, 2.75, false},
	{27, "Mostaganem", 737, 0.09, false},
	{28, "M'Sila", 991, 4.54, false},
	{29, "Mascara", 784, 0.14, false},
	{30, "Ouargla", 308, 5.33, true},
	{31, "Oran", 1454, -0.64, false},
	{32, "El Bayadh", 229, 1.02, false},
	{33, "Illizi", 35, 8.47, true},
	{34, "Bordj Bou Arréridj", 628, 4.76, false},
	{35, "Boumerdès", 802, 3.48, false},
	{36, "El Tarf", 408, 8.31, false},
	{37, "Tindouf", 49, -8.15, true},
	{38, "Tissemsilt", 294, 1.81, false},
	{39, "El Oued", 488, 6.86, true},
	{40, "Khenchela", 387, 7.14, false},
	{41, "Souk Ahras", 438, 7.95, false},
	{42, "Tipaza", 591, 2.45, false},
	{43, "Mila", 767, 6.26, false},
	{44, "Aïn Defla", 766, 1.97, false},
	{45, "Naâma", 193, -0.31, false},
	{46, "Aïn Témouchent", 371, -1.14, false},
	{47, "Ghardaïa", 304, 3.67, true},
	{48, "Relizane", 726, 0.56, false},
	{49, "Timimoun", 120, 0.23, true},
	{50, "Bordj Badji Mokhtar", 16, 0.95, true},
	{51, "Ouled Djellal", 170, 5.06, false},
	{52, "Béni Abbès", 50, -2.17, true},
	{53, "In Salah", 50, 2.47, true},
	{54, "In Guezzam", 12, 5.77, true},
	{55, "Touggourt", 250, 6.07, true},
	{56, "Djanet", 17, 9.48, true},
	{57, "El M'Ghair", 160, 5.92, true},
	{58, "El Meniaa", 60, 2.88, true},
}

// splitFrom maps the wilayas created by law 19-12 (2019) to the wilaya
// they were part of.
var splitFrom = [NumWilayas + 1]uint8{49: 1, 50: 1, 51: 7, 52: 8, 53: 11, 54: 11, 55: 30, 56: 33, 57: 39, 58: 47}

// NumWilayas is the number of wilayas in force.
const NumWilayas = 58

// wilayaCDF is the cumulative population share, for weighted draws.
var wilayaCDF = func() [NumWilayas + 1]float64 {
	var c [NumWilayas + 1]float64
	total := 0
	for _, w := range wilayas[1:] {
		total += w.Population
	}
	acc := 0
	for i := 1; i <= NumWilayas; i++ {
		acc += wilayas[i].Population
		c[i] = float64(acc) / float64(total)
	}
	return c
}()

// wilayaShare is the population share of wilaya w.
func wilayaShare(w int) float64 { return wilayaCDF[w] - wilayaCDF[w-1] }

// pickWilaya maps u in [0,1) to a wilaya code weighted by population.
func pickWilaya(u float64) int {
	i := sort.SearchFloat64s(wilayaCDF[1:], u)
	if i >= NumWilayas {
		i = NumWilayas - 1
	}
	// SearchFloat64s returns the first index with cdf >= u; u == cdf[i]
	// belongs to the next wilaya.
	if wilayaCDF[i+1] == u && i+1 < NumWilayas {
		i++
	}
	return i + 1
}

// Regions groups the 58 wilayas into n regions, deterministically: the
// wilayas are ordered west to east (longitude of the chef-lieu) and cut into
// n contiguous strips whose largest population is as small as possible.
// Region i (0-based) is served by data center dc(i+1) of every agency. With
// n > 58 the regions past the 58th are empty. The result lists wilaya codes.
func Regions(n int) [][]int {
	if n < 1 {
		n = 1
	}
	order := make([]int, NumWilayas)
	for i := range order {
		order[i] = i + 1
	}
	sort.SliceStable(order, func(a, b int) bool {
		wa, wb := wilayas[order[a]], wilayas[order[b]]
		if wa.Longitude != wb.Longitude {
			return wa.Longitude < wb.Longitude
		}
		return wa.Code < wb.Code
	})
	k := min(n, NumWilayas)
	cuts := linearPartition(order, k)
	out := make([][]int, n)
	start := 0
	for i, end := range cuts {
		out[i] = append([]int(nil), order[start:end]...)
		sort.Ints(out[i])
		start = end
	}
	return out
}

// linearPartition splits order into k non-empty contiguous parts minimizing
// the largest part's population; it returns the end index of each part.
func linearPartition(order []int, k int) []int {
	m := len(order)
	prefix := make([]int, m+1)
	for i, w := range order {
		prefix[i+1] = prefix[i] + wilayas[w].Population
	}
	// best[j][i]: minimal max part over the first i wilayas in j parts.
	best := make([][]int, k+1)
	from := make([][]int, k+1)
	for j := range best {
		best[j] = make([]int, m+1)
		from[j] = make([]int, m+1)
		for i := range best[j] {
			best[j][i] = math.MaxInt
		}
	}
	best[0][0] = 0
	for j := 1; j <= k; j++ {
		for i := j; i <= m-(k-j); i++ {
			for p := j - 1; p < i; p++ {
				if best[j-1][p] == math.MaxInt {
					continue
				}
				v := max(best[j-1][p], prefix[i]-prefix[p])
				if v < best[j][i] {
					best[j][i], from[j][i] = v, p
				}
			}
		}
	}
	cuts := make([]int, k)
	i := m
	for j := k; j >= 1; j-- {
		cuts[j-1] = i
		i = from[j][i]
	}
	return cuts
}

// regionMap maps wilaya codes to region indexes for n regions.
type regionMap [NumWilayas + 1]uint8

func newRegionMap(n int) regionMap {
	var m regionMap
	for r, ws := range Regions(n) {
		for _, w := range ws {
			m[w] = uint8(r)
		}
	}
	return m
}

// RegionOf returns the 0-based region of wilaya code w among n regions
// (data center dc(RegionOf+1)).
func RegionOf(w, n int) int {
	if w < 1 || w > NumWilayas {
		return 0
	}
	m := newRegionMap(n)
	return int(m[w])
}

// syntheticCommune is the reserved synthetic commune code of wilaya w:
// 99WW can never be a real commune (real codes are WWCC with WW <= 69).
func syntheticCommune(w int) string {
	if w >= 1 && w <= NumWilayas {
		return communeCodes[w]
	}
	return fmt.Sprintf("99%02d", w)
}

var communeCodes = func() (c [NumWilayas + 1]string) {
	for w := 1; w <= NumWilayas; w++ {
		c[w] = fmt.Sprintf("99%02d", w)
	}
	return c
}()

// wilayaOfCommune returns WW of a synthetic commune 99WW (0 when it is not one).
func wilayaOfCommune(c string) int {
	if len(c) != 4 || c[0] != '9' || c[1] != '9' {
		return 0
	}
	w := int(c[2]-'0')*10 + int(c[3]-'0')
	if c[2] < '0' || c[2] > '9' || c[3] < '0' || c[3] > '9' || w < 1 || w > NumWilayas {
		return 0
	}
	return w
}
