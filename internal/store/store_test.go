package store_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/askonce/askonce/internal/store"
	"github.com/askonce/askonce/internal/testenv"
)

func TestMigrate(t *testing.T) {
	ctx := testenv.Ctx(t, time.Minute)
	pool, err := store.OpenURL(ctx, testenv.Postgres(t), 8)
	testenv.Must(t, err, "open")
	defer pool.Close()
	fsys := fstest.MapFS{
		"m/0001_first.sql":  {Data: []byte("CREATE TABLE t1 (id int PRIMARY KEY);")},
		"m/0002_second.sql": {Data: []byte("ALTER TABLE t1 ADD COLUMN v text;")},
		"m/README.md":       {Data: []byte("not a migration")},
	}
	// Several instances starting at once: exactly one applies each migration.
	var wg sync.WaitGroup
	counts := make([]int, 4)
	errs := make([]error, 4)
	for i := range counts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			counts[i], errs[i] = store.Migrate(ctx, pool, "test", fsys, "m", nil)
		}()
	}
	wg.Wait()
	total := 0
	for i := range counts {
		testenv.Must(t, errs[i], "migrate %d", i)
		total += counts[i]
	}
	if total != 2 {
		t.Fatalf("applied %d migrations in all, want 2", total)
	}
	if _, err := pool.Exec(ctx, "INSERT INTO t1 (id, v) VALUES (1, 'x')"); err != nil {
		t.Fatalf("migrated table unusable: %v", err)
	}

	// A failing migration is rolled back and reported; nothing half-applied.
	fsys["m/0003_broken.sql"] = &fstest.MapFile{Data: []byte("CREATE TABLE t3 (id int); SELECT * FROM nowhere;")}
	if _, err := store.Migrate(ctx, pool, "test", fsys, "m", nil); err == nil || !strings.Contains(err.Error(), "0003_broken") {
		t.Fatalf("broken migration: err = %v", err)
	}
	var exists bool
	_ = pool.QueryRow(ctx, "SELECT to_regclass('t3') IS NOT NULL").Scan(&exists)
	if exists {
		t.Fatal("table of a failed migration exists")
	}

	// An edited, already-applied migration is refused.
	delete(fsys, "m/0003_broken.sql")
	fsys["m/0001_first.sql"] = &fstest.MapFile{Data: []byte("CREATE TABLE t1 (id bigint PRIMARY KEY);")}
	if _, err := store.Migrate(context.Background(), pool, "test", fsys, "m", nil); err == nil || !strings.Contains(err.Error(), "changed after it was applied") {
		t.Fatalf("edited migration: err = %v", err)
	}
}

func TestOpenHidesPassword(t *testing.T) {
	_, err := store.OpenURL(context.Background(), "postgres://u:s3cret@%zz", 1)
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("err = %v", err)
	}
}
