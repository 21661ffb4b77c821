package ops

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestHealth(t *testing.T) {
	down := errors.New("connection refused")
	for _, tc := range []struct {
		name string
		h    *Health
		sets []error
		want string // "" for healthy
	}{
		{"zero value before any attempt", &Health{}, nil, ""},
		{"zero value after a failure", &Health{}, []error{down}, "connection refused"},
		{"recovered", &Health{}, []error{down, nil}, ""},
		{"starting", &Health{Starting: true}, nil, "starting"},
		{"starting, failing", &Health{Starting: true, Name: "pgoutbox/cnas/dc01"}, []error{down}, "pgoutbox/cnas/dc01: connection refused"},
		{"started", &Health{Starting: true}, []error{nil}, ""},
		{"failing after a success", &Health{Starting: true, Name: "x"}, []error{nil, down}, "x: connection refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, err := range tc.sets {
				tc.h.Set(err)
			}
			err := tc.h.Check(context.Background())
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Check = %v, want healthy", err)
			case tc.want != "" && (err == nil || err.Error() != tc.want):
				t.Fatalf("Check = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestHealthObserve(t *testing.T) {
	var ups []bool
	h := &Health{Observe: func(err error, at time.Time) { ups = append(ups, err == nil) }}
	if !h.LastOK().IsZero() {
		t.Fatal("LastOK before any success")
	}
	h.Set(nil)
	h.Set(errors.New("x"))
	if len(ups) != 2 || !ups[0] || ups[1] {
		t.Fatalf("observed %v, want [true false]", ups)
	}
	if h.LastOK().IsZero() {
		t.Fatal("LastOK not set by a success")
	}
}
