package lookup

import (
	"bytes"
	"net/http"
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

// FuzzDecodeBulk: any bulk portfolio body (a JSON array or JSON lines) is
// refused whole or gives one result per member, numbered in order; a line
// that is not a member is its own 400, never a failure of the upload.
func FuzzDecodeBulk(f *testing.F) {
	f.Add([]byte(`[{"nin":"109859916000420137","kinds":["DEATH"],"purpose":"pension-death-watch"},"x",{"op":"delete"}]`), false)
	f.Add([]byte("{\"nin\":\"109859916000420137\",\"kinds\":[\"DEATH\"]}\n\n{\"nin\":1}\nnot json\n"), true)
	f.Add([]byte(`[`), false)
	f.Add([]byte(`[{"nin":"1","unknown":true}] []`), false)
	f.Add([]byte("\x00\n\r\n{}{}\n"), true)
	f.Fuzz(func(t *testing.T, body []byte, lines bool) {
		reqs, results, err := decodeBulk(bytes.NewReader(body), lines)
		if err != nil {
			return
		}
		if len(reqs) != len(results) || len(reqs) > BulkMaxMembers {
			t.Fatalf("%d members, %d results", len(reqs), len(results))
		}
		prev := 0
		for _, r := range results {
			if r.Line <= prev {
				t.Fatalf("result line %d after %d", r.Line, prev)
			}
			prev = r.Line
			if r.Status != 0 && r.Status != http.StatusBadRequest {
				t.Fatalf("decode gave status %d", r.Status)
			}
		}
	})
}
