package config

import (
	"net"
	"regexp"
	"strconv"
	"strings"
)

// Kubernetes gives every pod, unless its spec sets enableServiceLinks:
// false, variables for every Service of its namespace, named after the
// Service (upper case, dashes as underscores), in the style of Docker
// links. For Service askonce-registry with port 8081/TCP named http:
//
//	ASKONCE_REGISTRY_SERVICE_HOST=10.0.0.7
//	ASKONCE_REGISTRY_SERVICE_PORT=8081
//	ASKONCE_REGISTRY_SERVICE_PORT_HTTP=8081
//	ASKONCE_REGISTRY_PORT=tcp://10.0.0.7:8081
//	ASKONCE_REGISTRY_PORT_8081_TCP=tcp://10.0.0.7:8081
//	ASKONCE_REGISTRY_PORT_8081_TCP_PROTO=tcp
//	ASKONCE_REGISTRY_PORT_8081_TCP_PORT=8081
//	ASKONCE_REGISTRY_PORT_8081_TCP_ADDR=10.0.0.7
//
// Every askonce-* Service thus yields ASKONCE_* variables that are not
// configuration keys. The loader ignores a variable only when both its name
// and its value have one of these shapes, so a misspelt key is still refused.
var (
	linkHost     = regexp.MustCompile(`^[A-Z0-9_]+_SERVICE_HOST$`)
	linkSvcPort  = regexp.MustCompile(`^[A-Z0-9_]+_SERVICE_PORT(_[A-Z0-9_]+)?$`)
	linkPort     = regexp.MustCompile(`^[A-Z0-9_]+_PORT$`)
	linkPortN    = regexp.MustCompile(`^[A-Z0-9_]+_PORT_([0-9]+)_(TCP|UDP|SCTP)$`)
	linkPortNSub = regexp.MustCompile(`^[A-Z0-9_]+_PORT_([0-9]+)_(TCP|UDP|SCTP)_(PROTO|PORT|ADDR)$`)
)

// IsServiceLink reports whether name=val is a variable Kubernetes injects
// for a Service (see above), judged by the shapes of both name and value.
func IsServiceLink(name, val string) bool {
	switch {
	case linkHost.MatchString(name):
		return isIP(val)
	case linkSvcPort.MatchString(name):
		return isPort(val)
	case linkPortNSub.MatchString(name):
		m := linkPortNSub.FindStringSubmatch(name)
		switch m[3] {
		case "PROTO":
			return val == strings.ToLower(m[2])
		case "PORT":
			return val == m[1] && isPort(val)
		default: // ADDR
			return isIP(val)
		}
	case linkPortN.MatchString(name):
		m := linkPortN.FindStringSubmatch(name)
		proto, port, ok := linkURL(val)
		return ok && proto == strings.ToLower(m[2]) && port == m[1]
	case linkPort.MatchString(name):
		_, _, ok := linkURL(val)
		return ok
	}
	return false
}

// linkURL splits tcp://10.0.0.7:8081 (or udp, sctp; IPv6 in brackets).
func linkURL(val string) (proto, port string, ok bool) {
	proto, hostPort, ok := strings.Cut(val, "://")
	if !ok || (proto != "tcp" && proto != "udp" && proto != "sctp") {
		return "", "", false
	}
	host, port, err := net.SplitHostPort(hostPort)
	if err != nil || !isIP(host) || !isPort(port) {
		return "", "", false
	}
	return proto, port, true
}

func isIP(s string) bool { return net.ParseIP(s) != nil }

func isPort(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n > 0 && n <= 65535 && strconv.Itoa(n) == s
}
