// Package csvdrop is the connector for legacy systems that cannot host an
// outbox: they drop CSV exports, one record kind per file, into a
// directory. The connector picks up files whose size and modification time
// have settled, recognizes a content it has already published (by
// SHA-256, whatever the file's name), maps every line to its Avro record
// and hands the records to the connector runtime's sink, which validates,
// publishes, dead-letters and saves the checkpoint (the file's digest and
// the records done) after each acknowledged batch, so a restart resumes a
// file where it stopped. Each file is opened once, without following
// links, and hashed and parsed from that one descriptor. A finished file
// is moved to done/ (or rejected/ when it is unusable as a whole) with a
// per-line report beside it. The package owns csvdrop_files. The formats
// are in README.md.
package csvdrop

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/askonce/askonce/connectors/connector"
	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/internal/retry"
	"github.com/askonce/askonce/internal/store"
	"github.com/askonce/askonce/schemas"
)

// Sub-directories of a drop directory.
const (
	DoneDir     = "done"
	RejectedDir = "rejected"
	StateDir    = ".csvdrop" // journals of the files being published
)

// Codes of a file rejected as a whole (an unknown kind is
// connector.CodeEntityUnknown).
const (
	CodeHeader     = "csv.header"       // no header, or not one of its kind
	CodeNotRegular = "file.not_regular" // a symbolic link, a pipe, a device...
)

// Config is one watched directory and whose exports it receives.
type Config struct {
	Agency     string
	DataCenter string
	Dir        string
	// BatchSize is the most records put at once (1000 when 0);
	// PollInterval how often the directory is listed (250ms when 0).
	BatchSize    int
	PollInterval time.Duration
	// Settle is how long a file's size and modification time must stay
	// unchanged before it is read; 0 means twice PollInterval, at least 1s.
	Settle time.Duration
	// MaxBackoff caps the backoff of the writes that must follow a file's
	// move (its csvdrop_files row); 30s when 0. Everything else is retried
	// by the connector runtime.
	MaxBackoff time.Duration
}

// Metrics are csvdrop's own metrics, beside the runtime's.
type Metrics struct {
	files   *prometheus.CounterVec
	pending *prometheus.GaugeVec
}

// NewMetrics registers csvdrop's metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		files: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "askonce", Subsystem: "connect",
			Name: "csvdrop_files_total", Help: "CSV files finished, by outcome (done, rejected, duplicate)."}, []string{"connector", "outcome"}),
		pending: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "askonce", Subsystem: "connect",
			Name: "csvdrop_pending_files", Help: "CSV files settled and waiting (or being published)."}, []string{"connector"}),
	}
	reg.MustRegister(m.files, m.pending)
	return m
}

//go:embed migrations/*.sql
var migrations embed.FS

// Migrate creates or updates csvdrop_files in the bus database.
func Migrate(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) error {
	_, err := store.Migrate(ctx, pool, "csvdrop", migrations, "migrations", log)
	return err
}

// CheckSchema returns an error unless csvdrop_files are at the version this
// release needs (`askonce migrate` migrates them).
func CheckSchema(ctx context.Context, pool *pgxpool.Pool) error {
	return store.Check(ctx, pool, "csvdrop", migrations, "migrations")
}

// Drop watches one drop directory: a connector.Source. Its checkpoint is
// the SHA-256 of the file being published (32 bytes) and the number of its
// data records put (8 bytes, big-endian).
type Drop struct {
	cfg    Config
	name   string // the instance's name, kind:data_center
	files  *files
	topics bus.Topics
	fm     *Metrics
	log    *slog.Logger

	obs map[string]*observed // files of the directory, by name
	cp  fileCheckpoint       // the last checkpoint put

	// afterHash, when set (tests), runs after a file was hashed and before
	// it is parsed.
	afterHash func(name string)
}

// observed is what the drop knows of a file in the directory.
type observed struct {
	size  int64
	mtime time.Time
	since time.Time // size and mtime unchanged since
}

