package attest

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// Alg is the JOSE name of the only signature algorithm: Ed25519 (RFC 8037).
const Alg = "EdDSA"

// Key status in a KeySet.
const (
	StatusActive  = "active"
	StatusRetired = "retired"
)

// kidPattern is the form of a key id: ak-<creation date>-<8 hex>.
var kidPattern = regexp.MustCompile(`^ak-\d{4}-\d{2}-\d{2}-[0-9a-f]{8}$`)

// KeyringOptions configure LoadKeyring.
type KeyringOptions struct {
	// Create generates a first key when the directory is missing or holds
	// no key (dev and first start); otherwise an empty keyring is an error.
	Create bool
}

// keyMeta is <kid>.json, next to <kid>.pem.
type keyMeta struct {
	KID       string     `json:"kid"`
	Alg       string     `json:"alg"`
	CreatedAt time.Time  `json:"created_at"`
	RetiredAt *time.Time `json:"retired_at,omitempty"`
}

type key struct {
	meta keyMeta
	priv ed25519.PrivateKey
	pub  ed25519.PublicKey
}

// Keyring is the signing keys of an issuer, read from a directory:
//
//	<kid>.pem   the Ed25519 private key, PKCS#8 PEM, mode 0600
//	<kid>.json  {"kid", "alg": "EdDSA", "created_at", "retired_at"}
//
// A key exists once its .json is there (a .pem alone is a rotation in
// progress and is ignored). The active key, which signs, is the newest
// key that is not retired; the others only verify. A Keyring is safe for
// concurrent use; Reload rereads the directory (after `askonce keys
// rotate`, say) without disturbing signers. Private keys never leave it:
// no method returns or prints them.
type Keyring struct {
	dir string

	mu     sync.RWMutex
	keys   []*key // oldest first
	active *key
}

// LoadKeyring reads the keys in dir.
func LoadKeyring(dir string, opts KeyringOptions) (*Keyring, error) {
	k := &Keyring{dir: dir}
	err := k.Reload()
	if opts.Create && errors.Is(err, errNoKeys) {
		if _, err = Rotate(dir); err != nil {
			return nil, err
		}
		err = k.Reload()
	}
	if err != nil {
		return nil, err
	}
	return k, nil
}

var errNoKeys = errors.New("no signing key")

// Reload rereads the directory. On error the keyring keeps its keys.
func (k *Keyring) Reload() error {
	keys, err := readKeys(k.dir)
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		return fmt.Errorf("attest: %w in %s (run `askonce keys rotate --dir %s`)", errNoKeys, k.dir, k.dir)
	}
	active := activeKey(keys)
	if active == nil {
		return fmt.Errorf("attest: every key in %s is retired; run `askonce keys rotate --dir %s`", k.dir, k.dir)
	}
	k.mu.Lock()
	k.keys, k.active = keys, active
	k.mu.Unlock()
	return nil
}

// Dir is the directory of the keyring.
func (k *Keyring) Dir() string { return k.dir }

// ActiveKID is the id of the key that signs.
func (k *Keyring) ActiveKID() string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.active.meta.KID
}

// Sign signs payload with the active key.
func (k *Keyring) Sign(payload []byte) Signature {
	k.mu.RLock()
	a := k.active
	k.mu.RUnlock()
	return Signature{Alg: Alg, KID: a.meta.KID, Value: base64.RawURLEncoding.EncodeToString(ed25519.Sign(a.priv, payload))}
}

// SignDocument canonicalizes doc and signs it: the envelope the lookup
// API returns and `askonce verify` checks. Document holds the canonical
// bytes.
func (k *Keyring) SignDocument(doc any) (Signed, error) {
	c, err := Canonical(doc)
	if err != nil {
		return Signed{}, err
	}
	return Signed{Document: c, Signature: k.Sign(c)}, nil
}

// PublicKeys lists every key of the ring, oldest first, in JWK form.
func (k *Keyring) PublicKeys() []PublicKey {
	k.mu.RLock()
	defer k.mu.RUnlock()
	out := make([]PublicKey, 0, len(k.keys))
	for _, key := range k.keys {
		status := StatusRetired
		if key == k.active {
			status = StatusActive
		}
		out = append(out, publicKey(key, status))
	}
	return out
}

// KeySet is PublicKeys as served at GET /v1/keys.
func (k *Keyring) KeySet() KeySet { return KeySet{Keys: k.PublicKeys()} }

func publicKey(key *key, status string) PublicKey {
	pk := PublicKey{
		Kty:       "OKP",
		Crv:       "Ed25519",
		KID:       key.meta.KID,
		X:         base64.RawURLEncoding.EncodeToString(key.pub),
		Use:       "sig",
		Alg:       Alg,
		CreatedAt: key.meta.CreatedAt,
		Status:    status,
	}
	if key.meta.RetiredAt != nil {
		t := *key.meta.RetiredAt
		pk.RetiredAt = &t
	}
	return pk
}

