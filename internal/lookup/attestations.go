package lookup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/askonce/askonce/internal/attest"
	"github.com/askonce/askonce/internal/audit"
)

// The attestations table is the lookup API's (its migrations create it):
// the documents it issued, exactly as signed, written in the audit
// entry's transaction and read back by GET /v1/attestations/{id} and the
// console's /verify page. No other package writes SQL against it.

// StoredAttestation is a row of the attestations table.
type StoredAttestation struct {
	ID, Client, DocumentType, NIN string
	IssuedAt                      time.Time
	Document                      string // the canonical JSON that was signed
	Signature                     []byte // JSON {alg, kid, value}
}

var attestationColumns = []string{"id", "client", "document_type", "nin", "issued_at", "document", "signature"}

// row is t as the audit log writes it in the entry's transaction.
func (t *StoredAttestation) row() audit.Row {
	return audit.Row{Table: "attestations", Columns: attestationColumns,
		Values: []any{t.ID, t.Client, t.DocumentType, t.NIN, t.IssuedAt, t.Document, string(t.Signature)}}
}

// attestationIDRe is the form of the ids issue gives: anything else is
// unknown without asking the store (a NUL byte or invalid UTF-8 would make
// PostgreSQL fail the query, answering 503 to a malformed id).
var attestationIDRe = regexp.MustCompile(`^doc_[0-9a-f]{24}$`)

// ValidAttestationID reports whether id has the form of the ids the API
// gives its documents ("doc_" and 24 lower-case hex digits).
func ValidAttestationID(id string) bool { return attestationIDRe.MatchString(id) }

// Attestations reads the documents the API issued.
type Attestations struct{ pool *pgxpool.Pool }

// NewAttestations reads the attestations of the lookup store pool
// (migrated with Migrate).
func NewAttestations(pool *pgxpool.Pool) *Attestations { return &Attestations{pool: pool} }

// ErrNoAttestation: no document has that id (or, for Get with a client,
// none of that client's).
var ErrNoAttestation = errors.New("lookup: no such attestation")

// Issued is a stored document: what was signed, its signature, and the
// citizen it is about.
type Issued struct {
	attest.Signed
	NIN string
}

// Get returns the document id; client, when not empty, limits the search
// to the documents issued to that client (another client's document is
// as absent as a missing one). A malformed id is ErrNoAttestation without
// a query.
func (a *Attestations) Get(ctx context.Context, id, client string) (Issued, error) {
	if !ValidAttestationID(id) {
		return Issued{}, ErrNoAttestation
	}
	var doc string
	var sigJSON []byte
	var out Issued
	err := a.pool.QueryRow(ctx, `SELECT document, signature, nin FROM attestations WHERE id = $1 AND ($2 = '' OR client = $2)`,
		id, client).Scan(&doc, &sigJSON, &out.NIN)
	if errors.Is(err, pgx.ErrNoRows) {
		return Issued{}, ErrNoAttestation
	}
	if err != nil {
		return Issued{}, fmt.Errorf("lookup: attestation %s: %w", id, err)
	}
	if err := json.Unmarshal(sigJSON, &out.Signature); err != nil {
		return Issued{}, fmt.Errorf("lookup: stored signature of %s: %w", id, err)
	}
	out.Document = json.RawMessage(doc)
	return out, nil
}

// Auditor is the audit log: Append returns once the entry is durable, and
// with it att, if any, in the same transaction (never one without the
// other).
type Auditor interface {
	Append(ctx context.Context, e audit.Entry, att *StoredAttestation) error
	ForCitizen(ctx context.Context, nin string, limit int) ([]audit.Entry, error)
}

// AuditLog is the Auditor of an audit.Log.
func AuditLog(l *audit.Log) Auditor { return auditLog{l} }

type auditLog struct{ l *audit.Log }

func (a auditLog) Append(ctx context.Context, e audit.Entry, att *StoredAttestation) error {
	var with []audit.Row
	if att != nil {
		with = append(with, att.row())
	}
	_, err := a.l.AppendWith(ctx, e, with...)
	return err
}

func (a auditLog) ForCitizen(ctx context.Context, nin string, limit int) ([]audit.Entry, error) {
	return a.l.ForCitizen(ctx, nin, limit)
}

// Signer signs canonical documents and publishes its public keys.
type Signer interface {
	Canonical(v any) ([]byte, error)
	Sign(payload []byte) attest.Signature
	PublicKeys() any
}

// KeyringSigner is the Signer of an attest.Keyring.
func KeyringSigner(k *attest.Keyring) Signer { return keyringSigner{k} }

type keyringSigner struct{ k *attest.Keyring }

func (s keyringSigner) Canonical(v any) ([]byte, error) { return attest.Canonical(v) }
func (s keyringSigner) PublicKeys() any                 { return s.k.KeySet() }
func (s keyringSigner) Sign(p []byte) attest.Signature  { return s.k.Sign(p) }
