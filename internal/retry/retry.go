// Package retry is the backoff every askonce loop uses while a dependency
// (a source database, Kafka, PostgreSQL, the registry) is down: exponential
// from 100 ms, capped, with jitter, and a sleep that ends with its context.
// Every stage of the data flow waits through it rather than failing a
// record because of an outage.
package retry

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff is exponential with jitter (half fixed, half random), from 100 ms
// to Max. The zero value of the attempt count is the first attempt.
type Backoff struct {
	Max     time.Duration
	attempt int
}

// Next returns the wait before the next attempt and counts one attempt.
func (b *Backoff) Next() time.Duration {
	d := 100 * time.Millisecond << min(b.attempt, 16)
	if d > b.Max || d <= 0 {
		d = b.Max
	}
	b.attempt++
	return d/2 + rand.N(d/2+1)
}

// Reset starts again from the shortest wait, after a success.
func (b *Backoff) Reset() { b.attempt = 0 }

// Attempts is how many waits Next has handed out since the last Reset.
func (b *Backoff) Attempts() int { return b.attempt }

// Sleep waits d or until ctx ends; false when ctx ended.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
