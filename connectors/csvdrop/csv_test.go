package csvdrop

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

// readAll reads every record of data.
func readAll(t *testing.T, data string) []record {
	t.Helper()
	return readWant(t, data, 0)
}

// readWant reads every record of data, the header having want fields.
func readWant(t *testing.T, data string, want int) []record {
	t.Helper()
	r := newCSVReader(strings.NewReader(data))
	r.want = want
	var out []record
	for {
		rec, err := r.next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("next: %v", err)
		}
		out = append(out, rec)
		if len(out) > 10000 {
			t.Fatal("reader does not end")
		}
	}
}

// summary is "line:fields" or "line:code" per record.
func summary(recs []record) string {
	var parts []string
	for _, r := range recs {
		if r.err != nil {
			parts = append(parts, fmt.Sprintf("%d:%s", r.line, r.err.Code))
		} else {
			parts = append(parts, fmt.Sprintf("%d:%q", r.line, r.fields))
		}
	}
	return strings.Join(parts, " ")
}

func TestReaderRFC4180(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"plain", "a,b\n1,2\n", `1:["a" "b"] 2:["1" "2"]`},
		{"no final newline", "a,b\n1,2", `1:["a" "b"] 2:["1" "2"]`},
		{"crlf", "a,b\r\n1,2\r\n", `1:["a" "b"] 2:["1" "2"]`},
		{"bom", "\xEF\xBB\xBFa,b\n1,2\n", `1:["a" "b"] 2:["1" "2"]`},
		{"blank lines", "a,b\n\n1,2\r\n\r\n3,4\n", `1:["a" "b"] 3:["1" "2"] 5:["3" "4"]`},
		{"empty fields", "a,b,c\n,,\n", `1:["a" "b" "c"] 2:["" "" ""]`},
		{"quoted comma and quote", "a,b\n\"x, y\",\"say \"\"hi\"\"\"\n", `1:["a" "b"] 2:["x, y" "say \"hi\""]`},
		{"quoted newline", "a,b\n\"two\nlines\",\"crlf\r\ninside\"\n3,4\n", `1:["a" "b"] 2:["two\nlines" "crlf\ninside"] 5:["3" "4"]`},
		{"bare quote", "a,b\nab\"c,d\n1,2\n", `1:["a" "b"] 2:csv.malformed 3:["1" "2"]`},
		{"text after quote", "a,b\n\"ab\"c,d\n1,2\n", `1:["a" "b"] 2:csv.malformed 3:["1" "2"]`},
		// A stray opening quote costs its own line only.
		{"unterminated mid-file", "a,b\n\"open,1\n2,3\n4,5\n", `1:["a" "b"] 2:csv.malformed 3:["2" "3"] 4:["4" "5"]`},
		{"unterminated last line", "a,b\n1,2\n\"open,3", `1:["a" "b"] 2:["1" "2"] 3:csv.malformed`},
		{"latin-1", "a,b\nB\xe9n\xe9,2\n1,2\n", `1:["a" "b"] 2:csv.encoding 3:["1" "2"]`},
		{"nul", "a,b\nx\x00,2\n", `1:["a" "b"] 2:csv.encoding`},
		{"injection is data", "a,b\n\"=cmd|' /C calc'!A0\",@SUM(1+1)\n", `1:["a" "b"] 2:["=cmd|' /C calc'!A0" "@SUM(1+1)"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := summary(readAll(t, tc.in)); got != tc.want {
				t.Errorf("\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

// TestReaderStrayQuote: a quote that "closes" on a later line into a
// record that does not parse, or has the wrong field count, costs its
// own line only.
func TestReaderStrayQuote(t *testing.T) {
	in := "a,b\n\"open,1\n2,3\n4,\"x\"\"y\nz\"\n5,6\n\"stray,7\n8,\"\"\n9,10\n"
	want := `1:["a" "b"] 2:csv.malformed 3:["2" "3"] 4:["4" "x\"y\nz"] 6:["5" "6"] 7:csv.malformed 8:["8" ""] 9:["9" "10"]`
	if got := summary(readWant(t, in, 2)); got != want {
		t.Errorf("\n got %s\nwant %s", got, want)
	}
}

func TestReaderLimits(t *testing.T) {
	long := strings.Repeat("x", MaxLine+10)
	recs := readAll(t, "a,b\n"+long+",1\n1,2\n")
	if got := summary(recs); got != `1:["a" "b"] 2:line.too_long 3:["1" "2"]` {
		t.Fatalf("got %s", got)
	}
	if len(recs[1].raw) != MaxLine {
		t.Errorf("raw of a long line is %d bytes, want the first %d", len(recs[1].raw), MaxLine)
	}

	// A quoted field that spans lines past MaxLine never closes: its first
	// line is rejected and the lines it swallowed are read again.
	var b bytes.Buffer
	b.WriteString("a,b\n\"open,1\n")
	for i := 0; i < 2000; i++ {
		fmt.Fprintf(&b, "%d,%s\n", i, strings.Repeat("y", 40))
	}
	recs = readAll(t, b.String())
	if len(recs) != 2002 || recs[1].err == nil || recs[1].err.Code != "csv.malformed" || recs[2].line != 3 || recs[2].fields[0] != "0" ||
		recs[2001].line != 2002 || recs[2001].err != nil {
		t.Fatalf("%d records; second %+v; third %+v", len(recs), recs[1].err, recs[2].fields)
	}

	// A legit multi-line field of 5000 bytes is one record (its length is
	// the mapping's concern: field.too_long).
	big := strings.Repeat("z\n", 2500)
	recs = readAll(t, "a,b\n\""+big+"\",1\n2,3\n")
	if got := len(recs); got != 3 || len(recs[1].fields[0]) != 5000 || recs[2].line != 2503 {
		t.Fatalf("%d records: %s", got, summary(recs[2:]))
	}
}
