// Package dbroles is the one definition of askonce's PostgreSQL roles:
// who owns each object of the bus database and which statements each
// runtime component may run on it. `askonce migrate` applies it (see
// internal/wiring.Migrate); the private PostgreSQL of `askonce dev` and of
// the tests applies the same, so every test runs with the roles of
// production.
//
// All roles here are group roles (NOLOGIN). People and processes log in
// as LOGIN roles that are members of one group role each:
//
//	CREATE ROLE askonce_api_prod LOGIN PASSWORD '...' IN ROLE askonce_api;
//
// The owner role owns the schema objects and runs the migrations; the
// audit owner owns audit_log, audit_publish and the append-only trigger
// function, and nothing logs in as it. No runtime role is a member of
// either, so no component can alter, drop or disable the triggers of a
// table, and the API can only append to the audit log and read it.
package dbroles

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The group roles.
const (
	// Owner owns the schema objects and runs the migrations (`askonce migrate`).
	Owner = "askonce_owner"
	// AuditOwner owns the audit log's objects. Owner is its member (to
	// run the audit migrations); no component is.
	AuditOwner = "askonce_audit_owner"
	// API is `askonce serve`: the lookup API, the clerk console, the
	// audit log writer and its topic mirror.
	API = "askonce_api"
	// Materialize is `askonce materialize`.
	Materialize = "askonce_materialize"
	// Notify is `askonce notify`, the notification router.
	Notify = "askonce_notify"
	// Connect is `askonce connect`: checkpoints and csvdrop files.
	Connect = "askonce_connect"
	// Registry is `askonce registry`, the schema registry.
	Registry = "askonce_registry"
	// Reader is read-only: `askonce audit verify`, `audit log`, `reconcile`.
	Reader = "askonce_reader"
)

// Runtime lists the roles components log in with (through a member).
var Runtime = []string{API, Materialize, Notify, Connect, Registry, Reader}

// All lists every group role, owners first.
var All = append([]string{Owner, AuditOwner}, Runtime...)

// Privilege sets.
const (
	r    = "SELECT"
	rw   = "SELECT, INSERT, UPDATE"
	rwd  = "SELECT, INSERT, UPDATE, DELETE"
	ra   = "SELECT, INSERT"
	rupd = "SELECT, UPDATE"
)

// StoreTables are the lookup store's record tables and view (internal/materialize).
var StoreTables = []string{"persons", "marriages", "divorces", "deaths", "affiliations", "employment_periods", "contributions", "family_links"}

// StateTables are the materializer's bookkeeping that readers of the
// store's freshness read (internal/materialize, internal/watermark).
var StateTables = []string{"source_freshness", "store_watermarks"}

// Object is a table, view or sequence and its owner.
type Object struct {
	Name  string
	Owner string
}

// Owned lists every object of the bus database with its owner, in the
// order of the migrations. An object missing from the database (a test
// database migrated for one component) is skipped.
var Owned = func() []Object {
	var o []Object
	add := func(owner string, names ...string) {
		for _, n := range names {
			o = append(o, Object{Name: n, Owner: owner})
		}
	}
	add(Owner, "askonce_schema_migrations")
	add(Owner, StoreTables...)
	add(Owner, StateTables...)
	add(Owner, "store_partition_watermarks", "store_watermark_history", "materialize_offsets")
	add(Owner, "attestations", "portfolio_members", "notify_sent")
	add(Owner, "registry_schemas", "registry_versions", "registry_config")
	add(Owner, "connect_checkpoints", "csvdrop_files")
	add(AuditOwner, "audit_log", "audit_publish")
	return o
}()

// OwnedFunctions are functions (by signature) and their owners.
var OwnedFunctions = []Object{{Name: "audit_log_append_only()", Owner: AuditOwner}}

// Grant is the privileges of one role on one table or view.
type Grant struct {
	Role, Table, Privileges string
}

