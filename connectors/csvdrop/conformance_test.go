package csvdrop

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/askonce/askonce/connectors/connector"
	"github.com/askonce/askonce/connectors/connectortest"
	"github.com/askonce/askonce/internal/testenv"
)

// TestConformance runs the connector conformance suite on a drop directory.
func TestConformance(t *testing.T) {
	connectortest.Run(t, func(t *testing.T, env *connectortest.Env) *connectortest.Subject {
		env.Migrate(Migrate)
		fm := NewMetrics(env.Metrics)
		dir := t.TempDir()
		cfg := Config{Agency: "etatcivil", DataCenter: "etatcivil-dc05", Dir: dir, PollInterval: 20 * time.Millisecond, Settle: 200 * time.Millisecond}
		// drop writes a file under a temporary name, then renames it into
		// the directory, as producers must.
		drop := func(t *testing.T, name string, data []byte) {
			tmp := filepath.Join(dir, name+".tmp")
			write(t, tmp, data)
			testenv.Must(t, os.Rename(tmp, filepath.Join(dir, name)), "rename")
		}
		return &connectortest.Subject{
			Instance:  Instance(cfg),
			SourceKey: "birth/1",
			NewSource: func(batchSize int) connector.Source {
				c := cfg
				c.BatchSize = batchSize
				return NewDrop(c, env.DB, env.Topics, fm, env.Log)
			},
			Versions: func(t *testing.T, from, to int) {
				var b bytes.Buffer
				b.WriteString(birthHeader + "\n")
				for v := from; v <= to; v++ {
					b.WriteString(birthLine(1, v, 42) + "\n")
				}
				drop(t, fmt.Sprintf("birth-v%04d.csv", from), b.Bytes())
				// The next drop must not share this one's modification
				// time: files are read oldest first.
				time.Sleep(20 * time.Millisecond)
			},
			Unmappable: func(t *testing.T) {
				drop(t, "birth-bad.csv", []byte(birthHeader+"\n1,2,not,a,birth\n"))
			},
		}
	})
}

// TestRefusesLinksAndSwaps: a symbolic link dropped in the directory is
// refused, unread, with its reason in a report in rejected/; a file swapped
// for another between its hashing and its parsing is published as it was
// hashed (one descriptor), and the file swapped in is read on its own.
func TestRefusesLinksAndSwaps(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()

	outside := filepath.Join(t.TempDir(), "birth-outside.csv")
	write(t, outside, birthFile(700, 2))
	testenv.Must(t, os.Symlink(outside, filepath.Join(dir, "birth-link.csv")), "symlink")

	a, b := birthFile(1, 3), birthFile(100, 2)
	var swapped atomic.Bool
	e.start(e.runner(dir, opts{BatchSize: 10, afterHash: func(name string) {
		if name != "birth-swap.csv" || swapped.Load() {
			return
		}
		swapped.Store(true)
		tmp := filepath.Join(dir, "birth-other.csv.tmp")
		write(t, tmp, b)
		testenv.Must(t, os.Rename(tmp, filepath.Join(dir, name)), "swap")
	}}))
	write(t, filepath.Join(dir, "birth-swap.csv"), a)

	rep := e.waitReport(dir, RejectedDir, "birth-link.csv", 10*time.Second)
	if rep.Outcome != stateRejected || rep.Reason == nil || rep.Reason.Code != CodeNotRegular || !bytes.Contains([]byte(rep.Reason.Message), []byte("symbolic link")) {
		t.Fatalf("link: report %+v reason %+v", rep, rep.Reason)
	}
	if st, err := os.Lstat(filepath.Join(dir, RejectedDir, "birth-link.csv")); err != nil || st.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link itself was not moved to rejected/: %v %v", st, err)
	}
	if got, err := os.ReadFile(outside); err != nil || !bytes.Equal(got, birthFile(700, 2)) {
		t.Fatalf("the link's target was touched: %v", err)
	}

	first := e.waitReport(dir, DoneDir, "birth-swap.csv", 10*time.Second)
	if !swapped.Load() || first.SHA256 != sha(a) || first.Totals.Published != 3 {
		t.Fatalf("swapped file: report sha %s (hashed %s), totals %+v", first.SHA256, sha(a), first.Totals)
	}
	if got, err := os.ReadFile(filepath.Join(dir, DoneDir, "birth-swap.csv")); err != nil || !bytes.Equal(got, a) {
		t.Fatalf("done/ does not hold the content published: %v", err)
	}
	second := e.waitReport(dir, DoneDir, "birth-swap.1.csv", 10*time.Second)
	if second.SHA256 != sha(b) || second.Totals.Published != 2 {
		t.Fatalf("file swapped in: report sha %s, totals %+v", second.SHA256, second.Totals)
	}
	recs := e.civil(testenv.WaitTopic(t, e.ctx, e.addr, e.topics.CivilStatus, 5, 10*time.Second))
	keys := map[string]int{}
	for _, r := range recs {
		keys[r.Provenance.SourceKey]++
	}
	for _, k := range []string{"birth/1", "birth/2", "birth/3", "birth/100", "birth/101"} {
		if keys[k] != 1 {
			t.Errorf("%s published %d times", k, keys[k])
		}
	}
	if len(recs) != 5 || keys["birth/700"] != 0 {
		t.Errorf("published %v", keys)
	}
}
