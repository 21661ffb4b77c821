package main

import (
	"strings"
	"testing"
	"time"
)

// TestConnectWithoutConnectors: `askonce connect` with no source configured
// says so at once, before it waits for a database or a broker.
func TestConnectWithoutConnectors(t *testing.T) {
	start := time.Now()
	_, _, err := run(t, []string{"ASKONCE_OPS_LISTEN=127.0.0.1:0", "ASKONCE_POSTGRES_URL=postgres://nobody@127.0.0.1:1/none",
		"ASKONCE_KAFKA_BROKERS=127.0.0.1:1"}, "connect")
	if err == nil || !strings.Contains(err.Error(), "no connector configured") {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("took %s", d)
	}
}
