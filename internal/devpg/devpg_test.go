package devpg_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/askonce/askonce/internal/devpg"
	"github.com/askonce/askonce/internal/testenv"
)

// TestLifecycle runs a second private instance on its own port and dir:
// initdb once, idempotent start, data kept across stop/start, recovery
// after the server is SIGKILLed (stale pid and socket lock), destroy.
func TestLifecycle(t *testing.T) {
	ctx := testenv.Ctx(t, 4*time.Minute)
	cfg := devpg.Config{Host: "127.0.0.1", Install: true}
	cfg.Dir = filepath.Join(t.TempDir(), "pg")
	cfg.Port = 55499
	inst, err := devpg.New(cfg, nil)
	testenv.Must(t, err, "new")
	t.Cleanup(func() { _ = inst.Destroy(context.Background()) })

	u1, err := inst.Start(ctx)
	testenv.Must(t, err, "first start")
	if !strings.Contains(u1, ":55499/askonce") {
		t.Fatalf("URL %s does not name port 55499 and database askonce", u1)
	}
	exec(t, ctx, u1, "CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)")

	u2, err := inst.Start(ctx)
	testenv.Must(t, err, "second start")
	if u1 != u2 {
		t.Fatalf("second start changed the URL: %s vs %s", u1, u2)
	}
	if u, err := inst.URL(); err != nil || u != u1 {
		t.Fatalf("URL() = %s, %v; want %s", u, err, u1)
	}

	// A wrong password is refused: the instance is not open to anyone.
	bad := strings.Replace(u1, "askonce:", "askonce:x", 1)
	if c, err := pgx.Connect(ctx, bad); err == nil {
		_ = c.Close(ctx)
		t.Fatal("connected with a wrong password")
	}

	testenv.Must(t, inst.Stop(ctx, "fast"), "stop")
	if _, running, _ := inst.Status(); running {
		t.Fatal("running after stop")
	}
	testenv.Must(t, inst.Stop(ctx, "fast"), "stop when stopped")
	_, err = inst.Start(ctx)
	testenv.Must(t, err, "start after stop")
	expectKept(t, ctx, u1)

	// Crash: SIGKILL the postmaster. The next start must clean the stale
	// pid file and socket lock, recover, and keep the committed row.
	pid, running, err := inst.Status()
	if err != nil || !running {
		t.Fatalf("status = %d %v %v", pid, running, err)
	}
	testenv.Must(t, syscall.Kill(pid, syscall.SIGKILL), "kill postmaster")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, running, _ := inst.Status(); !running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("server still seen as running 10s after SIGKILL")
		}
		time.Sleep(100 * time.Millisecond)
	}
	_, err = inst.Start(ctx)
	testenv.Must(t, err, "start after SIGKILL")
	expectKept(t, ctx, u1)

	testenv.Must(t, inst.Destroy(ctx), "destroy")
	if _, err := os.Stat(cfg.Dir); !os.IsNotExist(err) {
		t.Fatalf("%s still exists after destroy", cfg.Dir)
	}
}

func TestStopModeChecked(t *testing.T) {
	inst, err := devpg.New(devpg.Config{Dir: t.TempDir(), Host: "127.0.0.1", Port: 55498}, nil)
	testenv.Must(t, err, "new")
	if err := inst.Stop(context.Background(), "gentle"); err == nil {
		t.Fatal("unknown stop mode accepted")
	}
}

func exec(t *testing.T, ctx context.Context, u, sql string) {
	t.Helper()
	c, err := pgx.Connect(ctx, u)
	testenv.Must(t, err, "connect")
	defer c.Close(ctx)
	_, err = c.Exec(ctx, sql)
	testenv.Must(t, err, "exec")
}

func expectKept(t *testing.T, ctx context.Context, u string) {
	t.Helper()
	c, err := pgx.Connect(ctx, u)
	testenv.Must(t, err, "connect")
	defer c.Close(ctx)
	var v int
	testenv.Must(t, c.QueryRow(ctx, "SELECT v FROM kept").Scan(&v), "read kept row")
	if v != 42 {
		t.Fatalf("kept row = %s, want 42", strconv.Itoa(v))
	}
}
