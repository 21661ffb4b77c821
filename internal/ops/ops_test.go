package ops

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestServerEndpoints(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reg := NewRegistry()
	var logs bytes.Buffer
	srv := NewServer(reg, NewLogger(&logs, "info", "json"))
	healthy := true
	srv.AddCheck("postgres", func(context.Context) error {
		if healthy {
			return nil
		}
		return errors.New("connection refused")
	})
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, "127.0.0.1:0", func(a string) { addrc <- a }) }()
	base := "http://" + <-addrc

	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	if code, body := get("/readyz"); code != 200 || !strings.Contains(body, `"postgres":"ok"`) {
		t.Errorf("/readyz = %d %s", code, body)
	}
	healthy = false
	code, body := get("/readyz")
	var r struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks"`
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	if code != 503 || r.Status != "not ready" || r.Checks["postgres"] != "connection refused" {
		t.Errorf("/readyz when down = %d %s", code, body)
	}
	code, body = get("/metrics")
	for _, want := range []string{`askonce_ops_dependency_up{dependency="postgres"} 0`, "go_goroutines", "process_resident_memory_bytes"} {
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if code, _ := get("/nope"); code != 404 {
		t.Errorf("/nope = %d, want 404", code)
	}
	// A reported condition degrades /readyz without taking the process out
	// of rotation.
	healthy = true
	srv.AddReport("watermarks", func(context.Context) error { return errors.New("store frozen") })
	code, body = get("/readyz")
	r.Checks = nil
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	if code != 200 || r.Status != "degraded" || r.Checks["watermarks"] != "store frozen" || r.Checks["postgres"] != "ok" {
		t.Errorf("/readyz degraded = %d %s", code, body)
	}
	if _, m := get("/metrics"); !strings.Contains(m, `askonce_ops_dependency_up{dependency="watermarks"} 0`) {
		t.Errorf("/metrics lacks the reported check")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve after cancel: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	if !strings.Contains(logs.String(), `"msg":"ops server listening"`) {
		t.Errorf("no JSON start log line: %s", logs.String())
	}
}

func TestLoggerFormats(t *testing.T) {
	var b bytes.Buffer
	NewLogger(&b, "warn", "text").Info("hidden")
	NewLogger(&b, "warn", "text").Warn("shown", "k", "v")
	if s := b.String(); strings.Contains(s, "hidden") || !strings.Contains(s, "level=WARN msg=shown k=v") {
		t.Errorf("text logger wrote %q", s)
	}
	b.Reset()
	NewLogger(&b, "debug", "auto").Debug("d") // a buffer is no terminal: JSON
	if !strings.HasPrefix(b.String(), "{") {
		t.Errorf("auto on a non-terminal wrote %q, want JSON", b.String())
	}
}

func TestLoggerDurations(t *testing.T) {
	for _, format := range []string{"json", "text"} {
		var b bytes.Buffer
		NewLogger(&b, "info", format).Info("settled", "settle", time.Second,
			slog.Group("wait", "max", 1500*time.Millisecond), "n", 7)
		s := b.String()
		switch format {
		case "json":
			var m map[string]any
			if err := json.Unmarshal(b.Bytes(), &m); err != nil {
				t.Fatalf("json: %v in %q", err, s)
			}
			wait, _ := m["wait"].(map[string]any)
			if m["settle"] != "1s" || wait["max"] != "1.5s" || m["n"] != float64(7) {
				t.Errorf("json logger wrote %q, want settle \"1s\", wait.max \"1.5s\", n 7", s)
			}
		case "text":
			if !strings.Contains(s, "settle=1s wait.max=1.5s n=7") {
				t.Errorf("text logger wrote %q", s)
			}
		}
	}
}
