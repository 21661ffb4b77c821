package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSecretFiles: every secret value can come from a file, by its _FILE
// variable or its _file key; the trailing newline is dropped; setting both
// forms, or naming a file that cannot be read, is an error that names the
// variables and the path but never the content.
func TestSecretFiles(t *testing.T) {
	want := []string{"kafka.sasl.password", "broker.sasl.password", "postgres.url", "registry.password", "connect.sources_url"}
	if got := SecretKeys(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("SecretKeys() = %v, want %v", got, want)
	}
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pg := write("pg", "postgres://askonce:s3cr3t-pg@db:5432/askonce\n")
	kafka := write("kafka", "s3cr3t-kafka\r\n")
	reg := write("reg", "s3cr3t-reg")

	file := writeFile(t, "registry:\n  password_file: "+reg+"\n")
	cfg, err := Load(Layers{File: file, Environ: []string{
		"ASKONCE_POSTGRES_URL_FILE=" + pg,
		"ASKONCE_KAFKA_SASL_PASSWORD_FILE=" + kafka,
	}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Postgres.URL != "postgres://askonce:s3cr3t-pg@db:5432/askonce" || cfg.Kafka.SASL.Password != "s3cr3t-kafka" || cfg.Registry.Password != "s3cr3t-reg" {
		t.Fatalf("secrets from files: %q %q %q", cfg.Postgres.URL, cfg.Kafka.SASL.Password, cfg.Registry.Password)
	}
	out, err := cfg.YAML()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "s3cr3t") || !strings.Contains(string(out), "url_file: "+pg) {
		t.Fatalf("config print:\n%s", out)
	}
	// The printed configuration loads back (its secrets still come from the files).
	if _, err := Load(Layers{File: writeFile(t, string(out))}); err != nil {
		t.Fatalf("printed config does not load back: %v", err)
	}

	_, err = Load(Layers{Environ: []string{
		"ASKONCE_REGISTRY_PASSWORD=inline",
		"ASKONCE_REGISTRY_PASSWORD_FILE=" + reg,
		"ASKONCE_CONNECT_SOURCES_URL_FILE=" + filepath.Join(dir, "missing"),
		"ASKONCE_BROKER_SASL_PASSWORD_FILE=" + dir,
	}})
	if err == nil {
		t.Fatal("both forms and unreadable files accepted")
	}
	for _, w := range []string{
		"ASKONCE_REGISTRY_PASSWORD) and registry.password_file (ASKONCE_REGISTRY_PASSWORD_FILE) are both set",
		"ASKONCE_CONNECT_SOURCES_URL_FILE", filepath.Join(dir, "missing"),
		"ASKONCE_BROKER_SASL_PASSWORD_FILE",
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
	if strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), "inline") {
		t.Errorf("error shows a secret:\n%v", err)
	}
}

// TestServiceLinks: the variables Kubernetes injects for askonce-*
// Services are ignored; a misspelt key of a similar shape is still refused.
func TestServiceLinks(t *testing.T) {
	links := []string{
		"ASKONCE_REGISTRY_SERVICE_HOST=10.96.0.7",
		"ASKONCE_REGISTRY_SERVICE_PORT=8081",
		"ASKONCE_REGISTRY_SERVICE_PORT_HTTP=8081",
		"ASKONCE_REGISTRY_PORT=tcp://10.96.0.7:8081",
		"ASKONCE_REGISTRY_PORT_8081_TCP=tcp://10.96.0.7:8081",
		"ASKONCE_REGISTRY_PORT_8081_TCP_PROTO=tcp",
		"ASKONCE_REGISTRY_PORT_8081_TCP_PORT=8081",
		"ASKONCE_REGISTRY_PORT_8081_TCP_ADDR=10.96.0.7",
		"ASKONCE_DNS_PORT_53_UDP=udp://[fd00::a]:53",
		"ASKONCE_DNS_PORT_53_UDP_PROTO=udp",
		"ASKONCE_POSTGRES_RW_SERVICE_HOST=fd00::5",
		"ASKONCE_REQUEST_KEY=dev-cnr-key",
	}
	if _, err := Load(Layers{Environ: links}); err != nil {
		t.Fatalf("service links refused: %v", err)
	}
	for _, bad := range []string{
		"ASKONCE_REGISTRY_SERVICE_HOST=registry.local", // a host name: not what the kubelet sets
		"ASKONCE_REGISTRY_PORT=8081",                   // the first port is a URL
		"ASKONCE_REGISTRY_PORT_8081_TCP=tcp://10.96.0.7:9999",
		"ASKONCE_REGISTRY_PORT_8081_TCP_PROTO=udp",
		"ASKONCE_REGISTRY_PORT_8081_TCP_PORT=9999",
		"ASKONCE_POSTGRES_PORT=5432",
		"ASKONCE_LOOKUP_LISTNE=:8080",
	} {
		if _, err := Load(Layers{Environ: []string{bad}}); err == nil || !strings.Contains(err.Error(), "unknown environment variables") {
			t.Errorf("%s: accepted (%v)", bad, err)
		}
	}
}
