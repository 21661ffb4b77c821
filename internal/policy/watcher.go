package policy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Watcher holds the policy in force and reloads it: the one reload path of
// every component that reads the policy (the lookup API, the clerk
// console through it, the notification router). On a failed reload the
// policy in force stays.
type Watcher struct {
	path    string
	devMode bool
	cat     Catalog
	log     *slog.Logger
	cur     atomic.Pointer[Policy]

	mu     sync.Mutex // serializes reloads
	digest [sha256.Size]byte
}

// NewWatcher loads the policy file at path (see Load) and holds it. An
// unreadable or invalid policy is an error: nothing would be allowed.
func NewWatcher(path string, devMode bool, cat Catalog, log *slog.Logger) (*Watcher, error) {
	w := &Watcher{path: path, devMode: devMode, cat: cat, log: log}
	if err := w.Reload(); err != nil {
		return nil, err
	}
	return w, nil
}

// Current is the policy in force. It is never nil.
func (w *Watcher) Current() *Policy { return w.cur.Load() }

// Reload re-reads the policy file; on error the policy in force stays.
func (w *Watcher) Reload() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.reload()
}

func (w *Watcher) reload() error {
	raw, _ := os.ReadFile(w.path) // Load reports what cannot be read
	p, err := Load(w.path, w.devMode, w.cat)
	if err != nil {
		return err
	}
	w.cur.Store(p)
	w.digest = sha256.Sum256(raw)
	w.log.Info("policy loaded", "file", w.path, "clients", len(p.clients), "dev_only", p.devOnly)
	return nil
}

// Poll reloads the policy every interval when the file changed, until ctx
// ends: for a component no one sends SIGHUP to (`askonce notify`). A
// failed reload is logged once per change of the file.
func (w *Watcher) Poll(ctx context.Context, every time.Duration) {
	var failed [sha256.Size]byte
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
		raw, err := os.ReadFile(w.path)
		if err != nil {
			w.log.Error("policy reload failed; the previous policy stays in force", "err", err)
			continue
		}
		sum := sha256.Sum256(raw)
		w.mu.Lock()
		same := bytes.Equal(sum[:], w.digest[:]) || bytes.Equal(sum[:], failed[:])
		if !same {
			if err := w.reload(); err != nil {
				failed = sum
				w.log.Error("policy reload failed; the previous policy stays in force", "err", err)
			}
		}
		w.mu.Unlock()
	}
}
