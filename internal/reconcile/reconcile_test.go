package reconcile

import (
	"slices"
	"testing"
)

// keepFirst keeps the first keys in order, whatever order they come in.
func TestKeepFirst(t *testing.T) {
	var keys []string
	for _, k := range []string{"death/9", "death/3", "birth/7", "death/1", "birth/2", "marriage/5", "birth/1", "death/3"} {
		keys = keepFirst(keys, k)
	}
	if want := []string{"birth/1", "birth/2", "birth/7", "death/1", "death/3"}; !slices.Equal(keys, want) {
		t.Fatalf("keepFirst = %v, want %v", keys, want)
	}
}

// Lag is what a consumer can wait for: extra records are not.
func TestLagLeavesExtraOut(t *testing.T) {
	r := Report{Missing: 3, Behind: 2, Extra: 7, Unknown: 6}
	if r.Lag() != 5 || r.Clean() {
		t.Fatalf("Lag() = %d, Clean() = %v", r.Lag(), r.Clean())
	}
}
