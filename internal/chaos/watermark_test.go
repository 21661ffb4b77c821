package chaos_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/askonce/askonce/internal/lookup"
	"github.com/askonce/askonce/internal/testenv"
)

// docAgencies are the agencies whose data centers each document type's
// rule reads, from the tables its queries read (internal/lookup/documents.go),
// written out here rather than taken from the catalog so that a catalog
// listing too few would be caught: the civil-status documents read
// persons, marriages, divorces and deaths (the état civil's); those about
// affiliations, employment and contributions read affiliations,
// employment_periods and contributions (the funds'), no civil-status
// table. A document's as_of may be no later than the watermark of any of
// these data centers.
var docAgencies = map[string][]string{
	lookup.DocBirth:            civil,
	lookup.DocFamily:           civil,
	lookup.DocMarriage:         civil,
	lookup.DocDeath:            civil,
	lookup.DocLife:             civil,
	lookup.DocAffiliation:      funds,
	lookup.DocNonAffiliation:   funds,
	lookup.DocEmployment:       funds,
	lookup.DocContribStatus:    funds,
	lookup.DocContribStatement: funds,
}

var (
	civil = []string{"etatcivil"}
	funds = []string{"cnas", "casnos", "cacobatph"}
)

// watermarkCheck is what checkWatermarks found.
type watermarkCheck struct {
	Available  bool // store_watermark_history exists
	History    int  // its rows
	Docs       int  // documents checked
	Pairs      int  // (document, data center) pairs checked
	Violations int  // documents with an as_of above some data center's watermark
	// Of the violations: documents issued while some data center of the
	// agencies had no watermark at all, and documents whose as_of was above
	// some data center's (existing) watermark; when the first and last
	// violating ones were issued.
	Missing, Below                int
	FirstViolation, LastViolation time.Time
	Examples                      []string // a few of each kind
	// When each agency's data centers got their first watermark: the first
	// and the last of them (zero: some never did).
	FirstMarks map[string][2]time.Time
	Lag        time.Duration // largest issued_at - as_of seen
	// Fund documents whose as_of is above some état civil data center's
	// watermark: not a violation (no fund document reads a civil-status
	// table), counted in case one ever does.
	FundAboveCivil, FundDocs int
}

// watermarkSeries is one data center's watermark history: recorded_at
// ascending, and the highest watermark recorded up to each.
type watermarkSeries struct {
	at  []time.Time
	max []time.Time
}

// highest is the highest watermark recorded before t (false: none).
func (s watermarkSeries) highest(before time.Time) (time.Time, bool) {
	i := sort.Search(len(s.at), func(i int) bool { return !s.at[i].Before(before) })
	if i == 0 {
		return time.Time{}, false
	}
	return s.max[i-1], true
}

// reached is when the watermark first reached w (to the second; false:
// never).
func (s watermarkSeries) reached(w time.Time) (time.Time, bool) {
	i := sort.Search(len(s.max), func(i int) bool { return !s.max[i].Truncate(time.Second).Before(w) })
	if i == len(s.max) {
		return time.Time{}, false
	}
	return s.at[i], true
}

