package csvdrop

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Outcomes of a line in a report.
const (
	outcomePublished = "published"
	outcomeRejected  = "rejected"
	outcomeUnknown   = "unknown" // done before a restart whose journal was lost
)

// LineReport is one data line's outcome: a line of the journal, an element of
// the report's "lines".
type LineReport struct {
	Record    int    `json:"record"` // data record number, 1-based
	Line      int    `json:"line"`   // physical line where it starts (the header is line 1)
	Outcome   string `json:"outcome"`
	SourceKey string `json:"source_key,omitempty"`
	Version   int64  `json:"version,omitempty"`
	Code      string `json:"code,omitempty"`
	Message   string `json:"message,omitempty"`
}

// journal is the per-line outcomes of the file being published, appended
// after each acknowledged batch (before its progress is saved), so that a
// restart can still report every line. It lives in <dir>/.csvdrop/.
type journal struct {
	path string
	f    *os.File
	size int64
}

// openJournal opens the journal at path keeping only the entries of the
// first keep records: what a restart found saved. Entries of a batch in
// flight at the crash are dropped (that batch is published again).
func openJournal(path string, keep int) (*journal, error) {
	if keep == 0 {
		_ = os.Remove(path)
	} else if err := truncateJournal(path, keep); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("journal: %w", err)
	}
	return &journal{path: path, f: f, size: st.Size()}, nil
}

func truncateJournal(path string, keep int) error {
	in, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	defer in.Close()
	tmp := path + ".tmp"
	out, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	w := bufio.NewWriter(out)
	err = readJournal(in, func(e LineReport, line []byte) error {
		if e.Record > keep {
			return errStop
		}
		_, err := w.Write(append(line, '\n'))
		return err
	})
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("journal: %w", err)
	}
	return nil
}

var errStop = errors.New("stop")

// readJournal calls fn for each whole entry, in order; a torn last line
// (a crash mid-write) ends it.
func readJournal(f *os.File, fn func(LineReport, []byte) error) error {
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	last := 0
	for sc.Scan() {
		var e LineReport
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.Record <= last {
			break
		}
		last = e.Record
		if err := fn(e, sc.Bytes()); err != nil {
			if errors.Is(err, errStop) {
				return nil
			}
			return err
		}
	}
	return sc.Err()
}

