// Package audit is the lookup API's audit log: every request, whatever its
// outcome, is appended to a hash-chained table before it is answered, can
// be listed by citizen ("who looked at my data, when, why"), is mirrored
// on the topic askonce.audit.v1, and can be checked for tampering.
// The notification router appends an entry for every notification it
// sends, so a citizen's access log also names the agencies that were told.
//
// # The hash chain
//
// Entries are numbered seq = 1, 2, 3, ... without gaps. Each entry stores
// the hash of the one before (prev_hash; 64 "0" characters for seq 1) and
// its own hash:
//
//	hash = lower-case hex of SHA-256( prev_hash || "\n" || canonical )
//
// where prev_hash is the 64 ASCII hex characters and canonical is the
// RFC 8785 (JCS) canonical JSON, in UTF-8, of the object holding every
// field of the entry except hash, all of them always present:
//
//	{"at":"2026-11-25T14:37:00.123456Z","client":"cnr-pensions","clerk_id":"agent-17",
//	 "document_id":"att-...","document_type":"life-certificate","nin":"109991234500012345",
//	 "outcome":"issued","prev_hash":"<64 hex>","purpose":"PENSION-REVIEW","reason":"",
//	 "request_id":"r-1","seq":42}
//
// that is: keys in ascending order, no whitespace, strings escaped only
// for '"', '\\' and control characters (\b \t \n \f \r, others as \u00xx),
// non-ASCII characters as themselves, seq as a decimal integer, at in UTC
// as RFC 3339 with exactly six fraction digits (PostgreSQL keeps
// microseconds). Empty fields are "" (never null). In Python:
//
//	canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
//	hash = hashlib.sha256(prev_hash.encode() + b"\n" + canonical).hexdigest()
//
// Verify (`askonce audit verify`) recomputes the chain: a changed field
// breaks the entry's hash, a deleted entry leaves a gap in seq, a rewritten
// suffix breaks the link to the entry before it, and entries deleted from
// the end show against the topic mirror's checkpoint. Someone who rewrites
// the whole table consistently is caught by comparing it with the topic
// mirror or with a last hash noted earlier.
//
// # Group commit
//
// Append hands the entry to a single writer goroutine and waits until it
// is committed. The writer takes every entry waiting (up to MaxBatch) and
// writes them in one transaction: pg_advisory_xact_lock (several API
// instances sharing the database keep one chain), read the last (seq,
// hash), chain, COPY, commit, then release all the waiters. Requests thus
// share transactions instead of queueing for one each.
package audit

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/askonce/askonce/internal/attest"
	"github.com/askonce/askonce/internal/clip"
	"github.com/askonce/askonce/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrate creates or updates the audit tables.
func Migrate(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) error {
	_, err := store.Migrate(ctx, pool, "audit", migrations, "migrations", log)
	return err
}

// CheckSchema returns an error unless the audit tables are at the version this
// release needs (`askonce migrate` migrates them).
func CheckSchema(ctx context.Context, pool *pgxpool.Pool) error {
	return store.Check(ctx, pool, "audit", migrations, "migrations")
}

// Outcomes of a request: the one set the lookup API, the clerk console
// and the notification router write and read. Entry.Outcome is not limited
// to them, but metrics count values other than the API's six as "other".
const (
	OutcomeIssued          = "issued"
	OutcomeNotHeld         = "not_held"
	OutcomeDenied          = "denied"
	OutcomeInvalid         = "invalid"
	OutcomeUnauthenticated = "unauthenticated"
	OutcomeRateLimited     = "rate_limited"
	// OutcomeNotified: the router emitted a notification.
	OutcomeNotified = "notified"
)

// Document types of entries that are not a document of the catalog.
const (
	// DocAttestation: a read of an issued attestation (GET /v1/attestations/{id}).
	DocAttestation = "attestation"
	// DocPortfolio: a portfolio call, over the API or askonce.portfolio.<agency>.
	DocPortfolio = "portfolio"
	// DocNotification: a notification the router emitted.
	DocNotification = "notification"
)

// GenesisHash is the prev_hash of entry 1.
var GenesisHash = strings.Repeat("0", 64)

// Entry is one request to the lookup API. Seq, PrevHash and Hash are set
// by the log; At is the request's time (Append sets it to now when zero).
type Entry struct {
	Seq          int64     `json:"seq" avro:"seq"`
	At           time.Time `json:"at" avro:"at"`
	RequestID    string    `json:"request_id" avro:"request_id"`
	Client       string    `json:"client" avro:"client"`
	ClerkID      string    `json:"clerk_id" avro:"clerk_id"`
	NIN          string    `json:"nin" avro:"nin"`
	DocumentType string    `json:"document_type" avro:"document_type"`
	Purpose      string    `json:"purpose" avro:"purpose"`
	Outcome      string    `json:"outcome" avro:"outcome"`
	Reason       string    `json:"reason" avro:"reason"`
	DocumentID   string    `json:"document_id" avro:"document_id"`
	PrevHash     string    `json:"prev_hash" avro:"prev_hash"`
	Hash         string    `json:"hash" avro:"hash"`
}

// TimeFormat is how the hash encodes At (always UTC).
const TimeFormat = "2006-01-02T15:04:05.000000Z"

// Canonical is the canonical JSON of e's fields except Hash: what Hash
// hashes after prev_hash and a newline.
func Canonical(e Entry) ([]byte, error) {
	return attest.Canonical(map[string]any{
		"seq":           e.Seq,
		"at":            e.At.UTC().Format(TimeFormat),
		"request_id":    e.RequestID,
		"client":        e.Client,
		"clerk_id":      e.ClerkID,
		"nin":           e.NIN,
		"document_type": e.DocumentType,
		"purpose":       e.Purpose,
		"outcome":       e.Outcome,
		"reason":        e.Reason,
		"document_id":   e.DocumentID,
		"prev_hash":     e.PrevHash,
	})
}

// Hash computes the hash of e from its other fields (see the package
// documentation).
func Hash(e Entry) (string, error) {
	c, err := Canonical(e)
	if err != nil {
		return "", fmt.Errorf("audit: entry %d: %w", e.Seq, err)
	}
	h := sha256.New()
	h.Write([]byte(e.PrevHash))
	h.Write([]byte{'\n'})
	h.Write(c)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// maxField bounds each text field, in bytes.
const maxField = 2048

// normalize makes e storable whatever the request carried: times in UTC
// to the microsecond, text valid UTF-8 without NUL (PostgreSQL refuses
// it) and bounded, so that one odd request cannot fail the batch it
// shares with others. A request is audited as it came, not refused.
func normalize(e Entry) Entry {
	if e.At.IsZero() {
		e.At = time.Now()
	}
	e.At = e.At.UTC().Truncate(time.Microsecond)
	for _, f := range []*string{&e.RequestID, &e.Client, &e.ClerkID, &e.NIN, &e.DocumentType, &e.Purpose, &e.Outcome, &e.Reason, &e.DocumentID} {
		*f = cleanText(*f)
	}
	e.Seq, e.PrevHash, e.Hash = 0, "", ""
	return e
}

func cleanText(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	}
	if len(s) > maxField {
		s = clip.To(s, maxField-len("…")) + "…"
	}
	return s
}

// ErrClosed is returned by Append once Run has returned.
var ErrClosed = errors.New("audit: the audit log is closed")