// opened is a settled file opened for publishing: its one descriptor,
// what fstat said of it, and its content's hash and line count.
type opened struct {
	f     *os.File
	st    os.FileInfo
	size  int64
	mtime time.Time
	sha   string
	lines int64 // physical lines
}

// fileCheckpoint is a Drop's checkpoint, decoded.
type fileCheckpoint struct {
	sha     string // hex
	records int
}

func (c fileCheckpoint) encode() connector.Checkpoint {
	b, _ := hex.DecodeString(c.sha)
	return binary.BigEndian.AppendUint64(b, uint64(c.records))
}

func decodeCheckpoint(cp connector.Checkpoint) fileCheckpoint {
	if len(cp) != sha256.Size+8 {
		return fileCheckpoint{}
	}
	return fileCheckpoint{sha: hex.EncodeToString(cp[:sha256.Size]), records: int(binary.BigEndian.Uint64(cp[sha256.Size:]))}
}

// NewDrop returns the source of cfg.Dir; pool is the bus database (with
// Migrate run), where csvdrop_files lives.
func NewDrop(cfg Config, pool *pgxpool.Pool, topics bus.Topics, fm *Metrics, log *slog.Logger) *Drop {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 1000
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 250 * time.Millisecond
	}
	if cfg.Settle <= 0 {
		cfg.Settle = max(2*cfg.PollInterval, time.Second)
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	name := Instance(cfg).Name()
	return &Drop{cfg: cfg, name: name, files: &files{pool: pool, connector: name}, topics: topics, fm: fm,
		obs: map[string]*observed{}, log: log.With("connector", name, "agency", cfg.Agency, "dir", cfg.Dir)}
}

// Instance is the connector instance of cfg.
func Instance(cfg Config) connector.Instance {
	return connector.Instance{Kind: "csvdrop", Agency: cfg.Agency, DataCenter: cfg.DataCenter}
}

// Run watches the directory until ctx ends: connector.Source. Bad files
// and lines never stop it; a directory or database that fails ends it
// with the error (the runtime backs off and runs it again).
func (d *Drop) Run(ctx context.Context, cp connector.Checkpoint, sink connector.Sink) error {
	d.cp = decodeCheckpoint(cp)
	d.log.Info("watching", "settle", d.cfg.Settle)
	for ctx.Err() == nil {
		err := d.scan(ctx, sink)
		if ctx.Err() != nil {
			break
		}
		if err != nil {
			return fmt.Errorf("scan: %w", err)
		}
		retry.Sleep(ctx, d.cfg.PollInterval)
	}
	return nil
}

// candidate says whether a directory entry name may be a drop: *.csv,
// not hidden, not a temporary name of the atomic-rename convention.
func candidate(name string) bool {
	l := strings.ToLower(name)
	return !strings.HasPrefix(name, ".") && strings.HasSuffix(l, ".csv") &&
		!strings.HasSuffix(l, ".tmp") && !strings.HasSuffix(l, ".part")
}

// maxOpen bounds the files a scan opens (and holds open) at once; the
// others wait for the next scan.
const maxOpen = 64

