package csvdrop

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/askonce/askonce/connectors/connector"
)

// record is one CSV record as read: the fields, or why the bytes are not a
// record. It never holds more than MaxLine bytes.
type record struct {
	line   int    // physical line where it starts, 1-based (the header is line 1)
	raw    []byte // the bytes as in the file, without the final line terminator
	fields []string
	err    *connector.MapError // set when raw is not a well-formed record
}

var bom = []byte{0xEF, 0xBB, 0xBF}

// csvReader streams RFC 4180 records out of a file with bounded memory.
//
// Records end at a newline outside quotes; a quoted field may hold commas,
// doubled quotes and newlines. A record over MaxLine is cut (its first
// MaxLine bytes are kept for the DLQ) and reading goes on at the next
// line. A stray quote would swallow the following lines until some later
// quote: when a quoted field opened on one line does not close into a
// well-formed record (no closing quote before the end of the file or
// within MaxLine, text after the closing quote, a field count other than
// the header's), the line it opened on is rejected alone and reading
// resumes on the next line, so a stray quote costs one line.
type csvReader struct {
	src  io.ReadSeeker
	br   *bufio.Reader
	off  int64 // file offset of the next byte br returns
	line int   // physical lines consumed
	// want is the header's field count once known: a record spanning
	// lines with another count is taken for a stray quote.
	want int
}

func newCSVReader(src io.ReadSeeker) *csvReader {
	return &csvReader{src: src, br: bufio.NewReaderSize(src, MaxLine+1)}
}

// physLine returns the next physical line, its terminator included; over
// is set when it was longer than MaxLine (chunk then holds its first
// MaxLine bytes, the rest was skipped). io.EOF comes with an empty chunk.
func (r *csvReader) physLine() (chunk []byte, over bool, err error) {
	if r.off == 0 {
		if b, err := r.br.Peek(3); err == nil && bytes.Equal(b, bom) {
			_, _ = r.br.Discard(3)
			r.off = 3
		}
	}
	b, err := r.br.ReadSlice('\n')
	r.off += int64(len(b))
	switch {
	case err == nil || (errors.Is(err, io.EOF) && len(b) > 0):
		return bytes.Clone(b), false, nil
	case errors.Is(err, bufio.ErrBufferFull):
		chunk = bytes.Clone(b[:MaxLine])
		for errors.Is(err, bufio.ErrBufferFull) {
			b, err = r.br.ReadSlice('\n')
			r.off += int64(len(b))
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, false, err
		}
		return chunk, true, nil
	default:
		return nil, false, err
	}
}

// quote states of the record scanner.
const (
	qFieldStart = iota
	qUnquoted
	qQuoted
	qQuotedQuote // a quote inside a quoted field: doubled, or the closing one
)

// scanQuotes runs the quote state over b and says whether the record is
// still inside a quoted field at the end of b.
func scanQuotes(state int, b []byte) int {
	for _, c := range b {
		switch state {
		case qFieldStart:
			switch c {
			case '"':
				state = qQuoted
			case ',', '\n':
				state = qFieldStart
			default:
				state = qUnquoted
			}
		case qUnquoted:
			if c == ',' || c == '\n' {
				state = qFieldStart
			}
		case qQuoted:
			if c == '"' {
				state = qQuotedQuote
			}
		case qQuotedQuote:
			switch c {
			case '"':
				state = qQuoted
			case ',', '\n':
				state = qFieldStart
			default:
				state = qUnquoted // malformed; parseFields says so
			}
		}
	}
	return state
}

// next returns the next record, skipping blank lines; io.EOF at the end.
// Any other error is the file's (an I/O error), not the data's.
func (r *csvReader) next() (record, error) {
	for {
		startLine := r.line + 1
		var buf []byte
		var firstLen int    // bytes of the record's first physical line
		var secondOff int64 // file offset of its second physical line
		state, lines := qFieldStart, 0
		for {
			at := r.off
			chunk, over, err := r.physLine()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return record{}, err
			}
			r.line++
			lines++
			if lines == 1 {
				firstLen = len(chunk)
			} else if lines == 2 {
				secondOff = at
			}
			if over {
				if lines == 1 {
					return record{line: startLine, raw: chunk, err: &connector.MapError{Code: connector.CodeLineTooLong,
						Message: fmt.Sprintf("line %d is longer than %d bytes (the DLQ holds its first %d)", startLine, MaxLine, MaxLine)}}, nil
				}
				return r.unterminated(startLine, buf[:firstLen], secondOff)
			}
			if len(buf)+len(chunk) > MaxLine {
				if lines == 1 {
					// Cannot happen (over covers it); kept for safety.
					return record{line: startLine, raw: chunk[:min(len(chunk), MaxLine)], err: &connector.MapError{Code: connector.CodeLineTooLong,
						Message: fmt.Sprintf("line %d is longer than %d bytes", startLine, MaxLine)}}, nil
				}
				return r.unterminated(startLine, buf[:firstLen], secondOff)
			}
			buf = append(buf, chunk...)
			state = scanQuotes(state, chunk)
			if state != qQuoted || chunk[len(chunk)-1] != '\n' {
				break
			}
		}
		if lines == 0 {
			return record{}, io.EOF
		}
		if state == qQuoted && lines > 1 {
			// End of file inside a quoted field opened lines ago.
			return r.unterminated(startLine, buf[:firstLen], secondOff)
		}
		raw := trimEOL(buf)
		if len(raw) == 0 && lines == 1 {
			continue // blank line
		}
		rec := parseRecord(startLine, raw)
		if lines > 1 && ((rec.err != nil && rec.err.Code == connector.CodeCSVMalformed) || (r.want > 0 && rec.err == nil && len(rec.fields) != r.want)) {
			// A quote on the first line "closed" on a later one into a
			// record that does not parse: a stray quote, most likely.
			return r.unterminated(startLine, buf[:firstLen], secondOff)
		}
		return rec, nil
	}
}

