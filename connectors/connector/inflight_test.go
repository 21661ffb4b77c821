package connector

import (
	"context"
	"testing"
	"time"
)

// The in-flight slots bound the batches all runners of a process hold.
func TestInFlightSlots(t *testing.T) {
	p := &Publisher{inflight: make(chan struct{}, 2)}
	ctx := context.Background()
	for i := range 2 {
		if !p.acquire(ctx) {
			t.Fatalf("slot %d of 2 not granted", i+1)
		}
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if p.acquire(short) {
		t.Fatal("a third slot was granted past the bound")
	}
	got := make(chan bool)
	go func() { got <- p.acquire(ctx) }()
	select {
	case <-got:
		t.Fatal("acquire did not wait for a release")
	case <-time.After(20 * time.Millisecond):
	}
	p.release()
	if !<-got {
		t.Fatal("a released slot was not granted")
	}
	// A Publisher without slots (built by hand) does not block.
	var free Publisher
	for range 3 {
		if !free.acquire(short) {
			t.Fatal("unbounded publisher blocked")
		}
		free.release()
	}
}
