package main

import (
	"io"
	"testing"

	"github.com/askonce/askonce/internal/config"
	"github.com/askonce/askonce/internal/ops"
	"github.com/askonce/askonce/internal/testenv"
)

// TestUsePrivatePostgres: the tools of the synthetic sources (seed,
// reconcile --synthetic) find the private PostgreSQL when no URL is set,
// and never replace one that is.
func TestUsePrivatePostgres(t *testing.T) {
	want := testenv.PostgresServer(t) // started, as beside `make demo`
	log := ops.NewLogger(io.Discard, "error", "json")

	cfg := config.Default()
	cfg.Postgres.Dev = testenv.PGConfig(t)
	testenv.Must(t, usePrivatePostgres(&cfg, log, "reconcile", "connect.sources_url"), "no URL set")
	if cfg.Postgres.URL != want {
		t.Errorf("postgres.url = %q, want the private instance's %q", cfg.Postgres.URL, want)
	}

	for _, set := range []func(*config.Config){
		func(c *config.Config) { c.Postgres.URL = "postgres://store.example/askonce" },
		func(c *config.Config) { c.Connect.SourcesURL = "postgres://sources.example/agency" },
	} {
		cfg := config.Default()
		cfg.Postgres.Dev = testenv.PGConfig(t)
		set(&cfg)
		before := cfg.Postgres.URL
		testenv.Must(t, usePrivatePostgres(&cfg, log, "reconcile", "connect.sources_url"), "URL set")
		if cfg.Postgres.URL != before {
			t.Errorf("postgres.url replaced: %q -> %q", before, cfg.Postgres.URL)
		}
	}
}
