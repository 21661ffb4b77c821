// Package devpg runs the private PostgreSQL instance that askonce uses for
// development and tests: Debian's postgresql-15 server binaries (installed
// with apt-get when missing), a data directory under .var/pg, its own port
// (55432) and socket, and a generated password. It never touches a system
// PostgreSQL service. It stands where the production database stands (the
// lookup store, the audit log, the registry, the synthetic sources):
// production points postgres.url at any PostgreSQL 15+ instead.
package devpg

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/askonce/askonce/internal/dbroles"
	"github.com/askonce/askonce/internal/store"
)

// Superuser is the role initdb creates; Database is the database askonce uses.
const (
	Superuser = "askonce"
	Database  = "askonce"
)

// Config says where the private instance lives (postgres.dev.* in the
// configuration).
type Config struct {
	// Dir holds the lock file, the password and (usually) the data.
	Dir  string
	Host string
	Port int
	// BinDir holds initdb, pg_ctl and postgres; empty finds Debian's
	// postgresql-15 binaries.
	BinDir string
	// Install lets askonce install Debian's postgresql-15 with apt-get when
	// the binaries are missing (needs root).
	Install bool
}

// Instance is the private PostgreSQL of one working tree.
type Instance struct {
	cfg   Config
	dir   string // absolute cfg.Dir: lock and password live here
	state string // data, socket and log live here (dir, or a fallback when root's postgres user can not reach dir)
	runAs *syscall.Credential
	log   *slog.Logger
}

// New resolves the directories of an instance; it starts nothing.
func New(cfg Config, log *slog.Logger) (*Instance, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("devpg: %w", err)
	}
	return &Instance{cfg: cfg, dir: dir, state: dir, log: log}, nil
}

func (i *Instance) dataDir() string  { return filepath.Join(i.state, "data") }
func (i *Instance) sockDir() string  { return filepath.Join(i.state, "run") }
func (i *Instance) logFile() string  { return filepath.Join(i.state, "postgres.log") }
func (i *Instance) pwFile() string   { return filepath.Join(i.dir, "password") }
func (i *Instance) lockFile() string { return filepath.Join(i.dir, ".lock") }

// Start makes sure the instance exists and runs, and returns its URL.
// It is idempotent: an instance already running is reused, a stale pid file
// left by a crash is removed. Concurrent callers (parallel test packages)
// serialize on a lock file.
func (i *Instance) Start(ctx context.Context) (string, error) {
	if err := os.MkdirAll(i.dir, 0o755); err != nil {
		return "", fmt.Errorf("devpg: %w", err)
	}
	unlock, err := i.lock(ctx)
	if err != nil {
		return "", err
	}
	defer unlock()

	bin, err := i.binDir(ctx)
	if err != nil {
		return "", err
	}
	if err := i.resolveUser(); err != nil {
		return "", err
	}
	pw, err := i.password()
	if err != nil {
		return "", err
	}
	if err := i.initdb(ctx, bin, pw); err != nil {
		return "", err
	}
	if err := i.writeConf(); err != nil {
		return "", err
	}
	if pid, running := i.running(); running {
		i.log.Debug("private PostgreSQL already running", "pid", pid)
	} else {
		if err := i.pgctl(ctx, bin, "start", "-w", "-t", "90", "-l", i.logFile()); err != nil {
			return "", fmt.Errorf("devpg: start PostgreSQL: %w\n%s", err, i.logTail(15))
		}
		i.log.Info("private PostgreSQL started", "addr", net.JoinHostPort(i.cfg.Host, strconv.Itoa(i.cfg.Port)), "data", i.dataDir())
	}
	u := i.url(pw, "postgres")
	if err := waitReady(ctx, u, 60*time.Second); err != nil {
		return "", fmt.Errorf("devpg: %w\n%s", err, i.logTail(15))
	}
	if _, err := store.EnsureDatabase(ctx, u, Database); err != nil {
		return "", fmt.Errorf("devpg: %w", err)
	}
	if err := ensureRoles(ctx, u, pw); err != nil {
		return "", err
	}
	return i.url(pw, Database), nil
}