// Grants is every privilege of the runtime roles: nothing else is granted
// (Apply revokes what is not here). Sequences of a table whose role may
// INSERT get USAGE for that role.
var Grants = func() []Grant {
	var g []Grant
	add := func(role, privs string, tables ...string) {
		for _, t := range tables {
			g = append(g, Grant{Role: role, Table: t, Privileges: privs})
		}
	}
	// Every component checks the schema version it needs.
	for _, role := range Runtime {
		add(role, r, "askonce_schema_migrations")
	}
	// The lookup API: reads the store and its freshness, issues documents
	// (appended in the audit log's transaction), appends to the audit log
	// and advances the topic mirror's checkpoint, keeps the portfolios.
	add(API, r, StoreTables...)
	add(API, r, StateTables...)
	add(API, ra, "attestations", "audit_log")
	add(API, rupd, "audit_publish")
	add(API, rw, "portfolio_members")
	// The materializer: upserts the store (tombstones, never DELETE) and
	// its bookkeeping; prunes the watermark history.
	add(Materialize, rw, StoreTables[:len(StoreTables)-1]...)
	add(Materialize, r, "family_links")
	add(Materialize, rw, StateTables...)
	add(Materialize, rw, "store_partition_watermarks", "materialize_offsets")
	add(Materialize, "SELECT, INSERT, DELETE", "store_watermark_history")
	// The router: portfolios from the topic, what it notified, and an
	// audit entry per notification.
	add(Notify, rw, "portfolio_members", "notify_sent")
	add(Notify, ra, "audit_log")
	// The connectors: their checkpoints and the csvdrop files' state.
	add(Connect, rw, "connect_checkpoints", "csvdrop_files")
	// The schema registry: its own tables, deletes included.
	add(Registry, rwd, "registry_schemas", "registry_versions", "registry_config")
	// Read-only tools: verify and list the audit log, reconcile the store
	// against the sources.
	add(Reader, r, "audit_log", "audit_publish", "attestations")
	add(Reader, r, StoreTables...)
	add(Reader, r, StateTables...)
	return g
}()

// Privileges returns the privileges Grants gives role on table ("" for none).
func Privileges(role, table string) string {
	for _, g := range Grants {
		if g.Role == role && g.Table == table {
			return g.Privileges
		}
	}
	return ""
}

// DuplicateObject is the SQLSTATE of CREATE ROLE for a role that exists
// (also raised when a concurrent session created it first).
const DuplicateObject = "42710"

// InsufficientPrivilege is the SQLSTATE of a refused statement.
const InsufficientPrivilege = "42501"

// Execer runs statements: a *pgx.Conn, a pgx.Tx or a *pgxpool.Pool.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// EnsureRoles creates the group roles that are missing (NOLOGIN), makes
// Owner a member of AuditOwner and the connected user a member of Owner.
// It is idempotent and safe against concurrent callers. The connected
// user needs CREATEROLE (or superuser) when a role is missing.
func EnsureRoles(ctx context.Context, db Execer) error {
	for _, role := range All {
		if err := createRole(ctx, db, role, "NOLOGIN", ""); err != nil {
			return err
		}
	}
	if err := grantMembership(ctx, db, AuditOwner, Owner); err != nil {
		return err
	}
	var super bool
	if err := db.QueryRow(ctx, `SELECT rolsuper FROM pg_roles WHERE rolname = current_user`).Scan(&super); err != nil {
		return fmt.Errorf("dbroles: %w", err)
	}
	if !super {
		if err := grantMembership(ctx, db, Owner, "CURRENT_USER"); err != nil {
			return err
		}
	}
	return nil
}

