package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoad: any configuration file and ASKONCE_* environment is loaded or
// refused with an error, never a panic; what loads is valid.
func FuzzLoad(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "askonce.example.yaml")); err == nil {
		f.Add(b, "")
	}
	f.Add([]byte("kafka:\n  brokers: [a:1, b:2]\nlookup:\n  max_body_bytes: -1\n"), "ASKONCE_LOOKUP_RATE=x")
	f.Add([]byte("postgres: {url: 'postgres://u:p@h/db'}\nregistry: {require_auth: true}\n"), "ASKONCE_KAFKA_BROKERS=,,\nASKONCE_OPS_SHUTDOWN_TIMEOUT=1h")
	f.Add([]byte("a: &x [*x]\n"), "ASKONCE_=1")
	f.Add([]byte("lookup:\n  request_timeout: 99999999999999999999h\n"), "ASKONCE_LOOKUP_STALE_AFTER=-5s")
	f.Add([]byte("\x00\xff: {"), "ASKONCE_KAFKA_TLS_ENABLED=maybe")
	f.Fuzz(func(t *testing.T, file []byte, env string) {
		p := filepath.Join(t.TempDir(), "askonce.yaml")
		if err := os.WriteFile(p, file, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := Load(Layers{File: p, Environ: strings.Split(env, "\n")})
		if err != nil {
			return
		}
		if cfg == nil {
			t.Fatal("no error and no configuration")
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("Load returned a configuration that does not validate: %v", err)
		}
	})
}
