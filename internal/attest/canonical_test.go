package attest_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/askonce/askonce/internal/attest"
)

func canon(t *testing.T, v any) string {
	t.Helper()
	b, err := attest.Canonical(v)
	if err != nil {
		t.Fatalf("Canonical(%#v): %v", v, err)
	}
	return string(b)
}

// TestCanonicalRFC8785 uses the examples of RFC 8785 that fall in the
// subset askonce signs (no floats).
func TestCanonicalRFC8785(t *testing.T) {
	// §3.2.3: sorting by UTF-16 code units, not by UTF-8 bytes or runes
	// (U+1F600 sorts before U+FB33).
	in := `{
	  "\u20ac": "Euro Sign",
	  "\r": "Carriage Return",
	  "\ufb33": "Hebrew Letter Dalet With Dagesh",
	  "1": "One",
	  "\ud83d\ude00": "Emoji: Grinning Face",
	  "\u0080": "Control",
	  "\u00f6": "Latin Small Letter O With Diaeresis"
	}`
	want := "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u0080\":\"Control\",\"ö\":\"Latin Small Letter O With Diaeresis\"," +
		"\"€\":\"Euro Sign\",\"😀\":\"Emoji: Grinning Face\",\"\ufb33\":\"Hebrew Letter Dalet With Dagesh\"}"
	if got := canon(t, json.RawMessage(in)); got != want {
		t.Errorf("sorting:\n got %s\nwant %s", got, want)
	}
	// The same from a Go map.
	m := map[string]any{"\u20ac": "Euro Sign", "\r": "Carriage Return", "\ufb33": "Hebrew Letter Dalet With Dagesh",
		"1": "One", "😀": "Emoji: Grinning Face", "\u0080": "Control", "ö": "Latin Small Letter O With Diaeresis"}
	if got := canon(t, m); got != want {
		t.Errorf("sorting a map:\n got %s\nwant %s", got, want)
	}
	// §3.2.2.2: string escaping.
	if got, want := canon(t, json.RawMessage(`"\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/"`)), `"€$\u000f\nA'B\"\\\\\"/"`; got != want {
		t.Errorf("strings: got %s want %s", got, want)
	}
	// §3.2.4 without its floats.
	in = `{"literals": [null, true, false], "numbers": [333333333, 0, -0, -9007199254740991], "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/"}`
	want = `{"literals":[null,true,false],"numbers":[333333333,0,0,-9007199254740991],"string":"€$\u000f\nA'B\"\\\\\"/"}`
	if got := canon(t, json.RawMessage(in)); got != want {
		t.Errorf("§3.2.4:\n got %s\nwant %s", got, want)
	}
}

func TestCanonicalGoValues(t *testing.T) {
	type kind string
	issued := time.Date(2026, 11, 25, 15, 37, 0, 0, time.FixedZone("CET", 3600))
	doc := map[string]any{
		"id":        "doc-1",
		"type":      kind("birth-certificate"),
		"issued_at": issued,
		"valid_at":  time.Date(2026, 11, 25, 14, 37, 0, 500_000_000, time.UTC),
		"subject":   map[string]string{"nin": "109991234500012345", "name": "<Ali & Sara>"},
		"counts":    []int{3, -1, 0},
		"flags":     []bool{true},
		"none":      nil,
		"empty":     map[string]any{},
		"list":      []any{},
		"nilslice":  []string(nil),
		"ptr":       new(int64),
		"raw":       json.RawMessage(` { "b" : 1 , "a" : [ ] } `),
		"num":       json.Number("42"),
		"uint":      uint64(1<<53 - 1),
		"bytes":     []byte("hi"),
		"tab\tkey":  "line\nbreak",
	}
	want := `{"bytes":"aGk=","counts":[3,-1,0],"empty":{},"flags":[true],"id":"doc-1","issued_at":"2026-11-25T14:37:00Z",` +
		`"list":[],"nilslice":null,"none":null,"num":42,"ptr":0,"raw":{"a":[],"b":1},"subject":{"name":"<Ali & Sara>","nin":"109991234500012345"},` +
		`"tab\tkey":"line\nbreak","type":"birth-certificate","uint":9007199254740991,"valid_at":"2026-11-25T14:37:00.5Z"}`
	if got := canon(t, doc); got != want {
		t.Errorf("document:\n got %s\nwant %s", got, want)
	}
	// Structs go through encoding/json (tags honoured), then are canonicalized.
	type person struct {
		Nin  string `json:"nin"`
		Name string `json:"name,omitempty"`
		Age  int    `json:"age"`
	}
	if got, want := canon(t, []any{person{Nin: "1", Age: 30}, &person{Nin: "2", Name: "B"}}), `[{"age":30,"nin":"1"},{"age":0,"name":"B","nin":"2"}]`; got != want {
		t.Errorf("structs: got %s want %s", got, want)
	}
	// A *time.Time is a time too: UTC.
	if got, want := canon(t, map[string]any{"t": &issued}), `{"t":"2026-11-25T14:37:00Z"}`; got != want {
		t.Errorf("*time.Time: got %s want %s", got, want)
	}
	// The canonical form of a value and of its canonical bytes agree.
	c := canon(t, doc)
	if again := canon(t, json.RawMessage(c)); again != c {
		t.Errorf("canonical(canonical) differs:\n%s\n%s", again, c)
	}
}

