package csvdrop

import (
	"fmt"
	"slices"
	"strings"

	"github.com/askonce/askonce/internal/bus"
)

// Limits of the CSV format. A field or a line (a record: several physical
// lines when a quoted field holds newlines) over them is dead-lettered
// alone; the rest of the file goes on.
const (
	MaxField = 4 << 10  // bytes of one field
	MaxLine  = 64 << 10 // bytes of one record, line terminators included
)

// colType is how a column's text is read.
type colType int

const (
	tText  colType = iota // as is (surrounding spaces removed); empty = absent
	tInt                  // 32-bit decimal integer
	tInt64                // 64-bit decimal integer (versions, amounts in centimes)
	tBool                 // true/false, t/f, 1/0, yes/no; empty = false
	tDate                 // YYYY-MM-DD
	tTime                 // HH:MM or HH:MM:SS
	tNotes                // marginal notes, separated by '|'
)

// Column is one column of a kind's format.
type Column struct {
	Name     string
	Type     colType
	Required bool // must be in the header (its cells may still be empty)
}

// Kind is one file format: the record kind a file name prefix selects.
type Kind struct {
	Name    string // birth, marriage, ...: the file name prefix and the source key's entity
	Base    string // the topic (base name) its records go to
	Columns []Column
}

// column returns the column named name.
func (k *Kind) column(name string) (Column, bool) {
	for _, c := range k.Columns {
		if c.Name == name {
			return c, true
		}
	}
	return Column{}, false
}

func req(name string, t colType) Column { return Column{Name: name, Type: t, Required: true} }
func opt(name string, t colType) Column { return Column{Name: name, Type: t} }

// common are the columns of every kind: the row's key in the legacy system,
// its version, and the operation.
var common = []Column{req("id", tText), req("version", tInt64), opt("op", tText)}

func kind(name, base string, cols ...Column) *Kind {
	return &Kind{Name: name, Base: base, Columns: append(slices.Clone(common), cols...)}
}

// Kinds are the formats, by file name prefix. Column names are the
// pgoutbox payload keys (the synthetic agencies' table columns in
// internal/synth/sql/agency.sql); a required column is one the record
// rules need for an upsert.
var Kinds = []*Kind{
	kind("birth", bus.BaseCivilStatus,
		req("nin", tText), req("surname_latin", tText), req("surname_arabic", tText),
		req("first_names_latin", tText), req("first_names_arabic", tText), opt("marital_surname_latin", tText),
		req("sex", tText), req("birth_date", tDate), opt("birth_date_presumed", tBool),
		req("birth_commune", tText), req("birth_wilaya", tText),
		opt("father_first_name_latin", tText), opt("father_first_name_arabic", tText),
		opt("mother_surname_latin", tText), opt("mother_first_names_latin", tText),
		opt("mother_surname_arabic", tText), opt("mother_first_names_arabic", tText),
		opt("father_nin", tText), opt("mother_nin", tText),
		req("act_number", tInt), req("act_year", tInt), req("act_commune", tText),
		req("registered_on", tDate), opt("birth_time", tTime), opt("marginal_notes", tNotes)),
	kind("marriage", bus.BaseCivilStatus,
		req("nin", tText), req("act_number", tInt), req("act_year", tInt), req("act_commune", tText),
		req("marriage_date", tDate), req("spouse_nin", tText),
		opt("spouse_surname_latin", tText), opt("spouse_first_names_latin", tText), opt("marginal_notes", tNotes)),
	kind("divorce", bus.BaseCivilStatus,
		req("nin", tText), req("spouse_nin", tText), req("divorce_date", tDate),
		opt("court", tText), opt("judgment_number", tText),
		opt("marriage_act_number", tInt), opt("marriage_act_year", tInt), opt("marriage_act_commune", tText),
		opt("marginal_notes", tNotes)),
	kind("death", bus.BaseCivilStatus,
		req("nin", tText), req("act_number", tInt), req("act_year", tInt), req("act_commune", tText),
		req("date_of_death", tDate), req("place_commune", tText), opt("marginal_notes", tNotes)),
	kind("affiliation", bus.BaseEmployment,
		req("nin", tText), req("nss", tText), req("fund", tText), req("start_date", tDate),
		opt("end_date", tDate), req("status", tText), opt("regime", tText)),
	kind("employment", bus.BaseEmployment,
		req("nin", tText), req("nss", tText), req("fund", tText), req("employer_id", tText),
		req("employer_name", tText), opt("employer_nif", tText), req("start_date", tDate),
		opt("end_date", tDate), req("status", tText), opt("position", tText)),
	kind("contribution", bus.BaseContribution,
		req("subject", tText), opt("nin", tText), opt("nss", tText), opt("employer_id", tText),
		req("fund", tText), req("period", tText),
		req("wage_base", tInt64), req("amount_due", tInt64), req("amount_paid", tInt64),
		req("status", tText), opt("due_date", tDate), opt("paid_date", tDate)),
}

// KindOf returns the format of a file name (birth-2026-01.csv is a birth
// file), nil when the prefix names none.
func KindOf(name string) *Kind {
	lower := strings.ToLower(name)
	for _, k := range Kinds {
		if strings.HasPrefix(lower, k.Name+"-") {
			return k
		}
	}
	return nil
}

// header is a file's validated header: for each field position, its column.
type header struct {
	kind *Kind
	cols []Column
	pos  map[string]int
}

// parseHeader checks a header line's fields against k: every required
// column present, no unknown and no repeated column. Names are matched
// without surrounding spaces and case-insensitively.
func parseHeader(k *Kind, fields []string) (*header, error) {
	h := &header{kind: k, pos: map[string]int{}}
	var unknown, repeated, missing []string
	for i, f := range fields {
		name := strings.ToLower(strings.TrimSpace(f))
		c, ok := k.column(name)
		if !ok {
			unknown = append(unknown, fmt.Sprintf("%q", f))
			continue
		}
		if _, dup := h.pos[name]; dup {
			repeated = append(repeated, name)
			continue
		}
		h.pos[name] = i
		h.cols = append(h.cols, c)
	}
	for _, c := range k.Columns {
		if _, ok := h.pos[c.Name]; c.Required && !ok {
			missing = append(missing, c.Name)
		}
	}
	var problems []string
	if len(missing) > 0 {
		problems = append(problems, "missing required column(s) "+strings.Join(missing, ", "))
	}
	if len(unknown) > 0 {
		problems = append(problems, fmt.Sprintf("unknown column(s) %s (a %s file has %s)",
			strings.Join(unknown, ", "), k.Name, strings.Join(k.names(), ", ")))
	}
	if len(repeated) > 0 {
		problems = append(problems, "repeated column(s) "+strings.Join(repeated, ", "))
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("header: %s", strings.Join(problems, "; "))
	}
	// cols in field order, for the field-length messages.
	h.cols = make([]Column, len(fields))
	for name, i := range h.pos {
		h.cols[i], _ = k.column(name)
	}
	return h, nil
}

func (k *Kind) names() []string {
	out := make([]string, len(k.Columns))
	for i, c := range k.Columns {
		out[i] = c.Name
	}
	return out
}