// unterminated rejects the first line of a record whose quote never
// closed, and rewinds to its second line.
func (r *csvReader) unterminated(line int, first []byte, secondOff int64) (record, error) {
	if _, err := r.src.Seek(secondOff, io.SeekStart); err != nil {
		return record{}, err
	}
	r.br.Reset(r.src)
	r.off = secondOff
	r.line = line
	raw := bytes.Clone(trimEOL(first))
	rec := record{line: line, raw: raw}
	if err := checkText(line, raw); err != nil {
		rec.err = err
		return rec, nil
	}
	rec.err = &connector.MapError{Code: connector.CodeCSVMalformed,
		Message: fmt.Sprintf("line %d: a quote opens a field that does not close into a well-formed record (a stray or unclosed quote?)", line)}
	return rec, nil
}

func trimEOL(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte("\n"))
	return bytes.TrimSuffix(b, []byte("\r"))
}

// checkText rejects bytes that are not UTF-8 text.
func checkText(line int, raw []byte) *connector.MapError {
	if !utf8.Valid(raw) {
		i := 0
		for i < len(raw) {
			r, size := utf8.DecodeRune(raw[i:])
			if r == utf8.RuneError && size <= 1 {
				break
			}
			i += size
		}
		return &connector.MapError{Code: connector.CodeCSVEncoding,
			Message: fmt.Sprintf("line %d is not UTF-8: byte 0x%02X at offset %d (Latin-1 or Windows-1252? export as UTF-8)", line, raw[i], i)}
	}
	if i := bytes.IndexByte(raw, 0); i >= 0 {
		return &connector.MapError{Code: connector.CodeCSVEncoding, Message: fmt.Sprintf("line %d holds a NUL byte at offset %d", line, i)}
	}
	return nil
}

func parseRecord(line int, raw []byte) record {
	rec := record{line: line, raw: raw}
	if err := checkText(line, raw); err != nil {
		rec.err = err
		return rec
	}
	fields, err := parseFields(raw)
	if err != nil {
		rec.err = &connector.MapError{Code: connector.CodeCSVMalformed, Message: fmt.Sprintf("line %d: %s", line, err)}
		return rec
	}
	rec.fields = fields
	return rec
}

// parseFields splits one record (no final line terminator) into fields,
// RFC 4180: a quoted field may hold commas, newlines and doubled quotes;
// a quote inside an unquoted field, or text after a closing quote, is an
// error. CRLF inside a quoted field becomes LF.
func parseFields(raw []byte) ([]string, error) {
	var fields []string
	var f []byte
	i := 0
	for {
		n := len(fields) + 1
		if i < len(raw) && raw[i] == '"' {
			i++
			f = f[:0]
			closed := false
			for i < len(raw) {
				c := raw[i]
				if c == '"' {
					if i+1 < len(raw) && raw[i+1] == '"' {
						f = append(f, '"')
						i += 2
						continue
					}
					i++
					closed = true
					break
				}
				if c == '\r' && i+1 < len(raw) && raw[i+1] == '\n' {
					i++
					continue
				}
				f = append(f, c)
				i++
			}
			if !closed {
				return nil, fmt.Errorf("field %d: quoted field not closed", n)
			}
			if i < len(raw) && raw[i] != ',' {
				return nil, fmt.Errorf("field %d: text after the closing quote (a quote inside a quoted field must be doubled)", n)
			}
			fields = append(fields, string(f))
		} else {
			end := len(raw)
			if j := bytes.IndexByte(raw[i:], ','); j >= 0 {
				end = i + j
			}
			if bytes.IndexByte(raw[i:end], '"') >= 0 {
				return nil, fmt.Errorf("field %d: a quote inside an unquoted field (quote the field and double the quote)", n)
			}
			fields = append(fields, string(raw[i:end]))
			i = end
		}
		if i >= len(raw) {
			return fields, nil
		}
		i++ // the comma
	}
}
