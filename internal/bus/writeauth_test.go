package bus_test

import (
	"errors"
	"io"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/internal/ops"
	"github.com/askonce/askonce/internal/registry"
	"github.com/askonce/askonce/internal/store"
	"github.com/askonce/askonce/internal/testenv"
)

// TestUseWithProtectedRegistry: against a registry whose writes need a
// credential (askonce registry outside dev mode), a component with
// auto-registration on and no credential uses a schema registered by
// someone with the credential (looked up, not registered again), and is
// refused, not silently served, a schema nobody registered.
func TestUseWithProtectedRegistry(t *testing.T) {
	ctx := testenv.Ctx(t, time.Minute)
	pool, err := store.OpenURL(ctx, testenv.Postgres(t), 4)
	testenv.Must(t, err, "open")
	t.Cleanup(pool.Close)
	testenv.Must(t, registry.Migrate(ctx, pool, nil), "migrate")
	srv := httptest.NewServer(registry.NewServer(registry.NewBackend(pool, "BACKWARD"), ops.NewLogger(io.Discard, "error", "json"),
		ops.NewRegistry(), registry.ServerOptions{RequireWriteAuth: true, Username: "bus", Password: "s3cret"}, nil))
	t.Cleanup(srv.Close)
	codec := func(user, pass string) *bus.Codec {
		rc, err := registry.NewClient(registry.ClientConfig{URL: srv.URL, Username: user, Password: pass, Timeout: 5 * time.Second})
		testenv.Must(t, err, "client")
		return bus.NewCodec(rc, bus.CodecOptions{AutoRegister: true, IsNotFound: registry.IsNotFound})
	}
	anon := codec("", "")
	var e *registry.Error
	if _, err := anon.Use(ctx, bus.BaseEmployment, latest(t, bus.BaseEmployment)); !errors.As(err, &e) || e.Status != 401 {
		t.Fatalf("registering without the credential: %v, want 401", err)
	}
	id, err := codec("bus", "s3cret").Use(ctx, bus.BaseEmployment, latest(t, bus.BaseEmployment))
	testenv.Must(t, err, "register with the credential")
	got, err := anon.Use(ctx, bus.BaseEmployment, latest(t, bus.BaseEmployment))
	testenv.Must(t, err, "use a registered schema without the credential")
	if got != id {
		t.Fatalf("schema id %d, want %d", got, id)
	}
}