// scan lists the directory, notes which files have settled, and publishes
// them oldest first. It returns the last error of a file it had to leave
// for the next scan (the others went on).
func (d *Drop) scan(ctx context.Context, sink connector.Sink) error {
	if st, err := os.Stat(d.cfg.Dir); err != nil {
		return fmt.Errorf("drop directory: %w", err)
	} else if !st.IsDir() {
		return fmt.Errorf("drop directory %s is not a directory", d.cfg.Dir)
	}
	for _, sub := range []string{DoneDir, RejectedDir, StateDir} {
		if err := os.MkdirAll(filepath.Join(d.cfg.Dir, sub), 0o755); err != nil {
			return err
		}
	}
	// The watermark of this scan: every file renamed into the directory
	// before the listing began is in it; it holds back to the modification
	// time of any file left for a later scan (settling, or failed), which
	// is no later than its rename.
	listed := time.Now()
	entries, err := os.ReadDir(d.cfg.Dir)
	if err != nil {
		return fmt.Errorf("drop directory: %w", err)
	}
	now := time.Now()
	var fileErr error
	defer func() {
		if ctx.Err() != nil || fileErr != nil {
			return // the runtime backs off; the watermark waits
		}
		wm := listed
		for _, o := range d.obs {
			if o.mtime.Before(wm) {
				wm = o.mtime
			}
		}
		sink.Heard(ctx, wm)
	}()
	present := map[string]bool{}
	var ready []string
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !candidate(name) {
			continue
		}
		info, err := e.Info() // lstat: a link is seen as a link
		if err != nil {
			continue // vanished
		}
		present[name] = true
		o := d.obs[name]
		if o == nil || o.size != info.Size() || !o.mtime.Equal(info.ModTime()) {
			d.obs[name] = &observed{size: info.Size(), mtime: info.ModTime(), since: now}
			continue
		}
		if now.Sub(o.since) >= d.cfg.Settle {
			ready = append(ready, name)
		}
	}
	for name := range d.obs {
		if !present[name] {
			delete(d.obs, name)
		}
	}
	slices.SortFunc(ready, func(a, b string) int {
		if c := d.obs[a].mtime.Compare(d.obs[b].mtime); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	ready = ready[:min(len(ready), maxOpen)]
	// Open and hash what settled, oldest first: its identity, and its
	// line count for the lag. A file is read through this one descriptor
	// from here to its move to done/ or rejected/.
	files := map[string]*opened{}
	defer func() {
		for _, of := range files {
			of.f.Close()
		}
	}()
	ready = slices.DeleteFunc(ready, func(name string) bool {
		of, err := d.open(name, d.obs[name])
		var refused *refusal
		switch {
		case errors.As(err, &refused):
			if err := d.refuse(ctx, name, d.obs[name], refused); err != nil {
				fileErr = err
				d.log.Warn("file left for the next scan", "file", name, "err", err)
			} else {
				delete(d.obs, name)
			}
			return true
		case err != nil:
			fileErr = err
			d.log.Warn("cannot read file, will retry", "file", name, "err", err)
			return true
		case of == nil:
			return true // changed since it settled
		}
		files[name] = of
		return false
	})
	d.fm.pending.WithLabelValues(d.name).Set(float64(len(ready)))
	waiting := int64(0)
	for _, name := range ready {
		waiting += max(files[name].lines-1, 0)
	}
	sink.Lag(waiting)
	var left int64 // lines of files left for the next scan
	for i, name := range ready {
		if ctx.Err() != nil {
			return nil
		}
		of := files[name]
		waiting -= max(of.lines-1, 0)
		if err := d.process(ctx, sink, name, of, waiting+left); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			fileErr = err
			left += max(of.lines-1, 0)
			d.log.Warn("file left for the next scan", "file", name, "err", err)
			continue
		}
		delete(d.obs, name)
		d.fm.pending.WithLabelValues(d.name).Set(float64(len(ready) - i - 1))
	}
	sink.Lag(left)
	return fileErr
}

// refusal is a directory entry that is not a regular file.
type refusal struct{ reason string }

func (r *refusal) Error() string { return r.reason }

