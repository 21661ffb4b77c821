package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "askonce.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func flags(t *testing.T, args ...string) (*pflag.FlagSet, map[string]string) {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	fs.String("log-level", "info", "")
	fs.Int("record-partitions", 12, "")
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return fs, map[string]string{"log-level": "log.level", "record-partitions": "kafka.topics.record_partitions"}
}

// TestPrecedence sets the same keys in every layer and checks that each
// layer overrides the one below: defaults < file < environment < flags.
func TestPrecedence(t *testing.T) {
	file := writeFile(t, `
log:
  level: warn
  format: json
kafka:
  brokers: [file-broker:9092]
  client_id: from-file
  topics:
    record_partitions: 6
    dlq_retention: 48h
`)
	env := []string{
		"ASKONCE_LOG_LEVEL=error",
		"ASKONCE_KAFKA_TOPICS_RECORD_PARTITIONS=24",
		"ASKONCE_KAFKA_BROKERS=a:9092,b:9093",
		"PATH=/usr/bin", // not ours: ignored
	}
	tests := []struct {
		name      string
		src       Layers
		level     string
		parts     int
		brokers   []string
		clientID  string
		format    string
		retention time.Duration
	}{
		{"defaults only", Layers{}, "info", 12, []string{"127.0.0.1:9092"}, "askonce", "auto", 30 * 24 * time.Hour},
		{"file over defaults", Layers{File: file}, "warn", 6, []string{"file-broker:9092"}, "from-file", "json", 48 * time.Hour},
		{"env over file", Layers{File: file, Environ: env}, "error", 24, []string{"a:9092", "b:9093"}, "from-file", "json", 48 * time.Hour},
	}
	fs, keys := flags(t, "--log-level=debug", "--record-partitions=3")
	tests = append(tests, struct {
		name      string
		src       Layers
		level     string
		parts     int
		brokers   []string
		clientID  string
		format    string
		retention time.Duration
	}{"flags over env", Layers{File: file, Environ: env, Flags: fs, FlagKeys: keys}, "debug", 3, []string{"a:9092", "b:9093"}, "from-file", "json", 48 * time.Hour})
	unset, unsetKeys := flags(t) // flags defined but not given: they must not mask lower layers
	tests = append(tests, struct {
		name      string
		src       Layers
		level     string
		parts     int
		brokers   []string
		clientID  string
		format    string
		retention time.Duration
	}{"unset flags do not override", Layers{File: file, Environ: env, Flags: unset, FlagKeys: unsetKeys}, "error", 24, []string{"a:9092", "b:9093"}, "from-file", "json", 48 * time.Hour})

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Load(tc.src)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if cfg.Log.Level != tc.level {
				t.Errorf("log.level = %q, want %q", cfg.Log.Level, tc.level)
			}
			if cfg.Kafka.Topics.RecordPartitions != tc.parts {
				t.Errorf("record_partitions = %d, want %d", cfg.Kafka.Topics.RecordPartitions, tc.parts)
			}
			if strings.Join(cfg.Kafka.Brokers, ",") != strings.Join(tc.brokers, ",") {
				t.Errorf("brokers = %v, want %v", cfg.Kafka.Brokers, tc.brokers)
			}
			if cfg.Kafka.ClientID != tc.clientID {
				t.Errorf("client_id = %q, want %q", cfg.Kafka.ClientID, tc.clientID)
			}
			if cfg.Log.Format != tc.format {
				t.Errorf("log.format = %q, want %q", cfg.Log.Format, tc.format)
			}
			if cfg.Kafka.Topics.DLQRetention != tc.retention {
				t.Errorf("dlq_retention = %s, want %s", cfg.Kafka.Topics.DLQRetention, tc.retention)
			}
		})
	}
}