func roleExists(ctx context.Context, db Execer, role string) (bool, error) {
	var ok bool
	err := db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)`, role).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("dbroles: look up role %s: %w", role, err)
	}
	return ok, nil
}

// createRole creates role with options unless it exists. password, when
// set, is passed as its SCRAM verifier (passwordLiteral), quoted by the
// server (format %L).
func createRole(ctx context.Context, db Execer, role, options, password string) error {
	ok, err := roleExists(ctx, db, role)
	if err != nil || ok {
		return err
	}
	var stmt string
	if password != "" {
		lit, perr := passwordLiteral(password)
		if perr != nil {
			return perr
		}
		err = db.QueryRow(ctx, `SELECT format('CREATE ROLE %I `+options+` PASSWORD %L', $1::text, $2::text)`, role, lit).Scan(&stmt)
	} else {
		err = db.QueryRow(ctx, `SELECT format('CREATE ROLE %I `+options+`', $1::text)`, role).Scan(&stmt)
	}
	if err != nil {
		return fmt.Errorf("dbroles: %w", err)
	}
	if _, err := db.Exec(ctx, stmt); err != nil && !IsCode(err, DuplicateObject) {
		return fmt.Errorf("dbroles: create role %s (the user running this needs CREATEROLE, or a DBA creates the roles: see docs/security.md): %w", role, err)
	}
	return nil
}

// grantMembership makes member (a role name, or CURRENT_USER) a member of
// group unless it is one already.
func grantMembership(ctx context.Context, db Execer, group, member string) error {
	var is bool
	q := `SELECT pg_has_role($1::text, $2::text, 'MEMBER')`
	args := []any{member, group}
	if member == "CURRENT_USER" {
		q = `SELECT pg_has_role($1::text, 'MEMBER')`
		args = []any{group}
	}
	if err := db.QueryRow(ctx, q, args...).Scan(&is); err != nil {
		return fmt.Errorf("dbroles: membership of %s: %w", group, err)
	}
	if is {
		return nil
	}
	m := "CURRENT_USER"
	if member != "CURRENT_USER" {
		m = pgx.Identifier{member}.Sanitize()
	}
	if _, err := db.Exec(ctx, "GRANT "+pgx.Identifier{group}.Sanitize()+" TO "+m); err != nil && !isConcurrent(err) {
		return fmt.Errorf("dbroles: grant %s to %s: %w", group, member, err)
	}
	return nil
}

// Prepare readies the connected database for migrations as Owner: the
// schema public usable by every role and writable by Owner only, and the
// objects of Owned that an earlier release created as another user
// handed over to their owner. The connected user needs to own the
// database (or be superuser) the first time.
func Prepare(ctx context.Context, db Execer) error {
	var can bool
	// The audit owner needs CREATE too: ALTER ... OWNER TO requires it of
	// the new owner.
	for _, role := range []string{Owner, AuditOwner} {
		if err := db.QueryRow(ctx, `SELECT has_schema_privilege($1::text, 'public', 'CREATE')`, role).Scan(&can); err != nil {
			return fmt.Errorf("dbroles: %w", err)
		}
		if !can {
			if _, err := db.Exec(ctx, `GRANT USAGE, CREATE ON SCHEMA public TO `+role); err != nil {
				return fmt.Errorf("dbroles: grant CREATE on schema public to %s (the database's owner or a superuser must run `askonce migrate` once, or a DBA runs this GRANT): %w", role, err)
			}
		}
	}
	for _, role := range Runtime {
		if err := db.QueryRow(ctx, `SELECT has_schema_privilege($1::text, 'public', 'USAGE')`, role).Scan(&can); err != nil {
			return fmt.Errorf("dbroles: %w", err)
		}
		if !can {
			if _, err := db.Exec(ctx, `GRANT USAGE ON SCHEMA public TO `+pgx.Identifier{role}.Sanitize()); err != nil {
				return fmt.Errorf("dbroles: grant USAGE on schema public to %s: %w", role, err)
			}
		}
	}
	return setOwners(ctx, db)
}

// setOwners gives every existing object of Owned (and OwnedFunctions) its
// owner.
func setOwners(ctx context.Context, db Execer) error {
	for _, o := range Owned {
		var kind, owner string
		err := db.QueryRow(ctx, `SELECT c.relkind::text, pg_get_userbyid(c.relowner) FROM pg_class c
			WHERE c.oid = to_regclass($1::text)`, "public."+o.Name).Scan(&kind, &owner)
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		}
		if err != nil {
			return fmt.Errorf("dbroles: owner of %s: %w", o.Name, err)
		}
		if owner == o.Owner {
			continue
		}
		what := "TABLE"
		if kind == "v" {
			what = "VIEW"
		}
		if _, err := db.Exec(ctx, "ALTER "+what+" public."+pgx.Identifier{o.Name}.Sanitize()+" OWNER TO "+pgx.Identifier{o.Owner}.Sanitize()); err != nil {
			return fmt.Errorf("dbroles: %s is owned by %s: hand it to %s: %w", o.Name, owner, o.Owner, err)
		}
	}
	for _, f := range OwnedFunctions {
		var owner string
		err := db.QueryRow(ctx, `SELECT pg_get_userbyid(p.proowner) FROM pg_proc p WHERE p.oid = to_regprocedure($1::text)`, "public."+f.Name).Scan(&owner)
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		}
		if err != nil {
			return fmt.Errorf("dbroles: owner of %s: %w", f.Name, err)
		}
		if owner != f.Owner {
			if _, err := db.Exec(ctx, "ALTER FUNCTION public."+f.Name+" OWNER TO "+pgx.Identifier{f.Owner}.Sanitize()); err != nil {
				return fmt.Errorf("dbroles: hand %s to %s: %w", f.Name, f.Owner, err)
			}
		}
	}
	return nil
}

// Apply, run as Owner after the migrations, hands the audit log's objects
// to AuditOwner, sets the privileges of every runtime role on every object
// of Owned to exactly Grants (revoking anything else, PUBLIC's included),
// and makes the objects Owner and AuditOwner create later private to them
// until a release grants them.
func Apply(ctx context.Context, db Execer) error {
	if err := setOwners(ctx, db); err != nil {
		return err
	}
	roles := strings.Join(quoteAll(append([]string{"PUBLIC"}, Runtime...)), ", ")
	for _, o := range Owned {
		var exists bool
		if err := db.QueryRow(ctx, `SELECT to_regclass($1::text) IS NOT NULL`, "public."+o.Name).Scan(&exists); err != nil {
			return fmt.Errorf("dbroles: %w", err)
		}
		if !exists {
			continue
		}
		id := "public." + pgx.Identifier{o.Name}.Sanitize()
		if _, err := db.Exec(ctx, "REVOKE ALL ON "+id+" FROM "+roles); err != nil {
			return fmt.Errorf("dbroles: revoke on %s: %w", o.Name, err)
		}
		seqs, err := sequencesOf(ctx, db, o.Name)
		if err != nil {
			return err
		}
		for _, s := range seqs {
			if _, err := db.Exec(ctx, "REVOKE ALL ON SEQUENCE "+s+" FROM "+roles); err != nil {
				return fmt.Errorf("dbroles: revoke on %s: %w", s, err)
			}
		}
		for _, g := range Grants {
			if g.Table != o.Name {
				continue
			}
			if _, err := db.Exec(ctx, "GRANT "+g.Privileges+" ON "+id+" TO "+pgx.Identifier{g.Role}.Sanitize()); err != nil {
				return fmt.Errorf("dbroles: grant %s on %s to %s: %w", g.Privileges, o.Name, g.Role, err)
			}
			if strings.Contains(g.Privileges, "INSERT") {
				for _, s := range seqs {
					if _, err := db.Exec(ctx, "GRANT USAGE ON SEQUENCE "+s+" TO "+pgx.Identifier{g.Role}.Sanitize()); err != nil {
						return fmt.Errorf("dbroles: grant usage on %s to %s: %w", s, g.Role, err)
					}
				}
			}
		}
	}
	for _, owner := range []string{Owner, AuditOwner} {
		for _, stmt := range []string{
			"REVOKE ALL ON TABLES FROM PUBLIC",
			"REVOKE ALL ON SEQUENCES FROM PUBLIC",
			"REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC",
		} {
			if _, err := db.Exec(ctx, "ALTER DEFAULT PRIVILEGES FOR ROLE "+owner+" "+stmt); err != nil && !isConcurrent(err) {
				return fmt.Errorf("dbroles: default privileges of %s: %w", owner, err)
			}
		}
	}
	return nil
}

// sequencesOf lists (quoted) the sequences owned by a column of table.
func sequencesOf(ctx context.Context, db Execer, table string) ([]string, error) {
	var list string
	err := db.QueryRow(ctx, `SELECT coalesce(string_agg(format('%I.%I', n.nspname, s.relname), ','), '')
		FROM pg_depend d JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
		JOIN pg_namespace n ON n.oid = s.relnamespace
		WHERE d.classid = 'pg_class'::regclass AND d.refobjid = to_regclass($1::text) AND d.deptype IN ('a', 'i')`,
		"public."+table).Scan(&list)
	if err != nil {
		return nil, fmt.Errorf("dbroles: sequences of %s: %w", table, err)
	}
	if list == "" {
		return nil, nil
	}
	return strings.Split(list, ","), nil
}

func quoteAll(roles []string) []string {
	out := make([]string, len(roles))
	for i, r := range roles {
		if r == "PUBLIC" {
			out[i] = r
			continue
		}
		out[i] = pgx.Identifier{r}.Sanitize()
	}
	return out
}

// IsCode tells whether err is a PostgreSQL error with SQLSTATE code.
func IsCode(err error, code string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == code
}

// isConcurrent: two sessions changed the same catalog row at once (GRANT
// of a role from parallel test packages): the other one did the work.
func isConcurrent(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "XX000" && strings.Contains(pe.Message, "concurrently") || pe.Code == "40001")
}

// Login names the LOGIN role that the private PostgreSQL of `askonce dev`
// and the tests creates for group role (askonce_api -> askonce_dev_api).
func Login(group string) string {
	return "askonce_dev_" + strings.TrimPrefix(group, "askonce_")
}

// LoginPassword derives the password of a dev login from the private
// instance's superuser password: nothing more to store, and as secret as
// that password (a 0600 file under .var/pg).
func LoginPassword(secret, login string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("askonce dev login\n" + login))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// EnsureDevLogins creates, on the private instance, a LOGIN role per group
// role (Login(group), the password of LoginURL), member of that group only.
// secret is the superuser's password.
func EnsureDevLogins(ctx context.Context, db Execer, secret string) error {
	for _, group := range All {
		if group == AuditOwner {
			continue // nothing logs in as the audit owner
		}
		login := Login(group)
		if err := createRole(ctx, db, login, "LOGIN IN ROLE "+pgx.Identifier{group}.Sanitize(), LoginPassword(secret, login)); err != nil {
			return err
		}
	}
	return nil
}

// LoginURL is superURL (the private instance's superuser URL, any
// database) with the user and password of group's dev login.
func LoginURL(superURL, group string) (string, error) {
	u, err := url.Parse(superURL)
	if err != nil || u.User == nil {
		// The URL holds a password: never echo it.
		return "", errors.New("dbroles: not a valid connection URL with a password")
	}
	secret, _ := u.User.Password()
	login := Login(group)
	u.User = url.UserPassword(login, LoginPassword(secret, login))
	return u.String(), nil
}

// LoginRole is a LOGIN role that is a member of one group role.
type LoginRole struct {
	Name, Group, Password string
}

// EnsureLogins creates each login role missing on the server of url
// (LOGIN, member of its group only) and sets the password of every one,
// so that running it again with a new password rotates it. The user of
// url needs CREATEROLE.
func EnsureLogins(ctx context.Context, url string, logins []LoginRole) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("dbroles: connect: %w", err)
	}
	defer conn.Close(context.Background())
	for _, l := range logins {
		if err := createRole(ctx, conn, l.Name, "LOGIN IN ROLE "+pgx.Identifier{l.Group}.Sanitize(), l.Password); err != nil {
			return err
		}
		lit, err := passwordLiteral(l.Password)
		if err != nil {
			return err
		}
		var stmt string
		if err := conn.QueryRow(ctx, `SELECT format('ALTER ROLE %I WITH LOGIN PASSWORD %L', $1::text, $2::text)`, l.Name, lit).Scan(&stmt); err != nil {
			return fmt.Errorf("dbroles: %w", err)
		}
		if _, err := conn.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("dbroles: set the password of %s: %w", l.Name, err)
		}
		if err := grantMembership(ctx, conn, l.Group, l.Name); err != nil {
			return err
		}
	}
	return nil
}
