package audit

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Result is what Verify found.
type Result struct {
	// Entries is how many entries were found intact, from seq 1 on (all
	// of them when the chain is intact).
	Entries int64
	// FirstBad is the seq of the first entry that is altered or missing;
	// 0 when the chain is intact.
	FirstBad int64
	// Reason says what mismatched at FirstBad.
	Reason string
	// LastSeq and LastHash are those of the last intact entry: note them
	// to check later that the log was not rewritten since.
	LastSeq  int64
	LastHash string
	// Published is the topic mirror's checkpoint: entries up to it were
	// published on the audit topic.
	Published int64
}

// Intact tells whether the whole chain checked out.
func (r Result) Intact() bool { return r.FirstBad == 0 }

// verifyPage bounds the rows held in memory at once (a variable for the
// tests).
var verifyPage = 5000

// Verify recomputes the whole chain in seq order, a page at a time (memory
// stays bounded whatever the size of the log), and reports the first
// entry that is missing or does not match. An error means the check could
// not run (the database), not that the log is altered.
func Verify(ctx context.Context, pool *pgxpool.Pool) (Result, error) {
	var res Result
	var exists bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass('audit_log') IS NOT NULL`).Scan(&exists); err != nil {
		return res, fmt.Errorf("audit: verify: %w", err)
	}
	if !exists {
		return res, errors.New("audit: verify: there is no audit_log table in this database (has the lookup API run against it?)")
	}
	if err := pool.QueryRow(ctx, `SELECT coalesce((SELECT seq FROM audit_publish WHERE id = 1), 0)`).Scan(&res.Published); err != nil {
		return res, fmt.Errorf("audit: verify: %w", err)
	}
	prevHash := GenesisHash
	for {
		rows, err := pool.Query(ctx, selectEntry+` WHERE seq > $1 ORDER BY seq LIMIT $2`, res.LastSeq, verifyPage)
		if err != nil {
			return res, fmt.Errorf("audit: verify: %w", err)
		}
		page, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Entry, error) { return scanEntry(r) })
		if err != nil {
			return res, fmt.Errorf("audit: verify: %w", err)
		}
		for _, e := range page {
			bad := func(seq int64, format string, args ...any) (Result, error) {
				res.FirstBad = seq
				res.Reason = fmt.Sprintf(format, args...)
				return res, nil
			}
			want := res.LastSeq + 1
			if e.Seq != want {
				missing := fmt.Sprintf("entries %d to %d are missing (deleted)", want, e.Seq-1)
				if e.Seq == want+1 {
					missing = fmt.Sprintf("entry %d is missing (deleted)", want)
				}
				if want == 1 {
					return bad(want, "%s: the log starts at entry %d", missing, e.Seq)
				}
				return bad(want, "%s: the log goes from entry %d to entry %d", missing, res.LastSeq, e.Seq)
			}
			if e.PrevHash != prevHash {
				if e.Seq == 1 {
					return bad(e.Seq, "entry 1: prev_hash is %.16s…, want 64 zeros", e.PrevHash)
				}
				return bad(e.Seq, "entry %d: prev_hash %.16s… is not the hash %.16s… of entry %d (entry %d was rewritten, hash included, or this link was changed)",
					e.Seq, e.PrevHash, prevHash, e.Seq-1, e.Seq-1)
			}
			h, err := Hash(e)
			if err != nil {
				return bad(e.Seq, "entry %d cannot be encoded: %v", e.Seq, err)
			}
			if h != e.Hash {
				return bad(e.Seq, "entry %d: its content does not match its hash (a field was changed after it was written): stored %.16s…, computed %.16s…",
					e.Seq, e.Hash, h)
			}
			res.Entries++
			res.LastSeq, res.LastHash = e.Seq, e.Hash
			prevHash = e.Hash
		}
		if len(page) < verifyPage {
			break
		}
	}
	if res.Published > res.LastSeq {
		res.FirstBad = res.LastSeq + 1
		res.Reason = fmt.Sprintf("entries %d to %d are missing (deleted from the end of the log): the topic mirror had published up to entry %d",
			res.LastSeq+1, res.Published, res.Published)
	}
	return res, nil
}
