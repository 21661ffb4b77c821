package attest

import (
	"bytes"
	"encoding"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// maxSafeInteger is 2^53-1, the largest integer every JSON implementation
// (IEEE-754 doubles, as RFC 8785 assumes) represents exactly.
const maxSafeInteger = 1<<53 - 1

// maxDepth bounds the nesting of arrays and objects.
const maxDepth = 256

// ErrNotCanonicalizable is wrapped by every error of Canonical: the value
// has something the canonical form does not allow (a float, an integer
// beyond ±(2^53-1), invalid UTF-8, a duplicate key, malformed JSON text).
var ErrNotCanonicalizable = errors.New("attest: not canonicalizable")

// Canonical returns the canonical JSON form of v, the bytes that are signed.
// It is RFC 8785 (JSON Canonicalization Scheme) restricted to objects,
// arrays, strings, integers, booleans and null:
//
//   - object members sorted by key, comparing keys as UTF-16 code units
//     (RFC 8785 §3.2.3), no duplicate keys;
//   - no whitespace between tokens;
//   - strings in UTF-8, escaping only '"', '\\' and the control characters
//     below U+0020 (\b \t \n \f \r, the others as \u00xx with lower-case
//     hex); no HTML escaping, '/' and non-ASCII characters as themselves;
//   - numbers are integers only, written in decimal without sign for zero
//     or leading zeros, within ±(2^53-1) so that every JSON implementation
//     reads them exactly. Floats are refused whatever their value: put
//     amounts in integer minor units (centimes) or strings.
//
// Go values are mapped as follows: nil and nil pointers, maps and slices are
// null; bool; string and string kinds (invalid UTF-8 is refused); every
// signed and unsigned integer kind; map[K]V with string-kind keys; slices
// and arrays ([]byte as a base64 string, as encoding/json does);
// pointers and interfaces are followed. time.Time is a string, RFC 3339 in
// UTC with as many fraction digits as needed and none for whole seconds
// ("2026-11-25T14:37:00Z", "2026-11-25T14:37:00.5Z"). json.RawMessage and
// json.Number are parsed as JSON text and canonicalized (so a document
// read back from a file, whatever its indentation, has the same canonical
// form as the one that was signed). Other types (structs, types with a
// MarshalJSON or MarshalText method) are encoded with encoding/json first and
// the result canonicalized; note that encoding/json writes a time.Time
// inside a struct in its own location, so use UTC times there.
func Canonical(v any) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(1024)
	if err := writeAny(&buf, v, &pathNode{key: "$"}, 0); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// pathNode is where a value sits in the document, formatted only for an
// error message ("$.fields.name", "$.provenance[0]").
type pathNode struct {
	parent *pathNode
	key    string
	index  int // when key is ""
}

func (p *pathNode) String() string {
	if p.parent == nil {
		return p.key
	}
	if p.key == "" {
		return p.parent.String() + "[" + strconv.Itoa(p.index) + "]"
	}
	return p.parent.String() + "." + p.key
}

// writeAny writes the common dynamic types (what documents are built of:
// map[string]any, []any, strings, integers, booleans, times) without
// reflection, and everything else through writeValue.
func writeAny(buf *bytes.Buffer, v any, path *pathNode, depth int) error {
	if depth > maxDepth {
		return fail(path.String(), "nested deeper than %d levels", maxDepth)
	}
	switch x := v.(type) {
	case nil:
		buf.WriteString("null")
		return nil
	case string:
		return strAt(buf, x, path)
	case bool:
		if x {
			buf.WriteString("true")
		} else {
			buf.WriteString("false")
		}
		return nil
	case int:
		return writeInt(buf, int64(x), path)
	case int64:
		return writeInt(buf, x, path)
	case int32:
		return writeInt(buf, int64(x), path)
	case time.Time:
		return strAt(buf, FormatTime(x), path)
	case *string:
		if x == nil {
			buf.WriteString("null")
			return nil
		}
		return strAt(buf, *x, path)
	case *int32:
		if x == nil {
			buf.WriteString("null")
			return nil
		}
		return writeInt(buf, int64(*x), path)
	case *int64:
		if x == nil {
			buf.WriteString("null")
			return nil
		}
		return writeInt(buf, *x, path)
	case *bool:
		if x == nil {
			buf.WriteString("null")
			return nil
		}
		return writeAny(buf, *x, path, depth)
	case []map[string]any:
		return writeArray(buf, x, path, depth)
	case map[string]any:
		if x == nil {
			buf.WriteString("null")
			return nil
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, compareUTF16)
		buf.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := strAt(buf, k, path); err != nil {
				return err
			}
			buf.WriteByte(':')
			if err := writeAny(buf, x[k], &pathNode{parent: path, key: k}, depth+1); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
		return nil
	case []any:
		return writeArray(buf, x, path, depth)
	case []string:
		return writeArray(buf, x, path, depth)
	}
	return writeValue(buf, reflect.ValueOf(v), path.String(), depth)
}

// writeArray writes xs as a JSON array (null when nil), each element
// through writeAny.
func writeArray[E any](buf *bytes.Buffer, xs []E, path *pathNode, depth int) error {
	if xs == nil {
		buf.WriteString("null")
		return nil
	}
	buf.WriteByte('[')
	for i, e := range xs {
		if i > 0 {
			buf.WriteByte(',')
		}
		if err := writeAny(buf, e, &pathNode{parent: path, index: i}, depth+1); err != nil {
			return err
		}
	}
	buf.WriteByte(']')
	return nil
}

func writeInt(buf *bytes.Buffer, n int64, path *pathNode) error {
	if n > maxSafeInteger || n < -maxSafeInteger {
		return fail(path.String(), "integer %d is beyond ±(2^53-1); send it as a string", n)
	}
	buf.Write(strconv.AppendInt(buf.AvailableBuffer(), n, 10))
	return nil
}

func fail(path, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrNotCanonicalizable, path, fmt.Sprintf(format, args...))
}

