// Package testenv starts the real dependencies that integration tests run
// against: the private PostgreSQL instance of the working tree (one server,
// a fresh database per test) and an embedded Kafka-protocol broker (one per
// test, in a temporary data directory). There are no mocks of either.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/askonce/askonce/internal/config"
	"github.com/askonce/askonce/internal/dbroles"
	"github.com/askonce/askonce/internal/devbroker"
	"github.com/askonce/askonce/internal/devpg"
	"github.com/askonce/askonce/internal/store"
)

// RepoRoot is the directory holding go.mod, found from the working directory.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("testenv: go.mod not found above the working directory")
		}
		dir = parent
	}
}

// PGConfig is the private PostgreSQL configuration tests use: the working
// tree's .var/pg, so that `make test` and the tests share one server, on
// the port `askonce pg start` uses (postgres.dev.port, which
// ASKONCE_POSTGRES_DEV_PORT may change for both).
func PGConfig(t testing.TB) config.DevPG {
	cfg := config.Default().Postgres.Dev
	if c, err := config.Load(config.Layers{Environ: os.Environ()}); err == nil {
		cfg = c.Postgres.Dev
	}
	cfg.Dir = filepath.Join(RepoRoot(t), ".var", "pg")
	return cfg
}

// PostgresServer starts (or reuses) the private PostgreSQL and returns the
// URL of its askonce database.
func PostgresServer(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// testenv can not use internal/wiring (materialize's own tests import
	// testenv): the same fields, converted.
	inst, err := devpg.New(devpg.Config(PGConfig(t)), nil)
	if err != nil {
		t.Fatal(err)
	}
	u, err := inst.Start(ctx)
	if err != nil {
		t.Fatalf("testenv: private PostgreSQL: %v", err)
	}
	return u
}

// Postgres returns the URL of a fresh database on the private PostgreSQL,
// dropped when the test ends.
func Postgres(t testing.TB) string {
	t.Helper()
	base := PostgresServer(t)
	name := "test_" + sanitize(t.Name()) + "_" + Random(4)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	u, err := devpg.CreateDatabase(ctx, base, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := devpg.DropDatabase(ctx, base, name); err != nil {
			t.Logf("testenv: %v", err)
		}
	})
	return u
}

// Broker is an embedded broker started for one test.
type Broker struct {
	Addr    string
	DataDir string
	// AdminPassword is the superuser's password (StartSecureBroker).
	AdminPassword string
	cfg           devbroker.Config
	b             *devbroker.Broker
	t             testing.TB
}

// StartBroker starts an embedded broker on a free loopback port with a
// temporary data directory; it is closed when the test ends. mod may
// change the broker configuration (SASL, TLS).
func StartBroker(t testing.TB, mod func(*devbroker.Config)) *Broker {
	t.Helper()
	cfg := devbroker.Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), DefaultPartitions: config.Default().Broker.DefaultPartitions}
	if mod != nil {
		mod(&cfg)
	}
	tb := &Broker{cfg: cfg, DataDir: cfg.DataDir, t: t}
	tb.start()
	t.Cleanup(tb.Stop)
	return tb
}

func (tb *Broker) start() {
	tb.t.Helper()
	b, err := devbroker.Start(tb.cfg, nil)
	if err != nil {
		tb.t.Fatalf("testenv: broker: %v", err)
	}
	tb.b, tb.Addr = b, b.Addr()
	// Restart on the same address, so that clients' configuration holds.
	tb.cfg.Listen = tb.Addr
}

// Stop closes the broker, persisting its state; a no-op when stopped.
func (tb *Broker) Stop() {
	if tb.b != nil {
		tb.b.Close()
		tb.b = nil
	}
}

// Restart stops the broker and starts it again on the same address and
// data directory.
func (tb *Broker) Restart() {
	tb.t.Helper()
	tb.Stop()
	tb.start()
}

// Kafka returns client settings for this broker, with topics under a
// prefix unique to the test.
func (tb *Broker) Kafka() config.Kafka {
	k := config.Default().Kafka
	k.Brokers = []string{tb.Addr}
	k.DialTimeout = 5 * time.Second
	return k
}

