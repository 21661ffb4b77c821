package registry

import (
	"testing"

	"github.com/hamba/avro/v2"

	"github.com/askonce/askonce/schemas"
)

// FuzzParseSchema: any schema text sent to POST /subjects/{s}/versions is
// parsed and normalized or refused with a 422, never a panic; a
// normalized schema parses again to itself, and the compatibility check
// of a schema against itself runs to its end.
func FuzzParseSchema(f *testing.F) {
	subs, err := schemas.Catalog()
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range subs {
		for _, v := range s.Versions {
			f.Add(v)
		}
	}
	for _, s := range []string{`"string"`, `{"type":"record","name":"a","fields":[{"name":"a","type":"a"}]}`,
		`{"type":"enum","name":"e","symbols":[]}`, `{"type":"fixed","name":"f","size":-1}`, `["null","null"]`,
		`{"type":"array","items":{"type":"map","values":"bytes"}}`, `{"type":"record","name":"r","fields":[{"name":"x","type":"int","default":"no"}]}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		p, apiErr := parseSchema(text, "", nil)
		if apiErr != nil {
			if apiErr.Status != 422 {
				t.Fatalf("status %d for a bad schema", apiErr.Status)
			}
			return
		}
		again, apiErr := parseSchema(p.text, "", nil)
		if apiErr != nil {
			t.Fatalf("normalized schema %s does not parse: %s", p.text, apiErr.Message)
		}
		if again.text != p.text {
			t.Fatalf("normalization is not stable:\n%s\n%s", p.text, again.text)
		}
		for _, level := range []string{"BACKWARD", "FORWARD", "FULL_TRANSITIVE", "NONE"} {
			Check(level, p.schema, []avro.Schema{again.schema})
		}
	})
}