var (
	timeType       = reflect.TypeFor[time.Time]()
	rawMessageType = reflect.TypeFor[json.RawMessage]()
	numberType     = reflect.TypeFor[json.Number]()
	marshalerType  = reflect.TypeFor[json.Marshaler]()
	textMarshType  = reflect.TypeFor[encoding.TextMarshaler]()
)

// FormatTime is how Canonical writes a time.Time.
func FormatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func writeValue(buf *bytes.Buffer, v reflect.Value, path string, depth int) error {
	if depth > maxDepth {
		return fail(path, "nested deeper than %d levels", maxDepth)
	}
	if !v.IsValid() {
		buf.WriteString("null")
		return nil
	}
	switch v.Type() {
	case timeType:
		return writeString(buf, FormatTime(v.Interface().(time.Time)), path)
	case rawMessageType:
		if v.IsNil() {
			buf.WriteString("null")
			return nil
		}
		return canonicalText(buf, v.Bytes(), path)
	case numberType:
		return canonicalText(buf, []byte(v.String()), path)
	}
	switch v.Kind() {
	case reflect.Interface, reflect.Pointer:
		if v.IsNil() {
			buf.WriteString("null")
			return nil
		}
		if v.Kind() == reflect.Pointer && v.Type().Elem() != timeType && !implementsMarshaler(v.Type().Elem()) && implementsMarshaler(v.Type()) {
			return viaJSON(buf, v, path) // MarshalJSON on a pointer receiver
		}
		return writeValue(buf, v.Elem(), path, depth+1)
	}
	if implementsMarshaler(v.Type()) {
		return viaJSON(buf, v, path)
	}
	switch v.Kind() {
	case reflect.Bool:
		if v.Bool() {
			buf.WriteString("true")
		} else {
			buf.WriteString("false")
		}
		return nil
	case reflect.String:
		return writeString(buf, v.String(), path)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n := v.Int()
		if n > maxSafeInteger || n < -maxSafeInteger {
			return fail(path, "integer %d is beyond ±(2^53-1); send it as a string", n)
		}
		buf.WriteString(strconv.FormatInt(n, 10))
		return nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		n := v.Uint()
		if n > maxSafeInteger {
			return fail(path, "integer %d is beyond 2^53-1; send it as a string", n)
		}
		buf.WriteString(strconv.FormatUint(n, 10))
		return nil
	case reflect.Float32, reflect.Float64:
		return fail(path, "%s %v: floats are not allowed, use an integer (e.g. minor units) or a string", v.Type(), v.Float())
	case reflect.Map:
		if v.IsNil() {
			buf.WriteString("null")
			return nil
		}
		if v.Type().Key().Kind() != reflect.String {
			return fail(path, "map keys of type %s: only string keys are allowed", v.Type().Key())
		}
		members := make([]member, 0, v.Len())
		iter := v.MapRange()
		for iter.Next() {
			k := iter.Key().String()
			var sub bytes.Buffer
			if err := writeValue(&sub, iter.Value(), path+"."+k, depth+1); err != nil {
				return err
			}
			members = append(members, member{key: k, value: sub.Bytes()})
		}
		return writeObject(buf, members, path)
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			buf.WriteString("null")
			return nil
		}
		if v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8 {
			return writeString(buf, base64.StdEncoding.EncodeToString(v.Bytes()), path)
		}
		buf.WriteByte('[')
		for i := range v.Len() {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeValue(buf, v.Index(i), path+"["+strconv.Itoa(i)+"]", depth+1); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
		return nil
	case reflect.Struct:
		return viaJSON(buf, v, path)
	}
	return fail(path, "values of type %s have no JSON form", v.Type())
}

