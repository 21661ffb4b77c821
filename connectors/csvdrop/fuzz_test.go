package csvdrop

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/askonce/askonce/connectors/connector"
	"github.com/askonce/askonce/schemas"
)

// corpusSeeds adds every file of testdata/csv (the bad-input corpus) as a seed.
func corpusSeeds(f *testing.F, add func(b []byte)) {
	paths, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "csv", "*.csv"))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		add(b)
	}
}

// FuzzCSVReader: any bytes read as a CSV file give records with growing
// line numbers, each either fields or a line error, none longer than
// MaxLine, and the reader ends; it never fails on the data itself.
func FuzzCSVReader(f *testing.F) {
	corpusSeeds(f, func(b []byte) { f.Add(b) })
	for _, s := range []string{"a,b\n\"open,1\n2,3\n", "a\n\"\"\"\n", "\xEF\xBB\xBFa\r\n\r\n", "a,b\n\"x\r\ny\",\"", "\"\n\"\n\"\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := newCSVReader(bytes.NewReader(data))
		prev, n := 0, 0
		for {
			rec, err := r.next()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				t.Fatalf("next: %v (the data cannot make the reader fail)", err)
			}
			if rec.line <= prev {
				t.Fatalf("record at line %d after line %d", rec.line, prev)
			}
			prev = rec.line
			if rec.err == nil && len(rec.fields) == 0 {
				t.Fatalf("line %d: neither fields nor an error", rec.line)
			}
			if len(rec.raw) > MaxLine {
				t.Fatalf("line %d: raw of %d bytes", rec.line, len(rec.raw))
			}
			if n++; n > len(data)+1 {
				t.Fatalf("%d records from %d bytes: the reader does not end", n, len(data))
			}
		}
	})
}

var fuzzKinds = []string{"birth", "marriage", "divorce", "death", "affiliation", "employment", "contribution"}

// FuzzCSVLine: one line under the header of each record kind is mapped to
// a record or refused with a code, never by a panic (toRecord recovers
// from one and dead-letters the line: for the fuzzer that is a failure).
func FuzzCSVLine(f *testing.F) {
	corpusSeeds(f, func(b []byte) {
		lines := strings.Split(string(b), "\n")
		for i, l := range lines[1:] {
			f.Add(uint8(i), []byte(l))
		}
	})
	f.Add(uint8(0), []byte("1,1,109859916001010137,BENALI,بن علي,Youcef,يوسف,M,1985-03-14,9916,16,101,1985,9916,1985-03-16,a|b"))
	f.Fuzz(func(t *testing.T, k uint8, line []byte) {
		kind := KindOf(fuzzKinds[int(k)%len(fuzzKinds)] + "-fuzz.csv")
		if kind == nil {
			t.Fatal("no kind")
		}
		hdr, err := parseHeader(kind, kind.names())
		if err != nil {
			t.Fatalf("header of its own names: %v", err)
		}
		fi := &fileInfo{name: "fuzz.csv", hdr: hdr, origin: schemas.Origin{Agency: "etatcivil", DataCenter: "etatcivil-dc07"}}
		rec := parseRecord(2, line)
		out := fi.toRecord(rec)
		if out.MapErr == nil && out.Value == nil {
			t.Fatalf("line %q: neither a record nor an error", line)
		}
		if out.MapErr != nil && out.MapErr.Code == connector.CodePayloadInvalid && strings.Contains(out.MapErr.Message, "cannot be mapped") {
			t.Fatalf("line %q: mapping panicked: %s", line, out.MapErr.Message)
		}
	})
}