// activeKey is the newest key not retired, or nil.
func activeKey(keys []*key) *key {
	for i := len(keys) - 1; i >= 0; i-- {
		if keys[i].meta.RetiredAt == nil {
			return keys[i]
		}
	}
	return nil
}

// readKeys reads every <kid>.json of dir and its .pem, oldest first. A
// missing directory holds no key.
func readKeys(dir string) ([]*key, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("attest: keys directory: %w", err)
	}
	var keys []*key
	for _, e := range entries {
		kid, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || e.IsDir() || !kidPattern.MatchString(kid) {
			continue
		}
		key, err := readKey(dir, kid)
		if err != nil {
			return nil, err
		}
		keys = append(keys, key)
	}
	slices.SortFunc(keys, func(a, b *key) int {
		if c := a.meta.CreatedAt.Compare(b.meta.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.meta.KID, b.meta.KID)
	})
	return keys, nil
}

func readKey(dir, kid string) (*key, error) {
	mb, err := os.ReadFile(filepath.Join(dir, kid+".json"))
	if err != nil {
		return nil, fmt.Errorf("attest: key %s: %w", kid, err)
	}
	var meta keyMeta
	if err := json.Unmarshal(mb, &meta); err != nil {
		return nil, fmt.Errorf("attest: key %s: metadata: %w", kid, err)
	}
	if meta.KID != kid || meta.Alg != Alg || meta.CreatedAt.IsZero() {
		return nil, fmt.Errorf("attest: key %s: metadata %s.json must have kid %q, alg %q and created_at", kid, kid, kid, Alg)
	}
	pemPath := filepath.Join(dir, kid+".pem")
	st, err := os.Stat(pemPath)
	if err != nil {
		return nil, fmt.Errorf("attest: key %s: %w", kid, err)
	}
	if st.Mode().Perm()&0o007 != 0 {
		return nil, fmt.Errorf("attest: key %s: %s is accessible to every user (mode %04o); chmod 600 it", kid, pemPath, st.Mode().Perm())
	}
	pb, err := os.ReadFile(pemPath)
	if err != nil {
		return nil, fmt.Errorf("attest: key %s: %w", kid, err)
	}
	block, _ := pem.Decode(pb)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("attest: key %s: %s holds no PKCS#8 \"PRIVATE KEY\" PEM block", kid, pemPath)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		// The parser's message never includes key material.
		return nil, fmt.Errorf("attest: key %s: %w", kid, err)
	}
	priv, ok := parsed.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("attest: key %s: %T is not an Ed25519 key", kid, parsed)
	}
	return &key{meta: meta, priv: priv, pub: priv.Public().(ed25519.PublicKey)}, nil
}

// Rotate generates a new key in dir (created, mode 0700, when missing),
// makes it the active one and marks the previously active keys retired;
// retired keys stay in the directory and keep verifying what they signed.
// Running services pick the new key up on their next Reload.
func Rotate(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("attest: keys directory: %w", err)
	}
	old, err := readKeys(dir)
	if err != nil {
		return "", err
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	if len(old) > 0 {
		if last := old[len(old)-1].meta.CreatedAt; !now.After(last) {
			now = last.Add(time.Millisecond) // keep "newest" unambiguous
		}
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", fmt.Errorf("attest: generate key: %w", err)
	}
	var suffix [4]byte
	_, _ = rand.Read(suffix[:])
	kid := "ak-" + now.Format("2006-01-02") + "-" + hex.EncodeToString(suffix[:])
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", fmt.Errorf("attest: encode key: %w", err)
	}
	if err := writeAtomic(dir, kid+".pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return "", err
	}
	if err := writeMeta(dir, keyMeta{KID: kid, Alg: Alg, CreatedAt: now}); err != nil {
		return "", err
	}
	// The new key is complete and, being the newest, already active:
	// retire the previous ones.
	for _, k := range old {
		if k.meta.RetiredAt == nil {
			m := k.meta
			m.RetiredAt = &now
			if err := writeMeta(dir, m); err != nil {
				return kid, err
			}
		}
	}
	return kid, nil
}

func writeMeta(dir string, m keyMeta) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(dir, m.KID+".json", append(b, '\n'), 0o644)
}

// writeAtomic writes dir/name through a temporary file and a rename, so a
// reader sees the old file or the whole new one.
func writeAtomic(dir, name string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(dir, "."+name+".tmp*")
	if err != nil {
		return fmt.Errorf("attest: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return fmt.Errorf("attest: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("attest: write %s: %w", name, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("attest: write %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("attest: write %s: %w", name, err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("attest: %w", err)
	}
	return nil
}