// ensureRoles creates askonce's group roles (internal/dbroles) and a dev
// login per role (dbroles.LoginURL gives its URL), under the instance's
// lock: roles are cluster-wide, the tests' databases are not.
func ensureRoles(ctx context.Context, u, pw string) error {
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		return fmt.Errorf("devpg: connect: %w", err)
	}
	defer conn.Close(context.Background())
	if err := dbroles.EnsureRoles(ctx, conn); err != nil {
		return fmt.Errorf("devpg: %w", err)
	}
	if err := dbroles.EnsureDevLogins(ctx, conn, pw); err != nil {
		return fmt.Errorf("devpg: %w", err)
	}
	return nil
}

// Stop stops the instance if it runs. Mode is fast (roll back sessions,
// checkpoint) or immediate (like a crash: recovery on next start).
func (i *Instance) Stop(ctx context.Context, mode string) error {
	if mode != "fast" && mode != "immediate" && mode != "smart" {
		return fmt.Errorf("devpg: stop mode %q: want fast, immediate or smart", mode)
	}
	if _, err := os.Stat(i.dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	unlock, err := i.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	if err := i.resolveUser(); err != nil {
		return err
	}
	if _, running := i.running(); !running {
		return nil
	}
	bin, err := i.binDir(ctx)
	if err != nil {
		return err
	}
	if err := i.pgctl(ctx, bin, "stop", "-w", "-t", "60", "-m", mode); err != nil {
		return fmt.Errorf("devpg: stop PostgreSQL: %w", err)
	}
	i.log.Info("private PostgreSQL stopped", "mode", mode)
	return nil
}

// Destroy stops the instance at once and removes its files (data, socket,
// log, password), wherever they are kept.
func (i *Instance) Destroy(ctx context.Context) error {
	if err := i.Stop(ctx, "immediate"); err != nil {
		return err
	}
	if err := i.resolveUser(); err != nil {
		return err
	}
	if i.state != i.dir {
		if err := os.RemoveAll(i.state); err != nil {
			return fmt.Errorf("devpg: %w", err)
		}
	}
	if err := os.RemoveAll(i.dir); err != nil {
		return fmt.Errorf("devpg: %w", err)
	}
	i.log.Info("private PostgreSQL removed", "dir", i.dir)
	return nil
}

// Status reports whether the instance runs, and its pid.
func (i *Instance) Status() (pid int, running bool, err error) {
	if err := i.resolveUser(); err != nil {
		return 0, false, err
	}
	pid, running = i.running()
	return pid, running, nil
}

// URL is the connection URL of the askonce database, with the generated
// password. It does not check that the instance runs.
func (i *Instance) URL() (string, error) {
	if err := i.resolveUser(); err != nil {
		return "", err
	}
	b, err := os.ReadFile(i.pwFile())
	if err != nil {
		return "", fmt.Errorf("devpg: no private PostgreSQL in %s yet (run `askonce pg start`): %w", i.dir, err)
	}
	return i.url(strings.TrimSpace(string(b)), Database), nil
}

func (i *Instance) url(pw, db string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(Superuser, pw),
		Host:     net.JoinHostPort(i.cfg.Host, strconv.Itoa(i.cfg.Port)),
		Path:     "/" + db,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

func (i *Instance) lock(ctx context.Context) (func(), error) {
	f, err := os.OpenFile(i.lockFile(), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("devpg: lock: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			_ = f.Close()
			return nil, fmt.Errorf("devpg: lock: %w", err)
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, fmt.Errorf("devpg: waiting for lock %s: %w", i.lockFile(), ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	return func() { _ = f.Close() }, nil
}

// binDir finds initdb, pg_ctl and postgres, installing Debian's
// postgresql-15 when they are missing and that is allowed.
func (i *Instance) binDir(ctx context.Context) (string, error) {
	if i.cfg.BinDir != "" {
		if !hasServer(i.cfg.BinDir) {
			return "", fmt.Errorf("devpg: postgres.dev.bin_dir %s holds no initdb/pg_ctl/postgres", i.cfg.BinDir)
		}
		return i.cfg.BinDir, nil
	}
	if d := findServer(); d != "" {
		return d, nil
	}
	if !i.cfg.Install {
		return "", errors.New("devpg: PostgreSQL server binaries not found; install them (apt-get install postgresql-15) or set postgres.dev.bin_dir")
	}
	if os.Geteuid() != 0 {
		return "", errors.New("devpg: PostgreSQL server binaries not found and installing them needs root: run `sudo apt-get install postgresql-15`")
	}
	i.log.Info("installing Debian's postgresql-15 (one time)")
	for _, args := range [][]string{{"update", "-qq"}, {"install", "-y", "-qq", "--no-install-recommends", "postgresql-15"}} {
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("devpg: apt-get %s: %w\n%s", strings.Join(args, " "), err, tail(out, 20))
		}
	}
	if d := findServer(); d != "" {
		return d, nil
	}
	return "", errors.New("devpg: postgresql-15 installed but its binaries are not under /usr/lib/postgresql")
}

func hasServer(dir string) bool {
	for _, b := range []string{"initdb", "pg_ctl", "postgres"} {
		if st, err := os.Stat(filepath.Join(dir, b)); err != nil || st.IsDir() {
			return false
		}
	}
	return true
}

// findServer returns the bin directory of the newest installed PostgreSQL >= 15.
func findServer() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(a, b int) bool {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[a])))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[b])))
		return va > vb
	})
	for _, d := range dirs {
		if v, _ := strconv.Atoi(filepath.Base(filepath.Dir(d))); v >= 15 && hasServer(d) {
			return d
		}
	}
	return ""
}

