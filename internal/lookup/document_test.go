package lookup

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/askonce/askonce/internal/attest"
	"github.com/askonce/askonce/internal/policy"
)

// fixedSigner signs nothing: TestDocumentType reads the canonical body.
type fixedSigner struct{}

func (fixedSigner) Canonical(v any) ([]byte, error) { return attest.Canonical(v) }
func (fixedSigner) Sign([]byte) attest.Signature {
	return attest.Signature{Alg: "EdDSA", KID: "k", Value: "v"}
}
func (fixedSigner) PublicKeys() any { return nil }

// TestDocumentType: what issue signs decodes into Document with no field
// left over and none missing, so readers of the API can rely on the type.
func TestDocumentType(t *testing.T) {
	p, err := policy.New(policy.File{Clients: []policy.ClientFile{{ID: "cnr", Name: "CNR", APIKeys: []string{policy.HashKey("k")}, Rate: 1,
		Allow: []policy.Grant{{Purpose: "pension-life-proof", Documents: []string{DocLife}}}}}}, PolicyCatalog)
	if err != nil {
		t.Fatal(err)
	}
	s := &Service{signer: fixedSigner{}}
	doc, _ := DocumentByType(DocLife)
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	d := decision{issued: true, fields: map[string]any{"nin": "109859916000420137", "alive": true},
		sources: []SourceRef{{Agency: "etatcivil", DataCenter: "dc01", SourceKey: "k1", SourceVersion: 1 << 52, EventTime: now}},
		fresh:   Fresh{AsOf: now}}
	signed, stored, err := s.issue(&request{client: p.Client("cnr")}, DocumentRequest{DocumentType: DocLife, NIN: "109859916000420137",
		Purpose: "pension-life-proof", ClerkID: "c-1"}, doc, d, now)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(signed.Document))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	var got Document
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("issued document does not decode into Document: %v\n%s", err, signed.Document)
	}
	again, err := attest.Canonical(got)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, signed.Document) {
		t.Errorf("Document loses or adds something:\nissued  %s\ndecoded %s", signed.Document, again)
	}
	if got.ID != stored.ID || got.Provenance[0].SourceVersion.String() != "4503599627370496" {
		t.Errorf("decoded %+v", got)
	}
}
