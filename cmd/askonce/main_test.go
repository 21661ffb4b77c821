package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func run(t *testing.T, environ []string, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	a := newApp(&out, &errb, environ)
	root := a.root()
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), errb.String(), err
}

func TestConfigPrint(t *testing.T) {
	out, _, err := run(t, []string{"ASKONCE_KAFKA_SASL_MECHANISM=plain", "ASKONCE_KAFKA_SASL_USERNAME=u", "ASKONCE_KAFKA_SASL_PASSWORD=hunter2", "ASKONCE_LOG_LEVEL=warn"},
		"config", "print", "--log-level", "debug")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "hunter2") {
		t.Errorf("config print leaks the password:\n%s", out)
	}
	for _, want := range []string{"level: debug", "password: <redacted>", "mechanism: plain"} {
		if !strings.Contains(out, want) {
			t.Errorf("config print lacks %q:\n%s", want, out)
		}
	}
}

func TestConfigErrorsAreClear(t *testing.T) {
	_, _, err := run(t, []string{"ASKONCE_KAFKA_TOPICS_RECORD_PARTITIONS=-4"}, "config", "print")
	if err == nil || !strings.Contains(err.Error(), "kafka.topics.record_partitions (ASKONCE_KAFKA_TOPICS_RECORD_PARTITIONS): must be >= 1, got -4") {
		t.Fatalf("err = %v", err)
	}
	_, _, err = run(t, nil, "broker", "--listen", "nope")
	if err == nil || !strings.Contains(err.Error(), "broker.listen") {
		t.Fatalf("bad --listen: err = %v", err)
	}
}

func TestConfigKeys(t *testing.T) {
	out, _, err := run(t, nil, "config", "keys")
	if err != nil || !strings.Contains(out, "ASKONCE_POSTGRES_DEV_PORT") {
		t.Fatalf("config keys: %v\n%s", err, out)
	}
}
