package devpg

import (
	"os"
	"path/filepath"
	"testing"
)

// TestStateDirIsStable: where the server's files go is decided the same way
// before and after the directory exists, so that `askonce dev` (which asks
// the status first) and `askonce pg start` agree on a fresh clone.
func TestStateDirIsStable(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the postgres-user fallback only applies as root")
	}
	base := t.TempDir()
	// Make the base reachable by the postgres user, as a working tree is.
	for d := base; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Join(base, "fresh", "pg")
	before, err := New(Config{Dir: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := before.resolveUser(); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	after, _ := New(Config{Dir: dir}, nil)
	if err := after.resolveUser(); err != nil {
		t.Fatal(err)
	}
	if before.state != after.state || after.state != dir {
		t.Fatalf("state dir before the directory existed %s, after %s", before.state, after.state)
	}
}