func implementsMarshaler(t reflect.Type) bool {
	return t.Implements(marshalerType) || t.Implements(textMarshType)
}

// viaJSON encodes v with encoding/json and canonicalizes the result.
func viaJSON(buf *bytes.Buffer, v reflect.Value, path string) error {
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v.Interface()); err != nil {
		return fail(path, "%v", err)
	}
	return canonicalText(buf, out.Bytes(), path)
}

type member struct {
	key   string
	value []byte
}

// writeObject writes members sorted by key as UTF-16 code units.
func writeObject(buf *bytes.Buffer, members []member, path string) error {
	slices.SortFunc(members, func(a, b member) int { return compareUTF16(a.key, b.key) })
	buf.WriteByte('{')
	for i, m := range members {
		if i > 0 {
			if members[i-1].key == m.key {
				return fail(path, "duplicate key %q", m.key)
			}
			buf.WriteByte(',')
		}
		if err := writeString(buf, m.key, path); err != nil {
			return err
		}
		buf.WriteByte(':')
		buf.Write(m.value)
	}
	buf.WriteByte('}')
	return nil
}

// compareUTF16 orders strings by their UTF-16 code units (RFC 8785 §3.2.3),
// which differs from Go's byte order for characters above U+FFFF against
// U+E000..U+FFFF.
func compareUTF16(a, b string) int {
	if byteOrderIsUTF16Order(a) && byteOrderIsUTF16Order(b) {
		return strings.Compare(a, b)
	}
	for a != "" && b != "" {
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		a, b = a[na:], b[nb:]
		if ra == rb {
			continue
		}
		ua, ub := utf16Units(ra), utf16Units(rb)
		for i := 0; i < len(ua) && i < len(ub); i++ {
			if ua[i] != ub[i] {
				return int(ua[i]) - int(ub[i])
			}
		}
		return len(ua) - len(ub)
	}
	return len(a) - len(b)
}

// byteOrderIsUTF16Order: s has no character at or above U+E000 (no UTF-8
// byte 0xEE or above), where UTF-8 byte order and UTF-16 order agree.
func byteOrderIsUTF16Order(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0xEE {
			return false
		}
	}
	return true
}

func utf16Units(r rune) []uint16 {
	if r < 0x10000 {
		return []uint16{uint16(r)}
	}
	r1, r2 := utf16.EncodeRune(r)
	return []uint16{uint16(r1), uint16(r2)}
}

