package dbroles_test

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/askonce/askonce/connectors/connector"
	"github.com/askonce/askonce/internal/audit"
	"github.com/askonce/askonce/internal/dbroles"
	"github.com/askonce/askonce/internal/portfolio"
	"github.com/askonce/askonce/internal/store"
	"github.com/askonce/askonce/internal/testenv"
	"github.com/askonce/askonce/internal/wiring/migratewire"
)

// refused runs sql as pool's role and fails unless PostgreSQL refuses it
// for lack of privilege (SQLSTATE 42501), not for another reason.
func refused(t *testing.T, ctx context.Context, pool *pgxpool.Pool, role, sql string) {
	t.Helper()
	_, err := pool.Exec(ctx, sql)
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != dbroles.InsufficientPrivilege {
		t.Errorf("%s: %s: want insufficient_privilege (42501), got %v", role, sql, err)
	}
}

func allowed(t *testing.T, ctx context.Context, pool *pgxpool.Pool, role, sql string, args ...any) {
	t.Helper()
	if _, err := pool.Exec(ctx, sql, args...); err != nil {
		t.Errorf("%s: %s: %v", role, sql, err)
	}
}

const personRow = `INSERT INTO persons (agency, data_center, source_key, version, op, event_time, kafka_topic, kafka_partition, kafka_offset, nin)
	VALUES ('etatcivil', 'dc1', 'k1', 1, 'UPSERT', now(), 't', 0, 1, '109991234500012345')`

const auditRow = `INSERT INTO audit_log (seq, at, outcome, prev_hash, hash) VALUES (999999, now(), 'issued', 'x', 'y')`

