package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/askonce/askonce/internal/audit"
	"github.com/askonce/askonce/internal/dbroles"
	"github.com/askonce/askonce/internal/store"
	"github.com/askonce/askonce/internal/testenv"
)

func TestAuditVerifyAndLog(t *testing.T) {
	ctx := testenv.Ctx(t, time.Minute)
	// The commands run as the read-only role, the log is written as the
	// API's, the tampering needs the superuser.
	db := testenv.Database(t)
	env := []string{"ASKONCE_POSTGRES_URL=" + db.URL(dbroles.Reader)}
	pool, err := store.OpenURL(ctx, db.Admin, 4)
	testenv.Must(t, err, "open")
	defer pool.Close()

	// No audit log in the database yet: an error, not "intact".
	if _, _, err := run(t, env, "audit", "verify"); err == nil || !strings.Contains(err.Error(), "no audit_log table") {
		t.Fatalf("no table: %v", err)
	}
	testenv.Must(t, dbroles.Migrate(ctx, db.Admin, nil, audit.Migrate), "migrate")
	l := audit.New(db.Pool(t, dbroles.API), audit.Options{}, nil, nil)
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- l.Run(rctx) }()
	for i, o := range []string{audit.OutcomeIssued, audit.OutcomeDenied, audit.OutcomeNotHeld, audit.OutcomeIssued} {
		e := audit.Entry{Client: "cnr-pensions", ClerkID: "agent-7", NIN: "109991234500000001", DocumentType: "life-certificate",
			Purpose: "PENSION-REVIEW", Outcome: o, At: time.Date(2026, 11, 25, 9, i, 0, 0, time.UTC)}
		if o == audit.OutcomeDenied {
			e.Reason, e.Client = "policy.purpose_not_allowed", "anem-portal"
		}
		_, err := l.Append(ctx, e)
		testenv.Must(t, err, "append")
	}
	stop()
	testenv.Must(t, <-done, "run")

	out, _, err := run(t, env, "audit", "verify")
	if err != nil || !strings.Contains(out, "audit log intact: 4 entries, last hash ") || !strings.Contains(out, "(entry 4)") {
		t.Fatalf("verify: %v\n%s", err, out)
	}
	out, _, err = run(t, env, "audit", "log", "--nin", "109991234500000001")
	if err != nil || strings.Count(out, "\n") != 5 || !strings.Contains(out, "anem-portal") || !strings.Contains(out, "policy.purpose_not_allowed") ||
		strings.Index(out, "2026-11-25T09:03:00Z") > strings.Index(out, "2026-11-25T09:00:00Z") {
		t.Fatalf("log:\n%v\n%s", err, out)
	}
	out, _, err = run(t, env, "audit", "log", "--nin", "109991234500000001", "--json", "--limit", "1")
	if err != nil || strings.Count(out, "\n") != 1 || !strings.Contains(out, `"seq":4`) {
		t.Fatalf("log --json:\n%v\n%s", err, out)
	}

	_, err = pool.Exec(ctx, `ALTER TABLE audit_log DISABLE TRIGGER USER; UPDATE audit_log SET purpose = 'OTHER' WHERE seq = 2`)
	testenv.Must(t, err, "tamper")
	out, _, err = run(t, env, "audit", "verify")
	if ee, ok := err.(exitError); !ok || ee.code != 1 || !strings.Contains(out, "audit log TAMPERED at entry 2: entry 2: its content does not match its hash") {
		t.Fatalf("tampered: %v\n%s", err, out)
	}
}
