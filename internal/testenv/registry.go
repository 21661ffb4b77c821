package testenv

import (
	"io"
	"net/http/httptest"
	"testing"

	"github.com/askonce/askonce/internal/dbroles"
	"github.com/askonce/askonce/internal/ops"
	"github.com/askonce/askonce/internal/registry"
)

// StartRegistry serves askonce's schema registry over a fresh database for
// the duration of the test and returns its URL.
func StartRegistry(t testing.TB) string {
	t.Helper()
	// Migrated as `askonce migrate` does; the registry logs in with its role.
	pool := Database(t, registry.Migrate).Pool(t, dbroles.Registry)
	log := ops.NewLogger(io.Discard, "error", "json")
	srv := httptest.NewServer(registry.NewServer(registry.NewBackend(pool, "BACKWARD"), log, ops.NewRegistry(), registry.ServerOptions{}, nil))
	t.Cleanup(srv.Close)
	return srv.URL
}