const hexDigits = "0123456789abcdef"

// writeString writes s as a JSON string the RFC 8785 way.
func writeString(buf *bytes.Buffer, s, path string) error {
	if !writeJSONString(buf, s) {
		return fail(path, "string %q is not valid UTF-8", s)
	}
	return nil
}

// strAt writes s as a JSON string, failing with path when it is not UTF-8.
func strAt(buf *bytes.Buffer, s string, path *pathNode) error {
	if !writeJSONString(buf, s) {
		return fail(path.String(), "string %q is not valid UTF-8", s)
	}
	return nil
}

// writeJSONString writes s as a JSON string the RFC 8785 way; false when s
// is not valid UTF-8 (nothing written).
func writeJSONString(buf *bytes.Buffer, s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	buf.WriteByte('"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		buf.WriteString(s[start:i])
		switch c {
		case '"':
			buf.WriteString(`\"`)
		case '\\':
			buf.WriteString(`\\`)
		case '\b':
			buf.WriteString(`\b`)
		case '\f':
			buf.WriteString(`\f`)
		case '\n':
			buf.WriteString(`\n`)
		case '\r':
			buf.WriteString(`\r`)
		case '\t':
			buf.WriteString(`\t`)
		default:
			buf.WriteString(`\u00`)
			buf.WriteByte(hexDigits[c>>4])
			buf.WriteByte(hexDigits[c&0xf])
		}
		start = i + 1
	}
	buf.WriteString(s[start:])
	buf.WriteByte('"')
	return true
}

// canonicalText parses JSON text strictly (RFC 8259: one value, no
// duplicate keys, valid UTF-8, no lone surrogates) and writes its
// canonical form.
func canonicalText(buf *bytes.Buffer, text []byte, path string) error {
	p := &parser{s: text, path: path}
	p.space()
	if err := p.value(buf, 0); err != nil {
		return err
	}
	p.space()
	if p.i != len(p.s) {
		return p.fail("unexpected %q after the JSON value", p.s[p.i])
	}
	return nil
}

type parser struct {
	s    []byte
	i    int
	path string
}

func (p *parser) fail(format string, args ...any) error {
	return fail(p.path, "JSON text at byte %d: %s", p.i, fmt.Sprintf(format, args...))
}

func (p *parser) space() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) literal(buf *bytes.Buffer, word string) error {
	if !bytes.HasPrefix(p.s[p.i:], []byte(word)) {
		return p.fail("invalid literal")
	}
	p.i += len(word)
	buf.WriteString(word)
	return nil
}

func (p *parser) value(buf *bytes.Buffer, depth int) error {
	if depth > maxDepth {
		return p.fail("nested deeper than %d levels", maxDepth)
	}
	if p.i >= len(p.s) {
		return p.fail("unexpected end of input")
	}
	switch c := p.s[p.i]; {
	case c == '{':
		return p.object(buf, depth)
	case c == '[':
		return p.array(buf, depth)
	case c == '"':
		s, err := p.str()
		if err != nil {
			return err
		}
		return writeString(buf, s, p.path)
	case c == 't':
		return p.literal(buf, "true")
	case c == 'f':
		return p.literal(buf, "false")
	case c == 'n':
		return p.literal(buf, "null")
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number(buf)
	default:
		return p.fail("unexpected %q", c)
	}
}

func (p *parser) object(buf *bytes.Buffer, depth int) error {
	p.i++ // {
	var members []member
	p.space()
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		buf.WriteString("{}")
		return nil
	}
	for {
		p.space()
		if p.i >= len(p.s) || p.s[p.i] != '"' {
			return p.fail("object key expected")
		}
		k, err := p.str()
		if err != nil {
			return err
		}
		p.space()
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			return p.fail("':' expected")
		}
		p.i++
		p.space()
		var sub bytes.Buffer
		if err := p.value(&sub, depth+1); err != nil {
			return err
		}
		members = append(members, member{key: k, value: sub.Bytes()})
		p.space()
		if p.i >= len(p.s) {
			return p.fail("unexpected end of input in an object")
		}
		if p.s[p.i] == ',' {
			p.i++
			continue
		}
		if p.s[p.i] == '}' {
			p.i++
			return writeObject(buf, members, p.path)
		}
		return p.fail("',' or '}' expected")
	}
}

