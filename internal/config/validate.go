package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

var (
	agencyRe     = regexp.MustCompile(`^[a-z][a-z0-9-]{1,31}$`)
	dataCenterRe = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	identRe      = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)
)

// Validate checks every value and returns all problems at once, each naming
// the key and, where it helps, the environment variable that sets it.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s (%s): %s", key, EnvName(key), fmt.Sprintf(format, args...)))
	}
	oneOf := func(key, val string, allowed ...string) {
		if !slices.Contains(allowed, val) {
			bad(key, "must be one of %s, got %q", strings.Join(allowed, ", "), val)
		}
	}
	hostPort := func(key, val string, allowEmpty bool) {
		if val == "" && allowEmpty {
			return
		}
		if _, port, err := net.SplitHostPort(val); err != nil {
			bad(key, "must be host:port, got %q", val)
		} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
			bad(key, "port must be 0-65535, got %q", port)
		}
	}
	atLeast := func(key string, val, min int) {
		if val < min {
			bad(key, "must be >= %d, got %d", min, val)
		}
	}
	nonNegative := func(key string, d time.Duration) {
		if d < 0 {
			bad(key, "must not be negative, got %s", d)
		}
	}

	oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	oneOf("log.format", c.Log.Format, "auto", "text", "json")
	hostPort("ops.listen", c.Ops.Listen, true)
	if c.Ops.ShutdownTimeout <= 0 {
		bad("ops.shutdown_timeout", "must be positive, got %s", c.Ops.ShutdownTimeout)
	}

	if len(c.Kafka.Brokers) == 0 {
		bad("kafka.brokers", "at least one broker is needed")
	}
	for _, b := range c.Kafka.Brokers {
		hostPort("kafka.brokers", strings.TrimSpace(b), false)
	}
	if c.Kafka.ClientID == "" {
		bad("kafka.client_id", "must not be empty")
	}
	if c.Kafka.DialTimeout <= 0 {
		bad("kafka.dial_timeout", "must be positive, got %s", c.Kafka.DialTimeout)
	}
	if c.Connect.SASLPasswordDir != "" && c.Kafka.SASL.Username == "" && c.Kafka.SASL.Password == "" {
		// `askonce connect` with every data center's own principal: the
		// process connects as one of them (connectwire.Run).
		c.Kafka.SASL.validate("kafka.sasl", func(key, format string, args ...any) {
			if key != "kafka.sasl.username" {
				bad(key, format, args...)
			}
		})
	} else {
		c.Kafka.SASL.validate("kafka.sasl", bad)
	}
	if (c.Kafka.TLS.CertFile == "") != (c.Kafka.TLS.KeyFile == "") {
		bad("kafka.tls.cert_file", "cert_file and key_file go together")
	}
	if !c.Kafka.TLS.Enabled && (c.Kafka.TLS.CAFile != "" || c.Kafka.TLS.CertFile != "") {
		bad("kafka.tls.enabled", "TLS files are set but kafka.tls.enabled is false")
	}

	t := c.Kafka.Topics
	if t.Prefix != "" && !regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`).MatchString(t.Prefix) {
		bad("kafka.topics.prefix", "may hold only letters, digits, '.', '_' and '-', got %q", t.Prefix)
	}
	atLeast("kafka.topics.replication_factor", t.ReplicationFactor, 1)
	atLeast("kafka.topics.record_partitions", t.RecordPartitions, 1)
	atLeast("kafka.topics.dlq_partitions", t.DLQPartitions, 1)
	atLeast("kafka.topics.audit_partitions", t.AuditPartitions, 1)
	nonNegative("kafka.topics.audit_retention", t.AuditRetention)
	atLeast("kafka.topics.notify_partitions", t.NotifyPartitions, 1)
	nonNegative("kafka.topics.record_retention", t.RecordRetention)
	nonNegative("kafka.topics.dlq_retention", t.DLQRetention)
	nonNegative("kafka.topics.notify_retention", t.NotifyRetention)
	for _, a := range t.Agencies {
		if !agencyRe.MatchString(a) {
			bad("kafka.topics.agencies", "agency codes are lower-case letters, digits and '-', got %q", a)
		}
	}

	hostPort("broker.listen", c.Broker.Listen, false)
	if c.Broker.DataDir == "" {
		bad("broker.data_dir", "must not be empty")
	}
	atLeast("broker.default_partitions", c.Broker.DefaultPartitions, 1)
	c.Broker.SASL.validate("broker.sasl", bad)
	if (c.Broker.TLSCertFile == "") != (c.Broker.TLSKeyFile == "") {
		bad("broker.tls_cert_file", "tls_cert_file and tls_key_file go together")
	}

	if c.Postgres.URL != "" {
		u, err := url.Parse(c.Postgres.URL)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			bad("postgres.url", "must be a postgres:// URL")
		}
	}
	atLeast("postgres.max_conns", c.Postgres.MaxConns, 1)
	if c.Postgres.Dev.Dir == "" {
		bad("postgres.dev.dir", "must not be empty")
	}
	if c.Postgres.Dev.Port < 1 || c.Postgres.Dev.Port > 65535 {
		bad("postgres.dev.port", "must be 1-65535, got %d", c.Postgres.Dev.Port)
	}
	if net.ParseIP(c.Postgres.Dev.Host) == nil && c.Postgres.Dev.Host != "localhost" {
		bad("postgres.dev.host", "must be an IP address or localhost, got %q", c.Postgres.Dev.Host)
	}

	if u, err := url.Parse(c.Registry.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("registry.url", "must be an http(s) URL, got %q", c.Registry.URL)
	} else if u.User != nil {
		bad("registry.url", "must not hold credentials: use registry.username and registry.password")
	}
	if c.Registry.Timeout <= 0 {
		bad("registry.timeout", "must be positive, got %s", c.Registry.Timeout)
	}
	hostPort("registry.listen", c.Registry.Listen, false)
	oneOf("registry.compatibility", c.Registry.Compatibility,
		"BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE", "NONE")
	if c.Registry.RequireAuth && (c.Registry.Username == "" || c.Registry.Password == "") {
		bad("registry.require_auth", "needs registry.username and registry.password")
	}

	pgURL := func(key, val string) {
		if val == "" {
			return
		}
		if u, err := url.Parse(val); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			bad(key, "must be a postgres:// URL")
		}
	}
	pgURL("connect.sources_url", c.Connect.SourcesURL)
	atLeast("connect.batch_size", c.Connect.BatchSize, 1)
	if c.Connect.PollInterval <= 0 {
		bad("connect.poll_interval", "must be positive, got %s", c.Connect.PollInterval)
	}
	if c.Connect.MaxBackoff < time.Second {
		bad("connect.max_backoff", "must be at least 1s, got %s", c.Connect.MaxBackoff)
	}
	nonNegative("connect.prune_after", c.Connect.PruneAfter)
	if c.Connect.SASLPasswordDir != "" && (c.Kafka.SASL.Mechanism == "none" || c.Kafka.SASL.Mechanism == "") {
		bad("connect.sasl_password_dir", "needs kafka.sasl.mechanism plain, scram-sha-256 or scram-sha-512: the connectors' own principals authenticate with it")
	}
	seen := map[string]string{}
	instance := func(key, kind, agency, dc string) {
		if !agencyRe.MatchString(agency) {
			bad(key+".agency", "must be a lower-case agency code, got %q", agency)
		}
		if !dataCenterRe.MatchString(dc) {
			bad(key+".data_center", "must be lower-case letters, digits and '-', got %q", dc)
		}
		id := kind + ":" + dc
		if prev, dup := seen[id]; dup {
			bad(key, "data center %s already has a %s connector (%s)", dc, kind, prev)
		}
		seen[id] = key
	}
	for i, s := range c.Connect.PGOutbox {
		key := fmt.Sprintf("connect.pgoutbox[%d]", i)
		instance(key, "pgoutbox", s.Agency, s.DataCenter)
		pgURL(key+".url", s.URL)
		if s.Schema != "" && !identRe.MatchString(s.Schema) {
			bad(key+".schema", "must be a plain SQL identifier, got %q", s.Schema)
		}
	}
	for i, s := range c.Connect.CSVDrop {
		key := fmt.Sprintf("connect.csvdrop[%d]", i)
		instance(key, "csvdrop", s.Agency, s.DataCenter)
		if s.Dir == "" {
			bad(key+".dir", "must not be empty")
		}
	}

	if c.Materialize.GroupID == "" {
		bad("materialize.group_id", "must not be empty")
	}
	atLeast("materialize.batch_size", c.Materialize.BatchSize, 1)
	if c.Materialize.BatchWait <= 0 {
		bad("materialize.batch_wait", "must be positive, got %s", c.Materialize.BatchWait)
	}
	if c.Materialize.MaxBackoff < time.Second {
		bad("materialize.max_backoff", "must be at least 1s, got %s", c.Materialize.MaxBackoff)
	}
	if c.Materialize.StallTimeout < 10*time.Second {
		bad("materialize.stall_timeout", "must be at least 10s, got %s", c.Materialize.StallTimeout)
	}

	if c.Notify.GroupID == "" {
		bad("notify.group_id", "must not be empty")
	}
	if c.Notify.GroupID == c.Materialize.GroupID {
		bad("notify.group_id", "must differ from materialize.group_id (the router is its own consumer group)")
	}
	atLeast("notify.batch_size", c.Notify.BatchSize, 1)
	if c.Notify.BatchWait <= 0 {
		bad("notify.batch_wait", "must be positive, got %s", c.Notify.BatchWait)
	}
	if c.Notify.MaxBackoff < time.Second {
		bad("notify.max_backoff", "must be at least 1s, got %s", c.Notify.MaxBackoff)
	}

	hostPort("lookup.listen", c.Lookup.Listen, false)
	if c.Lookup.PolicyPoll < 0 {
		bad("lookup.policy_poll", "must be 0 (reload on SIGHUP only) or positive, got %s", c.Lookup.PolicyPoll)
	}
	for _, dc := range c.Lookup.DataCenters {
		if a, d, ok := strings.Cut(dc, "/"); !ok || !agencyRe.MatchString(a) || d == "" || strings.ContainsAny(d, "/ ") {
			bad("lookup.data_centers", "each entry is agency/data_center (cnas/cnas-dc03), got %q", dc)
		}
	}
	if c.Lookup.StaleAfter < 0 {
		bad("lookup.stale_after", "must be 0 (the catalog's bounds) or positive, got %s", c.Lookup.StaleAfter)
	}
	if c.Lookup.FrozenAfter < 0 {
		bad("lookup.frozen_after", "must be 0 (no check) or positive, got %s", c.Lookup.FrozenAfter)
	}
	if c.Materialize.FrozenAfter < 0 {
		bad("materialize.frozen_after", "must be 0 (no check) or positive, got %s", c.Materialize.FrozenAfter)
	}
	if c.Materialize.WatermarkHistory < time.Hour {
		bad("materialize.watermark_history", "must be at least 1h, got %s", c.Materialize.WatermarkHistory)
	}
	if c.Lookup.SigningKeysDir == "" {
		bad("lookup.signing_keys_dir", "must not be empty")
	}
	if c.Lookup.RequestTimeout <= 0 {
		bad("lookup.request_timeout", "must be positive, got %s", c.Lookup.RequestTimeout)
	}
	if c.Lookup.MaxBodyBytes < 256 {
		bad("lookup.max_body_bytes", "must be at least 256, got %d", c.Lookup.MaxBodyBytes)
	}
	if u := c.Lookup.PublicURL; u != "" {
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || pu.Host == "" || (pu.Path != "" && pu.Path != "/") || pu.RawQuery != "" {
			bad("lookup.public_url", "must be an absolute http(s) URL without a path, like https://api.askonce.example, got %q", u)
		}
	}
	if (c.Registry.TLSCertFile == "") != (c.Registry.TLSKeyFile == "") {
		bad("registry.tls_cert_file", "tls_cert_file and tls_key_file go together")
	}
	for _, p := range c.Lookup.TrustedProxies {
		if !validPrefix(p) {
			bad("lookup.trusted_proxies", "each entry must be a CIDR prefix or an address (10.0.0.0/8, 2001:db8::/32, 192.0.2.7), got %q", p)
		}
	}
	oneOf("lookup.forwarded_header", c.Lookup.ForwardedHeader, "x-forwarded-for", "forwarded")
	if (c.Lookup.TLSCertFile == "") != (c.Lookup.TLSKeyFile == "") {
		bad("lookup.tls_cert_file", "tls_cert_file and tls_key_file go together")
	}
	if c.Lookup.ClientCAFile != "" && c.Lookup.TLSCertFile == "" {
		bad("lookup.client_ca_file", "client certificates need TLS: set lookup.tls_cert_file and lookup.tls_key_file")
	}

	atLeast("seed.persons", c.Seed.Persons, 1)
	if c.Seed.Defects < 0 || c.Seed.Defects > 0.5 {
		bad("seed.defects", "must be between 0 and 0.5, got %g", c.Seed.Defects)
	}
	if c.Seed.DataCenters < 1 || c.Seed.DataCenters > 99 {
		bad("seed.data_centers", "must be 1-99, got %d", c.Seed.DataCenters)
	}
	if c.Seed.Months < 1 || c.Seed.Months > 600 {
		bad("seed.months", "must be 1-600, got %d", c.Seed.Months)
	}
	if c.Seed.LiveRate < 0 {
		bad("seed.live_rate", "must not be negative, got %g", c.Seed.LiveRate)
	}

	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("invalid configuration:\n  %w", joinLines(errs))
}

func (s SASL) validate(prefix string, bad func(key, format string, args ...any)) {
	switch s.Mechanism {
	case "none":
	case "plain", "scram-sha-256", "scram-sha-512":
		if s.Username == "" || s.Password == "" {
			bad(prefix+".username", "mechanism %s needs a username and a password", s.Mechanism)
		}
	default:
		bad(prefix+".mechanism", "must be one of none, plain, scram-sha-256, scram-sha-512, got %q", s.Mechanism)
	}
}

type lines []error

func (l lines) Error() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n  ")
}

func (l lines) Unwrap() []error { return l }

func joinLines(errs []error) error { return lines(errs) }

// Redacted is the text shown in place of a secret.
const Redacted = "<redacted>"

// YAML renders the configuration as YAML, in declaration order, with
// secrets redacted: it is what `askonce config print` shows and can be
// saved as a configuration file once the secrets are filled back in. A
// secret read from its _file shows empty: the file stays its source.
func (c *Config) YAML() ([]byte, error) {
	fromFile := map[string]bool{}
	for _, p := range secretPairs(reflect.ValueOf(*c)) {
		fromFile[p.value.key] = p.file.value.String() != ""
	}
	root := &yaml.Node{Kind: yaml.MappingNode}
	walk("", reflect.ValueOf(*c), func(f field) {
		parts := strings.Split(f.key, ".")
		m := root
		for _, p := range parts[:len(parts)-1] {
			m = childMap(m, p)
		}
		val := redact(f)
		if fromFile[f.key] {
			val = ""
		}
		var n yaml.Node
		if err := n.Encode(val); err != nil {
			n = yaml.Node{Kind: yaml.ScalarNode, Value: fmt.Sprint(val)}
		}
		m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: parts[len(parts)-1]}, &n)
	})
	out, err := yaml.Marshal(root)
	if err != nil {
		return nil, errors.New("config: render yaml: " + err.Error())
	}
	return out, nil
}

func childMap(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	child := &yaml.Node{Kind: yaml.MappingNode}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, child)
	return child
}

func redact(f field) any {
	if f.value.Kind() == reflect.Slice && f.value.Type().Elem().Kind() == reflect.Struct {
		items := make([]yaml.Node, 0, f.value.Len())
		out := make([]any, 0, f.value.Len())
		for i := 0; i < f.value.Len(); i++ {
			item := &yaml.Node{Kind: yaml.MappingNode}
			walk("", f.value.Index(i), func(sub field) {
				var n yaml.Node
				if err := n.Encode(redact(sub)); err != nil {
					n = yaml.Node{Kind: yaml.ScalarNode, Value: fmt.Sprint(sub.value.Interface())}
				}
				item.Content = append(item.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: sub.key}, &n)
			})
			items = append(items, *item)
		}
		for i := range items {
			out = append(out, &items[i])
		}
		return out
	}
	v := f.value.Interface()
	switch f.secret {
	case "true":
		if f.value.String() != "" {
			return Redacted
		}
	case "url":
		s := f.value.String()
		if u, err := url.Parse(s); err == nil && s != "" {
			if _, has := u.User.Password(); has {
				u.User = url.UserPassword(u.User.Username(), "xxxxx")
			}
			q := u.Query()
			if q.Has("password") {
				q.Set("password", "xxxxx")
				u.RawQuery = q.Encode()
			}
			return u.String()
		} else if s != "" {
			return Redacted
		}
	}
	if d, ok := v.(time.Duration); ok {
		return d.String()
	}
	return v
}

// validPrefix says whether s is a CIDR prefix or a single address without
// a zone (a trusted proxy).
func validPrefix(s string) bool {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		_, err := netip.ParsePrefix(s)
		return err == nil
	}
	a, err := netip.ParseAddr(s)
	return err == nil && a.Zone() == ""
}