// append writes es durably; on failure the journal is cut back to what it
// was, so the batch can be retried.
func (j *journal) append(es []LineReport) error {
	var b bytes.Buffer
	for _, e := range es {
		line, err := json.Marshal(e)
		if err != nil {
			return err
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	_, err := j.f.Write(b.Bytes())
	if err == nil {
		err = j.f.Sync()
	}
	if err != nil {
		_ = j.f.Truncate(j.size)
		return fmt.Errorf("journal: %w", err)
	}
	j.size += int64(b.Len())
	return nil
}

func (j *journal) close() { j.f.Close() }

// each calls fn for records 1..total in order: the journal's entries,
// and an "unknown" LineReport for each record the journal lacks.
func eachEntry(path string, total int, fn func(LineReport) error) error {
	next := 1
	fill := func(upTo int) error {
		for ; next <= upTo; next++ {
			if err := fn(LineReport{Record: next, Outcome: outcomeUnknown,
				Message: "published or dead-lettered before a restart; its journal LineReport was lost"}); err != nil {
				return err
			}
		}
		return nil
	}
	if path != "" {
		f, err := os.Open(path)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if err == nil {
			defer f.Close()
			err = readJournal(f, func(e LineReport, _ []byte) error {
				if e.Record > total {
					return errStop
				}
				if err := fill(e.Record - 1); err != nil {
					return err
				}
				next = e.Record + 1
				return fn(e)
			})
			if err != nil {
				return err
			}
		}
	}
	return fill(total)
}

// Report is the head of a <name>.report.json; its "lines" follow it.
type Report struct {
	File        string       `json:"file"`     // the name it was dropped under
	MovedTo     string       `json:"moved_to"` // done/<name> or rejected/<name>
	Connector   string       `json:"connector"`
	Agency      string       `json:"agency"`
	DataCenter  string       `json:"data_center"`
	SHA256      string       `json:"sha256"`
	Size        int64        `json:"size"`
	Kind        string       `json:"kind,omitempty"`
	Outcome     string       `json:"outcome"` // done, rejected (the whole file), duplicate
	Reason      *Reason      `json:"reason,omitempty"`
	DuplicateOf *DuplicateOf `json:"duplicate_of,omitempty"`
	EventTime   time.Time    `json:"event_time"` // the file's modification time
	FinishedAt  time.Time    `json:"finished_at"`
	Totals      Totals       `json:"totals"`
	Lines       []LineReport `json:"lines,omitempty"` // only when reading a report back
}

// Reason is why a whole file was rejected.
type Reason struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// DuplicateOf is the earlier file with the same content.
type DuplicateOf struct {
	Name       string     `json:"name"`
	FirstSeen  time.Time  `json:"first_seen"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	Lines      int        `json:"lines"`
	Published  int        `json:"published"`
	Rejected   int        `json:"rejected"`
}

// Totals count the data lines of a file by outcome.
type Totals struct {
	Lines     int            `json:"lines"`
	Published int            `json:"published"`
	Rejected  int            `json:"rejected"`
	Unknown   int            `json:"unknown,omitempty"`
	ByCode    map[string]int `json:"rejected_by_code,omitempty"`
}

// writeReport writes dir/<final>.report.json: head, then one element of
// "lines" per data record (from the journal), streamed. It is written
// under a temporary name and renamed, so a report that exists is whole.
// It returns the totals it wrote.
func writeReport(dir, final string, head Report, journalPath string, total int) (Totals, error) {
	err := writeReportFile(dir, final, &head, journalPath, total)
	return head.Totals, err
}

func writeReportFile(dir, final string, head *Report, journalPath string, total int) error {
	head.Totals = Totals{}
	if total > 0 {
		err := eachEntry(journalPath, total, func(e LineReport) error {
			head.Totals.Lines++
			switch e.Outcome {
			case outcomePublished:
				head.Totals.Published++
			case outcomeRejected:
				head.Totals.Rejected++
				if head.Totals.ByCode == nil {
					head.Totals.ByCode = map[string]int{}
				}
				head.Totals.ByCode[e.Code]++
			default:
				head.Totals.Unknown++
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("report: %w", err)
		}
	}
	hb, err := json.MarshalIndent(head, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, "."+final+".report.json.tmp")
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	defer os.Remove(tmp) //nolint:errcheck // gone after the rename
	w := bufio.NewWriter(f)
	w.Write(bytes.TrimSuffix(hb, []byte("\n}")))
	w.WriteString(",\n  \"lines\": [")
	first := true
	if total > 0 {
		err = eachEntry(journalPath, total, func(e LineReport) error {
			b, err := json.Marshal(e)
			if err != nil {
				return err
			}
			if !first {
				w.WriteByte(',')
			}
			first = false
			w.WriteString("\n    ")
			_, err = w.Write(b)
			return err
		})
	}
	if !first {
		w.WriteString("\n  ")
	}
	w.WriteString("]\n}\n")
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, final+".report.json"))
	}
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

// freeName is name, or name with a counter before its extension
// (birth-x.1.csv, birth-x.2.csv, ...), so that neither it nor its report
// exists yet in dir: nothing in done/ or rejected/ is ever overwritten.
func freeName(dir, name string) string {
	ext := filepath.Ext(name)
	stem := strings.TrimSuffix(name, ext)
	for i := 0; ; i++ {
		cand := name
		if i > 0 {
			cand = fmt.Sprintf("%s.%d%s", stem, i, ext)
		}
		if !exists(filepath.Join(dir, cand)) && !exists(filepath.Join(dir, cand+".report.json")) {
			return cand
		}
	}
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return !errors.Is(err, fs.ErrNotExist)
}

// ReadReport reads a report written by the connector (for tools and tests).
func ReadReport(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("report %s: %w", path, err)
	}
	return &r, nil
}