// open opens name once, without following a symbolic link, requires the
// descriptor to be a regular file of the size and modification time that
// settled, and hashes it and counts its lines through that descriptor,
// which it leaves at offset 0. A file that changed since it settled is not
// settled after all: o starts over and open returns nil.
func (d *Drop) open(name string, o *observed) (*opened, error) {
	path := filepath.Join(d.cfg.Dir, name)
	f, err := openNoFollow(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat() // fstat: the file opened, whatever the path holds now
	if err != nil {
		f.Close()
		return nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, &refusal{fmt.Sprintf("not a regular file (%s): only regular files dropped in the directory are read", st.Mode().Type())}
	}
	if st.Size() != o.size || !st.ModTime().Equal(o.mtime) {
		f.Close()
		*o = observed{size: st.Size(), mtime: st.ModTime(), since: time.Now()}
		return nil, nil
	}
	h := sha256.New()
	buf := make([]byte, 256<<10)
	var lines, size int64
	var last byte
	for {
		n, err := f.Read(buf)
		if n > 0 {
			h.Write(buf[:n])
			lines += int64(bytes.Count(buf[:n], []byte{'\n'}))
			last = buf[n-1]
			size += int64(n)
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			f.Close()
			return nil, err
		}
	}
	if size > 0 && last != '\n' {
		lines++
	}
	if st2, err := f.Stat(); err != nil || size != o.size || st2.Size() != o.size || !st2.ModTime().Equal(o.mtime) {
		f.Close()
		if err != nil {
			return nil, err
		}
		*o = observed{size: st2.Size(), mtime: st2.ModTime(), since: time.Now()}
		return nil, nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	return &opened{f: f, st: st, size: size, mtime: st.ModTime(), sha: hex.EncodeToString(h.Sum(nil)), lines: lines}, nil
}

// process publishes one opened file (or resumes it), then moves it.
// An error leaves the file where it is, for the next scan.
func (d *Drop) process(ctx context.Context, sink connector.Sink, name string, of *opened, waiting int64) error {
	if d.afterHash != nil {
		d.afterHash(name)
	}
	if st, err := of.f.Stat(); err != nil {
		return err
	} else if st.Size() != of.size || !st.ModTime().Equal(of.mtime) {
		return nil // written to again since it settled: observed anew by the next scan
	}
	row, found, err := d.files.get(ctx, of.sha)
	if err != nil {
		return err
	}
	if found && row.State == stateDone {
		return d.duplicate(name, of, row)
	}
	k := KindOf(name)
	if k == nil {
		return d.rejectFile(ctx, name, of, "", connector.CodeEntityUnknown, fmt.Sprintf(
			"the file name does not start with a known kind (%s) followed by '-': cannot tell which records it holds", strings.Join(kindNames(), "-, ")+"-"))
	}
	cr := newCSVReader(of.f)
	hrec, err := cr.next()
	switch {
	case errors.Is(err, io.EOF):
		return d.rejectFile(ctx, name, of, k.Name, CodeHeader, "the file is empty: its first line must be a header naming the columns")
	case err != nil:
		return err
	case hrec.err != nil:
		return d.rejectFile(ctx, name, of, k.Name, CodeHeader, "header: "+hrec.err.Message)
	}
	hdr, err := parseHeader(k, hrec.fields)
	if err != nil {
		return d.rejectFile(ctx, name, of, k.Name, CodeHeader, err.Error())
	}
	cr.want = len(hrec.fields)

	var done, published, rejected int
	if found && row.State == statePublishing {
		done, published, rejected = row.Lines, row.Published, row.Rejected
		// The checkpoint is the truth of what was put; csvdrop_files'
		// counts are saved after it, and may be a batch behind after a
		// crash. (A file without its row starts over whatever the
		// checkpoint says: deleting the row is how an operator has the
		// same bytes published again.)
		if d.cp.sha == of.sha && d.cp.records > done {
			done = d.cp.records
		}
	} else if err := d.files.start(ctx, of.sha, name, k.Name); err != nil {
		return err
	}
	if done > 0 {
		d.log.Info("resuming file", "file", name, "after_lines", done, "first_seen_as", row.Name)
	}
	j, err := openJournal(d.journalPath(of.sha), done)
	if err != nil {
		return err
	}
	defer j.close()

	fi := &fileInfo{name: name, hdr: hdr, origin: schemas.Origin{Agency: d.cfg.Agency, DataCenter: d.cfg.DataCenter},
		eventTime: of.mtime.UTC().Truncate(time.Millisecond), topics: d.topics}
	total := max(of.lines-1, 0)
	batch := make([]connector.Record, 0, d.cfg.BatchSize)
	lineNo := make([]int, 0, d.cfg.BatchSize)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		cp := fileCheckpoint{sha: of.sha, records: done + len(batch)}
		outs, err := sink.Put(ctx, batch, cp.encode())
		if err != nil {
			return err // ctx ended
		}
		d.cp = cp
		es := make([]LineReport, len(batch))
		var p, x int
		for i := range batch {
			rec := &batch[i]
			e := LineReport{Record: done + i + 1, Line: lineNo[i], Outcome: outcomePublished}
			if prov := provenanceOf(rec.Value); prov != nil {
				e.SourceKey, e.Version = prov.SourceKey, prov.SourceVersion
			} else if rec.Key != nil {
				e.SourceKey = string(rec.Key) // not mapped: the key is the source key
			}
			if !outs[i].Published() {
				e.Outcome, e.Code, e.Message = outcomeRejected, outs[i].Code, outs[i].Message
				x++
			} else {
				p++
			}
			es[i] = e
		}
		if err := j.append(es); err != nil {
			return err
		}
		if err := d.files.progress(ctx, of.sha, done+len(batch), published+p, rejected+x); err != nil {
			return err
		}
		done, published, rejected = done+len(batch), published+p, rejected+x
		batch, lineNo = batch[:0], lineNo[:0]
		sink.Lag(waiting + max(total-int64(done), 0))
		return nil
	}
	records := 0
	for {
		rec, err := cr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		records++
		if records <= done {
			continue // published before a restart
		}
		if len(batch) == 0 && !sink.Reserve(ctx) {
			return ctx.Err()
		}
		batch = append(batch, fi.toRecord(rec))
		lineNo = append(lineNo, rec.line)
		if len(batch) >= d.cfg.BatchSize {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	if st, err := of.f.Stat(); err == nil && (st.Size() != of.size || !st.ModTime().Equal(of.mtime)) {
		d.log.Error("file changed while it was read: producers must write elsewhere and rename into the directory", "file", name)
	}
	return d.finish(ctx, name, of, k.Name, records)
}

func (d *Drop) journalPath(sha string) string {
	return filepath.Join(d.cfg.Dir, StateDir, sha+".journal")
}

// moveOut moves the file published from of's descriptor to dir/final. When
// the directory entry is no longer that file (replaced while it was read),
// the content published is copied there from the descriptor, and the new
// entry stays for a later scan, to be read on its own.
func (d *Drop) moveOut(name, dir, final string, of *opened) error {
	path := filepath.Join(d.cfg.Dir, name)
	if st, err := os.Lstat(path); err == nil && os.SameFile(st, of.st) {
		return os.Rename(path, filepath.Join(dir, final))
	}
	d.log.Warn("file replaced while it was read: the content read is kept in "+filepath.Base(dir)+"/, the new file is read on its own",
		"file", name, "moved_to", filepath.Join(filepath.Base(dir), final))
	if _, err := of.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	tmp := filepath.Join(dir, "."+final+".tmp")
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, of.f)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, final))
	}
	if err != nil {
		_ = os.Remove(tmp)
	}
	return err
}

