package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRequestKey: the API key comes from --key-file or ASKONCE_REQUEST_KEY,
// never from the command line.
func TestRequestKey(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"outcome":"not_held"}`))
	}))
	defer srv.Close()
	ask := []string{"request", "--url", srv.URL, "--type", "life-certificate", "--purpose", "p", "--nin", "1"}

	_, _, err := run(t, nil, append(ask, "--key", "k-inline")...)
	if err == nil || !strings.Contains(err.Error(), "--key-file") || !strings.Contains(err.Error(), "ASKONCE_REQUEST_KEY") {
		t.Errorf("--key: %v", err)
	}
	if _, _, err := run(t, nil, ask...); err == nil || !strings.Contains(err.Error(), "no API key") {
		t.Errorf("no key: %v", err)
	}
	if len(got) != 0 {
		t.Fatalf("requests sent without a proper key: %v", got)
	}

	file := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(file, []byte("k-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"ASKONCE_REQUEST_KEY=k-env"}
	_, _, err = run(t, env, append(ask, "--key-file", file)...)
	if code, ok := err.(exitError); !ok || code.code != 3 {
		t.Fatalf("--key-file: %v", err)
	}
	_, _, err = run(t, env, ask...)
	if code, ok := err.(exitError); !ok || code.code != 3 {
		t.Fatalf("ASKONCE_REQUEST_KEY: %v", err)
	}
	if strings.Join(got, ",") != "Bearer k-file,Bearer k-env" {
		t.Errorf("keys sent: %v", got)
	}
}
