package policy

import (
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

	mu      sync.Mutex // serializes reloads
	digest  [sha256.Size]byte
	failed  [sha256.Size]byte // the file content that last failed to load
	readErr string            // the read error last logged by Poll
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
	raw, _ := os.ReadFile(w.path) // Load reports what cannot be read
	return w.reload(sha256.Sum256(raw))
}

// reload loads the file whose content was read as sum. Should the file
// change between that read and Load's, the next Poll sees a digest that
// is not the one in force and loads it again.
func (w *Watcher) reload(sum [sha256.Size]byte) error {
	p, err := Load(w.path, w.devMode, w.cat)
	if err != nil {
		w.failed = sum
		return err
	}
	w.cur.Store(p)
	w.digest = sum
	w.log.Info("policy loaded", "file", w.path, "clients", len(p.clients), "dev_only", p.devOnly)
	return nil
}

// Poll reloads the policy when the file changed, looking every interval,
// until ctx ends: how a revoked key stops working without a signal or a
// restart. Each look reads and hashes the file (a few kilobytes), so a
// change of content is seen even when the size and mtime are kept. A file
// that cannot be read or loaded is logged once per change of the file
// (or of the read error), not at every look; several Polls of one
// Watcher (`askonce dev` shares one) log it once between them.
func (w *Watcher) Poll(ctx context.Context, every time.Duration) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
		w.poll()
	}
}

func (w *Watcher) poll() {
	raw, err := os.ReadFile(w.path)
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		if err.Error() != w.readErr {
			w.readErr = err.Error()
			w.log.Error("policy reload failed; the previous policy stays in force", "err", err)
		}
		return
	}
	w.readErr = ""
	sum := sha256.Sum256(raw)
	if sum == w.digest {
		w.failed = [sha256.Size]byte{} // the same broken file again is a new change
		return
	}
	if sum == w.failed {
		return
	}
	if err := w.reload(sum); err != nil {
		w.log.Error("policy reload failed; the previous policy stays in force", "err", err)
	}
}
