package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/askonce/askonce/internal/attest"
	"github.com/askonce/askonce/internal/testenv"
)

func TestKeysAndVerify(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	if _, _, err := run(t, nil, "keys", "list", "--dir", dir); err == nil || !strings.Contains(err.Error(), "askonce keys rotate") {
		t.Fatalf("list of no keys: %v", err)
	}
	out, _, err := run(t, nil, "keys", "rotate", "--dir", dir)
	if err != nil || !strings.HasPrefix(out, "new active key ak-") {
		t.Fatalf("rotate: %v\n%s", err, out)
	}
	k, err := attest.LoadKeyring(dir, attest.KeyringOptions{})
	testenv.Must(t, err, "keyring")
	first := k.ActiveKID()
	doc := map[string]any{"id": "att-42", "type": "life-certificate", "issued_at": time.Date(2026, 11, 25, 14, 37, 0, 0, time.UTC),
		"subject": map[string]any{"nin": "109991234500012345"}, "facts": map[string]any{"alive": true}}
	signed, err := k.SignDocument(doc)
	testenv.Must(t, err, "sign")
	b, _ := json.MarshalIndent(signed, "", "  ")
	tmp := t.TempDir()
	docFile := filepath.Join(tmp, "att-42.json")
	testenv.Must(t, os.WriteFile(docFile, b, 0o644), "write")

	// Rotation: the old key is retired, and still verifies what it signed.
	_, _, err = run(t, nil, "keys", "rotate", "--dir", dir)
	testenv.Must(t, err, "rotate")
	out, _, err = run(t, nil, "keys", "list", "--dir", dir)
	if err != nil || !strings.Contains(out, first+"  retired") || strings.Count(out, "active") != 1 {
		t.Fatalf("list: %v\n%s", err, out)
	}
	out, _, err = run(t, nil, "keys", "export", "--dir", dir)
	testenv.Must(t, err, "export")
	if strings.Contains(out, "PRIVATE") || strings.Count(out, `"kty": "OKP"`) != 2 {
		t.Fatalf("export:\n%s", out)
	}
	keySet := []byte(out)
	keysFile := filepath.Join(tmp, "keys.json")
	testenv.Must(t, os.WriteFile(keysFile, keySet, 0o644), "write")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(keySet) }))
	defer srv.Close()

	for _, keys := range []string{keysFile, srv.URL + "/v1/keys"} {
		out, errOut, err := run(t, nil, "verify", docFile, "--keys", keys)
		want := "valid: document att-42 (life-certificate, issued 2026-11-25T14:37:00Z) signed by " + first
		if err != nil || !strings.HasPrefix(out, want) || !strings.Contains(out, "retired") {
			t.Fatalf("verify with %s: %v\n%s%s", keys, err, out, errOut)
		}
	}

	// One byte changed in the content: exit status 1 and the reason.
	tampered := filepath.Join(tmp, "tampered.json")
	testenv.Must(t, os.WriteFile(tampered, bytes.Replace(b, []byte("109991234500012345"), []byte("109991234500012346"), 1), 0o644), "write")
	out, _, err = run(t, nil, "verify", tampered, "--keys", keysFile)
	if ee, ok := err.(exitError); !ok || ee.code != 1 || !strings.Contains(out, "invalid: bad signature") {
		t.Fatalf("tampered: %v\n%s", err, out)
	}
	// A key set without the signing key.
	other := filepath.Join(tmp, "other.json")
	ok, _ := attest.LoadKeyring(filepath.Join(tmp, "other"), attest.KeyringOptions{Create: true})
	ob, _ := json.Marshal(ok.KeySet())
	testenv.Must(t, os.WriteFile(other, ob, 0o644), "write")
	out, _, err = run(t, nil, "verify", docFile, "--keys", other)
	if ee, ok := err.(exitError); !ok || ee.code != 1 || !strings.Contains(out, "invalid: unknown key: "+first) {
		t.Fatalf("unknown key: %v\n%s", err, out)
	}
	// Not a signed document.
	out, _, err = run(t, nil, "verify", keysFile, "--keys", keysFile)
	if ee, ok := err.(exitError); !ok || ee.code != 1 || !strings.Contains(out, "invalid: malformed") {
		t.Fatalf("not a document: %v\n%s", err, out)
	}
	// The directory comes from lookup.signing_keys_dir when --dir is not given.
	envDir := filepath.Join(tmp, "from-env")
	out, _, err = run(t, []string{"ASKONCE_LOOKUP_SIGNING_KEYS_DIR=" + envDir}, "keys", "rotate")
	if err != nil || !strings.Contains(out, " in "+envDir) {
		t.Fatalf("rotate in lookup.signing_keys_dir: %v\n%s", err, out)
	}

	// The check cannot run: status 2.
	_, errOut, err := run(t, nil, "verify", docFile, "--keys", filepath.Join(tmp, "missing.json"))
	if ee, ok := err.(exitError); !ok || ee.code != 2 || !strings.Contains(errOut, "missing.json") {
		t.Fatalf("missing key set: %v\n%s", err, errOut)
	}
}
