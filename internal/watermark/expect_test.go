package watermark_test

import (
	"context"
	"testing"
	"time"

	"github.com/askonce/askonce/internal/dbroles"
	"github.com/askonce/askonce/internal/materialize"
	"github.com/askonce/askonce/internal/testenv"
	"github.com/askonce/askonce/internal/watermark"
)

// TestExpectedDataCenters: a data center the API expects
// (lookup.data_centers) but that has published nothing yet keeps its
// agency's answers from claiming an as_of, where without the expectation
// only the data centers the store has heard of would count; once it has a
// watermark, the as_of is the oldest of them all.
func TestExpectedDataCenters(t *testing.T) {
	ctx := testenv.Ctx(t, time.Minute)
	db := testenv.Database(t, materialize.Migrate)
	mat := db.Pool(t, dbroles.Materialize)
	now := time.Now().UTC().Truncate(time.Second)
	put := func(dc string, at time.Time) {
		_, err := mat.Exec(ctx, `INSERT INTO store_watermarks (agency, data_center, watermark) VALUES ('etatcivil', $1, $2)
ON CONFLICT (data_center) DO UPDATE SET watermark = excluded.watermark`, dc, at)
		testenv.Must(t, err, "watermark of %s", dc)
	}
	put("etatcivil-dc02", now.Add(-5*time.Second))

	api := db.Pool(t, dbroles.API)
	unaware := watermark.NewReader(api)
	aware := watermark.NewReader(api)
	aware.Expect("etatcivil", "etatcivil-dc01")
	aware.Expect("etatcivil", "etatcivil-dc02")
	snap := func(r *watermark.Reader) watermark.Snapshot {
		s, err := r.Snapshot(context.Background())
		testenv.Must(t, err, "snapshot")
		return s
	}
	if asOf, lag := snap(unaware).AsOf(nil, []string{"etatcivil"}, now, time.Hour); len(lag) != 0 || !asOf.Equal(now.Add(-5*time.Second)) {
		t.Fatalf("without expectations: as_of %s, lagging %v (the store knows only dc02)", asOf, lag)
	}
	asOf, lag := snap(aware).AsOf(nil, []string{"etatcivil"}, now, time.Hour)
	if len(lag) != 1 || lag[0].DataCenter != "etatcivil-dc01" || lag[0].Watermark != "" {
		t.Fatalf("dc01 expected, never heard from: as_of %s, lagging %v; want dc01 lagging without a watermark", asOf, lag)
	}
	put("etatcivil-dc01", now.Add(-20*time.Second))
	time.Sleep(1100 * time.Millisecond) // the reader caches a snapshot for a second
	if asOf, lag := snap(aware).AsOf(nil, []string{"etatcivil"}, now, time.Hour); len(lag) != 0 || !asOf.Equal(now.Add(-20*time.Second)) {
		t.Fatalf("both heard from: as_of %s, lagging %v; want the older, dc01's", asOf, lag)
	}
}