func TestCanonicalRefuses(t *testing.T) {
	cases := []struct {
		name string
		v    any
		want string
	}{
		{"float64", map[string]any{"amount": 12.5}, "$.amount: float64 12.5: floats are not allowed"},
		{"integral float", []any{float64(3)}, "$[0]: float64 3: floats are not allowed"},
		{"float32", float32(1), "floats are not allowed"},
		{"float in text", json.RawMessage(`{"a": 1.0}`), "floats are not allowed"},
		{"exponent in text", json.RawMessage(`[1e3]`), "floats are not allowed"},
		{"big int", int64(1 << 53), "beyond ±(2^53-1)"},
		{"big uint", uint64(1<<63 + 1), "beyond 2^53-1"},
		{"big int in text", json.RawMessage(`9007199254740992`), "beyond ±(2^53-1)"},
		{"huge int in text", json.RawMessage(`123456789012345678901234567890`), "beyond ±(2^53-1)"},
		{"leading zero", json.RawMessage(`012`), "leading zero"},
		{"invalid UTF-8", "a\xffb", "not valid UTF-8"},
		{"invalid UTF-8 key", map[string]int{"\xff": 1}, "not valid UTF-8"},
		{"invalid UTF-8 in text", json.RawMessage("\"a\xffb\""), "invalid UTF-8"},
		{"lone surrogate", json.RawMessage(`"\ud800x"`), "lone surrogate"},
		{"low surrogate", json.RawMessage(`"\udc00"`), "lone surrogate"},
		{"duplicate key", json.RawMessage(`{"a":1,"a":1}`), `duplicate key "a"`},
		{"trailing data", json.RawMessage(`{} {}`), "after the JSON value"},
		{"raw control char", json.RawMessage("\"a\nb\""), "control character"},
		{"truncated", json.RawMessage(`{"a":[1,`), "unexpected end"},
		{"empty text", json.RawMessage(``), "unexpected end"},
		{"NaN literal", json.RawMessage(`NaN`), "unexpected"},
		{"int keys", map[int]string{1: "a"}, "only string keys"},
		{"channel", make(chan int), "no JSON form"},
		{"deep", json.RawMessage(strings.Repeat("[", 300) + strings.Repeat("]", 300)), "nested deeper"},
	}
	for _, tc := range cases {
		_, err := attest.Canonical(tc.v)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, attest.ErrNotCanonicalizable) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}

// FuzzCanonical: on any input, Canonical does not panic; what it accepts
// it turns into valid JSON that means the same, and canonicalizing that
// again changes nothing.
func FuzzCanonical(f *testing.F) {
	for _, s := range []string{
		`{"b":[1,2,{"c":null}],"a":"x","é":true}`,
		`"\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/"`,
		`{"\ud83d\ude00":1,"\ufb33":2}`,
		`[-0, 9007199254740991, -9007199254740991]`,
		` { "nested" : { "deep" : [ [ [ ] ] ] } } `,
		`1.5`, `{"a":1,"a":2}`, `"\ud800"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := attest.Canonical(json.RawMessage(data))
		if err != nil {
			return
		}
		if !json.Valid(c) {
			t.Fatalf("canonical form is not valid JSON: %q", c)
		}
		c2, err := attest.Canonical(json.RawMessage(c))
		if err != nil {
			t.Fatalf("canonical form %q refused: %v", c, err)
		}
		if string(c2) != string(c) {
			t.Fatalf("not idempotent:\n%q\n%q", c, c2)
		}
		var a, b any
		if err := json.Unmarshal(data, &a); err != nil {
			t.Fatalf("accepted %q that encoding/json refuses: %v", data, err)
		}
		if err := json.Unmarshal(c, &b); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("meaning changed:\n%q\n%q", data, c)
		}
		// The Go-value path (maps, slices, strings without reflection)
		// gives the same bytes as the JSON-text path.
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var tree any
		if err := dec.Decode(&tree); err != nil {
			t.Fatal(err)
		}
		c3, err := attest.Canonical(tree)
		if err != nil {
			t.Fatalf("Go value of %q refused: %v", data, err)
		}
		if string(c3) != string(c) {
			t.Fatalf("Go value and JSON text differ:\n%q\n%q", c3, c)
		}
	})
}
