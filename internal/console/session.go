package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// session is one signed-in clerk. The API key lives here, in server
// memory only: the browser holds a random session id, never the key.
type session struct {
	id         string
	key        string
	clientID   string
	clientName string
	clerk      string
	csrf       string
	created    time.Time
	catalog    catalog

	mu      sync.Mutex
	seen    time.Time
	answers []*answer // the last few answers, newest last
	next    int
}

// maxAnswers bounds what a session keeps to show (and re-show in the
// other language): the answers are pages, not a history.
const maxAnswers = 5

func (s *session) add(a *answer) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	a.n = s.next
	s.answers = append(s.answers, a)
	if len(s.answers) > maxAnswers {
		s.answers = s.answers[len(s.answers)-maxAnswers:]
	}
	return a.n
}

func (s *session) answer(n int) *answer {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.answers {
		if a.n == n {
			return a
		}
	}
	return nil
}

var errTooManySessions = errors.New("console: too many sessions")

// sessions is the bounded, expiring session store.
type sessions struct {
	ttl, idle time.Duration
	max       int
	mu        sync.Mutex
	m         map[string]*session
}

func newSessions(ttl, idle time.Duration, max int) *sessions {
	return &sessions{ttl: ttl, idle: idle, max: max, m: map[string]*session{}}
}

// randomToken is 256 random bits, base64url.
func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b) //nolint:errcheck // crypto/rand never fails on Linux
	return base64.RawURLEncoding.EncodeToString(b)
}

func (ss *sessions) expired(s *session, now time.Time) bool {
	s.mu.Lock()
	seen := s.seen
	s.mu.Unlock()
	return now.Sub(s.created) >= ss.ttl || now.Sub(seen) >= ss.idle
}

// create opens a session; when the store is full of live sessions it
// refuses rather than evict a clerk who is working.
func (ss *sessions) create(s *session, now time.Time) error {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if len(ss.m) >= ss.max {
		for id, o := range ss.m {
			if ss.expired(o, now) {
				delete(ss.m, id)
			}
		}
		if len(ss.m) >= ss.max {
			return errTooManySessions
		}
	}
	s.id = randomToken()
	s.csrf = randomToken()
	s.created, s.seen = now, now
	ss.m[s.id] = s
	return nil
}

// get returns the live session of id and marks it seen; nil when unknown
// or expired (and then forgotten).
func (ss *sessions) get(id string, now time.Time) *session {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s := ss.m[id]
	if s == nil {
		return nil
	}
	if ss.expired(s, now) {
		delete(ss.m, id)
		return nil
	}
	s.mu.Lock()
	s.seen = now
	s.mu.Unlock()
	return s
}

func (ss *sessions) remove(id string) {
	ss.mu.Lock()
	delete(ss.m, id)
	ss.mu.Unlock()
}

func (ss *sessions) len() int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return len(ss.m)
}

// sameToken compares tokens in constant time.
func sameToken(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// clientAddr is the address a request came from, for the per-address
// limits and the logs: the TCP peer, or behind a trusted proxy the
// client it forwards for (Options.ClientAddr).
func (c *Console) clientAddr(r *http.Request) netip.Addr { return c.opt.ClientAddr.Addr(r) }
