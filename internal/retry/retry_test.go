package retry

import (
	"context"
	"testing"
	"time"
)

func TestBackoffGrowsAndCaps(t *testing.T) {
	b := Backoff{Max: time.Second}
	for i, lo := range []time.Duration{50, 100, 200, 400, 500, 500} {
		d := b.Next()
		lo *= time.Millisecond
		if d < lo || d > 2*lo {
			t.Fatalf("attempt %d: %s, want within [%s, %s]", i, d, lo, 2*lo)
		}
	}
	if b.Attempts() != 6 {
		t.Fatalf("attempts = %d", b.Attempts())
	}
	b.Reset()
	if d := b.Next(); d > 100*time.Millisecond {
		t.Fatalf("after reset: %s", d)
	}
}

func TestSleepEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if Sleep(ctx, time.Hour) {
		t.Fatal("Sleep waited out a cancelled context")
	}
	if !Sleep(context.Background(), time.Millisecond) {
		t.Fatal("Sleep ended early")
	}
}