// finish writes the report of a published file and moves it to done/.
func (d *Drop) finish(ctx context.Context, name string, of *opened, kind string, records int) error {
	dir := filepath.Join(d.cfg.Dir, DoneDir)
	final := freeName(dir, name)
	head := d.reportHead(name, DoneDir, final, of.sha, of.size, of.mtime)
	head.Kind, head.Outcome = kind, stateDone
	totals, err := writeReport(dir, final, head, d.journalPath(of.sha), records)
	if err != nil {
		return err
	}
	if err := d.moveOut(name, dir, final, of); err != nil {
		return err
	}
	// Moved: the file is done whatever happens next, so its row must say
	// so; retried until it does.
	if err := d.retry(ctx, "finish file", func() error {
		return d.files.finish(ctx, of.sha, totals.Lines, totals.Published, totals.Rejected)
	}); err != nil {
		return err
	}
	_ = os.Remove(d.journalPath(of.sha))
	d.fm.files.WithLabelValues(d.name, stateDone).Inc()
	d.log.Info("file published", "file", name, "moved_to", filepath.Join(DoneDir, final), "lines", records)
	return nil
}

// duplicate moves a file whose content was already published to done/,
// with a report saying so, publishing nothing.
func (d *Drop) duplicate(name string, of *opened, row fileRow) error {
	dir := filepath.Join(d.cfg.Dir, DoneDir)
	final := freeName(dir, name)
	head := d.reportHead(name, DoneDir, final, of.sha, of.size, of.mtime)
	head.Kind, head.Outcome = row.Entity, "duplicate"
	head.DuplicateOf = &DuplicateOf{Name: row.Name, FirstSeen: row.FirstSeen, FinishedAt: row.Finished,
		Lines: row.Lines, Published: row.Published, Rejected: row.Rejected}
	if _, err := writeReport(dir, final, head, "", 0); err != nil {
		return err
	}
	if err := d.moveOut(name, dir, final, of); err != nil {
		return err
	}
	d.fm.files.WithLabelValues(d.name, "duplicate").Inc()
	d.log.Warn("file already published under another drop, not published again", "file", name, "first_seen_as", row.Name, "moved_to", filepath.Join(DoneDir, final))
	return nil
}

