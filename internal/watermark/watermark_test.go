package watermark

import (
	"testing"
	"time"
)

func TestAsOf(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	mark := func(agency, dc string, ago time.Duration) Mark {
		return Mark{Agency: agency, DataCenter: dc, At: now.Add(-ago), Updated: now.Add(-ago)}
	}
	s := Snapshot{Taken: now, Marks: map[string]Mark{
		"etatcivil-dc01": mark("etatcivil", "etatcivil-dc01", 10*time.Second),
		"etatcivil-dc02": mark("etatcivil", "etatcivil-dc02", 40*time.Second),
		"cnas-dc01":      mark("cnas", "cnas-dc01", time.Hour),
	}}
	asOf, lag := s.AsOf(nil, []string{"etatcivil"}, now, time.Minute)
	if !asOf.Equal(now.Add(-40*time.Second)) || len(lag) != 0 {
		t.Errorf("as_of %s, lagging %v: want the oldest of the agency's data centers, none lagging", asOf, lag)
	}
	if _, lag := s.AsOf(nil, []string{"etatcivil"}, now, 30*time.Second); len(lag) != 1 || lag[0].DataCenter != "etatcivil-dc02" || lag[0].AgeSeconds != 40 {
		t.Errorf("beyond the bound: %v", lag)
	}
	// A data center whose records are stored but which has no watermark
	// yet: nothing can be claimed as of any instant for its agency.
	s.Marks["etatcivil-dc03"] = Mark{Agency: "etatcivil", DataCenter: "etatcivil-dc03"}
	if _, lag := s.AsOf(nil, []string{"etatcivil"}, now, time.Hour); len(lag) != 1 || lag[0].DataCenter != "etatcivil-dc03" || lag[0].Watermark != "" {
		t.Errorf("a data center without a watermark: %v", lag)
	}
	// The funds are one group: cacobatph unconnected is fine, cnas counts.
	if asOf, lag := s.AsOf(nil, []string{"cnas", "casnos", "cacobatph"}, now, 2*time.Hour); len(lag) != 0 || !asOf.Equal(now.Add(-time.Hour)) {
		t.Errorf("funds: %s %v", asOf, lag)
	}
	// A group none of whose data centers is known at all.
	if _, lag := s.AsOf(nil, []string{"casnos", "cacobatph"}, now, time.Hour); len(lag) != 1 || lag[0].DataCenter != "cacobatph|casnos-*" {
		t.Errorf("unknown group: %v", lag)
	}
	// A record's data center that the store does not know.
	if _, lag := s.AsOf([]string{"etatcivil-dc09"}, nil, now, time.Hour); len(lag) != 1 || lag[0].DataCenter != "etatcivil-dc09" {
		t.Errorf("unknown data center of a record: %v", lag)
	}
}
