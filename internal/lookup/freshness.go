package lookup

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Freshness knows when each data center was last heard from: the newest of
// the last record the materializer applied from it and the last successful
// read of its source by its connector. It caches one snapshot per second,
// so lookups do not each query it.
type Freshness struct {
	pool  *pgxpool.Pool
	after time.Duration
	now   func() time.Time

	mu      sync.Mutex
	at      time.Time
	heard   map[string]time.Time // data center -> last heard
	agency  map[string]string    // data center -> agency
	loadErr error
}

// NewFreshness reads the store's bookkeeping; a data center not heard from
// for after is stale.
func NewFreshness(pool *pgxpool.Pool, after time.Duration) *Freshness {
	return &Freshness{pool: pool, after: after, now: time.Now}
}

func (f *Freshness) snapshot(ctx context.Context) (map[string]time.Time, map[string]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.heard != nil && f.now().Sub(f.at) < time.Second {
		return f.heard, f.agency, f.loadErr
	}
	heard, agency := map[string]time.Time{}, map[string]string{}
	q := `SELECT data_center, agency, last_applied_at FROM source_freshness`
	var hasConnect bool
	if err := f.pool.QueryRow(ctx, `SELECT to_regclass('connect_checkpoints') IS NOT NULL`).Scan(&hasConnect); err != nil {
		return nil, nil, fmt.Errorf("freshness: %w", err)
	}
	if hasConnect {
		q += ` UNION ALL SELECT data_center, agency, heard_at FROM connect_checkpoints WHERE heard_at IS NOT NULL AND data_center IS NOT NULL`
	}
	rows, err := f.pool.Query(ctx, q)
	if err != nil {
		return nil, nil, fmt.Errorf("freshness: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var dc, ag string
		var t time.Time
		if err := rows.Scan(&dc, &ag, &t); err != nil {
			return nil, nil, fmt.Errorf("freshness: %w", err)
		}
		if t.After(heard[dc]) {
			heard[dc] = t
		}
		agency[dc] = ag
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("freshness: %w", err)
	}
	f.heard, f.agency, f.at = heard, agency, f.now()
	return heard, agency, nil
}

// Stale returns the data centers among dcs, and among all those of
// agencies, not heard from in time (sorted), and whether any agency listed
// has no data center known at all.
func (f *Freshness) Stale(ctx context.Context, dcs, agencies []string) ([]string, error) {
	heard, agency, err := f.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	now := f.now()
	var stale []string
	check := func(dc string) {
		if t, ok := heard[dc]; !ok || now.Sub(t) > f.after {
			if !slices.Contains(stale, dc) {
				stale = append(stale, dc)
			}
		}
	}
	for _, dc := range dcs {
		check(dc)
	}
	for _, a := range agencies {
		for dc, ag := range agency {
			if ag == a {
				check(dc)
			}
		}
	}
	sort.Strings(stale)
	return stale, nil
}

// Known reports, for agencies, whether any data center of theirs has
// ever been heard from (an absence is only meaningful then).
func (f *Freshness) Known(ctx context.Context, agencies []string) (bool, error) {
	_, agency, err := f.snapshot(ctx)
	if err != nil {
		return false, err
	}
	for _, ag := range agency {
		if slices.Contains(agencies, ag) {
			return true, nil
		}
	}
	return false, nil
}

// Report lists every data center's age, for /v1/sources.
func (f *Freshness) Report(ctx context.Context) ([]map[string]any, error) {
	heard, agency, err := f.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	now := f.now()
	out := []map[string]any{}
	for dc, t := range heard {
		out = append(out, map[string]any{"data_center": dc, "agency": agency[dc], "last_heard": t.UTC().Format(time.RFC3339),
			"age_seconds": int64(now.Sub(t).Seconds()), "stale": now.Sub(t) > f.after})
	}
	sort.Slice(out, func(i, j int) bool {
		return strings.Compare(out[i]["data_center"].(string), out[j]["data_center"].(string)) < 0
	})
	return out, nil
}
