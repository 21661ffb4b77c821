// Package clientaddr is who a request comes from, by address, for what
// is limited or logged per address (the console's sign-in attempts and
// the public /verify checks): the TCP peer, or, when that peer is a
// reverse proxy the operator trusts (lookup.trusted_proxies), the address
// that proxy says it received the request from. Limiter is the bounded
// per-address token-bucket table those limits use.
package clientaddr

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// Header names the forwarding header a trusted proxy writes.
type Header string

const (
	// XForwardedFor is "X-Forwarded-For: client, proxy1, proxy2": what
	// nginx, HAProxy, Envoy, Traefik and the cloud load balancers append to.
	XForwardedFor Header = "x-forwarded-for"
	// Forwarded is RFC 7239: "Forwarded: for=192.0.2.1;proto=https, for=\"[2001:db8::1]:443\"".
	Forwarded Header = "forwarded"
)

// Resolver finds the client address of a request. The zero value (and a
// nil *Resolver) trusts no proxy: the client is the TCP peer, and the
// forwarding headers, the caller's to write, are ignored.
type Resolver struct {
	trusted []netip.Prefix
	header  Header
}

// New trusts the proxies in cidrs (CIDR prefixes or single addresses)
// to say, in header, whom they received a request from. Only one header
// is read: a proxy that appends to X-Forwarded-For passes a Forwarded
// header written by the client through untouched, and the reverse.
func New(cidrs []string, header Header) (*Resolver, error) {
	switch header {
	case XForwardedFor, Forwarded:
	case "":
		header = XForwardedFor
	default:
		return nil, fmt.Errorf("clientaddr: unknown header %q (x-forwarded-for or forwarded)", header)
	}
	r := &Resolver{header: header}
	for _, c := range cidrs {
		p, err := ParsePrefix(c)
		if err != nil {
			return nil, err
		}
		r.trusted = append(r.trusted, p)
	}
	return r, nil
}

// ParsePrefix parses a trusted proxy: a CIDR prefix (10.0.0.0/8,
// 2001:db8::/32) or a single address (a /32 or /128).
func ParsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("clientaddr: trusted proxy %q: %w", s, err)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("clientaddr: trusted proxy %q: not an address or a CIDR prefix", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func (r *Resolver) isTrusted(a netip.Addr) bool {
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Addr is the client address of req: the TCP peer when it is not a
// trusted proxy (or none is configured); otherwise the right-most address
// of the forwarding header that is not itself a trusted proxy, each hop
// being vouched for by the trusted one to its right. An entry that is
// not an address (garbage, "unknown", an RFC 7239 obfuscated identifier)
// ends the walk at the trusted proxy that wrote it: the clients it hides
// share that proxy's address, rather than choose a fresh one per request.
// The zero Addr when RemoteAddr is not an address (a test's request).
func (r *Resolver) Addr(req *http.Request) netip.Addr {
	peer := parseHost(req.RemoteAddr)
	if r == nil || len(r.trusted) == 0 || !peer.IsValid() || !r.isTrusted(peer) {
		return peer
	}
	var hops []string
	if r.header == Forwarded {
		hops = forwardedFor(req.Header.Values("Forwarded"))
	} else {
		for _, v := range req.Header.Values("X-Forwarded-For") {
			hops = append(hops, strings.Split(v, ",")...)
		}
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a := parseHost(strings.TrimSpace(hops[i]))
		if !a.IsValid() {
			break
		}
		client = a
		if !r.isTrusted(a) {
			break
		}
	}
	return client
}

// parseHost parses an address with or without a port, IPv6 bracketed or
// not, with its zone dropped and IPv4-mapped IPv6 unmapped; the zero Addr
// when s is none of these.
func parseHost(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().WithZone("").Unmap()
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}
	}
	return a.WithZone("").Unmap()
}

// forwardedFor is the for= value of each element of RFC 7239 Forwarded
// header values, in order; "" for an element without one. Quoted strings
// may hold commas, semicolons and escapes.
func forwardedFor(values []string) []string {
	var out []string
	for _, v := range values {
		for _, elem := range splitQuoted(v, ',') {
			var val string
			for _, pair := range splitQuoted(elem, ';') {
				k, x, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if ok && strings.EqualFold(strings.TrimSpace(k), "for") {
					val = unquote(strings.TrimSpace(x))
				}
			}
			out = append(out, val)
		}
	}
	return out
}

// splitQuoted splits s at sep outside double quotes.
func splitQuoted(s string, sep byte) []string {
	var parts []string
	start, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case c == sep && !quoted:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

func unquote(s string) string {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return s
	}
	var b strings.Builder
	for i := 1; i < len(s)-1; i++ {
		if s[i] == '\\' && i+1 < len(s)-1 {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Key is what a per-address limit counts by: an IPv4 address, or the /64
// of an IPv6 address (one subscriber's network: a host picks any of its
// 2^64 addresses at will). The zero Prefix for the zero Addr.
func Key(a netip.Addr) netip.Prefix {
	if !a.IsValid() {
		return netip.Prefix{}
	}
	a = a.WithZone("").Unmap()
	bits := 32
	if a.Is6() {
		bits = 64
	}
	p, _ := a.Prefix(bits)
	return p
}
