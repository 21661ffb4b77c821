package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/askonce/askonce/internal/lookup"
	"github.com/askonce/askonce/schemas"
)

// item is one labelled value of a document, as the templates lay it out:
// Text, or Sub (an object: a nested list), or Table (a list of objects).
type item struct {
	Key   string
	Label string
	Text  string
	Sub   []item
	Table *table
}

type table struct {
	Head []string
	Rows [][]item
}

// docView is an issued document laid out like its paper.
type docView struct {
	ID, Type, Paper, PaperFR string
	NIN                      string
	Purpose                  string
	Agency, Clerk            string
	IssuedAt, AsOf           string
	ValidUntil               string
	Expired                  bool
	Issuer                   string
	Fields                   []item
	Provenance               []provView
	KID                      string
	Code, VerifyURL          string
	QR                       template.HTML
}

type provView struct{ Agency, DataCenter, SourceKey, Version, EventTime string }

// document is the signed document body (the API's lookup.Document).
type document lookup.Document

func parseDocument(b []byte) (document, error) {
	var d document
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&d); err != nil {
		return d, fmt.Errorf("console: document: %w", err)
	}
	if d.ID == "" || d.Type == "" {
		return d, fmt.Errorf("console: document: no id or type")
	}
	return d, nil
}

// expired says whether the document's validity ended before now.
func (d document) expired(now time.Time) bool {
	if d.ValidUntil == nil {
		return false
	}
	t, err := time.Parse(time.RFC3339, *d.ValidUntil)
	return err == nil && now.After(t)
}

// fieldOrder is the order of fields on the papers; others follow by name.
var fieldOrder = []string{"nin", "nss", "surname_arabic", "surname_latin", "first_names_arabic", "first_names_latin",
	"marital_surname_latin", "sex", "birth_date", "birth_date_presumed", "birth_time", "birth_commune", "birth_wilaya",
	"father_first_name", "mother_name", "alive", "date_of_death", "place_commune", "act", "marginal_notes",
	"spouse_nin", "spouse_surname_latin", "spouse_first_names_latin", "marriage_date", "dissolved_by_divorce",
	"spouses", "children", "marriages", "up_to_date", "last_period", "periods_checked", "funds", "funds_checked",
	"affiliations", "past_affiliations", "period", "fund", "employer_id", "employer_nif", "employer_name", "position", "regime",
	"start_date", "end_date", "status", "wage_base", "amount_due", "amount_paid", "wages", "due", "paid",
	"number", "year", "commune", "registered_on", "periods", "totals", "arabic", "latin"}

func orderKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	rank := func(k string) int {
		if i := slices.Index(fieldOrder, k); i >= 0 {
			return i
		}
		return len(fieldOrder)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra - rb
		}
		return strings.Compare(a, b)
	})
	return keys
}

// amounts are centimes of DZD.
var amountKeys = map[string]bool{"wage_base": true, "amount_due": true, "amount_paid": true, "wages": true, "due": true, "paid": true}

var dateRe = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)

// maskNIN keeps the last four digits: enough to compare with the paper,
// not enough to use the number.
func maskNIN(s string) string {
	if len(s) < 4 {
		return strings.Repeat("•", len(s))
	}
	return strings.Repeat("•", len(s)-4) + s[len(s)-4:]
}

func isNINKey(k string) bool { return k == "nin" || strings.HasSuffix(k, "_nin") }

// builder turns JSON values into items in one language.
type builder struct {
	l    *Lang
	mask bool // mask NINs (the public verify page)
}

func (b builder) items(m map[string]any) []item {
	var out []item
	for _, k := range orderKeys(m) {
		out = append(out, b.item(k, m[k]))
	}
	return out
}

func (b builder) item(key string, v any) item {
	it := item{Key: key, Label: b.l.Field(key)}
	switch x := v.(type) {
	case map[string]any:
		it.Sub = b.items(x)
	case []any:
		if len(x) == 0 {
			it.Text = "—"
			break
		}
		objects := true
		for _, e := range x {
			if _, ok := e.(map[string]any); !ok {
				objects = false
			}
		}
		if !objects {
			parts := make([]string, len(x))
			for i, e := range x {
				parts[i] = b.text(key, e)
			}
			it.Text = strings.Join(parts, ", ")
			break
		}
		cols := map[string]any{}
		for _, e := range x {
			for k := range e.(map[string]any) {
				cols[k] = nil
			}
		}
		keys := orderKeys(cols)
		t := &table{}
		for _, k := range keys {
			t.Head = append(t.Head, b.l.Field(k))
		}
		for _, e := range x {
			row := make([]item, len(keys))
			for i, k := range keys {
				val, ok := e.(map[string]any)[k]
				if !ok {
					val = nil
				}
				row[i] = b.item(k, val)
			}
			t.Rows = append(t.Rows, row)
		}
		it.Table = t
	default:
		it.Text = b.text(key, v)
	}
	return it
}

