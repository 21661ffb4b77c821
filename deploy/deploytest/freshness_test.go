package deploytest

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/askonce/askonce/internal/lookup"
)

// TestFreshnessAlertsMatchCatalog: AskonceDataCenterStale fires for each
// agency exactly at the shortest freshness bound of the document types
// that read it (lookup.Catalog: past it the API answers 503 source_stale),
// and the AskonceDataCenterWatermarkLag warning comes before any bound.
func TestFreshnessAlertsMatchCatalog(t *testing.T) {
	want := map[string]int{} // agency -> shortest bound, seconds
	for _, d := range lookup.Catalog {
		for _, a := range d.Agencies {
			if b, ok := want[a]; !ok || d.FreshnessSeconds < b {
				want[a] = d.FreshnessSeconds
			}
		}
	}
	var stale, lag string
	for _, r := range loadRules(t) {
		switch r.Alert {
		case "AskonceDataCenterStale":
			stale = r.Expr
		case "AskonceDataCenterWatermarkLag":
			lag = r.Expr
		}
	}
	if stale == "" || lag == "" {
		t.Fatal("AskonceDataCenterStale or AskonceDataCenterWatermarkLag missing from the rules")
	}
	got := map[string]int{}
	re := regexp.MustCompile(`askonce_store_watermark_lag_seconds\{agency=~?"([^"]+)"\}\)\s*>\s*(\d+)`)
	for _, m := range re.FindAllStringSubmatch(stale, -1) {
		n, _ := strconv.Atoi(m[2])
		for _, a := range strings.Split(m[1], "|") {
			got[a] = n
		}
	}
	for a, b := range want {
		if got[a] != b {
			t.Errorf("AskonceDataCenterStale: agency %s at %d s, want %d s (the shortest freshness bound of the document types reading it)", a, got[a], b)
		}
	}
	for a := range got {
		if _, ok := want[a]; !ok {
			t.Errorf("AskonceDataCenterStale names agency %s, which no document type reads", a)
		}
	}
	m := regexp.MustCompile(`askonce_store_watermark_lag_seconds\)\s*>\s*(\d+)`).FindStringSubmatch(lag)
	if m == nil {
		t.Fatalf("AskonceDataCenterWatermarkLag: no threshold in %q", lag)
	}
	warn, _ := strconv.Atoi(m[1])
	for a, b := range want {
		if warn >= b {
			t.Errorf("AskonceDataCenterWatermarkLag warns at %d s, not before %s's bound (%d s)", warn, a, b)
		}
	}
}