// BrokerAdmin is the superuser of a broker started by StartSecureBroker.
const BrokerAdmin = "admin"

// StartSecureBroker is StartBroker with SASL (SCRAM-SHA-512) and ACLs on,
// as `askonce dev` and `make chaos` run it: only BrokerAdmin, whose
// password is AdminPassword, may do anything until ACLs are created.
func StartSecureBroker(t testing.TB, mod func(*devbroker.Config)) *Broker {
	t.Helper()
	pw := Random(12)
	tb := StartBroker(t, func(c *devbroker.Config) {
		c.SASL = devbroker.SASL{Mechanism: "scram-sha-512", Username: BrokerAdmin, Password: pw}
		c.ACLs = true
		if mod != nil {
			mod(c)
		}
	})
	tb.AdminPassword = pw
	return tb
}

// KafkaAs is Kafka authenticating as user with SCRAM-SHA-512.
func (tb *Broker) KafkaAs(user, password string) config.Kafka {
	k := tb.Kafka()
	k.SASL = config.SASL{Mechanism: "scram-sha-512", Username: user, Password: password}
	return k
}

// KafkaAdmin is Kafka authenticating as the superuser of a secure broker.
func (tb *Broker) KafkaAdmin() config.Kafka { return tb.KafkaAs(BrokerAdmin, tb.AdminPassword) }

// Random returns n random bytes in hex.
func Random(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func sanitize(s string) string {
	s = strings.ToLower(s)
	var b strings.Builder
	for _, r := range s {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	out := b.String()
	if len(out) > 40 {
		out = out[:40]
	}
	return out
}

// Need fails the test when a command-line tool is missing; `make test`
// installs them all (see deploy/devfiles/deps.sh).
func Need(t testing.TB, tool string) string {
	t.Helper()
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		p := filepath.Join(dir, tool)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	t.Fatalf("testenv: %s is not installed: run `make deps` (deploy/devfiles/deps.sh)", tool)
	return ""
}

// Ctx is a context bounded by d and by the test's deadline.
func Ctx(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// Must fails the test on err.
func Must(t testing.TB, err error, what string, args ...any) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", fmt.Sprintf(what, args...), err)
	}
}

// DB is a fresh database on the private PostgreSQL, migrated by
// Database as `askonce migrate` does, with a URL per role.
type DB struct {
	// Admin is the superuser's URL: for test setup the components could
	// never do (planting faults, reading anything).
	Admin string
	urls  map[string]string
}

// URL is the URL of role's dev login (dbroles.API, dbroles.Materialize,
// ...) on this database: the runtime pieces of a test use their role's.
func (d *DB) URL(role string) string {
	u, ok := d.urls[role]
	if !ok {
		panic("testenv: no such role: " + role)
	}
	return u
}

// Database returns a fresh database (dropped when the test ends) on which
// migrations ran as the owner role, with every runtime role's privileges
// set, as `askonce migrate` does (internal/dbroles).
func Database(t testing.TB, migrations ...dbroles.Migration) *DB {
	t.Helper()
	admin := Postgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := dbroles.Migrate(ctx, admin, nil, migrations...); err != nil {
		t.Fatalf("testenv: migrate: %v", err)
	}
	d := &DB{Admin: admin, urls: map[string]string{}}
	for _, role := range dbroles.All {
		if role == dbroles.AuditOwner {
			continue
		}
		u, err := dbroles.LoginURL(admin, role)
		if err != nil {
			t.Fatal(err)
		}
		d.urls[role] = u
	}
	return d
}

// Pool opens a pool of role on d, closed when the test ends.
func (d *DB) Pool(t testing.TB, role string) *pgxpool.Pool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := store.OpenURL(ctx, d.URL(role), 8)
	if err != nil {
		t.Fatalf("testenv: connect as %s: %v", role, err)
	}
	t.Cleanup(p.Close)
	return p
}
