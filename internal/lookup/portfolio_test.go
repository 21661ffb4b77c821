package lookup_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/askonce/askonce/internal/testenv"
)

func (h *harness) auditCount(where string, args ...any) int {
	h.t.Helper()
	var n int
	testenv.Must(h.t, h.pool.QueryRow(h.ctx, `SELECT count(*) FROM audit_log WHERE `+where, args...).Scan(&n), "audit count")
	return n
}

func TestPortfolioAPI(t *testing.T) {
	h := setup(t)
	n1, n2, n3 := nin('1', 1950, 901), nin('2', 1952, 902), nin('1', 1953, 903)
	path := func(agency, n string) string { return "/v1/portfolios/" + agency + "/members/" + n }

	// Put, read back, list.
	a := h.do("PUT", path("cnr", n1), "dev-cnr-key", map[string]any{"kinds": []string{"DEATH", "MARRIAGE", "DEATH"}, "purpose": "pension-death-watch"})
	if a.status != 200 || a.body["nin"] != n1 || len(a.body["kinds"].([]any)) != 2 {
		t.Fatalf("put: %d %s", a.status, a.raw)
	}
	if got := h.do("GET", "/v1/portfolios/cnr/members?nin="+n1, "dev-cnr-key", nil); got.status != 200 || len(got.body["members"].([]any)) != 1 {
		t.Errorf("get: %d %s", got.status, got.raw)
	}
	if got := h.do("GET", "/v1/portfolios/cnr/members?nin="+n2, "dev-cnr-key", nil); got.status != 200 || len(got.body["members"].([]any)) != 0 {
		t.Errorf("get absent: %d %s", got.status, got.raw)
	}

	// Another agency's portfolio: 403, audited.
	before := h.auditCount(`client = 'cnas' AND document_type = 'portfolio' AND outcome = 'denied'`)
	for _, a := range []answer{
		h.do("PUT", path("cnr", n2), "dev-cnas-key", map[string]any{"kinds": []string{"DEATH"}, "purpose": "insured-events"}),
		h.do("GET", "/v1/portfolios/cnr/members?nin="+n1, "dev-cnas-key", nil),
		h.do("DELETE", path("cnr", n1), "dev-cnas-key", nil),
	} {
		if a.status != 403 || a.body["outcome"] != "denied" {
			t.Errorf("other agency's portfolio: %d %s", a.status, a.raw)
		}
	}
	if after := h.auditCount(`client = 'cnas' AND document_type = 'portfolio' AND outcome = 'denied'`); after != before+3 {
		t.Errorf("%d denials audited, want 3", after-before)
	}
	// A purpose the policy does not grant this client: 403, audited.
	a = h.do("PUT", path("cnas", n2), "dev-cnas-key", map[string]any{"kinds": []string{"DEATH"}, "purpose": "pension-death-watch"})
	if a.status != 403 {
		t.Errorf("purpose not granted: %d %s", a.status, a.raw)
	}
	if h.auditCount(`client = 'cnas' AND nin = $1 AND purpose = 'pension-death-watch' AND outcome = 'denied'`, n2) != 1 {
		t.Errorf("denied purpose not audited")
	}
	// A kind the purpose does not cover, a bad NIN: 422.
	if a := h.do("PUT", path("cnr", n2), "dev-cnr-key", map[string]any{"kinds": []string{"EMPLOYMENT_START"}, "purpose": "pension-death-watch"}); a.status != 422 {
		t.Errorf("kind not covered: %d %s", a.status, a.raw)
	}
	if a := h.do("PUT", path("cnr", "12345"), "dev-cnr-key", map[string]any{"kinds": []string{"DEATH"}, "purpose": "pension-death-watch"}); a.status != 422 {
		t.Errorf("bad NIN: %d %s", a.status, a.raw)
	}
	if a := h.do("GET", "/v1/portfolios/cnr/members?nin=abc", "dev-cnr-key", nil); a.status != 422 {
		t.Errorf("bad NIN query: %d %s", a.status, a.raw)
	}
	if a := h.do("PUT", path("cnr", n2), "", map[string]any{"kinds": []string{"DEATH"}, "purpose": "pension-death-watch"}); a.status != 401 {
		t.Errorf("no key: %d %s", a.status, a.raw)
	}

	// Bulk, JSON array: per-line results.
	a = h.do("POST", "/v1/portfolios/cnr/members:bulk", "dev-cnr-key", []any{
		map[string]any{"nin": n2, "kinds": []string{"DEATH"}, "purpose": "pension-death-watch"},
		map[string]any{"nin": "bad", "kinds": []string{"DEATH"}, "purpose": "pension-death-watch"},
		map[string]any{"nin": n3, "kinds": []string{"DEATH"}, "purpose": "insured-events"},
		map[string]any{"nin": n1, "op": "delete"},
		"not a member",
	})
	if a.status != 200 || a.body["accepted"] != float64(2) || a.body["rejected"] != float64(3) {
		t.Fatalf("bulk: %d %s", a.status, a.raw)
	}
	want := []float64{200, 422, 403, 200, 400}
	for i, r := range a.body["results"].([]any) {
		if st := r.(map[string]any)["status"]; st != want[i] {
			t.Errorf("bulk line %d: status %v, want %v", i+1, st, want[i])
		}
	}
	// Bulk, JSON lines.
	req, err := http.NewRequestWithContext(h.ctx, "POST", h.base+"/v1/portfolios/cnr/members:bulk",
		strings.NewReader("{\"nin\":\""+n3+"\",\"kinds\":[\"DEATH\"],\"purpose\":\"pension-death-watch\"}\n\n{\"nin\":\"x\"}\n"))
	testenv.Must(t, err, "request")
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("Authorization", "Bearer dev-cnr-key")
	resp, err := http.DefaultClient.Do(req)
	testenv.Must(t, err, "bulk lines")
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	validateResponse(t, req, resp, raw)
	if resp.StatusCode != 200 || !strings.Contains(string(raw), `"line":3`) || !strings.Contains(string(raw), `"accepted":1`) {
		t.Errorf("bulk lines: %d %s", resp.StatusCode, raw)
	}

	// The list now holds n2 and n3 (n1 was deleted in the bulk upload).
	a = h.do("GET", "/v1/portfolios/cnr/members?limit=1", "dev-cnr-key", nil)
	if a.status != 200 || len(a.body["members"].([]any)) != 1 || a.body["next_after"] == nil {
		t.Fatalf("list page: %d %s", a.status, a.raw)
	}
	a = h.do("GET", "/v1/portfolios/cnr/members?after="+a.body["next_after"].(string), "dev-cnr-key", nil)
	if a.status != 200 || len(a.body["members"].([]any)) != 1 {
		t.Errorf("list next page: %d %s", a.status, a.raw)
	}
	if a := h.do("DELETE", path("cnr", n2), "dev-cnr-key", nil); a.status != 204 {
		t.Errorf("delete: %d %s", a.status, a.raw)
	}
	if a := h.do("DELETE", path("cnr", n2), "dev-cnr-key", nil); a.status != 404 {
		t.Errorf("delete again: %d %s", a.status, a.raw)
	}
	if n := h.auditCount(`client = 'cnr' AND document_type = 'portfolio' AND nin = $1 AND outcome = 'issued'`, n2); n < 3 {
		t.Errorf("%d portfolio operations on %s audited, want put, delete, delete", n, n2)
	}
}
