package chaos_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/askonce/askonce/internal/materialize"
	"github.com/askonce/askonce/internal/store"
	"github.com/askonce/askonce/internal/testenv"
)

// TestGuardRecordsRegressions proves that the regression guard TestChaos
// relies on sees what it must: a higher version passes, a lower version,
// a same-version rewrite, a DELETE and a TRUNCATE are recorded, and a
// rolled-back change leaves nothing.
func TestGuardRecordsRegressions(t *testing.T) {
	ctx := testenv.Ctx(t, time.Minute)
	db, err := store.OpenURL(ctx, testenv.Postgres(t), 2)
	testenv.Must(t, err, "database")
	defer db.Close()
	testenv.Must(t, materialize.Migrate(ctx, db, slog.New(slog.DiscardHandler)), "migrate store")
	testenv.Must(t, installGuard(ctx, db), "install guard")

	exec := func(q string) {
		t.Helper()
		_, err := db.Exec(ctx, q)
		testenv.Must(t, err, "%s", q)
	}
	exec(`INSERT INTO persons (agency, data_center, source_key, version, op, event_time, kafka_topic, kafka_partition, kafka_offset, nin)
		VALUES ('etatcivil', 'etatcivil-dc01', 'b1', 3, 'UPSERT', now(), 't', 0, 1, '000000000000000001'),
		       ('etatcivil', 'etatcivil-dc01', 'b2', 1, 'UPSERT', now(), 't', 0, 2, '000000000000000002')`)
	exec(`UPDATE persons SET version = 4, deleted = true, op = 'DELETE' WHERE source_key = 'b1'`) // a tombstone: fine
	if f := guardFindings(ctx, t, db); len(f.rows) != 0 || f.same != 0 {
		t.Fatalf("a higher version was recorded: %+v", f)
	}

	tx, err := db.Begin(ctx)
	testenv.Must(t, err, "begin")
	_, err = tx.Exec(ctx, `UPDATE persons SET version = 1 WHERE source_key = 'b1'`)
	testenv.Must(t, err, "update in a transaction")
	testenv.Must(t, tx.Rollback(ctx), "rollback")
	if f := guardFindings(ctx, t, db); len(f.rows) != 0 {
		t.Fatalf("a rolled-back change was recorded: %v", f.rows)
	}

	exec(`UPDATE persons SET version = 2 WHERE source_key = 'b1'`)
	exec(`UPDATE persons SET nin = nin WHERE source_key = 'b2'`)
	exec(`DELETE FROM persons WHERE source_key = 'b2'`)
	exec(`TRUNCATE contributions`)
	f := guardFindings(ctx, t, db)
	if len(f.rows) != 3 || f.same != 1 {
		t.Fatalf("want 3 regressions (lower version, DELETE, TRUNCATE) and 1 same-version rewrite, got %d and %d: %v", len(f.rows), f.same, f.rows)
	}
}
