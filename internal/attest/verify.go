package attest

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// Signature is a detached signature over the canonical form of a document.
type Signature struct {
	// Alg is always "EdDSA" (Ed25519).
	Alg string `json:"alg"`
	// KID names the key in the issuer's KeySet.
	KID string `json:"kid"`
	// Value is the 64-byte signature, base64url without padding.
	Value string `json:"value"`
}

// Signed is a document with its signature, as GET /v1/attestations/{id}
// returns it and `askonce verify` reads it. The signature is over
// Canonical(Document), so the document may be re-indented or have its
// members reordered without breaking it; any change of content does.
type Signed struct {
	Document  json.RawMessage `json:"document"`
	Signature Signature       `json:"signature"`
}

// PublicKey is one verification key, as a JSON Web Key (RFC 8037 OKP)
// with askonce's lifecycle fields.
type PublicKey struct {
	Kty       string     `json:"kty"` // "OKP"
	Crv       string     `json:"crv"` // "Ed25519"
	KID       string     `json:"kid"`
	X         string     `json:"x"`   // the 32-byte public key, base64url without padding
	Use       string     `json:"use"` // "sig"
	Alg       string     `json:"alg"` // "EdDSA"
	CreatedAt time.Time  `json:"created_at"`
	RetiredAt *time.Time `json:"retired_at,omitempty"`
	Status    string     `json:"status"` // "active" or "retired"
}

// KeySet is the issuer's public keys, in the shape of a JWKS (RFC 7517):
// served at GET /v1/keys and printed by `askonce keys export` for offline
// verifiers.
type KeySet struct {
	Keys []PublicKey `json:"keys"`
}

// Find returns the key with id kid.
func (ks KeySet) Find(kid string) (PublicKey, bool) {
	for _, k := range ks.Keys {
		if k.KID == kid {
			return k, true
		}
	}
	return PublicKey{}, false
}

// Errors of Verify, to tell apart with errors.Is.
var (
	// ErrMalformed: the envelope, the document or a key is not well formed.
	ErrMalformed = errors.New("malformed")
	// ErrUnknownKey: the signature names a key the key set does not hold.
	ErrUnknownKey = errors.New("unknown key")
	// ErrBadSignature: the signature does not match the document (it was
	// changed after signing, or signed by another key).
	ErrBadSignature = errors.New("bad signature")
)

// Ed25519 returns the key's public key after checking its JWK fields.
func (k PublicKey) Ed25519() (ed25519.PublicKey, error) {
	if k.Kty != "OKP" || k.Crv != "Ed25519" {
		return nil, fmt.Errorf("%w: key %s is kty %q crv %q, want OKP Ed25519", ErrMalformed, k.KID, k.Kty, k.Crv)
	}
	if k.Alg != "" && k.Alg != Alg {
		return nil, fmt.Errorf("%w: key %s is for alg %q, want %s", ErrMalformed, k.KID, k.Alg, Alg)
	}
	b, err := base64.RawURLEncoding.DecodeString(k.X)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: key %s: x is not a base64url 32-byte Ed25519 public key", ErrMalformed, k.KID)
	}
	return ed25519.PublicKey(b), nil
}

// Verify checks offline that s.Signature is a signature, by a key of
// keys, over the canonical form of s.Document. Retired keys verify too:
// rotation does not invalidate what an older key signed.
func Verify(s Signed, keys KeySet) error {
	if len(s.Document) == 0 {
		return fmt.Errorf("%w: no document", ErrMalformed)
	}
	if s.Signature.Alg != Alg {
		return fmt.Errorf("%w: signature alg is %q, want %s", ErrMalformed, s.Signature.Alg, Alg)
	}
	if s.Signature.KID == "" {
		return fmt.Errorf("%w: the signature names no key (kid)", ErrMalformed)
	}
	sig, err := base64.RawURLEncoding.DecodeString(s.Signature.Value)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return fmt.Errorf("%w: signature value is not a base64url %d-byte Ed25519 signature", ErrMalformed, ed25519.SignatureSize)
	}
	k, ok := keys.Find(s.Signature.KID)
	if !ok {
		return fmt.Errorf("%w: %s is not in the key set", ErrUnknownKey, s.Signature.KID)
	}
	pub, err := k.Ed25519()
	if err != nil {
		return err
	}
	c, err := Canonical(s.Document)
	if err != nil {
		return fmt.Errorf("%w: document: %w", ErrMalformed, err)
	}
	if !ed25519.Verify(pub, c, sig) {
		return fmt.Errorf("%w: the document does not match the signature of key %s (changed after signing?)", ErrBadSignature, k.KID)
	}
	return nil
}

// ParseSigned reads a signed-document envelope.
func ParseSigned(b []byte) (Signed, error) {
	var s Signed
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("%w: not a signed document ({\"document\": ..., \"signature\": ...}): %w", ErrMalformed, err)
	}
	if len(s.Document) == 0 || string(s.Document) == "null" {
		return s, fmt.Errorf("%w: no \"document\"", ErrMalformed)
	}
	return s, nil
}

// ParseKeySet reads a KeySet and checks each key.
func ParseKeySet(b []byte) (KeySet, error) {
	var ks KeySet
	if err := json.Unmarshal(b, &ks); err != nil {
		return ks, fmt.Errorf("%w: not a key set ({\"keys\": [...]}): %w", ErrMalformed, err)
	}
	if len(ks.Keys) == 0 {
		return ks, fmt.Errorf("%w: the key set holds no key", ErrMalformed)
	}
	for _, k := range ks.Keys {
		if _, err := k.Ed25519(); err != nil {
			return ks, err
		}
	}
	return ks, nil
}

// maxKeySetSize bounds what LoadKeySet reads.
const maxKeySetSize = 1 << 20

// LoadKeySet reads a KeySet from a file or an http(s) URL (the lookup
// API's /v1/keys).
func LoadKeySet(ctx context.Context, src string) (KeySet, error) {
	var b []byte
	var err error
	if strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://") {
		b, err = fetch(ctx, src)
	} else {
		b, err = os.ReadFile(src)
	}
	if err != nil {
		return KeySet{}, fmt.Errorf("attest: key set: %w", err)
	}
	ks, err := ParseKeySet(b)
	if err != nil {
		return ks, fmt.Errorf("attest: key set %s: %w", src, err)
	}
	return ks, nil
}

func fetch(ctx context.Context, url string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxKeySetSize+1))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	if len(b) > maxKeySetSize {
		return nil, fmt.Errorf("GET %s: larger than %d bytes", url, maxKeySetSize)
	}
	return b, nil
}