func (p *parser) array(buf *bytes.Buffer, depth int) error {
	p.i++ // [
	buf.WriteByte('[')
	p.space()
	if p.i < len(p.s) && p.s[p.i] == ']' {
		p.i++
		buf.WriteByte(']')
		return nil
	}
	for n := 0; ; n++ {
		if n > 0 {
			buf.WriteByte(',')
		}
		p.space()
		if err := p.value(buf, depth+1); err != nil {
			return err
		}
		p.space()
		if p.i >= len(p.s) {
			return p.fail("unexpected end of input in an array")
		}
		if p.s[p.i] == ',' {
			p.i++
			continue
		}
		if p.s[p.i] == ']' {
			p.i++
			buf.WriteByte(']')
			return nil
		}
		return p.fail("',' or ']' expected")
	}
}

// number accepts JSON integers only: a fraction or an exponent is a float.
func (p *parser) number(buf *bytes.Buffer) error {
	start := p.i
	if p.s[p.i] == '-' {
		p.i++
	}
	digits := p.i
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		p.i++
	}
	switch n := p.i - digits; {
	case n == 0:
		return p.fail("digit expected")
	case n > 1 && p.s[digits] == '0':
		return p.fail("number with a leading zero")
	}
	if p.i < len(p.s) && (p.s[p.i] == '.' || p.s[p.i] == 'e' || p.s[p.i] == 'E') {
		return p.fail("number %s...: floats are not allowed", p.s[start:p.i])
	}
	text := string(p.s[start:p.i])
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil || n > maxSafeInteger || n < -maxSafeInteger {
		return p.fail("integer %s is beyond ±(2^53-1)", text)
	}
	buf.WriteString(strconv.FormatInt(n, 10)) // "-0" becomes "0"
	return nil
}

// str reads a JSON string at p.i (on its opening quote).
func (p *parser) str() (string, error) {
	p.i++ // "
	var out []byte
	for {
		if p.i >= len(p.s) {
			return "", p.fail("unterminated string")
		}
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return string(out), nil
		case c < 0x20:
			return "", p.fail("control character %#x in a string", c)
		case c == '\\':
			if p.i+1 >= len(p.s) {
				return "", p.fail("unterminated escape")
			}
			e := p.s[p.i+1]
			p.i += 2
			switch e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, err := p.hex4()
				if err != nil {
					return "", err
				}
				if utf16.IsSurrogate(r) {
					if r >= 0xdc00 || !bytes.HasPrefix(p.s[p.i:], []byte(`\u`)) {
						return "", p.fail("lone surrogate \\u%04x", r)
					}
					p.i += 2
					r2, err := p.hex4()
					if err != nil {
						return "", err
					}
					if r = utf16.DecodeRune(r, r2); r == utf8.RuneError {
						return "", p.fail("invalid surrogate pair")
					}
				}
				out = utf8.AppendRune(out, r)
			default:
				return "", p.fail("invalid escape \\%c", e)
			}
		case c < utf8.RuneSelf:
			out = append(out, c)
			p.i++
		default:
			r, n := utf8.DecodeRune(p.s[p.i:])
			if r == utf8.RuneError && n <= 1 {
				return "", p.fail("invalid UTF-8")
			}
			out = append(out, p.s[p.i:p.i+n]...)
			p.i += n
		}
	}
}

func (p *parser) hex4() (rune, error) {
	if p.i+4 > len(p.s) {
		return 0, p.fail("short \\u escape")
	}
	var r rune
	for _, c := range p.s[p.i : p.i+4] {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, p.fail("invalid \\u escape")
		}
		r = r<<4 | rune(d)
	}
	p.i += 4
	return r, nil
}
