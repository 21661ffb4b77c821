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
	return e.Value.(*entry).b.AllowN(now, 1)
}

// Len is the number of addresses remembered.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lru.Len()
}
