// Package poison keeps one bad record from stopping a consumer of a topic.
//
// A topic is a boundary: any Kafka client of any agency can write to it, so
// every consumer (the materializer, the notification router, any future
// one) treats every record as untrusted input. When applying a batch fails,
// Classify tells an outage (the database or the broker is down, a
// serialization conflict: retry the same batch) from a refusal about the
// data (an invalid byte sequence, a value out of range, a constraint: no
// retry can cure it). Isolate then splits the batch until each offender is
// alone, applies everything else, and hands the offenders back to be
// dead-lettered with the database's reason.
package poison

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
)

// Class is what a failed attempt means for the batch.
type Class int

const (
	// Outage: retry the same batch later; nothing is wrong with the data.
	Outage Class = iota
	// Data: the data itself is refused; retrying cannot cure it.
	Data
)

func (c Class) String() string {
	if c == Data {
		return "data"
	}
	return "outage"
}

// CodeStoreRefused is the DLQ reason of a record the database refused.
const CodeStoreRefused = "store.refused"

// dataError marks an error as being about the data.
type dataError struct{ err error }

func (e dataError) Error() string { return e.err.Error() }
func (e dataError) Unwrap() error { return e.err }

// DataError marks err as a refusal of the data (for failures that do not
// come from PostgreSQL, e.g. a value that cannot be encoded).
func DataError(err error) error {
	if err == nil {
		return nil
	}
	return dataError{err}
}

// Classify tells a refusal of the data from an outage. PostgreSQL's
// SQLSTATE classes 22 (data exception: invalid text, a value out of
// range), 23 (integrity constraint) and 54 (program limit: a value too
// large for an index) are about the data. Everything else is retried:
// connection loss (08), conflicts (40), resources (53), shutdown (57),
// system errors (58, XX), and also errors about the statement itself (42,
// a defect of a release), which must never dead-letter a whole stream.
func Classify(err error) Class {
	if err == nil {
		return Outage
	}
	var de dataError
	if errors.As(err, &de) {
		return Data
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && len(pe.Code) == 5 {
		switch pe.Code[:2] {
		case "22", "23", "54":
			return Data
		}
	}
	return Outage
}

// Reason is the DLQ message of a data refusal: the database's own words
// and SQLSTATE when it comes from PostgreSQL.
func Reason(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		s := fmt.Sprintf("the store refused the record: %s (SQLSTATE %s)", pe.Message, pe.Code)
		if pe.ColumnName != "" {
			s += " column " + pe.ColumnName
		}
		return s
	}
	return "the store refused the record: " + err.Error()
}

// Failure is an item that was refused alone, and why.
type Failure[T any] struct {
	Item T
	Err  error
}

// Isolate applies items with try, which must be idempotent and atomic (a
// transaction of its own): when try fails with a Data error, the items are
// split in halves and each half tried again, until every offender is
// alone. It returns the offenders; every other item has been applied. An
// Outage error at any step ends the isolation: the caller retries the
// whole batch later (what was applied is applied again without effect).
func Isolate[T any](ctx context.Context, items []T, try func(context.Context, []T) error) ([]Failure[T], error) {
	if len(items) == 0 {
		return nil, nil
	}
	err := try(ctx, items)
	if err == nil {
		return nil, nil
	}
	if Classify(err) == Outage || ctx.Err() != nil {
		return nil, err
	}
	if len(items) == 1 {
		return []Failure[T]{{Item: items[0], Err: err}}, nil
	}
	mid := len(items) / 2
	left, err := Isolate(ctx, items[:mid], try)
	if err != nil {
		return nil, err
	}
	right, err := Isolate(ctx, items[mid:], try)
	if err != nil {
		return nil, err
	}
	return append(left, right...), nil
}
