package lookup

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/askonce/askonce/schemas"
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
			if !schemas.ValidNIN(req.NIN) {
				t.Fatalf("valid request with a bad NIN %q", req.NIN)
			}
			if _, ok := DocumentByType(req.DocumentType); !ok {
				t.Fatalf("valid request with unknown type %q", req.DocumentType)
			}
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
