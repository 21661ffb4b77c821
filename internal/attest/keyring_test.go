package attest_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/askonce/askonce/internal/attest"
	"github.com/askonce/askonce/internal/testenv"
)

func newKeyring(t *testing.T) (*attest.Keyring, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "keys")
	k, err := attest.LoadKeyring(dir, attest.KeyringOptions{Create: true})
	testenv.Must(t, err, "keyring")
	return k, dir
}

func sampleDoc() map[string]any {
	return map[string]any{
		"id":         "att-0001",
		"type":       "birth-certificate",
		"issued_at":  time.Date(2026, 11, 25, 14, 37, 0, 0, time.UTC),
		"subject":    map[string]any{"nin": "109991234500012345", "given_name": "Amina", "family_name": "Benali", "address": "Cité <El Amel> & Fils"},
		"facts":      map[string]any{"birth_date": "1990-02-14", "commune": "9991", "act_number": 12345},
		"provenance": []any{map[string]any{"agency": "etatcivil", "data_center": "etatcivil-dc03", "source_version": 7}},
	}
}

func TestKeyringCreateAndSign(t *testing.T) {
	// Without Create, an empty directory is an error that says what to do.
	if _, err := attest.LoadKeyring(t.TempDir(), attest.KeyringOptions{}); err == nil || !strings.Contains(err.Error(), "askonce keys rotate") {
		t.Fatalf("empty dir: err = %v", err)
	}
	k, dir := newKeyring(t)
	kid := k.ActiveKID()
	if !strings.HasPrefix(kid, "ak-"+time.Now().UTC().Format("2006-01-02")) || len(kid) != len("ak-2026-11-25-")+8 {
		t.Errorf("kid %q", kid)
	}
	st, err := os.Stat(filepath.Join(dir, kid+".pem"))
	testenv.Must(t, err, "key file")
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %04o, want 0600", st.Mode().Perm())
	}
	ds, _ := os.Stat(dir)
	if ds.Mode().Perm() != 0o700 {
		t.Errorf("keys dir mode %04o, want 0700", ds.Mode().Perm())
	}
	// Loading again finds the same key, and does not create another.
	k2, err := attest.LoadKeyring(dir, attest.KeyringOptions{Create: true})
	testenv.Must(t, err, "reload")
	if k2.ActiveKID() != kid || len(k2.PublicKeys()) != 1 {
		t.Errorf("second load: %s, %d keys", k2.ActiveKID(), len(k2.PublicKeys()))
	}

	s, err := k.SignDocument(sampleDoc())
	testenv.Must(t, err, "sign")
	if s.Signature.Alg != "EdDSA" || s.Signature.KID != kid || strings.ContainsAny(s.Signature.Value, "+/=") {
		t.Errorf("signature %+v", s.Signature)
	}
	testenv.Must(t, attest.Verify(s, k.KeySet()), "verify")

	// The KeySet is a JWKS.
	b, _ := json.Marshal(k.KeySet())
	for _, want := range []string{`"kty":"OKP"`, `"crv":"Ed25519"`, `"kid":"` + kid + `"`, `"use":"sig"`, `"alg":"EdDSA"`, `"status":"active"`, `"created_at":`} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("key set lacks %s: %s", want, b)
		}
	}
	pem, _ := os.ReadFile(filepath.Join(dir, kid+".pem"))
	if bytes.Contains(b, pem[30:60]) || strings.Contains(string(b), "PRIVATE") {
		t.Error("key set leaks the private key")
	}
}