// TestRoles migrates a database as `askonce migrate` does and shows, with
// the real PostgreSQL, every role doing its work and being refused the
// rest.
func TestRoles(t *testing.T) {
	ctx := testenv.Ctx(t, 3*time.Minute)
	db := testenv.Database(t, migratewire.Migrations...)
	admin, err := store.OpenURL(ctx, db.Admin, 2)
	testenv.Must(t, err, "admin")
	defer admin.Close()
	pools := map[string]*pgxpool.Pool{}
	for _, role := range dbroles.Runtime {
		pools[role] = db.Pool(t, role)
	}
	api, mat, notify, conn, reg, reader := pools[dbroles.API], pools[dbroles.Materialize], pools[dbroles.Notify],
		pools[dbroles.Connect], pools[dbroles.Registry], pools[dbroles.Reader]

	t.Run("owners", func(t *testing.T) {
		for _, o := range dbroles.Owned {
			var owner string
			testenv.Must(t, admin.QueryRow(ctx, `SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = to_regclass($1)`, o.Name).Scan(&owner), "owner of %s", o.Name)
			if owner != o.Owner {
				t.Errorf("%s is owned by %s, want %s", o.Name, owner, o.Owner)
			}
		}
		var members int
		testenv.Must(t, admin.QueryRow(ctx, `SELECT count(*) FROM pg_roles r WHERE r.rolname = ANY($1) AND pg_has_role(r.rolname, $2, 'MEMBER')`,
			dbroles.Runtime, dbroles.AuditOwner).Scan(&members), "members")
		if members != 0 {
			t.Errorf("%d runtime roles are members of %s", members, dbroles.AuditOwner)
		}
	})

	t.Run("api", func(t *testing.T) {
		// Its work: append to the audit log (the real writer, COPY under
		// the chain's lock), issue a document, advance the mirror's
		// checkpoint, keep portfolios, read the store.
		alog := audit.New(api, audit.Options{}, nil, slog.New(slog.DiscardHandler))
		actx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- alog.Run(actx) }()
		e, err := alog.Append(ctx, audit.Entry{RequestID: "r-1", Client: "cnr", NIN: "109991234500012345", Outcome: audit.OutcomeIssued})
		stop()
		<-done
		testenv.Must(t, err, "api appends to the audit log")
		if e.Seq != 1 {
			t.Errorf("first entry: seq %d", e.Seq)
		}
		allowed(t, ctx, api, "api", `INSERT INTO attestations (id, client, document_type, nin, issued_at, document, signature) VALUES ('a1', 'cnr', 'birth', 'n', now(), '{}', '{}')`)
		allowed(t, ctx, api, "api", `UPDATE audit_publish SET seq = 1 WHERE id = 1`)
		allowed(t, ctx, api, "api", `SELECT count(*) FROM persons JOIN store_watermarks USING (data_center)`)
		allowed(t, ctx, api, "api", `SELECT count(*) FROM family_links`)
		_, err = portfolio.NewStore(api).Put(ctx, portfolio.Member{Agency: "cnr", NIN: "109991234500012345", Kinds: []string{"death"}, Purpose: "PENSION-REVIEW"}, "test")
		testenv.Must(t, err, "api puts a portfolio member")
		// The audit log: append and read only, whatever the statement.
		for _, sql := range []string{
			`UPDATE audit_log SET reason = 'rewritten'`,
			`DELETE FROM audit_log`,
			`TRUNCATE audit_log`,
			`ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update`,
			`ALTER TABLE audit_log DISABLE TRIGGER ALL`,
			`DROP TRIGGER audit_log_no_update ON audit_log`,
			`DROP TABLE audit_log`,
			`ALTER TABLE audit_log OWNER TO askonce_api`,
			`DELETE FROM audit_publish`,
			`SET ROLE askonce_audit_owner`,
			`SET ROLE askonce_owner`,
			`CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$`,
			// Nor the store, documents once issued, the registry, new tables.
			personRow,
			`UPDATE attestations SET document = '{}'`,
			`DELETE FROM attestations`,
			`DELETE FROM portfolio_members`,
			`SELECT count(*) FROM registry_schemas`,
			`SELECT count(*) FROM connect_checkpoints`,
			`INSERT INTO askonce_schema_migrations (component, version, name, checksum) VALUES ('x', 1, 'x', 'x')`,
			`CREATE TABLE api_scratch (x int)`,
		} {
			refused(t, ctx, api, "api", sql)
		}
	})

	t.Run("materialize", func(t *testing.T) {
		allowed(t, ctx, mat, "materialize", personRow)
		allowed(t, ctx, mat, "materialize", `UPDATE persons SET deleted = true WHERE source_key = 'k1'`)
		allowed(t, ctx, mat, "materialize", `INSERT INTO store_watermark_history (agency, data_center, watermark, recorded_at) VALUES ('a', 'dc1', now(), now())`)
		allowed(t, ctx, mat, "materialize", `DELETE FROM store_watermark_history WHERE recorded_at < now() - interval '1 day'`)
		allowed(t, ctx, mat, "materialize", `INSERT INTO materialize_offsets (topic, partition, "offset") VALUES ('t', 0, 1)`)
		// The materializer stages batches in temporary tables.
		allowed(t, ctx, mat, "materialize", `CREATE TEMP TABLE stage_persons (LIKE persons INCLUDING DEFAULTS) ON COMMIT DELETE ROWS`)
		for _, sql := range []string{
			auditRow,
			`SELECT count(*) FROM audit_log`,
			`INSERT INTO registry_config (subject, compatibility) VALUES ('s', 'NONE')`,
			`SELECT count(*) FROM registry_versions`,
			`DELETE FROM persons`,
			`TRUNCATE persons`,
			`DROP TABLE persons`,
			`SELECT count(*) FROM attestations`,
			`SELECT count(*) FROM portfolio_members`,
		} {
			refused(t, ctx, mat, "materialize", sql)
		}
	})

	t.Run("notify", func(t *testing.T) {
		alog := audit.New(notify, audit.Options{}, nil, slog.New(slog.DiscardHandler))
		actx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- alog.Run(actx) }()
		_, err := alog.Append(ctx, audit.Entry{Client: "router", NIN: "109991234500012345", Outcome: audit.OutcomeNotified, DocumentType: audit.DocNotification})
		stop()
		<-done
		testenv.Must(t, err, "notify appends to the audit log")
		allowed(t, ctx, notify, "notify", `INSERT INTO notify_sent (agency, data_center, source_key, kind, nin, version, facts, notification_id, sent_at)
			VALUES ('cnr', 'dc1', 'k1', 'death', 'n', 1, 'f', 'id', now()) ON CONFLICT (agency, data_center, source_key, kind, nin) DO UPDATE SET version = 2`)
		for _, sql := range []string{
			`UPDATE audit_log SET reason = 'x'`,
			`DELETE FROM audit_log`,
			`ALTER TABLE audit_log DISABLE TRIGGER ALL`,
			`SELECT count(*) FROM persons`,
			`INSERT INTO attestations (id, client, document_type, nin, issued_at, document, signature) VALUES ('a2', 'c', 'd', 'n', now(), '{}', '{}')`,
			`UPDATE audit_publish SET seq = 0`,
		} {
			refused(t, ctx, notify, "notify", sql)
		}
	})

	t.Run("connect", func(t *testing.T) {
		cps := connector.NewCheckpoints(conn)
		testenv.Must(t, cps.Save(ctx, "pgoutbox:dc1", connector.Checkpoint{1}, 1, connector.Counts{Published: 1}), "save checkpoint")
		testenv.Must(t, cps.Heard(ctx, connector.Instance{Kind: "pgoutbox", Agency: "cnas", DataCenter: "dc1"}), "heard")
		allowed(t, ctx, conn, "connect", `INSERT INTO csvdrop_files (connector, sha256, name, entity, state) VALUES ('c', 'h', 'f.csv', 'e', 'publishing')`)
		for _, sql := range []string{
			`SELECT count(*) FROM persons`,
			`SELECT count(*) FROM audit_log`,
			`SELECT count(*) FROM portfolio_members`,
			personRow,
			`DELETE FROM connect_checkpoints`,
		} {
			refused(t, ctx, conn, "connect", sql)
		}
	})

	t.Run("registry", func(t *testing.T) {
		// The identity column's sequence comes with INSERT.
		allowed(t, ctx, reg, "registry", `INSERT INTO registry_schemas (fingerprint, schema) VALUES ('\x01', '"string"')`)
		allowed(t, ctx, reg, "registry", `INSERT INTO registry_versions (subject, version, schema_id) SELECT 's', 1, id FROM registry_schemas`)
		allowed(t, ctx, reg, "registry", `DELETE FROM registry_versions WHERE subject = 's'`)
		for _, sql := range []string{
			`SELECT count(*) FROM persons`,
			auditRow,
			`SELECT count(*) FROM audit_log`,
			`TRUNCATE registry_schemas CASCADE`,
		} {
			refused(t, ctx, reg, "registry", sql)
		}
	})

	t.Run("reader", func(t *testing.T) {
		res, err := audit.Verify(ctx, reader)
		testenv.Must(t, err, "reader verifies the audit log")
		if !res.Intact() || res.Entries != 2 {
			t.Errorf("verify as reader: %+v", res)
		}
		allowed(t, ctx, reader, "reader", `SELECT count(*) FROM persons`)
		for _, sql := range []string{
			auditRow,
			`UPDATE audit_publish SET seq = 0`,
			`DELETE FROM persons`,
			`SELECT count(*) FROM registry_schemas`,
			`SELECT count(*) FROM connect_checkpoints`,
		} {
			refused(t, ctx, reader, "reader", sql)
		}
	})

	t.Run("future tables", func(t *testing.T) {
		// A table a later migration creates is the owner's alone until
		// dbroles grants it.
		allowed(t, ctx, admin, "owner", `SET ROLE askonce_owner; CREATE TABLE later_table (x int); CREATE SEQUENCE later_seq; CREATE FUNCTION later_fn() RETURNS int LANGUAGE sql AS 'SELECT 1'; RESET ROLE`)
		for role, pool := range pools {
			refused(t, ctx, pool, role, `SELECT count(*) FROM later_table`)
			refused(t, ctx, pool, role, `SELECT nextval('later_seq')`)
			refused(t, ctx, pool, role, `SELECT later_fn()`)
		}
	})
}

