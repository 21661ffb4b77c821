package lookup_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/askonce/askonce/internal/lookup"
	"github.com/askonce/askonce/internal/testenv"
)

// apiCase is one entry of testdata/api/manifest.json.
type apiCase struct {
	What string `json:"what"`
	// ContentType of a body file (POSTed to /v1/document-requests with a
	// valid key); "" sends none. Unused for .http files (raw requests).
	ContentType string `json:"content_type"`
	Status      int    `json:"status"`
	// Problem is the last segment of the problem type; "" when the HTTP
	// server itself refuses the request (no problem document).
	Problem string `json:"problem"`
	// AbsentHeaders must not be in the response (header injection).
	AbsentHeaders []string `json:"absent_headers"`
	// RequestIDReplaced: the X-Request-ID sent is not echoed; a new one is made.
	RequestIDReplaced bool `json:"request_id_replaced"`
	// Audited is the audit outcome of the request; "" = not audited (a
	// body that is not a request names no citizen and no document).
	Audited string `json:"audited"`
}

// TestAPICorpus sends every file of testdata/api to the real server
// (wiring.Serve on the private PostgreSQL): bodies with their content type,
// .http files as raw bytes on a TCP connection. Each gets the manifest's
// status and problem type, no injected header, the audit entry it should
// have, and the server answers normally afterwards.
func TestAPICorpus(t *testing.T) {
	a := startSecAPI(t)
	dir := filepath.Join(testenv.RepoRoot(t), "testdata", "api")
	raw, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	testenv.Must(t, err, "manifest")
	var manifest map[string]apiCase
	testenv.Must(t, json.Unmarshal(raw, &manifest), "manifest")
	entries, err := os.ReadDir(dir)
	testenv.Must(t, err, "corpus")
	var files []string
	for _, en := range entries {
		if n := en.Name(); n != "manifest.json" && n != "README.md" && !strings.HasPrefix(n, ".") {
			files = append(files, n)
			if _, ok := manifest[n]; !ok {
				t.Errorf("testdata/api/%s has no expectation in manifest.json", n)
			}
		}
	}
	for n := range manifest {
		if !slices.Contains(files, n) {
			t.Errorf("manifest.json names testdata/api/%s, which does not exist", n)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	host := strings.TrimPrefix(a.base, "http://")
	key := a.keys["cnr"]
	for _, name := range files {
		c := manifest[name]
		b, err := os.ReadFile(filepath.Join(dir, name))
		testenv.Must(t, err, "read %s", name)
		var resp *http.Response
		var body []byte
		if strings.HasSuffix(name, ".http") {
			b = bytes.ReplaceAll(bytes.ReplaceAll(b, []byte("{{KEY}}"), []byte(key)), []byte("{{HOST}}"), []byte(host))
			resp, body = rawExchange(t, host, b)
		} else {
			req, err := http.NewRequestWithContext(a.ctx, "POST", a.base+"/v1/document-requests", bytes.NewReader(b))
			testenv.Must(t, err, "request")
			if c.ContentType != "" {
				req.Header.Set("Content-Type", c.ContentType)
			}
			req.Header.Set("Authorization", "Bearer "+key)
			resp, err = http.DefaultClient.Do(req)
			testenv.Must(t, err, "%s", name)
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		if resp.StatusCode != c.Status {
			t.Errorf("%s (%s): status %d, want %d: %.300s", name, c.What, resp.StatusCode, c.Status, body)
			continue
		}
		for _, h := range c.AbsentHeaders {
			if v := resp.Header.Values(h); len(v) > 0 {
				t.Errorf("%s (%s): injected header %s: %q", name, c.What, h, v)
			}
		}
		if c.Problem == "" {
			continue
		}
		var p map[string]any
		if resp.Header.Get("Content-Type") != "application/problem+json" || json.Unmarshal(body, &p) != nil ||
			p["type"] != "https://askonce.dz/problems/"+c.Problem {
			t.Errorf("%s (%s): %s %.300s, want problem %s", name, c.What, resp.Header.Get("Content-Type"), body, c.Problem)
			continue
		}
		id := resp.Header.Get("X-Request-ID")
		if p["request_id"] != id || id == "" {
			t.Errorf("%s: request id %q, body %v", name, id, p["request_id"])
		}
		if c.RequestIDReplaced && !strings.HasPrefix(id, "req_") {
			t.Errorf("%s (%s): X-Request-ID %q echoed", name, c.What, id)
		}
		if outcome, _, _ := a.audited(id); outcome != c.Audited {
			t.Errorf("%s (%s): audited %q, want %q", name, c.What, outcome, c.Audited)
		}
	}
	// The server is fine: it answers a good request as before.
	r := a.do(call{method: "POST", path: "/v1/document-requests", key: key, body: docBody(lookup.DocLife, nin('1', 1958, 303), "pension-life-proof", "c")})
	if r.status != 404 || r.body["outcome"] != "not_held" {
		t.Errorf("after the corpus: %d %s", r.status, r.raw)
	}
}

// rawExchange writes req as is on a new connection and reads the answer.
func rawExchange(t *testing.T, host string, req []byte) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", host, 10*time.Second)
	testenv.Must(t, err, "dial")
	defer conn.Close()
	testenv.Must(t, conn.SetDeadline(time.Now().Add(30*time.Second)), "deadline")
	if _, err := conn.Write(req); err != nil {
		// The server may answer and close before reading everything (431).
		t.Logf("write: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	testenv.Must(t, err, "read response")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, body
}