func TestInvalid(t *testing.T) {
	tests := []struct {
		name string
		src  Layers
		want []string
	}{
		{"bad enum in file", Layers{File: writeFile(t, "log:\n  level: loud\n")},
			[]string{"log.level (ASKONCE_LOG_LEVEL): must be one of debug, info, warn, error, got \"loud\""}},
		{"bad number in env", Layers{Environ: []string{"ASKONCE_KAFKA_TOPICS_RECORD_PARTITIONS=twelve"}},
			[]string{"kafka.topics.record_partitions", "twelve"}},
		{"zero partitions", Layers{Environ: []string{"ASKONCE_KAFKA_TOPICS_RECORD_PARTITIONS=0"}},
			[]string{"kafka.topics.record_partitions (ASKONCE_KAFKA_TOPICS_RECORD_PARTITIONS): must be >= 1, got 0"}},
		{"bad duration", Layers{Environ: []string{"ASKONCE_KAFKA_DIAL_TIMEOUT=soon"}},
			[]string{"kafka.dial_timeout", "soon"}},
		{"unknown key in file", Layers{File: writeFile(t, "kafka:\n  brokerz: [x:1]\n")},
			[]string{"unknown keys kafka.brokerz"}},
		{"unknown top-level key", Layers{File: writeFile(t, "kafkaa:\n  brokers: [x:1]\n")},
			[]string{"kafkaa"}},
		{"unknown env var", Layers{Environ: []string{"ASKONCE_KAFKA_BROKERZ=x:1"}},
			[]string{"unknown environment variables ASKONCE_KAFKA_BROKERZ"}},
		{"bad broker address", Layers{Environ: []string{"ASKONCE_KAFKA_BROKERS=nohost"}},
			[]string{"kafka.brokers", "host:port"}},
		{"sasl without password", Layers{Environ: []string{"ASKONCE_KAFKA_SASL_MECHANISM=scram-sha-512", "ASKONCE_KAFKA_SASL_USERNAME=u"}},
			[]string{"needs a username and a password"}},
		{"unknown sasl mechanism", Layers{Environ: []string{"ASKONCE_KAFKA_SASL_MECHANISM=gssapi"}},
			[]string{"kafka.sasl.mechanism"}},
		{"several problems at once", Layers{Environ: []string{"ASKONCE_LOG_LEVEL=x", "ASKONCE_POSTGRES_DEV_PORT=0"}},
			[]string{"log.level", "postgres.dev.port"}},
		{"missing file", Layers{File: "/nonexistent/askonce.yaml"}, []string{"/nonexistent/askonce.yaml"}},
		{"public url with a path", Layers{Environ: []string{"ASKONCE_LOOKUP_PUBLIC_URL=https://api.example/v1"}},
			[]string{"lookup.public_url", "without a path"}},
		{"public url not absolute", Layers{Environ: []string{"ASKONCE_LOOKUP_PUBLIC_URL=api.example"}},
			[]string{"lookup.public_url"}},
		{"trusted proxy not a prefix", Layers{Environ: []string{"ASKONCE_LOOKUP_TRUSTED_PROXIES=10.0.0.0/8,proxy.example"}},
			[]string{"lookup.trusted_proxies (ASKONCE_LOOKUP_TRUSTED_PROXIES)", "proxy.example"}},
		{"unknown forwarded header", Layers{Environ: []string{"ASKONCE_LOOKUP_FORWARDED_HEADER=x-real-ip"}},
			[]string{"lookup.forwarded_header"}},
		{"negative policy poll", Layers{Environ: []string{"ASKONCE_LOOKUP_POLICY_POLL=-1s"}},
			[]string{"lookup.policy_poll (ASKONCE_LOOKUP_POLICY_POLL)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(tc.src)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestYAMLRedactsSecrets(t *testing.T) {
	cfg, err := Load(Layers{Environ: []string{
		"ASKONCE_KAFKA_SASL_MECHANISM=scram-sha-256",
		"ASKONCE_KAFKA_SASL_USERNAME=bus",
		"ASKONCE_KAFKA_SASL_PASSWORD=s3cr3t-kafka",
		"ASKONCE_POSTGRES_URL=postgres://app:s3cr3t-pg@db:5432/askonce?sslmode=require",
	}})
	if err != nil {
		t.Fatal(err)
	}
	out, err := cfg.YAML()
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for _, secret := range []string{"s3cr3t-kafka", "s3cr3t-pg"} {
		if strings.Contains(s, secret) {
			t.Errorf("config print leaks %q:\n%s", secret, s)
		}
	}
	for _, want := range []string{"password: " + Redacted, "app:xxxxx@db:5432", "username: bus", "record_partitions: 12", "dlq_retention: 720h0m0s"} {
		if !strings.Contains(s, want) {
			t.Errorf("config print lacks %q:\n%s", want, s)
		}
	}
	// The printed YAML is itself a valid configuration file.
	p := writeFile(t, s)
	if _, err := Load(Layers{File: p}); err != nil {
		t.Errorf("printed config does not load back: %v", err)
	}
}

// TestExampleConfig keeps deploy/askonce.example.yaml complete and valid:
// it must load, and it must mention every key.
func TestExampleConfig(t *testing.T) {
	p := filepath.Join("..", "..", "deploy", "askonce.example.yaml")
	if _, err := Load(Layers{File: p}); err != nil {
		t.Fatalf("example config: %v", err)
	}
	body, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range Keys() {
		leaf := key[strings.LastIndex(key, ".")+1:]
		if !strings.Contains(string(body), leaf+":") {
			t.Errorf("example config does not document %s", key)
		}
	}
}

func TestConnectSourcesFromFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.yaml")
	body := `connect:
  pgoutbox:
    - {agency: cnas, data_center: cnas-dc01, url: "postgres://u:s3cret@db/x", schema: cnas_dc01}
    - {agency: cnas, data_center: cnas-dc01}
    - {agency: CNAS, data_center: "dc 2", schema: "x;drop"}
  csvdrop:
    - {agency: casnos, data_center: casnos-dc11, dir: /tmp/drop}
`
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(Layers{File: p})
	if err == nil {
		t.Fatal("invalid sources accepted")
	}
	for _, want := range []string{
		"connect.pgoutbox[1]", "already has a pgoutbox connector",
		"connect.pgoutbox[2].agency", "connect.pgoutbox[2].data_center", "connect.pgoutbox[2].schema",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}

	good := strings.Replace(body, "    - {agency: cnas, data_center: cnas-dc01}\n    - {agency: CNAS, data_center: \"dc 2\", schema: \"x;drop\"}\n", "", 1)
	if err := os.WriteFile(p, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(Layers{File: p})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Connect.PGOutbox) != 1 || cfg.Connect.PGOutbox[0].Schema != "cnas_dc01" || cfg.Connect.CSVDrop[0].Dir != "/tmp/drop" {
		t.Fatalf("sources = %+v", cfg.Connect)
	}
	out, err := cfg.YAML()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "s3cret") || !strings.Contains(string(out), "data_center: cnas-dc01") {
		t.Fatalf("config print of sources:\n%s", out)
	}

	// A typo inside a list item is an error, like anywhere else.
	typo := strings.Replace(good, "dir: /tmp/drop", "dri: /tmp/drop", 1)
	if err := os.WriteFile(p, []byte(typo), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(Layers{File: p}); err == nil || !strings.Contains(err.Error(), "dri") {
		t.Fatalf("typo in a list item: %v", err)
	}
}

// TestTrustedProxiesFromEnv: the list is comma-separated in its variable.
func TestTrustedProxiesFromEnv(t *testing.T) {
	cfg, err := Load(Layers{Environ: []string{"ASKONCE_LOOKUP_TRUSTED_PROXIES=10.0.0.0/8,2001:db8::/32,192.0.2.7"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cfg.Lookup.TrustedProxies, " "); got != "10.0.0.0/8 2001:db8::/32 192.0.2.7" {
		t.Errorf("trusted_proxies = %q", got)
	}
	if cfg.Lookup.ForwardedHeader != "x-forwarded-for" {
		t.Errorf("forwarded_header = %q, want the default x-forwarded-for", cfg.Lookup.ForwardedHeader)
	}
}

// TestConnectSASLPasswordDir: connect.sasl_password_dir is read from its
// variable, and needs a SASL mechanism for the connectors' own principals
// to authenticate with.
func TestConnectSASLPasswordDir(t *testing.T) {
	_, err := Load(Layers{Environ: []string{"ASKONCE_CONNECT_SASL_PASSWORD_DIR=/run/secrets/kafka"}})
	if err == nil || !strings.Contains(err.Error(), "connect.sasl_password_dir") || !strings.Contains(err.Error(), "kafka.sasl.mechanism") {
		t.Fatalf("password dir without a SASL mechanism: %v", err)
	}
	cfg, err := Load(Layers{Environ: []string{
		"ASKONCE_CONNECT_SASL_PASSWORD_DIR=/run/secrets/kafka",
		"ASKONCE_KAFKA_SASL_MECHANISM=scram-sha-512",
		"ASKONCE_KAFKA_SASL_USERNAME=askonce-connect",
		"ASKONCE_KAFKA_SASL_PASSWORD=s3cret",
	}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Connect.SASLPasswordDir != "/run/secrets/kafka" {
		t.Fatalf("connect.sasl_password_dir = %q", cfg.Connect.SASLPasswordDir)
	}
	// Without a process identity: the process goes as a connector's.
	if _, err := Load(Layers{Environ: []string{
		"ASKONCE_CONNECT_SASL_PASSWORD_DIR=/run/secrets/kafka",
		"ASKONCE_KAFKA_SASL_MECHANISM=scram-sha-512",
	}}); err != nil {
		t.Fatalf("password dir and a mechanism, no kafka.sasl user: %v", err)
	}
	// A user without a password is still refused.
	if _, err := Load(Layers{Environ: []string{
		"ASKONCE_CONNECT_SASL_PASSWORD_DIR=/run/secrets/kafka",
		"ASKONCE_KAFKA_SASL_MECHANISM=scram-sha-512",
		"ASKONCE_KAFKA_SASL_USERNAME=askonce-connect",
	}}); err == nil || !strings.Contains(err.Error(), "kafka.sasl.username") {
		t.Fatalf("a user without a password: %v", err)
	}
	if EnvName("connect.sasl_password_dir") != "ASKONCE_CONNECT_SASL_PASSWORD_DIR" {
		t.Errorf("env name %s", EnvName("connect.sasl_password_dir"))
	}
	def, err := Load(Layers{})
	if err != nil {
		t.Fatal(err)
	}
	if def.Connect.SASLPasswordDir != "" {
		t.Fatalf("default %q, want empty: every instance uses kafka.sasl", def.Connect.SASLPasswordDir)
	}
}
