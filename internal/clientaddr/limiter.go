package clientaddr

import (
	"container/list"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiter is a token bucket per client address (by Key), in a table of at
// most max entries: when it is full, the least recently seen address's
// bucket is dropped. Clearing the whole table instead would hand every
// address, the one being limited included, a full bucket each time a
// flood of new addresses filled it.
type Limiter struct {
	rate  rate.Limit
	burst int
	max   int

	mu  sync.Mutex
	m   map[netip.Prefix]*list.Element
	lru list.List // of *entry, most recently seen first
}

type entry struct {
	key netip.Prefix
	b   *rate.Limiter
}

// NewLimiter allows each address r requests per second with burst,
// remembering at most size addresses.
func NewLimiter(r float64, burst, size int) *Limiter {
	return &Limiter{rate: rate.Limit(r), burst: burst, max: max(size, 1), m: map[netip.Prefix]*list.Element{}}
}

// Allow spends a token of a's bucket at now; false when it has none.
func (l *Limiter) Allow(a netip.Addr, now time.Time) bool {
	ok, _ := l.Take(a, now)
	return ok
}

// Take spends a token of a's bucket at now. When it has none, it says how
// long until it has one: the Retry-After of the refusal, in whole seconds
// rounded up (at least one), as HTTP says it.
func (l *Limiter) Take(a netip.Addr, now time.Time) (ok bool, retryAfter int) {
	k := Key(a)
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.m[k]
	if e != nil {
		l.lru.MoveToFront(e)
	} else {
		if l.lru.Len() >= l.max {
			old := l.lru.Back()
			l.lru.Remove(old)
			delete(l.m, old.Value.(*entry).key)
		}
		e = l.lru.PushFront(&entry{key: k, b: rate.NewLimiter(l.rate, l.burst)})
		l.m[k] = e
	}
	b := e.Value.(*entry).b
	if b.AllowN(now, 1) {
		return true, 0
	}
	return false, RetryAfter(b, now)
}

// RetryAfter is the time until b holds a whole token at its refill rate, in
// seconds rounded up, at least 1 (Retry-After is a whole number of seconds,
// and 0 would invite an immediate retry). The estimate is checked against
// the bucket itself, so that floating-point error never makes it short.
func RetryAfter(b *rate.Limiter, now time.Time) int {
	missing := 1 - b.TokensAt(now)
	if missing <= 0 || b.Limit() <= 0 || b.Limit() == rate.Inf {
		return 1
	}
	wait := time.Duration(missing / float64(b.Limit()) * float64(time.Second)).Round(time.Millisecond)
	secs := max(1, int((wait+time.Second-1)/time.Second))
	for i := 0; i < 3 && b.TokensAt(now.Add(time.Duration(secs)*time.Second)) < 1; i++ {
		secs++
	}
	return secs
}

// Len is the number of addresses remembered.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lru.Len()
}
