// Package policy is who may ask askonce what: the clients of the lookup
// API (how each proves who it is, how fast it may ask) and, per purpose,
// the document types each may ask for and the portfolios it may hold.
// The lookup API authenticates and authorizes with it; the notification
// router checks portfolio changes against it. A Watcher holds the policy
// in force and is the one way to reload it.
package policy

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
)

// File is the YAML policy: which clients exist, how they prove who
// they are, how fast they may ask, and which document types each may ask
// for which purposes. Anything not allowed is denied.
type File struct {
	// DevOnly marks a policy with well-known keys: refused unless dev mode.
	DevOnly bool         `mapstructure:"dev_only"`
	Clients []ClientFile `mapstructure:"clients"`
}

// ClientFile is one agency client in the policy file.
type ClientFile struct {
	ID   string `mapstructure:"id"`
	Name string `mapstructure:"name"`
	// APIKeys are "sha256:<hex>" hashes of the client's API keys; several
	// allow rotation without downtime. The keys themselves are never stored.
	APIKeys []string `mapstructure:"api_keys"`
	// Certificates are "sha256:<hex>" fingerprints of client certificates
	// accepted over mutual TLS.
	Certificates []string `mapstructure:"certificates"`
	// Rate is the sustained requests per second allowed; Burst the bucket size.
	Rate  float64 `mapstructure:"rate"`
	Burst int     `mapstructure:"burst"`
	Allow []Grant `mapstructure:"allow"`
}

// Grant allows document types for one purpose.
type Grant struct {
	Purpose   string   `mapstructure:"purpose"`
	Documents []string `mapstructure:"documents"`
}

var (
	clientIDRe = regexp.MustCompile(`^[a-z][a-z0-9-]{1,31}$`)
	hashRe     = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
)

// Policy is a loaded, validated policy.
type Policy struct {
	devOnly bool
	clients map[string]*Client
	byKey   map[[32]byte]*Client
	byCert  map[[32]byte]*Client
}

// Client is an authenticated caller and what it may do.
type Client struct {
	ID, Name string
	Rate     float64
	Burst    int
	grants   map[string]map[string]bool // purpose -> document types
}

// Allowed says whether the client may ask doc for purpose.
func (c *Client) Allowed(purpose, doc string) bool { return c.grants[purpose][doc] }

// Purposes lists what the client may ask, for GET /v1/document-types.
func (c *Client) Purposes() map[string][]string {
	out := map[string][]string{}
	for p, docs := range c.grants {
		out[p] = []string{}
		for d := range docs {
			out[p] = append(out[p], d)
		}
		slices.Sort(out[p])
	}
	return out
}

// HashKey is the stored form of an API key.
func HashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Catalog is what a policy's grants are checked against: the lookup API's
// purposes and document types (lookup.PolicyCatalog).
type Catalog interface {
	// IsPurpose says whether code is a purpose.
	IsPurpose(code string) bool
	// IsDocument says whether docType is a document type.
	IsDocument(docType string) bool
	// Covers says whether purpose may see any field of docType.
	Covers(purpose, docType string) bool
}

// Load reads and validates a policy file (YAML, through viper, with
// unknown keys refused). A dev_only policy is refused unless devMode.
func Load(path string, devMode bool, cat Catalog) (*Policy, error) {
	if path == "" {
		return nil, errors.New("policy: lookup.policy_file is not set: without a policy nothing may be asked")
	}
	v := viper.New()
	v.SetConfigFile(path)
	v.SetConfigType("yaml")
	if err := v.ReadInConfig(); err != nil {
		return nil, fmt.Errorf("policy: read %s: %w", path, err)
	}
	var f File
	if err := v.UnmarshalExact(&f, func(dc *mapstructure.DecoderConfig) { dc.WeaklyTypedInput = false }); err != nil {
		return nil, fmt.Errorf("policy %s: %w", path, err)
	}
	p, err := New(f, cat)
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", path, err)
	}
	if p.devOnly && !devMode {
		return nil, fmt.Errorf("policy %s is dev_only (well-known keys): refused outside dev mode (lookup.dev_mode)", path)
	}
	return p, nil
}

