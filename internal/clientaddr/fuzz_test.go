package clientaddr

import (
	"net/http"
	"testing"
)

// FuzzAddr: any forwarding header, from a trusted proxy, yields an
// address without a panic; from an untrusted peer it is never read.
func FuzzAddr(f *testing.F) {
	for _, s := range []string{"198.51.100.1", `for="[2001:db8::1]:80";proto=https, for=_x`, `for="a\"b,c`, ",,;=", "fe80::1%eth0"} {
		f.Add(s)
	}
	r, err := New([]string{"10.0.0.0/8"}, XForwardedFor)
	if err != nil {
		f.Fatal(err)
	}
	fw, err := New([]string{"10.0.0.0/8"}, Forwarded)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, h string) {
		req := &http.Request{RemoteAddr: "10.0.0.2:443", Header: http.Header{"X-Forwarded-For": {h}, "Forwarded": {h}}}
		if !r.Addr(req).IsValid() || !fw.Addr(req).IsValid() {
			t.Fatalf("no address for %q from a trusted proxy", h)
		}
		req.RemoteAddr = "203.0.113.9:443"
		if got := r.Addr(req).String(); got != "203.0.113.9" {
			t.Fatalf("untrusted peer: %s", got)
		}
		if got := fw.Addr(req).String(); got != "203.0.113.9" {
			t.Fatalf("untrusted peer: %s", got)
		}
	})
}