func TestVerify(t *testing.T) {
	k, _ := newKeyring(t)
	keys := k.KeySet()
	s, err := k.SignDocument(sampleDoc())
	testenv.Must(t, err, "sign")
	file, err := json.Marshal(s)
	testenv.Must(t, err, "marshal")

	// Re-indented, re-encoded, and with members reordered, the saved file
	// still verifies.
	var pretty bytes.Buffer
	testenv.Must(t, json.Indent(&pretty, file, "", "    "), "indent")
	var generic map[string]any
	testenv.Must(t, json.Unmarshal(file, &generic), "generic")
	regen, _ := json.MarshalIndent(generic, "\t", "\t")
	var top map[string]json.RawMessage
	testenv.Must(t, json.Unmarshal(s.Document, &top), "document members")
	reversed := "{"
	for _, k := range []string{"type", "subject", "provenance", "issued_at", "id", "facts"} {
		reversed += "\n  \"" + k + "\": " + string(top[k]) + ","
	}
	sig, _ := json.Marshal(s.Signature)
	reversed = `{"signature": ` + string(sig) + `, "document": ` + strings.TrimSuffix(reversed, ",") + "\n}}"
	for name, b := range map[string][]byte{"indented": pretty.Bytes(), "re-encoded": regen, "reordered": []byte(reversed)} {
		ps, err := attest.ParseSigned(b)
		testenv.Must(t, err, "%s: parse", name)
		testenv.Must(t, attest.Verify(ps, keys), "%s: verify", name)
	}

	// Changing one byte of the content fails, wherever it is.
	for _, change := range [][2]string{
		{`"Amina"`, `"Amine"`},
		{`12345`, `12346`},
		{`"birth-certificate"`, `"death-certificate"`},
		{`"2026-11-25T14:37:00Z"`, `"2026-11-25T14:37:01Z"`},
		{`"source_version":7`, `"source_version":7,"extra":null`},
	} {
		if !bytes.Contains(file, []byte(change[0])) {
			t.Fatalf("%s not in %s", change[0], file)
		}
		ps, err := attest.ParseSigned(bytes.Replace(file, []byte(change[0]), []byte(change[1]), 1))
		testenv.Must(t, err, "parse")
		if err := attest.Verify(ps, keys); !errors.Is(err, attest.ErrBadSignature) {
			t.Errorf("%s -> %s: err = %v, want a bad signature", change[0], change[1], err)
		}
	}

	// Other failures name their cause.
	other, _ := newKeyring(t)
	bad := s
	bad.Signature.KID = other.ActiveKID()
	if err := attest.Verify(bad, keys); !errors.Is(err, attest.ErrUnknownKey) || !strings.Contains(err.Error(), other.ActiveKID()) {
		t.Errorf("unknown kid: %v", err)
	}
	if err := attest.Verify(bad, other.KeySet()); !errors.Is(err, attest.ErrBadSignature) {
		t.Errorf("other issuer's key: %v", err)
	}
	bad = s
	bad.Signature.Alg = "RS256"
	if err := attest.Verify(bad, keys); !errors.Is(err, attest.ErrMalformed) || !strings.Contains(err.Error(), "RS256") {
		t.Errorf("alg: %v", err)
	}
	bad = s
	bad.Signature.Value = "not-a-signature"
	if err := attest.Verify(bad, keys); !errors.Is(err, attest.ErrMalformed) {
		t.Errorf("value: %v", err)
	}
	bad = s
	bad.Document = json.RawMessage(`{"amount": 1.5}`)
	if err := attest.Verify(bad, keys); !errors.Is(err, attest.ErrMalformed) {
		t.Errorf("float document: %v", err)
	}
	if _, err := attest.ParseSigned([]byte(`{"signature":{}}`)); !errors.Is(err, attest.ErrMalformed) {
		t.Errorf("no document: %v", err)
	}
	if _, err := attest.ParseKeySet([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"x","x":"AAAA"}]}`)); !errors.Is(err, attest.ErrMalformed) {
		t.Errorf("short key: %v", err)
	}
}

func TestRotate(t *testing.T) {
	k, dir := newKeyring(t)
	first := k.ActiveKID()
	old, err := k.SignDocument(sampleDoc())
	testenv.Must(t, err, "sign")

	second, err := attest.Rotate(dir)
	testenv.Must(t, err, "rotate")
	if second == first {
		t.Fatal("rotate kept the kid")
	}
	// The running keyring signs with the old key until it reloads.
	if k.ActiveKID() != first {
		t.Fatal("keyring changed without Reload")
	}
	testenv.Must(t, k.Reload(), "reload")
	if k.ActiveKID() != second {
		t.Fatalf("active %s after rotation, want %s", k.ActiveKID(), second)
	}
	pks := k.PublicKeys()
	if len(pks) != 2 || pks[0].KID != first || pks[0].Status != "retired" || pks[0].RetiredAt == nil || pks[1].KID != second || pks[1].Status != "active" {
		t.Fatalf("public keys after rotation: %+v", pks)
	}
	// What the old key signed still verifies; new documents use the new key.
	testenv.Must(t, attest.Verify(old, k.KeySet()), "old document after rotation")
	fresh, _ := k.SignDocument(sampleDoc())
	if fresh.Signature.KID != second {
		t.Errorf("signed by %s", fresh.Signature.KID)
	}
	testenv.Must(t, attest.Verify(fresh, k.KeySet()), "new document")
	// A verifier holding only the old key set cannot check new documents.
	oldSet := attest.KeySet{Keys: pks[:1]}
	if err := attest.Verify(fresh, oldSet); !errors.Is(err, attest.ErrUnknownKey) {
		t.Errorf("old key set: %v", err)
	}

	// A key file readable by everyone is refused, naming the file.
	testenv.Must(t, os.Chmod(filepath.Join(dir, second+".pem"), 0o644), "chmod")
	if err := k.Reload(); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable key: %v", err)
	}
	if k.ActiveKID() != second {
		t.Error("a failed reload changed the keyring")
	}
	testenv.Must(t, os.Chmod(filepath.Join(dir, second+".pem"), 0o600), "chmod")
	// A .pem without its .json (a rotation in progress) is ignored.
	testenv.Must(t, os.WriteFile(filepath.Join(dir, "ak-2099-01-01-00000000.pem"), []byte("partial"), 0o600), "stray")
	testenv.Must(t, k.Reload(), "reload with a stray pem")
	if len(k.PublicKeys()) != 2 {
		t.Error("stray pem loaded")
	}
}

// TestConcurrentSignReload runs signers while the keys rotate (go test -race).
func TestConcurrentSignReload(t *testing.T) {
	k, dir := newKeyring(t)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var mu sync.Mutex
	var signed []attest.Signed
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				s, err := k.SignDocument(map[string]any{"n": 1})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				signed = append(signed, s)
				mu.Unlock()
			}
		}()
	}
	for range 5 {
		_, err := attest.Rotate(dir)
		testenv.Must(t, err, "rotate")
		testenv.Must(t, k.Reload(), "reload")
		_ = k.PublicKeys()
	}
	close(stop)
	wg.Wait()
	keys := k.KeySet()
	if len(keys.Keys) != 6 {
		t.Fatalf("%d keys", len(keys.Keys))
	}
	for _, s := range signed {
		testenv.Must(t, attest.Verify(s, keys), "verify %s", s.Signature.KID)
	}
}

func TestLoadKeySet(t *testing.T) {
	k, _ := newKeyring(t)
	b, _ := json.MarshalIndent(k.KeySet(), "", "  ")
	file := filepath.Join(t.TempDir(), "keys.json")
	testenv.Must(t, os.WriteFile(file, b, 0o644), "write")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/keys" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	}))
	defer srv.Close()
	ctx := testenv.Ctx(t, 10*time.Second)
	for _, src := range []string{file, srv.URL + "/v1/keys"} {
		ks, err := attest.LoadKeySet(ctx, src)
		testenv.Must(t, err, "load %s", src)
		if _, ok := ks.Find(k.ActiveKID()); !ok {
			t.Errorf("%s: active key missing", src)
		}
	}
	if _, err := attest.LoadKeySet(ctx, srv.URL+"/nope"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("404: %v", err)
	}
}
