// Package csvdrop is the connector for legacy systems that cannot host an
// outbox: they drop CSV exports, one record kind per file, into a
// directory. The connector picks up files whose size and modification time
// have settled, recognizes a content it has already published (by
// SHA-256, whatever the file's name), maps every line to its Avro record
// and hands the records to the connector runtime, which validates,
// publishes and dead-letters. Progress is saved after each acknowledged
// batch, so a restart resumes a file where it stopped. A finished file is
// moved to done/ (or rejected/ when it is unusable as a whole) with a
// per-line report beside it. The formats are in this package's README.md.
package csvdrop

import (
	"bytes"
	"context"
	"crypto/sha256"
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

	"github.com/prometheus/client_golang/prometheus"

	"github.com/askonce/askonce/connectors/runtime"
	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/internal/retry"
)

// Sub-directories of a drop directory.
const (
	DoneDir     = "done"
	RejectedDir = "rejected"
	StateDir    = ".csvdrop" // journals of the files being published
)

// Code of a file rejected as a whole for its header (an unknown kind is
// runtime.CodeEntityUnknown).
const CodeHeader = "csv.header"

// Source is one watched directory and whose exports it receives.
type Source struct {
	Agency     string
	DataCenter string
	Dir        string
}

// Options tune a Runner.
type Options struct {
	BatchSize    int
	PollInterval time.Duration
	// Settle is how long a file's size and modification time must stay
	// unchanged before it is read; 0 means twice PollInterval, at least 1s.
	Settle     time.Duration
	MaxBackoff time.Duration
	// WatermarkEvery is how often a watermark round is written
	// (runtime.DefaultWatermarkEvery when 0).
	WatermarkEvery time.Duration
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

// Runner watches one drop directory.
type Runner struct {
	inst   runtime.Instance
	src    Source
	pub    *runtime.Publisher
	cps    *runtime.Checkpoints
	files  *files
	topics bus.Topics
	opt    Options
	m      *runtime.Metrics
	fm     *Metrics
	log    *slog.Logger
	health *runtime.Health

	obs       map[string]*observed // files of the directory, by name
	lastHeard time.Time
	wm        *runtime.Watermarker

	// afterJournal, when set (tests), runs after a batch was published
	// and journaled, before its progress is saved.
	afterJournal func(records int)
}

// observed is what the runner knows of a file in the directory.
type observed struct {
	size  int64
	mtime time.Time
	since time.Time // size and mtime unchanged since
	sha   string    // content hash, once settled
	lines int64     // physical lines, once settled
}

// NewRunner returns the runner of src. cps is in the bus database
// (migrated by runtime.Migrate), where csvdrop_files also lives.
func NewRunner(src Source, pub *runtime.Publisher, cps *runtime.Checkpoints, topics bus.Topics, opt Options, m *runtime.Metrics, fm *Metrics, log *slog.Logger) *Runner {
	inst := runtime.Instance{Kind: "csvdrop", Agency: src.Agency, DataCenter: src.DataCenter}
	if opt.BatchSize <= 0 {
		opt.BatchSize = 1000
	}
	if opt.PollInterval <= 0 {
		opt.PollInterval = 250 * time.Millisecond
	}
	if opt.Settle <= 0 {
		opt.Settle = max(2*opt.PollInterval, time.Second)
	}
	if opt.MaxBackoff <= 0 {
		opt.MaxBackoff = 30 * time.Second
	}
	log = log.With("connector", inst.Name(), "agency", src.Agency, "dir", src.Dir)
	return &Runner{inst: inst, src: src, pub: pub, cps: cps, files: &files{pool: cps.Pool(), connector: inst.Name()}, topics: topics,
		opt: opt, m: m, fm: fm, health: runtime.NewHealth(inst, m), obs: map[string]*observed{},
		wm: pub.Watermarker(inst, opt.WatermarkEvery, log), log: log}
}

// Instance is what this runner runs.
func (r *Runner) Instance() runtime.Instance { return r.inst }

// Healthy is nil when the last scan and batch succeeded; otherwise the
// error it keeps retrying on.
func (r *Runner) Healthy() error { return r.health.Healthy() }

// Run watches the directory until ctx ends. Bad files and lines never stop
// it; a directory, database or broker that fails is retried with backoff
// and reported in /readyz and metrics.
func (r *Runner) Run(ctx context.Context) error {
	r.log.Info("connector started", "settle", r.opt.Settle)
	bo := retry.Backoff{Max: r.opt.MaxBackoff}
	for ctx.Err() == nil {
		err := r.scan(ctx)
		if ctx.Err() != nil {
			break
		}
		if err != nil {
			r.fail("scan", err, &bo)
			retry.Sleep(ctx, bo.Next())
			continue
		}
		bo.Reset()
		r.health.Set(nil)
		retry.Sleep(ctx, r.opt.PollInterval)
	}
	return nil
}

// heartbeatEvery is how often the runner records that it could read its
// directory (connect_checkpoints.heard_at, the data center's freshness for
// the lookup API), files or not.
const heartbeatEvery = 5 * time.Second

func (r *Runner) heard(ctx context.Context) {
	if time.Since(r.lastHeard) < heartbeatEvery {
		return
	}
	if err := r.cps.Heard(ctx, r.inst); err == nil {
		r.lastHeard = time.Now()
	} else if ctx.Err() == nil {
		r.log.Warn("heartbeat not recorded", "err", err)
	}
}

func (r *Runner) fail(what string, err error, bo *retry.Backoff) {
	r.health.Set(err)
	r.m.SourceError(r.inst)
	lvl := slog.LevelWarn
	if bo.Attempts() > 3 {
		lvl = slog.LevelError
	}
	r.log.Log(context.Background(), lvl, what+" failed, retrying", "err", err, "attempt", bo.Attempts()+1)
}

// candidate says whether a directory entry name may be a drop: *.csv,
// not hidden, not a temporary name of the atomic-rename convention.
func candidate(name string) bool {
	l := strings.ToLower(name)
	return !strings.HasPrefix(name, ".") && strings.HasSuffix(l, ".csv") &&
		!strings.HasSuffix(l, ".tmp") && !strings.HasSuffix(l, ".part")
}

// scan lists the directory, notes which files have settled, and publishes
// them oldest first. It returns the last error of a file it had to leave
// for the next scan (the others went on).
func (r *Runner) scan(ctx context.Context) error {
	if st, err := os.Stat(r.src.Dir); err != nil {
		return fmt.Errorf("drop directory: %w", err)
	} else if !st.IsDir() {
		return fmt.Errorf("drop directory %s is not a directory", r.src.Dir)
	}
	for _, d := range []string{DoneDir, RejectedDir, StateDir} {
		if err := os.MkdirAll(filepath.Join(r.src.Dir, d), 0o755); err != nil {
			return err
		}
	}
	// The watermark of this scan: every file renamed into the directory
	// before the listing began is in it; it holds back to the modification
	// time of any file left for a later scan (settling, or failed), which
	// is no later than its rename.
	listed := time.Now()
	entries, err := os.ReadDir(r.src.Dir)
	if err != nil {
		return fmt.Errorf("drop directory: %w", err)
	}
	r.heard(ctx)
	now := time.Now()
	wm := listed
	defer func() {
		for _, o := range r.obs {
			if o.mtime.Before(wm) {
				wm = o.mtime
			}
		}
		if ctx.Err() == nil {
			r.wm.CaughtUp(wm)
			r.wm.Flush(ctx)
		}
	}()
	present := map[string]bool{}
	var ready []string
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !candidate(name) {
			continue
		}
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() {
			continue // vanished, or a pipe, socket, symlink...
		}
		present[name] = true
		o := r.obs[name]
		if o == nil || o.size != info.Size() || !o.mtime.Equal(info.ModTime()) {
			r.obs[name] = &observed{size: info.Size(), mtime: info.ModTime(), since: now}
			continue
		}
		if now.Sub(o.since) >= r.opt.Settle {
			ready = append(ready, name)
		}
	}
	for name := range r.obs {
		if !present[name] {
			delete(r.obs, name)
		}
	}
	var fileErr error
	// Hash what settled: its identity, and its line count for the lag.
	ready = slices.DeleteFunc(ready, func(name string) bool {
		o := r.obs[name]
		if o.sha != "" {
			return false
		}
		if err := r.hash(name, o); err != nil {
			fileErr = err
			r.log.Warn("cannot read file, will retry", "file", name, "err", err)
			return true
		}
		return o.sha == ""
	})
	slices.SortFunc(ready, func(a, b string) int {
		if c := r.obs[a].mtime.Compare(r.obs[b].mtime); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	r.fm.pending.WithLabelValues(r.inst.Name()).Set(float64(len(ready)))
	waiting := int64(0)
	for _, name := range ready {
		waiting += max(r.obs[name].lines-1, 0)
	}
	r.m.SetLag(r.inst, waiting)
	var left int64 // lines of files left for the next scan
	for i, name := range ready {
		if ctx.Err() != nil {
			return nil
		}
		o := r.obs[name]
		waiting -= max(o.lines-1, 0)
		if err := r.process(ctx, name, o, waiting+left); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			fileErr = err
			left += max(o.lines-1, 0)
			r.log.Warn("file left for the next scan", "file", name, "err", err)
			continue
		}
		delete(r.obs, name)
		r.fm.pending.WithLabelValues(r.inst.Name()).Set(float64(len(ready) - i - 1))
	}
	r.m.SetLag(r.inst, left)
	return fileErr
}

// hash sets o.sha and o.lines, streaming the file once. A file that
// changed meanwhile is not settled after all: o starts over.
func (r *Runner) hash(name string, o *observed) error {
	path := filepath.Join(r.src.Dir, name)
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
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
			return err
		}
	}
	if size > 0 && last != '\n' {
		lines++
	}
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if st.Size() != o.size || size != o.size || !st.ModTime().Equal(o.mtime) {
		*o = observed{size: st.Size(), mtime: st.ModTime(), since: time.Now()}
		return nil
	}
	o.sha, o.lines = hex.EncodeToString(h.Sum(nil)), lines
	return nil
}

