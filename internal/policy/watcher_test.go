package policy_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/askonce/askonce/internal/lookup"
	"github.com/askonce/askonce/internal/policy"
)

func write(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestWatcher: Reload and Poll replace the policy in force; a broken file
// leaves it in force.
func TestWatcher(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.yaml")
	write(t, path, fmtPolicy("key-1"))
	w, err := policy.NewWatcher(path, false, lookup.PolicyCatalog, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if w.Current().ByAPIKey("key-1") == nil {
		t.Fatal("key-1 not accepted")
	}

	write(t, path, fmtPolicy("key-2"))
	if err := w.Reload(); err != nil {
		t.Fatal(err)
	}
	if w.Current().ByAPIKey("key-1") != nil || w.Current().ByAPIKey("key-2") == nil {
		t.Fatal("reload did not replace the keys")
	}

	write(t, path, "clients: [{id: X}]")
	if err := w.Reload(); err == nil {
		t.Fatal("a broken policy was loaded")
	}
	if w.Current().ByAPIKey("key-2") == nil {
		t.Fatal("a failed reload changed the policy in force")
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Poll(ctx, 5*time.Millisecond); close(done) }()
	write(t, path, fmtPolicy("key-3"))
	deadline := time.Now().Add(5 * time.Second)
	for w.Current().ByAPIKey("key-3") == nil {
		if time.Now().After(deadline) {
			t.Fatal("Poll did not load the changed file")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
}

func TestDevOnlyRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.yaml")
	write(t, path, "dev_only: true\n"+fmtPolicy("key-1"))
	if _, err := policy.NewWatcher(path, false, lookup.PolicyCatalog, slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("a dev_only policy was accepted outside dev mode")
	}
	if _, err := policy.NewWatcher(path, true, lookup.PolicyCatalog, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
}

func fmtPolicy(key string) string {
	return `
clients:
  - id: cnr
    api_keys: ["` + policy.HashKey(key) + `"]
    rate: 5
    allow: [{purpose: pension-life-proof, documents: [life-certificate]}]
`
}

// countErrors counts the error records logged through it.
type countErrors struct {
	slog.Handler
	n *atomic.Int32
}

func (h countErrors) Enabled(context.Context, slog.Level) bool { return true }

func (h countErrors) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		h.n.Add(1)
	}
	return nil
}

// TestPollLogsOnce: a broken or missing file is logged once per change,
// not at every look, even by two Polls of one Watcher.
func TestPollLogsOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.yaml")
	write(t, path, fmtPolicy("key-1"))
	var n atomic.Int32
	w, err := policy.NewWatcher(path, false, lookup.PolicyCatalog, slog.New(countErrors{slog.DiscardHandler, &n}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Poll(ctx, 2*time.Millisecond)
	go w.Poll(ctx, 3*time.Millisecond)
	settle := func(want int32) {
		t.Helper()
		time.Sleep(60 * time.Millisecond)
		if got := n.Load(); got != want {
			t.Fatalf("%d errors logged, want %d", got, want)
		}
	}
	settle(0)
	write(t, path, "clients: [{id: X}]")
	settle(1)
	write(t, path, "clients: [{id: Y}]")
	settle(2)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	settle(3)
	write(t, path, fmtPolicy("key-2"))
	settle(3)
	if w.Current().ByAPIKey("key-2") == nil {
		t.Fatal("the repaired file was not loaded")
	}
}
