package lookup

import (
	"context"
	"sort"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/askonce/askonce/internal/watermark"
)

// Freshness decides how fresh an answer is, from the store's watermarks
// (internal/watermark): a document's as_of is the oldest watermark among
// the data centers its rule reads, never the wall clock; beyond the
// document type's freshness bound the API does not answer from the store.
type Freshness struct {
	r *watermark.Reader
	// override, when positive, replaces every document type's bound
	// (lookup.stale_after).
	override time.Duration
}

// NewFreshness reads the watermarks of the store in pool; override, when
// positive, is the freshness bound of every document type.
func NewFreshness(pool *pgxpool.Pool, override time.Duration) *Freshness {
	return &Freshness{r: watermark.NewReader(pool), override: override}
}

// Reader is the watermark reader (metrics and readiness share it).
func (f *Freshness) Reader() *watermark.Reader { return f.r }

// Bound is the freshness bound of a document type.
func (f *Freshness) Bound(doc DocumentType) time.Duration {
	if f.override > 0 {
		return f.override
	}
	return doc.FreshnessBound()
}

// Fresh is what the store can say about an answer at now.
type Fresh struct {
	AsOf    time.Time           // zero when no data center it reads has a watermark
	Bound   time.Duration       // the document type's freshness bound
	Lagging []watermark.Lagging // beyond the bound or without a watermark: no answer
}

// Check returns the freshness of an answer of type doc whose rule read the
// records of dcs and, for what it did not find, every data center of
// agencies; the catalog's agencies of doc are always read.
func (f *Freshness) Check(ctx context.Context, doc DocumentType, dcs, agencies []string, now time.Time) (Fresh, error) {
	s, err := f.r.Snapshot(ctx)
	if err != nil {
		return Fresh{}, err
	}
	all := append(append([]string{}, doc.Agencies...), agencies...)
	bound := f.Bound(doc)
	asOf, lag := s.AsOf(dcs, all, now, bound)
	return Fresh{AsOf: asOf, Bound: bound, Lagging: lag}, nil
}

// Report lists every data center's watermark, for /v1/sources.
func (f *Freshness) Report(ctx context.Context) ([]map[string]any, error) {
	s, err := f.r.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	out := []map[string]any{}
	for dc, m := range s.Marks {
		if !m.Known() {
			// Records held, no watermark yet: stale for every answer.
			out = append(out, map[string]any{"data_center": dc, "agency": m.Agency, "stale": true})
			continue
		}
		age := s.Taken.Sub(m.At)
		out = append(out, map[string]any{"data_center": dc, "agency": m.Agency, "watermark": m.At.Format(time.RFC3339),
			"last_heard": m.At.Format(time.RFC3339), "age_seconds": int64(age.Seconds()),
			"advanced_at": m.Updated.Format(time.RFC3339), "stale": age > f.staleFor(m.Agency)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i]["data_center"].(string) < out[j]["data_center"].(string) })
	return out, nil
}

// staleFor is the shortest bound of the document types that read agency's
// data centers: past it, some answer depending on it is refused.
func (f *Freshness) staleFor(agency string) time.Duration {
	var b time.Duration
	for _, d := range Catalog {
		for _, a := range d.Agencies {
			if a == agency && (b == 0 || f.Bound(d) < b) {
				b = f.Bound(d)
			}
		}
	}
	if b == 0 {
		b = time.Hour
	}
	return b
}
