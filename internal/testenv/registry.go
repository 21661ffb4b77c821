package testenv

import (
	"io"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/askonce/askonce/internal/ops"
	"github.com/askonce/askonce/internal/registry"
	"github.com/askonce/askonce/internal/store"
)

// StartRegistry serves askonce's schema registry over a fresh database for
// the duration of the test and returns its URL.
func StartRegistry(t testing.TB) string {
	t.Helper()
	ctx := Ctx(t, time.Minute)
	pool, err := store.OpenURL(ctx, Postgres(t), 8)
	Must(t, err, "registry database")
	t.Cleanup(pool.Close)
	Must(t, registry.Migrate(ctx, pool, nil), "registry migrate")
	log := ops.NewLogger(io.Discard, "error", "json")
	srv := httptest.NewServer(registry.NewServer(registry.NewBackend(pool, "BACKWARD"), log, ops.NewRegistry(), registry.ServerOptions{}, nil))
	t.Cleanup(srv.Close)
	return srv.URL
}