// resolveUser decides who runs the server. PostgreSQL refuses to run as
// root, so as root the server runs as the postgres system user (created by
// Debian's package), and its files are owned by that user. If that user can
// not reach the working tree (a checkout under /root, say), the server's
// files go to /var/tmp instead, named after the working tree.
func (i *Instance) resolveUser() error {
	if os.Geteuid() != 0 || i.runAs != nil {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		// No postgres user yet: binaries are not installed either; binDir
		// installs them and a later call resolves the user.
		return nil
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	i.runAs = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
	sum := sha256.Sum256([]byte(i.dir))
	fallback := filepath.Join(os.TempDir(), "askonce-pg-"+hex.EncodeToString(sum[:6]))
	// The choice must be the same on every call, whether or not the
	// directory exists yet: an instance already initialized in one place
	// stays there, and a new one is judged by the nearest existing parent
	// (the directory is created 0755 under it).
	switch {
	case initialized(i.dir):
	case initialized(fallback):
		i.state = fallback
	case !i.reachable(nearestExisting(i.dir)):
		i.state = fallback
	}
	if i.state != i.dir {
		i.log.Info("postgres user can not reach the working tree; keeping PostgreSQL files elsewhere", "dir", i.state)
	}
	return nil
}

// initialized tells whether state holds an initialized data directory.
func initialized(state string) bool {
	_, err := os.Stat(filepath.Join(state, "data", "PG_VERSION"))
	return err == nil
}

// nearestExisting is dir, or its closest ancestor that exists.
func nearestExisting(dir string) string {
	for {
		if _, err := os.Stat(dir); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return dir
		}
		dir = parent
	}
}

// reachable tells whether the postgres user can traverse to dir.
func (i *Instance) reachable(dir string) bool {
	cmd := exec.Command("test", "-x", dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: i.runAs}
	return cmd.Run() == nil
}

func (i *Instance) chown(path string) error {
	if i.runAs == nil {
		return nil
	}
	return os.Chown(path, int(i.runAs.Uid), int(i.runAs.Gid))
}

