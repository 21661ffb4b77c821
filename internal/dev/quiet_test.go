package dev_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/askonce/askonce/internal/config"
	"github.com/askonce/askonce/internal/dev"
	"github.com/askonce/askonce/internal/ops"
	"github.com/askonce/askonce/internal/testenv"
)

// TestDevQuiet starts `askonce dev` on an empty store, stops it, and starts
// it again on the same broker and databases: neither start may log a WARN
// or an ERROR. A WARN or an ERROR is something an operator must act on,
// and a healthy start gives them nothing to act on (issue 26: the
// materializer's Kafka reader logged dozens of fetch i/o timeouts against
// the embedded broker while the initial load was materialized).
//
// ASKONCE_QUIET_PERSONS sets the population: 3000 by default, enough for
// the restart to catch up a backlog, and about 30 s (up to 2 min with the
// race detector on a busy 2-core machine); 50000 is what `make demo`
// seeds.
// ASKONCE_QUIET_LOGS names a directory to keep each start's log in.
func TestDevQuiet(t *testing.T) {
	persons := 3000
	if s := os.Getenv("ASKONCE_QUIET_PERSONS"); s != "" {
		n, err := strconv.Atoi(s)
		testenv.Must(t, err, "ASKONCE_QUIET_PERSONS")
		persons = n
	}
	ctx := testenv.Ctx(t, 15*time.Minute)
	storeURL, sourcesURL := testenv.Postgres(t), testenv.Postgres(t)
	brokerDir, keysDir := t.TempDir(), filepath.Join(t.TempDir(), "keys")
	// dev.Run completes the configuration it is given (addresses bound,
	// synthetic connectors added): each start gets a fresh one, as each
	// `askonce dev` does.
	newConfig := func() *config.Config {
		cfg := config.Default()
		cfg.Postgres.URL = storeURL
		cfg.Connect.SourcesURL = sourcesURL
		cfg.Broker.Listen = "127.0.0.1:0"
		cfg.Broker.DataDir = brokerDir
		cfg.Registry.Listen = "127.0.0.1:0"
		cfg.Lookup.Listen = "127.0.0.1:0"
		cfg.Lookup.SigningKeysDir = keysDir
		cfg.Seed.Persons = persons
		cfg.Seed.LiveRate = 20
		return &cfg
	}
	dir := t.TempDir()
	for _, start := range []string{"clean start", "restart"} {
		logs := &quietLog{}
		log := ops.NewLogger(logs, "info", "json")
		runCtx, stop := context.WithCancel(ctx)
		ready := make(chan struct{}, 1)
		done := make(chan error, 1)
		t0 := time.Now()
		go func() {
			done <- dev.Run(runCtx, newConfig(), dev.Options{Dir: dir, Out: io.Discard, Progress: io.Discard,
				Ready: func(string, []dev.Sample) { ready <- struct{}{} }}, log)
		}()
		select {
		case <-ready:
		case err := <-done:
			stop()
			t.Fatalf("%s: dev.Run ended before ready: %v", start, err)
		case <-ctx.Done():
			stop()
			t.Fatalf("%s: dev never got ready", start)
		}
		took := time.Since(t0)
		// A few seconds of the live sources changing, as a newcomer sees
		// right after the banner.
		time.Sleep(2 * time.Second)
		stop()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("%s: dev.Run: %v", start, err)
			}
		case <-time.After(45 * time.Second):
			t.Fatalf("%s: dev did not stop within 45s of cancel", start)
		}
		bad, n := logs.notable(t)
		t.Logf("%s: ready in %s, %d log lines, %d WARN or ERROR", start, took.Round(time.Millisecond), n, len(bad))
		if d := os.Getenv("ASKONCE_QUIET_LOGS"); d != "" {
			logs.mu.Lock()
			err := os.WriteFile(filepath.Join(d, strings.ReplaceAll(start, " ", "-")+".log"), logs.b.Bytes(), 0o644)
			logs.mu.Unlock()
			testenv.Must(t, err, "write the log")
		}
		for i, l := range bad {
			if i == 20 {
				t.Errorf("%s: ... and %d more", start, len(bad)-i)
				break
			}
			t.Errorf("%s logged: %s", start, l)
		}
	}
}

// quietLog collects a logger's JSON lines from many goroutines.
type quietLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *quietLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// notable returns the WARN and ERROR lines, and how many lines there were.
func (l *quietLog) notable(t *testing.T) (bad []string, n int) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	sc := bufio.NewScanner(bytes.NewReader(l.b.Bytes()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		n++
		var rec struct{ Level string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("a log line is not JSON: %q", line)
			continue
		}
		if rec.Level != "INFO" && rec.Level != "DEBUG" {
			bad = append(bad, line)
		}
	}
	testenv.Must(t, sc.Err(), "read the log")
	return bad, n
}