// process publishes one settled file (or resumes it), then moves it.
// An error leaves the file where it is, for the next scan.
func (r *Runner) process(ctx context.Context, name string, o *observed, waiting int64) error {
	path := filepath.Join(r.src.Dir, name)
	if st, err := os.Stat(path); err != nil {
		return err
	} else if st.Size() != o.size || !st.ModTime().Equal(o.mtime) {
		// Written to again since it settled: wait for it to settle anew.
		*o = observed{size: st.Size(), mtime: st.ModTime(), since: time.Now()}
		return nil
	}
	var row fileRow
	var found bool
	if err := r.retry(ctx, "read csvdrop_files", func() (err error) { row, found, err = r.files.get(ctx, o.sha); return }); err != nil {
		return err
	}
	if found && row.State == stateDone {
		return r.duplicate(ctx, name, o, row)
	}
	k := KindOf(name)
	if k == nil {
		return r.rejectFile(ctx, name, o, "", runtime.CodeEntityUnknown, fmt.Sprintf(
			"the file name does not start with a known kind (%s) followed by '-': cannot tell which records it holds", strings.Join(kindNames(), "-, ")+"-"))
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	cr := newCSVReader(f)
	hrec, err := cr.next()
	switch {
	case errors.Is(err, io.EOF):
		return r.rejectFile(ctx, name, o, k.Name, CodeHeader, "the file is empty: its first line must be a header naming the columns")
	case err != nil:
		return err
	case hrec.err != nil:
		return r.rejectFile(ctx, name, o, k.Name, CodeHeader, "header: "+hrec.err.Message)
	}
	hdr, err := parseHeader(k, hrec.fields)
	if err != nil {
		return r.rejectFile(ctx, name, o, k.Name, CodeHeader, err.Error())
	}
	cr.want = len(hrec.fields)

	var done, published, rejected int
	if found && row.State == statePublishing {
		done, published, rejected = row.Lines, row.Published, row.Rejected
		r.log.Info("resuming file", "file", name, "after_lines", done, "first_seen_as", row.Name)
	} else if err := r.retry(ctx, "record file", func() error { return r.files.start(ctx, o.sha, name, k.Name) }); err != nil {
		return err
	}
	j, err := openJournal(r.journalPath(o.sha), done)
	if err != nil {
		return err
	}
	defer j.close()

	fi := &fileInfo{name: name, hdr: hdr, agency: r.src.Agency, dc: r.src.DataCenter,
		eventTime: o.mtime.UTC().Truncate(time.Millisecond), topics: r.topics}
	total := max(o.lines-1, 0)
	batch := make([]runtime.Record, 0, r.opt.BatchSize)
	lineNo := make([]int, 0, r.opt.BatchSize)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		start := time.Now()
		r.m.AddRead(r.inst, len(batch))
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
			if code, msg := r.pub.Verdict(rec); code != "" {
				e.Outcome, e.Code, e.Message = outcomeRejected, code, msg
				x++
			} else {
				p++
			}
			es[i] = e
		}
		var n runtime.Counts
		if err := r.retry(ctx, "publish", func() (err error) { n, err = r.pub.Publish(ctx, r.inst, batch); return }); err != nil {
			return err
		}
		if n.Published != p || n.Rejected != x {
			r.log.Warn("publisher and report disagree", "file", name, "published", n.Published, "reported_published", p)
		}
		if err := r.retry(ctx, "write journal", func() error { return j.append(es) }); err != nil {
			return err
		}
		if r.afterJournal != nil {
			r.afterJournal(done + len(batch))
		}
		if ctx.Err() != nil {
			// Published but not saved: the next start repeats this batch
			// (same keys and versions, which downstream deduplicates).
			return ctx.Err()
		}
		if err := r.retry(ctx, "save progress", func() error {
			return r.files.progress(ctx, o.sha, done+len(batch), published+p, rejected+x)
		}); err != nil {
			return err
		}
		done, published, rejected = done+len(batch), published+p, rejected+x
		batch, lineNo = batch[:0], lineNo[:0]
		r.m.BatchDone(r.inst, start)
		r.m.SetLag(r.inst, waiting+max(total-int64(done), 0))
		r.health.Set(nil)
		r.heard(ctx)
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
		batch = append(batch, fi.toRecord(rec))
		lineNo = append(lineNo, rec.line)
		if len(batch) >= r.opt.BatchSize {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	if st, err := f.Stat(); err == nil && (st.Size() != o.size || !st.ModTime().Equal(o.mtime)) {
		r.log.Error("file changed while it was read: producers must write elsewhere and rename into the directory", "file", name)
	}
	return r.finish(ctx, name, o, k.Name, records)
}

func (r *Runner) journalPath(sha string) string {
	return filepath.Join(r.src.Dir, StateDir, sha+".journal")
}

// finish writes the report of a published file and moves it to done/.
func (r *Runner) finish(ctx context.Context, name string, o *observed, kind string, records int) error {
	dir := filepath.Join(r.src.Dir, DoneDir)
	final := freeName(dir, name)
	head := r.reportHead(name, DoneDir, final, o)
	head.Kind, head.Outcome = kind, stateDone
	if err := writeReport(dir, final, head, r.journalPath(o.sha), records); err != nil {
		return err
	}
	if err := os.Rename(filepath.Join(r.src.Dir, name), filepath.Join(dir, final)); err != nil {
		return err
	}
	if err := r.retry(ctx, "finish file", func() error { return r.files.finish(ctx, o.sha) }); err != nil {
		return err
	}
	_ = os.Remove(r.journalPath(o.sha))
	r.fm.files.WithLabelValues(r.inst.Name(), stateDone).Inc()
	r.log.Info("file published", "file", name, "moved_to", filepath.Join(DoneDir, final), "lines", records)
	return nil
}

// duplicate moves a file whose content was already published to done/,
// with a report saying so, publishing nothing.
func (r *Runner) duplicate(ctx context.Context, name string, o *observed, row fileRow) error {
	dir := filepath.Join(r.src.Dir, DoneDir)
	final := freeName(dir, name)
	head := r.reportHead(name, DoneDir, final, o)
	head.Kind, head.Outcome = row.Entity, "duplicate"
	head.DuplicateOf = &DuplicateOf{Name: row.Name, FirstSeen: row.FirstSeen, FinishedAt: row.Finished,
		Lines: row.Lines, Published: row.Published, Rejected: row.Rejected}
	if err := writeReport(dir, final, head, "", 0); err != nil {
		return err
	}
	if err := os.Rename(filepath.Join(r.src.Dir, name), filepath.Join(dir, final)); err != nil {
		return err
	}
	r.fm.files.WithLabelValues(r.inst.Name(), "duplicate").Inc()
	r.log.Warn("file already published under another drop, not published again", "file", name, "first_seen_as", row.Name, "moved_to", filepath.Join(DoneDir, final))
	return nil
}

// rejectFile moves a file unusable as a whole to rejected/ with its reason.
func (r *Runner) rejectFile(ctx context.Context, name string, o *observed, kind, code, msg string) error {
	dir := filepath.Join(r.src.Dir, RejectedDir)
	final := freeName(dir, name)
	head := r.reportHead(name, RejectedDir, final, o)
	head.Kind, head.Outcome = kind, stateRejected
	head.Reason = &Reason{Code: code, Message: msg}
	if err := writeReport(dir, final, head, "", 0); err != nil {
		return err
	}
	if err := os.Rename(filepath.Join(r.src.Dir, name), filepath.Join(dir, final)); err != nil {
		return err
	}
	if err := r.retry(ctx, "record rejected file", func() error { return r.files.reject(ctx, o.sha, name, kind) }); err != nil {
		return err
	}
	r.fm.files.WithLabelValues(r.inst.Name(), stateRejected).Inc()
	r.log.Warn("file rejected", "file", name, "code", code, "reason", msg, "moved_to", filepath.Join(RejectedDir, final))
	return nil
}

func (r *Runner) reportHead(name, dir, final string, o *observed) Report {
	return Report{File: name, MovedTo: dir + "/" + final, Connector: r.inst.Name(), Agency: r.src.Agency,
		DataCenter: r.src.DataCenter, SHA256: o.sha, Size: o.size, EventTime: o.mtime.UTC(), FinishedAt: time.Now().UTC()}
}

// retry runs fn until it succeeds or ctx ends (then it returns ctx's
// error), backing off and reporting the failure meanwhile.
func (r *Runner) retry(ctx context.Context, what string, fn func() error) error {
	bo := retry.Backoff{Max: r.opt.MaxBackoff}
	for {
		err := fn()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.fail(what, err, &bo)
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