// New validates f against cat and indexes it.
func New(f File, cat Catalog) (*Policy, error) {
	p := &Policy{devOnly: f.DevOnly, clients: map[string]*Client{}, byKey: map[[32]byte]*Client{}, byCert: map[[32]byte]*Client{}}
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	for i, cp := range f.Clients {
		where := fmt.Sprintf("clients[%d]", i)
		if !clientIDRe.MatchString(cp.ID) {
			bad("%s.id: must be a lower-case identifier, got %q", where, cp.ID)
			continue
		}
		where = "client " + cp.ID
		if _, dup := p.clients[cp.ID]; dup {
			bad("%s: defined twice", where)
			continue
		}
		c := &Client{ID: cp.ID, Name: cp.Name, Rate: cp.Rate, Burst: cp.Burst, grants: map[string]map[string]bool{}}
		if c.Name == "" {
			c.Name = c.ID
		}
		if c.Rate <= 0 {
			bad("%s: rate must be positive (requests per second)", where)
		}
		if c.Burst < 1 {
			c.Burst = max(1, int(c.Rate))
		}
		if len(cp.APIKeys)+len(cp.Certificates) == 0 {
			bad("%s: needs api_keys or certificates to authenticate", where)
		}
		index := func(field string, hashes []string, m map[[32]byte]*Client) {
			for _, h := range hashes {
				h = strings.ToLower(strings.TrimSpace(h))
				if !hashRe.MatchString(h) {
					bad("%s: %s entries must be sha256:<64 hex digits> (never the key itself)", where, field)
					continue
				}
				var k [32]byte
				hex.Decode(k[:], []byte(h[len("sha256:"):])) //nolint:errcheck // checked by the regexp
				if other, dup := m[k]; dup {
					bad("%s: a %s entry is also client %s's", where, field, other.ID)
					continue
				}
				m[k] = c
			}
		}
		index("api_keys", cp.APIKeys, p.byKey)
		index("certificates", cp.Certificates, p.byCert)
		for j, g := range cp.Allow {
			if !cat.IsPurpose(g.Purpose) {
				bad("%s: allow[%d]: unknown purpose %q", where, j, g.Purpose)
				continue
			}
			if c.grants[g.Purpose] == nil {
				c.grants[g.Purpose] = map[string]bool{}
			}
			if g.Purpose == "citizen-access-log" {
				if len(g.Documents) > 0 {
					bad("%s: allow[%d]: purpose citizen-access-log takes no documents", where, j)
				}
				continue
			}
			if len(g.Documents) == 0 {
				bad("%s: allow[%d]: no documents", where, j)
			}
			for _, d := range g.Documents {
				if !cat.IsDocument(d) {
					bad("%s: allow[%d]: unknown document type %q", where, j, d)
					continue
				}
				if !cat.Covers(g.Purpose, d) {
					bad("%s: allow[%d]: purpose %s does not cover %s (see GET /v1/document-types)", where, j, g.Purpose, d)
					continue
				}
				c.grants[g.Purpose][d] = true
			}
		}
		p.clients[c.ID] = c
	}
	if len(errs) > 0 {
		return nil, errors.New(strings.Join(errs, "; "))
	}
	return p, nil
}

// ByAPIKey authenticates an API key; nil when unknown. The key is hashed
// first: the comparison is of fixed-size digests, not of secrets.
func (p *Policy) ByAPIKey(key string) *Client {
	if key == "" {
		return nil
	}
	sum := sha256.Sum256([]byte(key))
	for k, c := range p.byKey {
		if subtle.ConstantTimeCompare(k[:], sum[:]) == 1 {
			return c
		}
	}
	return nil
}

// ByCertificate authenticates a client certificate by its SHA-256
// fingerprint (of the DER bytes); nil when unknown.
func (p *Policy) ByCertificate(der []byte) *Client {
	return p.byCert[sha256.Sum256(der)]
}

// Clients lists the clients, sorted by id.
func (p *Policy) Clients() []*Client {
	out := make([]*Client, 0, len(p.clients))
	for _, c := range p.clients {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b *Client) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// DevOnly says whether the policy holds well-known dev keys.
func (p *Policy) DevOnly() bool { return p.devOnly }

// MayHold says whether the client may hold citizens in its portfolio under
// purpose: the policy grants it the purpose.
func (c *Client) MayHold(purpose string) bool { return c.HasPurpose(purpose) }

// HasPurpose says whether the policy grants the client purpose (for some
// document type, or citizen-access-log, which takes none).
func (c *Client) HasPurpose(purpose string) bool {
	_, ok := c.grants[purpose]
	return ok
}

// Client returns the client with id, nil when the policy has none.
func (p *Policy) Client(id string) *Client { return p.clients[id] }