// TestMigrateIdempotent: a second run (a new release's Job, two Jobs at
// once) changes nothing and keeps the grants exactly as dbroles says.
func TestMigrateIdempotent(t *testing.T) {
	ctx := testenv.Ctx(t, 3*time.Minute)
	db := testenv.Database(t, migratewire.Migrations...)
	admin, err := store.OpenURL(ctx, db.Admin, 2)
	testenv.Must(t, err, "admin")
	defer admin.Close()
	// A grant too many, as a hand-made fix might leave it: migrate takes it back.
	allowed(t, ctx, admin, "admin", `GRANT DELETE ON audit_log TO askonce_api`)
	errs := make(chan error, 2)
	for range 2 {
		go func() { errs <- migratewire.Migrate(ctx, db.Admin, nil) }()
	}
	for range 2 {
		testenv.Must(t, <-errs, "migrate again")
	}
	rows, err := admin.Query(ctx, `SELECT grantee, table_name, string_agg(privilege_type, ', ' ORDER BY privilege_type)
		FROM information_schema.role_table_grants WHERE grantee = ANY($1) GROUP BY 1, 2`, dbroles.Runtime)
	testenv.Must(t, err, "grants")
	got := map[[2]string]string{}
	for rows.Next() {
		var role, table, privs string
		testenv.Must(t, rows.Scan(&role, &table, &privs), "scan")
		got[[2]string{role, table}] = privs
	}
	testenv.Must(t, rows.Err(), "grants")
	want := map[[2]string]string{}
	for _, g := range dbroles.Grants {
		p := strings.Split(g.Privileges, ", ")
		slices.Sort(p)
		want[[2]string{g.Role, g.Table}] = strings.Join(p, ", ")
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s on %s: granted %q, want %q", k[0], k[1], got[k], v)
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s on %s: granted %q, dbroles grants nothing", k[0], k[1], v)
		}
	}
}

