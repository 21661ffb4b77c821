package csvdrop

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/schemas"
)

// TestReadmeExamples: README.md documents every column of every kind, and
// each kind's example file maps and passes the record rules.
func TestReadmeExamples(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	rules := schemas.Rules{AllowSynthetic: true}
	topics := bus.NewTopics(bus.TopicsConfig{})
	for _, k := range Kinds {
		heading := "### `" + k.Name + "-*.csv`"
		i := strings.Index(doc, heading)
		if i < 0 {
			t.Errorf("README.md has no section %q", heading)
			continue
		}
		section := doc[i+len(heading):]
		if j := strings.Index(section, "\n### "); j >= 0 {
			section = section[:j]
		}
		if j := strings.Index(section, "\n## "); j >= 0 {
			section = section[:j]
		}
		for _, c := range k.Columns[len(common):] {
			if !strings.Contains(section, "`"+c.Name+"`") {
				t.Errorf("%s: column %s is not documented", k.Name, c.Name)
			}
		}
		start := strings.Index(section, "```csv\n")
		if start < 0 {
			t.Errorf("%s: no example", k.Name)
			continue
		}
		example := section[start+len("```csv\n"):]
		example = example[:strings.Index(example, "```")]
		recs := readAll(t, example)
		h, err := parseHeader(k, recs[0].fields)
		if err != nil {
			t.Errorf("%s example: %v", k.Name, err)
			continue
		}
		agency := "etatcivil"
		if k.Base != bus.BaseCivilStatus {
			agency = "cnas"
		}
		fi := &fileInfo{name: k.Name + "-example.csv", hdr: h, origin: schemas.Origin{Agency: agency, DataCenter: agency + "-dc01"},
			eventTime: time.Now().Add(-time.Minute).UTC().Truncate(time.Millisecond), topics: topics}
		for _, rec := range recs[1:] {
			r := fi.toRecord(rec)
			if r.MapErr != nil {
				t.Errorf("%s example line %d: %v", k.Name, rec.line, r.MapErr)
				continue
			}
			var vs schemas.Violations
			switch v := r.Value.(type) {
			case *schemas.CivilStatusRecord:
				vs = rules.CivilStatus(v)
			case *schemas.EmploymentRecord:
				vs = rules.Employment(v)
			case *schemas.ContributionRecord:
				vs = rules.Contribution(v)
			}
			if len(vs) > 0 {
				t.Errorf("%s example line %d: %v", k.Name, rec.line, vs)
			}
		}
	}
}