// checkWatermarks proves that no document claims more freshness than the
// store had: for every document issued (attestations), and every data
// center D of the agencies its type reads, the highest watermark of D that
// the materializer had recorded (store_watermark_history.recorded_at, a
// clock_timestamp() inside the transaction, so before the commit that made
// it visible) when the document was issued is at least the document's
// as_of, both to the second (as_of has second precision; the watermark is
// truncated down). The attestations' issued_at is truncated to the second
// too, so "when it was issued" is any instant of that second: the bound is
// recorded_at < issued_at + 1s (a document issued at 12:00:00.7, stamped
// 12:00:00, could rightly use a watermark recorded at 12:00:00.3).
//
// dcs lists the data centers of each agency (the synthetic ones; those in
// the history are added). Until the table exists (per-data-center
// watermarks not yet in the materializer) the check is skipped, said in
// the log; once it exists, it is enforced.
func checkWatermarks(ctx context.Context, t *testing.T, db *pgxpool.Pool, dcs map[string][]string) watermarkCheck {
	t.Helper()
	var wc watermarkCheck
	testenv.Must(t, db.QueryRow(ctx, `SELECT to_regclass('store_watermark_history') IS NOT NULL`).Scan(&wc.Available), "look for store_watermark_history")
	if !wc.Available {
		t.Log("chaos: watermark history not available (no table store_watermark_history): the as_of check is skipped")
		return wc
	}

	series := map[string]*watermarkSeries{}
	byAgency := map[string]map[string]bool{}
	for ag, list := range dcs {
		byAgency[ag] = map[string]bool{}
		for _, dc := range list {
			byAgency[ag][dc] = true
		}
	}
	rows, err := db.Query(ctx, `SELECT agency, data_center, watermark, recorded_at FROM store_watermark_history ORDER BY data_center, recorded_at`)
	testenv.Must(t, err, "read store_watermark_history")
	for rows.Next() {
		var ag, dc string
		var wm, at time.Time
		testenv.Must(t, rows.Scan(&ag, &dc, &wm, &at), "watermark history row")
		wc.History++
		s := series[dc]
		if s == nil {
			s = &watermarkSeries{}
			series[dc] = s
		}
		if n := len(s.max); n > 0 && s.max[n-1].After(wm) {
			wm = s.max[n-1]
		}
		s.at, s.max = append(s.at, at), append(s.max, wm)
		if byAgency[ag] == nil {
			byAgency[ag] = map[string]bool{}
		}
		byAgency[ag][dc] = true
	}
	rows.Close()
	testenv.Must(t, rows.Err(), "read store_watermark_history")

	wc.FirstMarks = map[string][2]time.Time{}
	for ag, set := range byAgency {
		var first, last time.Time
		for dc := range set {
			s := series[dc]
			if s == nil {
				last = time.Time{} // this one never got a watermark
				first = time.Time{}
				break
			}
			if first.IsZero() || s.at[0].Before(first) {
				first = s.at[0]
			}
			if s.at[0].After(last) {
				last = s.at[0]
			}
		}
		wc.FirstMarks[ag] = [2]time.Time{first, last}
	}

	// lagging lists the data centers of agencies that, when a document
	// was issued (recorded before bound), had no watermark at all, and
	// those whose watermark was below asOf.
	lagging := func(agencies []string, asOf, bound, issued time.Time) (missing, below []string, pairs int) {
		for _, ag := range agencies {
			names := make([]string, 0, len(byAgency[ag]))
			for dc := range byAgency[ag] {
				names = append(names, dc)
			}
			sort.Strings(names)
			for _, dc := range names {
				pairs++
				var wm time.Time
				found := false
				s := series[dc]
				if s != nil {
					wm, found = s.highest(bound)
				}
				switch {
				case !found:
					missing = append(missing, dc)
				case asOf.After(wm.Truncate(time.Second)):
					msg := fmt.Sprintf("%s's was %s", dc, wm.UTC().Format(time.RFC3339Nano))
					if at, ok := s.reached(asOf); ok {
						msg += fmt.Sprintf(" (it reached as_of at %s, %s after issued_at)", at.UTC().Format(time.RFC3339Nano), at.Sub(issued).Round(time.Millisecond))
					}
					below = append(below, msg)
				}
			}
		}
		return missing, below, pairs
	}

	rows, err = db.Query(ctx, `SELECT id, issued_at, document FROM attestations ORDER BY issued_at, id`)
	testenv.Must(t, err, "read attestations")
	defer rows.Close()
	examples := map[string]int{}
	violation := func(kind, id string, issued time.Time, format string, args ...any) {
		wc.Violations++
		if wc.FirstViolation.IsZero() {
			wc.FirstViolation = issued
		}
		wc.LastViolation = issued
		if examples[kind] < 4 {
			examples[kind]++
			wc.Examples = append(wc.Examples, id+": "+fmt.Sprintf(format, args...))
		}
	}
	for rows.Next() {
		var id, text string
		var issued time.Time
		testenv.Must(t, rows.Scan(&id, &issued, &text), "attestation row")
		var doc struct {
			Type string `json:"type"`
			AsOf string `json:"as_of"`
		}
		wc.Docs++
		if err := json.Unmarshal([]byte(text), &doc); err != nil {
			violation("bad", id, issued, "document is not JSON: %v", err)
			continue
		}
		asOf, err := time.Parse(time.RFC3339, doc.AsOf)
		if err != nil {
			violation("bad", id, issued, "%s: as_of %q is not RFC 3339: %v", doc.Type, doc.AsOf, err)
			continue
		}
		agencies, ok := docAgencies[doc.Type]
		if !ok {
			violation("bad", id, issued, "unknown document type %q", doc.Type)
			continue
		}
		wc.Lag = max(wc.Lag, issued.Sub(asOf))
		asOf = asOf.Truncate(time.Second)
		bound := issued.Truncate(time.Second).Add(time.Second)
		missing, below, pairs := lagging(agencies, asOf, bound, issued)
		wc.Pairs += pairs
		if agencies[0] != "etatcivil" {
			wc.FundDocs++
			if m, b, _ := lagging(civil, asOf, bound, issued); len(m)+len(b) > 0 {
				wc.FundAboveCivil++
			}
		}
		if len(missing)+len(below) == 0 {
			continue
		}
		var why []string
		kind := "missing"
		if len(below) > 0 {
			wc.Below++
			kind = "below"
			if len(below) > 2 {
				below = append(below[:2], fmt.Sprintf("%d more below as_of", len(below)-2))
			}
			why = append(why, below...)
		} else {
			wc.Missing++
		}
		if len(missing) > 0 {
			if len(missing) > 3 {
				missing = append(missing[:3], fmt.Sprintf("%d more", len(missing)-3))
			}
			why = append(why, "no watermark yet for "+strings.Join(missing, ", "))
		}
		violation(kind, id, issued, "%s issued %s claims as_of %s, but %s", doc.Type, issued.UTC().Format(time.RFC3339), doc.AsOf, strings.Join(why, "; "))
	}
	testenv.Must(t, rows.Err(), "read attestations")
	if wc.Violations > 0 {
		t.Errorf("chaos: %d of %d documents claim more freshness (as_of) than the store's watermarks had when they were issued "+
			"(%d with some data center of their agencies below as_of, %d with some data center without any watermark yet), issued from %s to %s, e.g.\n  %s",
			wc.Violations, wc.Docs, wc.Below, wc.Missing, wc.FirstViolation.UTC().Format(time.RFC3339), wc.LastViolation.UTC().Format(time.RFC3339),
			strings.Join(wc.Examples, "\n  "))
	}
	return wc
}