// TestSchemaBehind: a component started on a database `askonce migrate`
// has not migrated stops with an error that says what to run.
func TestSchemaBehind(t *testing.T) {
	ctx := testenv.Ctx(t, time.Minute)
	db := testenv.Database(t, audit.Migrate)
	pool := db.Pool(t, dbroles.API)
	testenv.Must(t, audit.CheckSchema(ctx, pool), "audit is migrated")
	err := portfolio.CheckSchema(ctx, pool)
	if !errors.Is(err, store.ErrSchemaBehind) || !strings.Contains(err.Error(), "version 0, this release needs 1: run `askonce migrate`") {
		t.Fatalf("unmigrated portfolio tables: %v", err)
	}
}

// TestLoginPasswordIsHashedHere: EnsureLogins hands the server a
// SCRAM-SHA-256 verifier, never the password; PostgreSQL accepts the
// password against it, and another one not.
func TestLoginPasswordIsHashedHere(t *testing.T) {
	ctx := testenv.Ctx(t, time.Minute)
	db := testenv.Database(t)
	login := "askonce_test_login_" + testenv.Random(4)
	pw := "pw-" + testenv.Random(12)
	testenv.Must(t, dbroles.EnsureLogins(ctx, db.Admin, []dbroles.LoginRole{{Name: login, Group: dbroles.Reader, Password: pw}}), "login")
	admin, err := store.OpenURL(ctx, db.Admin, 1)
	testenv.Must(t, err, "admin")
	defer admin.Close()
	t.Cleanup(func() { _, _ = admin.Exec(context.Background(), "DROP ROLE IF EXISTS "+login) })
	var stored string
	testenv.Must(t, admin.QueryRow(ctx, `SELECT rolpassword FROM pg_authid WHERE rolname = $1`, login).Scan(&stored), "stored")
	if !strings.HasPrefix(stored, "SCRAM-SHA-256$4096:") || strings.Contains(stored, pw) {
		t.Fatalf("stored password: %.20s…", stored)
	}
	as := func(pw string) error {
		u, err := url.Parse(db.Admin)
		testenv.Must(t, err, "url")
		u.User = url.UserPassword(login, pw)
		p, err := store.OpenURL(ctx, u.String(), 1)
		if err == nil {
			p.Close()
		}
		return err
	}
	testenv.Must(t, as(pw), "log in with the password")
	if err := as(pw + "x"); err == nil {
		t.Fatal("another password logs in")
	}
}
