package dev_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/askonce/askonce/internal/config"
	"github.com/askonce/askonce/internal/dev"
	"github.com/askonce/askonce/internal/ops"
	"github.com/askonce/askonce/internal/testenv"
)

// TestDev runs `askonce dev` with a small population and asks every
// document type for every sample citizen: each answer must be the one the
// SQL oracle expects.
func TestDev(t *testing.T) {
	ctx := testenv.Ctx(t, 4*time.Minute)
	cfg := config.Default()
	cfg.Postgres.URL = testenv.Postgres(t)
	cfg.Connect.SourcesURL = testenv.Postgres(t)
	cfg.Broker.Listen = "127.0.0.1:0"
	cfg.Broker.DataDir = t.TempDir()
	cfg.Registry.Listen = "127.0.0.1:0"
	cfg.Lookup.Listen = "127.0.0.1:0"
	cfg.Lookup.SigningKeysDir = filepath.Join(t.TempDir(), "keys")
	cfg.Seed.Persons = 2500
	cfg.Seed.LiveRate = 20
	dir := t.TempDir()
	logs := &lockedBuffer{}
	log := ops.NewLogger(logs, "info", "json")

	type ready struct {
		api     string
		samples []dev.Sample
	}
	readyc := make(chan ready, 1)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	var out bytes.Buffer
	go func() {
		done <- dev.Run(runCtx, &cfg, dev.Options{Dir: dir, Out: &out, Progress: io.Discard,
			Ready: func(api string, s []dev.Sample) { readyc <- ready{api, s} }}, log)
	}()
	var r ready
	select {
	case r = <-readyc:
	case err := <-done:
		t.Fatalf("dev.Run ended before ready: %v", err)
	case <-ctx.Done():
		t.Fatal("dev never got ready")
	}
	if len(r.samples) < 4 {
		t.Fatalf("only %d sample citizens: %+v", len(r.samples), r.samples)
	}
	if _, err := os.Stat(filepath.Join(dir, "sample-citizens.json")); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out.Bytes(), []byte("curl -s "+r.api+"/v1/document-requests")) {
		t.Errorf("banner lacks a curl example:\n%s", out.String())
	}
	if !bytes.Contains(out.Bytes(), []byte("bin/askonce consume --agency cnr")) || !bytes.Contains(out.Bytes(), []byte("pensioners are in CNR's portfolio")) {
		t.Errorf("banner lacks the notifications line:\n%s", out.String())
	}
	for _, s := range r.samples {
		for _, a := range dev.Asks {
			body, _ := json.Marshal(map[string]string{"document_type": a.DocumentType, "nin": s.NIN, "purpose": a.Purpose, "clerk_id": "dev-test"})
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, r.api+"/v1/document-requests", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+a.Key)
			resp, err := http.DefaultClient.Do(req)
			testenv.Must(t, err, "request")
			var ans struct{ Outcome, Reason string }
			json.NewDecoder(resp.Body).Decode(&ans) //nolint:errcheck // checked below
			resp.Body.Close()
			got := ans.Outcome
			if ans.Outcome == "not_held" {
				got += "/" + ans.Reason
			}
			if want := s.Expected[a.DocumentType]; got != want {
				t.Errorf("%s %s: %s, want %s", s.Kind, a.DocumentType, got, want)
			}
		}
	}
	// The sources keep changing while the bus runs.
	time.Sleep(1500 * time.Millisecond)
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("dev.Run: %v", err)
		}
	case <-time.After(45 * time.Second):
		t.Fatal("dev did not stop within 45s of cancel")
	}

	// The whole run's logs at info level (seed, connectors with their
	// rejects, materializer, API, notifications) hold no NIN and no API key.
	text := logs.String()
	if !strings.Contains(text, `"level":"INFO"`) {
		t.Fatalf("no info-level log captured")
	}
	for _, s := range r.samples {
		if strings.Contains(text, s.NIN) {
			t.Errorf("sample citizen's NIN %s is in the logs", s.NIN)
		}
	}
	for _, a := range dev.Asks {
		if strings.Contains(text, a.Key) {
			t.Errorf("API key %s is in the logs", a.Key)
		}
	}
	for _, u := range []string{cfg.Postgres.URL, cfg.Connect.SourcesURL} {
		if pu, err := url.Parse(u); err == nil {
			if pw, ok := pu.User.Password(); ok && pw != "" && strings.Contains(text, pw) {
				t.Errorf("a PostgreSQL password is in the logs")
			}
		}
	}
	if m := regexp.MustCompile(`(^|[^0-9A-Za-z])[0-9]{18}([^0-9A-Za-z]|$)`).FindString(text); m != "" {
		t.Errorf("an 18-digit number (a NIN?) is in the logs: %q", m)
	}
}

// lockedBuffer collects a logger's output from many goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
