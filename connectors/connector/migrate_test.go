package connector

import (
	"encoding/binary"
	"os"
	"testing"
	"time"

	"github.com/askonce/askonce/internal/store"
	"github.com/askonce/askonce/internal/testenv"
)

// TestMigrateKeepsSavedPositions: a bus database migrated by the versions
// before the checkpoint column (testdata/migrations-before, component
// "connect") keeps its outbox positions, now as checkpoints in the
// encoding pgoutbox reads (the seq, 8 bytes big-endian).
func TestMigrateKeepsSavedPositions(t *testing.T) {
	ctx := testenv.Ctx(t, time.Minute)
	db, err := store.OpenURL(ctx, testenv.Postgres(t), 2)
	testenv.Must(t, err, "db")
	t.Cleanup(db.Close)
	_, err = store.Migrate(ctx, db, "connect", os.DirFS("testdata"), "migrations-before", nil)
	testenv.Must(t, err, "old migrations")
	_, err = db.Exec(ctx, `INSERT INTO connect_checkpoints (connector, position, published) VALUES ('pgoutbox:cnas-dc01', 4242, 4000), ('csvdrop:cnas-dc02', 0, 7)`)
	testenv.Must(t, err, "old rows")

	testenv.Must(t, Migrate(ctx, db, nil), "migrate")
	testenv.Must(t, Migrate(ctx, db, nil), "migrate again")
	cps := NewCheckpoints(db)
	cp, err := cps.Load(ctx, "pgoutbox:cnas-dc01")
	testenv.Must(t, err, "load")
	if len(cp) != 8 || binary.BigEndian.Uint64(cp) != 4242 {
		t.Fatalf("outbox checkpoint %x, want seq 4242", cp)
	}
	if cp, err := cps.Load(ctx, "csvdrop:cnas-dc02"); err != nil || cp != nil {
		t.Fatalf("csvdrop checkpoint %x %v, want none", cp, err)
	}
	testenv.Must(t, cps.Save(ctx, "pgoutbox:cnas-dc01", binary.BigEndian.AppendUint64(nil, 4300), 4300, Counts{Published: 58}), "save")
	var pos, published int64
	testenv.Must(t, db.QueryRow(ctx, `SELECT position, published FROM connect_checkpoints WHERE connector = 'pgoutbox:cnas-dc01'`).Scan(&pos, &published), "row")
	if pos != 4300 || published != 4058 {
		t.Fatalf("position %d published %d", pos, published)
	}
}