func (i *Instance) password() (string, error) {
	b, err := os.ReadFile(i.pwFile())
	if err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("devpg: read password: %w", err)
	}
	if _, err := os.Stat(filepath.Join(i.dataDir(), "PG_VERSION")); err == nil {
		return "", fmt.Errorf("devpg: %s exists but its password file %s is gone: remove %s (make clean) to start over", i.dataDir(), i.pwFile(), i.state)
	}
	raw := make([]byte, 24)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("devpg: generate password: %w", err)
	}
	pw := base64.RawURLEncoding.EncodeToString(raw)
	if err := os.WriteFile(i.pwFile(), []byte(pw+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("devpg: write password: %w", err)
	}
	return pw, nil
}

func (i *Instance) initdb(ctx context.Context, bin, pw string) error {
	if _, err := os.Stat(filepath.Join(i.dataDir(), "PG_VERSION")); err == nil {
		return nil
	}
	// A data directory without PG_VERSION is the remains of a failed initdb.
	if err := os.RemoveAll(i.dataDir()); err != nil {
		return fmt.Errorf("devpg: clean partial data dir: %w", err)
	}
	for _, d := range []string{i.state, i.sockDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("devpg: %w", err)
		}
	}
	if err := os.Mkdir(i.dataDir(), 0o700); err != nil {
		return fmt.Errorf("devpg: %w", err)
	}
	for _, p := range []string{i.state, i.dataDir(), i.sockDir()} {
		if err := i.chown(p); err != nil {
			return fmt.Errorf("devpg: chown %s: %w", p, err)
		}
	}
	tmp := filepath.Join(i.sockDir(), ".pwfile")
	if err := os.WriteFile(tmp, []byte(pw+"\n"), 0o600); err != nil {
		return fmt.Errorf("devpg: %w", err)
	}
	defer os.Remove(tmp)
	if err := i.chown(tmp); err != nil {
		return fmt.Errorf("devpg: %w", err)
	}
	i.log.Info("initializing private PostgreSQL", "data", i.dataDir())
	cmd := i.command(ctx, filepath.Join(bin, "initdb"), "-D", i.dataDir(), "-U", Superuser, "--pwfile", tmp,
		"--auth-local", "scram-sha-256", "--auth-host", "scram-sha-256", "-E", "UTF8", "--no-locale", "--no-instructions")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("devpg: initdb: %w\n%s", err, tail(out, 20))
	}
	return nil
}

// writeConf writes the settings askonce owns into an included file, so
// that a change of port or socket applies at the next start.
func (i *Instance) writeConf() error {
	conf := filepath.Join(i.dataDir(), "postgresql.conf")
	body, err := os.ReadFile(conf)
	if err != nil {
		return fmt.Errorf("devpg: %w", err)
	}
	const include = "include_if_exists = 'askonce.conf'"
	if !bytes.Contains(body, []byte(include)) {
		body = append(body, []byte("\n# settings owned by askonce (internal/devpg)\n"+include+"\n")...)
		if err := os.WriteFile(conf, body, 0o600); err != nil {
			return fmt.Errorf("devpg: %w", err)
		}
	}
	if err := os.MkdirAll(i.sockDir(), 0o755); err != nil {
		return fmt.Errorf("devpg: %w", err)
	}
	if err := i.chown(i.sockDir()); err != nil {
		return fmt.Errorf("devpg: %w", err)
	}
	own := fmt.Sprintf(`# written by askonce at every start: edit deploy config (postgres.dev.*) instead
listen_addresses = '%s'
port = %d
unix_socket_directories = '%s'
max_connections = 300
shared_buffers = '512MB'
work_mem = '16MB'
maintenance_work_mem = '256MB'
max_wal_size = '4GB'
checkpoint_timeout = '15min'
wal_compression = on
log_min_duration_statement = '2s'
log_line_prefix = '%%m [%%p] %%q%%u@%%d '
`, i.cfg.Host, i.cfg.Port, i.sockDir())
	p := filepath.Join(i.dataDir(), "askonce.conf")
	if err := os.WriteFile(p, []byte(own), 0o600); err != nil {
		return fmt.Errorf("devpg: %w", err)
	}
	return i.chown(p)
}

