package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/askonce/askonce/internal/attest"
)

func (a *app) verifyCmd() *cobra.Command {
	var keys string
	cmd := &cobra.Command{
		Use:   "verify FILE",
		Short: "Check offline the signature of a document the lookup API issued",
		Long: `Reads a signed document as GET /v1/attestations/{id} returns it
({"document": {...}, "signature": {"alg": "EdDSA", "kid": ..., "value": ...}}; FILE "-" is
standard input) and checks its Ed25519 signature over the canonical JSON of the document with
the issuer's public keys: --keys is a key set file (askonce keys export) or URL (the lookup
API's /v1/keys). Indentation and member order do not matter; any change of content does.

Exit status: 0 valid, 1 not valid (the reason is printed), 2 the check could not run (file
or key set unreadable).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cantCheck := func(err error) error {
				fmt.Fprintf(a.stderr, "askonce verify: %v\n", err)
				return exitError{code: 2}
			}
			if keys == "" {
				return cantCheck(fmt.Errorf("--keys is required: a key set file (askonce keys export) or URL (http://<lookup API>/v1/keys)"))
			}
			var b []byte
			var err error
			if args[0] == "-" {
				b, err = io.ReadAll(io.LimitReader(os.Stdin, 64<<20))
			} else {
				b, err = os.ReadFile(args[0])
			}
			if err != nil {
				return cantCheck(err)
			}
			ks, err := attest.LoadKeySet(cmd.Context(), keys)
			if err != nil {
				return cantCheck(err)
			}
			s, err := attest.ParseSigned(b)
			if err == nil {
				err = attest.Verify(s, ks)
			}
			if err != nil {
				fmt.Fprintf(a.stdout, "invalid: %v\n", err)
				return exitError{code: 1}
			}
			fmt.Fprintf(a.stdout, "valid: %s signed by %s\n", describeDocument(s.Document), describeKey(ks, s.Signature.KID))
			return nil
		},
	}
	cmd.Flags().StringVar(&keys, "keys", "", "the issuer's key set: a file (askonce keys export) or an http(s) URL (.../v1/keys)")
	return cmd
}

// describeDocument names a document by its id, type and issue time when
// it has them.
func describeDocument(doc json.RawMessage) string {
	var d map[string]any
	_ = json.Unmarshal(doc, &d)
	str := func(k string) string { s, _ := d[k].(string); return s }
	out := "document"
	if id := str("id"); id != "" {
		out += " " + id
	}
	var extra []string
	if t := str("type"); t != "" {
		extra = append(extra, t)
	}
	if at := str("issued_at"); at != "" {
		extra = append(extra, "issued "+at)
	}
	if len(extra) > 0 {
		out += " (" + strings.Join(extra, ", ") + ")"
	}
	return out
}

func describeKey(ks attest.KeySet, kid string) string {
	k, _ := ks.Find(kid)
	out := fmt.Sprintf("%s (key created %s", kid, k.CreatedAt.UTC().Format(time.DateOnly))
	if k.Status != "" {
		out += ", " + k.Status
	}
	return out + ")"
}