// text formats a scalar as the paper prints it.
func (b builder) text(key string, v any) string {
	switch x := v.(type) {
	case nil:
		return "—"
	case bool:
		if x {
			return b.l.yes
		}
		return b.l.no
	case json.Number:
		if amountKeys[key] {
			if n, err := strconv.ParseInt(string(x), 10, 64); err == nil {
				return formatDZD(n)
			}
		}
		return string(x)
	case string:
		switch {
		case b.mask && isNINKey(key) && schemas.ValidNIN(x):
			return maskNIN(x)
		case key == "sex" && (x == "M" || x == "F"):
			return b.l.T("sex." + x)
		case key == "status" && b.l.HasMessage("status."+x):
			return b.l.T("status." + x)
		case dateRe.MatchString(x):
			return x[8:10] + "/" + x[5:7] + "/" + x[0:4]
		}
		if t, err := time.Parse(time.RFC3339Nano, x); err == nil {
			return formatTime(t)
		}
		return x
	default:
		return fmt.Sprint(x)
	}
}

// formatDZD prints centimes as dinars: 1234567 -> "12 345,67 DA".
func formatDZD(c int64) string {
	neg := c < 0
	if neg {
		c = -c
	}
	s := strconv.FormatInt(c/100, 10)
	var g []string
	for len(s) > 3 {
		g = append([]string{s[len(s)-3:]}, g...)
		s = s[:len(s)-3]
	}
	g = append([]string{s}, g...)
	out := fmt.Sprintf("%s,%02d DA", strings.Join(g, "\u00a0"), c%100)
	if neg {
		out = "-" + out
	}
	return out
}

func formatTime(t time.Time) string { return t.UTC().Format("02/01/2006 15:04") + " UTC" }

func formatStamp(s string) string {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return formatTime(t)
	}
	return s
}

// buildDoc lays out document d in language l; mask hides NINs (public
// page). verifyURL, code and the QR code are set by the caller.
func buildDoc(d document, l *Lang, mask bool, now time.Time) *docView {
	b := builder{l: l, mask: mask}
	v := &docView{ID: d.ID, Type: d.Type, PaperFR: d.Paper, Paper: l.Paper(d.Type, d.Paper), NIN: d.NIN,
		Purpose: l.Purpose(d.Purpose), IssuedAt: formatStamp(d.IssuedAt), AsOf: formatStamp(d.AsOf),
		Issuer: d.Issuer, Expired: d.expired(now), Fields: b.items(d.Fields)}
	if mask {
		v.NIN = maskNIN(d.NIN)
	}
	if d.ValidUntil != nil {
		v.ValidUntil = formatStamp(*d.ValidUntil)
	}
	if s, ok := d.RequestedBy["agency"].(string); ok {
		v.Agency = s
	}
	if s, ok := d.RequestedBy["clerk_id"].(string); ok {
		v.Clerk = s
	}
	if len(d.Provenance) <= maxProvenanceRows {
		for _, p := range d.Provenance {
			v.Provenance = append(v.Provenance, provView{Agency: p.Agency, DataCenter: p.DataCenter, SourceKey: p.SourceKey,
				Version: string(p.SourceVersion), EventTime: formatStamp(p.EventTime)})
		}
		return v
	}
	// A long statement (hundreds of monthly periods) has as many source
	// records: one row per data center then, with how many records, the
	// first and last keys, the versions and the latest event.
	type group struct {
		provView
		n           int
		first, last string
		minV, maxV  int64
		latest      string
	}
	var groups []*group
	byDC := map[string]*group{}
	for _, p := range d.Provenance {
		k := p.Agency + "\x00" + p.DataCenter
		g := byDC[k]
		ver, _ := strconv.ParseInt(string(p.SourceVersion), 10, 64)
		if g == nil {
			g = &group{provView: provView{Agency: p.Agency, DataCenter: p.DataCenter}, first: p.SourceKey, minV: ver, maxV: ver}
			byDC[k] = g
			groups = append(groups, g)
		}
		g.n++
		g.last = p.SourceKey
		g.minV, g.maxV = min(g.minV, ver), max(g.maxV, ver)
		if p.EventTime > g.latest { // RFC 3339 UTC stamps sort as text
			g.latest = p.EventTime
		}
	}
	for _, g := range groups {
		pv := g.provView
		pv.SourceKey = fmt.Sprintf("%d %s: %s … %s", g.n, l.T("prov.records"), g.first, g.last)
		if g.n == 1 {
			pv.SourceKey = g.first
		}
		pv.Version = strconv.FormatInt(g.minV, 10)
		if g.maxV != g.minV {
			pv.Version += "–" + strconv.FormatInt(g.maxV, 10)
		}
		pv.EventTime = formatStamp(g.latest)
		v.Provenance = append(v.Provenance, pv)
	}
	return v
}

// maxProvenanceRows is the most source records listed one per row.
const maxProvenanceRows = 24