// running reads postmaster.pid and checks that its process is a live
// postgres. A pid file whose process is gone, or whose pid now belongs to
// another program, is stale and removed.
func (i *Instance) running() (int, bool) {
	pidFile := filepath.Join(i.dataDir(), "postmaster.pid")
	f, err := os.Open(pidFile)
	if err != nil {
		return 0, false
	}
	sc := bufio.NewScanner(f)
	var pid int
	if sc.Scan() {
		pid, _ = strconv.Atoi(strings.TrimSpace(sc.Text()))
	}
	_ = f.Close()
	if pid > 0 {
		if isLivePostgres(pid) {
			return pid, true
		}
	}
	if pid > 0 {
		i.log.Info("removing stale PostgreSQL pid file", "pid", pid)
	}
	_ = os.Remove(pidFile)
	// The socket lock names the dead pid too, and postgres refuses to start
	// while that pid exists (even as a zombie). The socket directory is this
	// instance's alone, so its leftovers can go.
	leftovers, _ := filepath.Glob(filepath.Join(i.sockDir(), ".s.PGSQL.*"))
	for _, p := range leftovers {
		_ = os.Remove(p)
	}
	return 0, false
}

// isLivePostgres tells whether pid is a postgres process that is not a
// zombie (a killed server whose parent never reaped it still has an entry
// in /proc).
func isLivePostgres(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// Format: pid (comm) state ...; comm may hold spaces, so cut at the last ')'.
	s := string(stat)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open || end+2 >= len(s) {
		return false
	}
	comm, state := s[open+1:end], s[end+2]
	return strings.HasPrefix(comm, "postgres") && state != 'Z' && state != 'X'
}

func (i *Instance) pgctl(ctx context.Context, bin string, args ...string) error {
	full := append([]string{args[0], "-D", i.dataDir(), "-s"}, args[1:]...)
	cmd := i.command(ctx, filepath.Join(bin, "pg_ctl"), full...)
	// The server outlives this process (and Ctrl-C of a terminal session).
	cmd.SysProcAttr.Setsid = true
	// pg_ctl start leaves the server holding the output pipe; give it files.
	out, err := os.CreateTemp("", "askonce-pgctl-*")
	if err != nil {
		return err
	}
	defer os.Remove(out.Name())
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		b, _ := os.ReadFile(out.Name())
		return fmt.Errorf("pg_ctl %s: %w: %s", args[0], err, strings.TrimSpace(string(b)))
	}
	return nil
}

func (i *Instance) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = i.state
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C", "LANG=C"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: i.runAs}
	return cmd
}

func (i *Instance) logTail(n int) string {
	b, err := os.ReadFile(i.logFile())
	if err != nil {
		return ""
	}
	return "last lines of " + i.logFile() + ":\n" + tail(b, n)
}

func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func waitReady(ctx context.Context, u string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		conn, err := pgx.Connect(ctx, u)
		if err == nil {
			err = conn.Ping(ctx)
			_ = conn.Close(context.Background())
			if err == nil {
				return nil
			}
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("PostgreSQL does not answer: %w", last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// CreateDatabase creates database db on the server of baseURL (dropping a
// previous one of that name), for tests that want an isolated database.
func CreateDatabase(ctx context.Context, baseURL, db string) (string, error) {
	admin, err := store.DatabaseURL(baseURL, "postgres")
	if err != nil {
		return "", err
	}
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", fmt.Errorf("devpg: connect: %w", err)
	}
	defer conn.Close(context.Background())
	id := pgx.Identifier{db}.Sanitize()
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+id+" WITH (FORCE)"); err != nil {
		return "", fmt.Errorf("devpg: drop database %s: %w", db, err)
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+id); err != nil {
		return "", fmt.Errorf("devpg: create database %s: %w", db, err)
	}
	return store.DatabaseURL(baseURL, db)
}

// DropDatabase drops database db on the server of baseURL.
func DropDatabase(ctx context.Context, baseURL, db string) error {
	admin, err := store.DatabaseURL(baseURL, "postgres")
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return fmt.Errorf("devpg: connect: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{db}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("devpg: drop database %s: %w", db, err)
	}
	return nil
}