// rejectFile moves a file unusable as a whole to rejected/ with its reason.
func (d *Drop) rejectFile(ctx context.Context, name string, of *opened, kind, code, msg string) error {
	dir := filepath.Join(d.cfg.Dir, RejectedDir)
	final := freeName(dir, name)
	head := d.reportHead(name, RejectedDir, final, of.sha, of.size, of.mtime)
	head.Kind, head.Outcome = kind, stateRejected
	head.Reason = &Reason{Code: code, Message: msg}
	if _, err := writeReport(dir, final, head, "", 0); err != nil {
		return err
	}
	if err := d.moveOut(name, dir, final, of); err != nil {
		return err
	}
	if err := d.retry(ctx, "record rejected file", func() error { return d.files.reject(ctx, of.sha, name, kind) }); err != nil {
		return err
	}
	d.fm.files.WithLabelValues(d.name, stateRejected).Inc()
	d.log.Warn("file rejected", "file", name, "code", code, "reason", msg, "moved_to", filepath.Join(RejectedDir, final))
	return nil
}

// refuse moves a directory entry that is not a regular file (a symbolic
// link, a pipe...) to rejected/ with the reason, unread: the entry itself
// moves, never what a link points to.
func (d *Drop) refuse(ctx context.Context, name string, o *observed, why *refusal) error {
	dir := filepath.Join(d.cfg.Dir, RejectedDir)
	final := freeName(dir, name)
	head := d.reportHead(name, RejectedDir, final, "", o.size, o.mtime)
	head.Outcome = stateRejected
	head.Reason = &Reason{Code: CodeNotRegular, Message: why.reason}
	if _, err := writeReport(dir, final, head, "", 0); err != nil {
		return err
	}
	if err := os.Rename(filepath.Join(d.cfg.Dir, name), filepath.Join(dir, final)); err != nil {
		return err
	}
	d.fm.files.WithLabelValues(d.name, stateRejected).Inc()
	d.log.Warn("file rejected", "file", name, "code", CodeNotRegular, "reason", why.reason, "moved_to", filepath.Join(RejectedDir, final))
	return nil
}

func (d *Drop) reportHead(name, dir, final, sha string, size int64, mtime time.Time) Report {
	return Report{File: name, MovedTo: dir + "/" + final, Connector: d.name, Agency: d.cfg.Agency,
		DataCenter: d.cfg.DataCenter, SHA256: sha, Size: size, EventTime: mtime.UTC(), FinishedAt: time.Now().UTC()}
}

// retry runs fn until it succeeds or ctx ends (then it returns ctx's
// error), backing off meanwhile: for the writes that must follow a file's
// move, which cannot be undone.
func (d *Drop) retry(ctx context.Context, what string, fn func() error) error {
	bo := retry.Backoff{Max: d.cfg.MaxBackoff}
	for {
		err := fn()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		lvl := slog.LevelWarn
		if bo.Attempts() > 3 {
			lvl = slog.LevelError
		}
		d.log.Log(ctx, lvl, what+" failed, retrying", "err", err, "attempt", bo.Attempts()+1)
		if !retry.Sleep(ctx, bo.Next()) {
			return ctx.Err()
		}
	}
}

func kindNames() []string {
	out := make([]string, len(Kinds))
	for i, k := range Kinds {
		out[i] = k.Name
	}
	return out
}
