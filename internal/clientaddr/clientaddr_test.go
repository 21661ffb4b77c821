package clientaddr

import (
	"net/http"
	"net/netip"
	"testing"
	"time"
)

func TestAddr(t *testing.T) {
	proxies := []string{"10.0.0.0/8", "192.0.2.7", "2001:db8:ffff::/48"}
	tests := []struct {
		name    string
		trusted []string // nil: proxies
		header  Header
		peer    string
		hdrs    map[string][]string
		want    string
	}{
		{name: "no proxy trusted: the peer, headers ignored", trusted: []string{},
			peer: "203.0.113.9:5000", hdrs: map[string][]string{"X-Forwarded-For": {"198.51.100.1"}}, want: "203.0.113.9"},
		{name: "spoofed XFF from an untrusted peer",
			peer: "203.0.113.9:5000", hdrs: map[string][]string{"X-Forwarded-For": {"10.1.1.1, 198.51.100.1"}}, want: "203.0.113.9"},
		{name: "spoofed Forwarded from an untrusted peer", header: Forwarded,
			peer: "203.0.113.9:5000", hdrs: map[string][]string{"Forwarded": {"for=198.51.100.1"}}, want: "203.0.113.9"},
		{name: "trusted proxy, one hop",
			peer: "10.0.0.2:443", hdrs: map[string][]string{"X-Forwarded-For": {"198.51.100.1"}}, want: "198.51.100.1"},
		{name: "trusted proxy, no header: the proxy",
			peer: "10.0.0.2:443", want: "10.0.0.2"},
		{name: "client-written entries left of the real one are ignored",
			peer: "10.0.0.2:443", hdrs: map[string][]string{"X-Forwarded-For": {"1.2.3.4, 5.6.7.8, 198.51.100.1"}}, want: "198.51.100.1"},
		{name: "multiple trusted hops",
			peer: "10.0.0.2:443", hdrs: map[string][]string{"X-Forwarded-For": {"1.2.3.4, 198.51.100.1, 192.0.2.7, 10.9.9.9"}}, want: "198.51.100.1"},
		{name: "multiple header lines are one list",
			peer: "10.0.0.2:443", hdrs: map[string][]string{"X-Forwarded-For": {"1.2.3.4, 198.51.100.1", "10.9.9.9"}}, want: "198.51.100.1"},
		{name: "every hop trusted: the left-most",
			peer: "10.0.0.2:443", hdrs: map[string][]string{"X-Forwarded-For": {"10.3.3.3, 10.9.9.9"}}, want: "10.3.3.3"},
		{name: "garbage right of the client: the proxy that wrote it",
			peer: "10.0.0.2:443", hdrs: map[string][]string{"X-Forwarded-For": {"198.51.100.1, <script>, 10.9.9.9"}}, want: "10.9.9.9"},
		{name: "garbage only",
			peer: "10.0.0.2:443", hdrs: map[string][]string{"X-Forwarded-For": {"not an address"}}, want: "10.0.0.2"},
		{name: "empty entries",
			peer: "10.0.0.2:443", hdrs: map[string][]string{"X-Forwarded-For": {",,"}}, want: "10.0.0.2"},
		{name: "XFF with ports and brackets",
			peer: "10.0.0.2:443", hdrs: map[string][]string{"X-Forwarded-For": {"[2001:db8:1::5]:4711"}}, want: "2001:db8:1::5"},
		{name: "IPv6 with a zone: the zone dropped",
			peer: "10.0.0.2:443", hdrs: map[string][]string{"X-Forwarded-For": {"fe80::1%eth0"}}, want: "fe80::1"},
		{name: "IPv6 peer with a zone, untrusted",
			peer: "[fe80::2%eth0]:443", want: "fe80::2"},
		{name: "IPv4-mapped IPv6 is IPv4",
			peer: "10.0.0.2:443", hdrs: map[string][]string{"X-Forwarded-For": {"::ffff:198.51.100.1"}}, want: "198.51.100.1"},
		{name: "trusted IPv6 proxy",
			peer: "[2001:db8:ffff::1]:443", hdrs: map[string][]string{"X-Forwarded-For": {"2001:db8:1::5"}}, want: "2001:db8:1::5"},
		{name: "XFF ignored when Forwarded is the header", header: Forwarded,
			peer: "10.0.0.2:443", hdrs: map[string][]string{"X-Forwarded-For": {"198.51.100.1"}}, want: "10.0.0.2"},
		{name: "Forwarded ignored when X-Forwarded-For is the header",
			peer: "10.0.0.2:443", hdrs: map[string][]string{"Forwarded": {"for=198.51.100.1"}}, want: "10.0.0.2"},
		{name: "Forwarded, one hop", header: Forwarded,
			peer: "10.0.0.2:443", hdrs: map[string][]string{"Forwarded": {"for=198.51.100.1;proto=https;by=10.0.0.2"}}, want: "198.51.100.1"},
		{name: "Forwarded, quoted IPv6 with port, case-insensitive key", header: Forwarded,
			peer: "10.0.0.2:443", hdrs: map[string][]string{"Forwarded": {`FOR="[2001:db8:1::5]:4711"`}}, want: "2001:db8:1::5"},
		{name: "Forwarded, several hops and lines", header: Forwarded,
			peer: "10.0.0.2:443", hdrs: map[string][]string{"Forwarded": {"for=1.2.3.4, for=198.51.100.1", "for=192.0.2.7;proto=http"}}, want: "198.51.100.1"},
		{name: "Forwarded, obfuscated identifier: the proxy that wrote it", header: Forwarded,
			peer: "10.0.0.2:443", hdrs: map[string][]string{"Forwarded": {`for=198.51.100.1, for=_hidden, for="_abc:_port"`}}, want: "10.0.0.2"},
		{name: "Forwarded, unknown", header: Forwarded,
			peer: "10.0.0.2:443", hdrs: map[string][]string{"Forwarded": {"for=unknown"}}, want: "10.0.0.2"},
		{name: "Forwarded, an element without for", header: Forwarded,
			peer: "10.0.0.2:443", hdrs: map[string][]string{"Forwarded": {"for=198.51.100.1, proto=https"}}, want: "10.0.0.2"},
		{name: "Forwarded, comma and semicolon in a quoted string", header: Forwarded,
			peer: "10.0.0.2:443", hdrs: map[string][]string{"Forwarded": {`for=198.51.100.1;host="a,b;for=1.2.3.4"`}}, want: "198.51.100.1"},
		{name: "Forwarded, unterminated quote", header: Forwarded,
			peer: "10.0.0.2:443", hdrs: map[string][]string{"Forwarded": {`for="198.51.100.1`}}, want: "10.0.0.2"},
		{name: "Forwarded, escaped quote", header: Forwarded,
			peer: "10.0.0.2:443", hdrs: map[string][]string{"Forwarded": {`for="1.2.3.4\", for=5.6.7.8"`}}, want: "10.0.0.2"},
		{name: "peer not an address",
			peer: "pipe", hdrs: map[string][]string{"X-Forwarded-For": {"198.51.100.1"}}, want: "invalid IP"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			trusted := tc.trusted
			if trusted == nil {
				trusted = proxies
			}
			r, err := New(trusted, tc.header)
			if err != nil {
				t.Fatal(err)
			}
			req := &http.Request{RemoteAddr: tc.peer, Header: http.Header{}}
			for k, vs := range tc.hdrs {
				for _, v := range vs {
					req.Header.Add(k, v)
				}
			}
			if got := r.Addr(req).String(); got != tc.want {
				t.Errorf("Addr = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestNilResolver(t *testing.T) {
	var r *Resolver
	req := &http.Request{RemoteAddr: "10.0.0.2:443", Header: http.Header{"X-Forwarded-For": {"198.51.100.1"}}}
	if got := r.Addr(req).String(); got != "10.0.0.2" {
		t.Errorf("Addr = %s, want the peer", got)
	}
}

func TestNew(t *testing.T) {
	for _, bad := range [][]string{{"10.0.0.0/33"}, {"proxy.example"}, {"fe80::1%eth0"}, {""}} {
		if _, err := New(bad, ""); err == nil {
			t.Errorf("New(%q) accepted", bad)
		}
	}
	if _, err := New(nil, "x-real-ip"); err == nil {
		t.Error("an unknown header was accepted")
	}
	if _, err := New([]string{" 10.0.0.1 ", "10.1.2.3/8", "::1"}, Forwarded); err != nil {
		t.Error(err)
	}
}

func TestKey(t *testing.T) {
	for in, want := range map[string]string{
		"198.51.100.1":         "198.51.100.1/32",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1": "2001:db8:1:2::/64",
		"fe80::1%eth0":         "fe80::/64",
		"::ffff:198.51.100.1":  "198.51.100.1/32",
		"2001:db8:1:3::1":      "2001:db8:1:3::/64",
	} {
		if got := Key(netip.MustParseAddr(in)).String(); got != want {
			t.Errorf("Key(%s) = %s, want %s", in, got, want)
		}
	}
}

// TestLimiterLRU: the table stays within its bound by dropping the least
// recently seen address; an address in use keeps its (empty) bucket
// however many new addresses come.
func TestLimiterLRU(t *testing.T) {
	now := time.Unix(1e9, 0)
	l := NewLimiter(0.001, 1, 3)
	busy := netip.MustParseAddr("198.51.100.1")
	if !l.Allow(busy, now) || l.Allow(busy, now) {
		t.Fatal("burst 1: first allowed, second refused")
	}
	for i := range 100 {
		a := netip.AddrFrom4([4]byte{203, 0, 113, byte(i)})
		if !l.Allow(a, now) {
			t.Fatalf("new address %s refused", a)
		}
		if l.Allow(busy, now) {
			t.Fatalf("after %d new addresses the limited one got a fresh bucket", i+1)
		}
		if n := l.Len(); n > 3 {
			t.Fatalf("table holds %d addresses, bound 3", n)
		}
	}
	// The least recently seen went: 203.0.113.97 is older than .98, .99, busy.
	if l.Allow(netip.AddrFrom4([4]byte{203, 0, 113, 98}), now) {
		t.Fatal("203.0.113.98, among the 3 most recent, lost its bucket")
	}
	if !l.Allow(netip.AddrFrom4([4]byte{203, 0, 113, 97}), now) {
		t.Fatal("the evicted address was not given a fresh bucket")
	}
	// IPv6: one bucket per /64.
	a1, a2 := netip.MustParseAddr("2001:db8:1:2::1"), netip.MustParseAddr("2001:db8:1:2:ffff::9")
	if !l.Allow(a1, now) || l.Allow(a2, now) {
		t.Fatal("two addresses of one /64 do not share a bucket")
	}
}

func TestLimiterBurstRefill(t *testing.T) {
	now := time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC)
	l := NewLimiter(1, 3, 2)
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	for i := 0; i < 3; i++ {
		if !l.Allow(a, now) {
			t.Fatalf("call %d within the burst refused", i)
		}
	}
	if l.Allow(a, now) {
		t.Error("call past the burst allowed")
	}
	if !l.Allow(b, now) {
		t.Error("another address shares the bucket")
	}
	if !l.Allow(a, now.Add(1100*time.Millisecond)) {
		t.Error("no refill after a second")
	}
}

// TestLimiterRetryAfter: a refusal says when the bucket holds a token again
// (whole seconds, rounded up, at least 1), and a request made then passes
// while one made a little earlier does not.
func TestLimiterRetryAfter(t *testing.T) {
	now := time.Unix(1e9, 0)
	a := netip.MustParseAddr("198.51.100.7")
	for _, c := range []struct {
		rate float64
		want int
	}{{0.25, 4}, {0.3, 4}, {1, 1}, {50, 1}} {
		l := NewLimiter(c.rate, 1, 8)
		if ok, _ := l.Take(a, now); !ok {
			t.Fatalf("rate %v: the first request was refused", c.rate)
		}
		ok, ra := l.Take(a, now)
		if ok || ra != c.want {
			t.Errorf("rate %v: second request at once: allowed %v, Retry-After %d, want refused, %d", c.rate, ok, ra, c.want)
		}
		early := now.Add(time.Duration(float64(time.Second) / c.rate * 0.9))
		if ok, ra2 := l.Take(a, early); ok || ra2 < 1 {
			t.Errorf("rate %v: a request before the bucket refilled: allowed %v, Retry-After %d", c.rate, ok, ra2)
		}
		if ok, _ := l.Take(a, now.Add(time.Duration(ra)*time.Second)); !ok {
			t.Errorf("rate %v: refused again after Retry-After (%d s)", c.rate, ra)
		}
	}
}
