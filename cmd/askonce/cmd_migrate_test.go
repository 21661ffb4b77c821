package main

import (
	"context"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/askonce/askonce/internal/config"
	"github.com/askonce/askonce/internal/dbroles"
	"github.com/askonce/askonce/internal/ops"
	"github.com/askonce/askonce/internal/store"
	"github.com/askonce/askonce/internal/testenv"
)

// TestMigrateCommand: a component refuses a database `askonce migrate` has
// not migrated, saying what to run; migrate then creates the schema, the
// login roles of --logins (a second run rotates a password), and the
// component starts with its login.
func TestMigrateCommand(t *testing.T) {
	ctx := testenv.Ctx(t, 2*time.Minute)
	db := testenv.Database(t) // roles and logins, no table yet
	cfg := config.Default()
	cfg.Postgres.URL = db.URL(dbroles.Registry)
	cfg.Registry.Listen = "127.0.0.1:0"
	err := runRegistry(ctx, &cfg, ops.NewLogger(io.Discard, "error", "json"), true, nil)
	if err == nil || !strings.Contains(err.Error(), "the registry schema is at version 0, this release needs 1: run `askonce migrate`") {
		t.Fatalf("registry on an unmigrated database: %v", err)
	}

	dir := t.TempDir()
	pw := "first-" + testenv.Random(8)
	testenv.Must(t, os.WriteFile(filepath.Join(dir, dbroles.Registry), []byte(pw+"\n"), 0o600), "password file")
	env := []string{"ASKONCE_POSTGRES_URL=" + db.Admin, "ASKONCE_LOG_LEVEL=error"}
	_, _, err = run(t, env, "migrate", "--logins", dir)
	testenv.Must(t, err, "migrate")
	login := func(pw string) error {
		u, err := url.Parse(db.Admin) // host and database of the test
		if err != nil {
			return err
		}
		u.User = url.UserPassword("askonce_registry_login", pw)
		p, err := store.OpenURL(ctx, u.String(), 1)
		if err != nil {
			return err
		}
		defer p.Close()
		_, err = p.Exec(ctx, `SELECT count(*) FROM registry_schemas`)
		return err
	}
	testenv.Must(t, login(pw), "log in as askonce_registry_login")

	rotated := "second-" + testenv.Random(8)
	testenv.Must(t, os.WriteFile(filepath.Join(dir, dbroles.Registry), []byte(rotated), 0o600), "password file")
	_, _, err = run(t, env, "migrate", "--logins", dir)
	testenv.Must(t, err, "migrate again")
	if err := login(pw); err == nil {
		t.Error("the old password still logs in after the rotation")
	}
	testenv.Must(t, login(rotated), "log in with the rotated password")

	rctx, cancel := context.WithCancel(ctx)
	bound := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- runRegistry(rctx, &cfg, ops.NewLogger(io.Discard, "error", "json"), true, func(a string) { bound <- a })
	}()
	select {
	case <-bound:
	case err := <-done:
		t.Fatalf("registry after migrate: %v", err)
	}
	cancel()
	<-done

	testenv.Must(t, os.WriteFile(filepath.Join(dir, "askonce_typo"), []byte("x"), 0o600), "password file")
	if _, _, err := run(t, env, "migrate", "--logins", dir); err == nil || !strings.Contains(err.Error(), "named after no runtime role") {
		t.Fatalf("a misnamed password file: %v", err)
	}
}
