package lookup

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

// FuzzDecodeRequest: any body is decoded or refused with an error, never a
// panic; what is accepted validates consistently.
func FuzzDecodeRequest(f *testing.F) {
	f.Add([]byte(`{"document_type":"birth-certificate","nin":"109859916000420137","purpose":"civil-status-issuance","clerk_id":"c-1"}`))
	f.Add([]byte(`{"document_type":`))
	f.Add([]byte(`{} {}`))
	f.Add([]byte(`{"nin":"\u0000\ud800"}`))
	f.Add([]byte(`[1,2,3]`))
	f.Add([]byte(strings.Repeat(`{"a":`, 1000)))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := DecodeRequest(bytes.NewReader(body), 16<<10)
		if err != nil {
			return
		}
		errs := req.Validate()
		if len(errs) == 0 {
			if _, err := ParseNIN(req.NIN); err != nil {
				t.Fatalf("valid request with a bad NIN %q", req.NIN)
			}
			if _, ok := DocumentByType(req.DocumentType); !ok {
				t.Fatalf("valid request with unknown type %q", req.DocumentType)
			}
		}
	})
}

var eighteenDigits = regexp.MustCompile(`^[0-9]{18}$`)

// FuzzParseNIN: a NIN is accepted exactly when it is 18 ASCII digits.
func FuzzParseNIN(f *testing.F) {
	for _, s := range []string{"109859916000420137", "", "12345", "10985991600042013X", "１０９８５９９１６０００４２０１３７", "109859916000420137\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, err := ParseNIN(s)
		if (err == nil) != eighteenDigits.MatchString(s) {
			t.Fatalf("ParseNIN(%q) = %v", s, err)
		}
		if err == nil && len(s) != 18 {
			t.Fatalf("accepted %q of length %d", s, len(s))
		}
	})
}
