// Package connector is the contract every askonce connector fits, and the
// small runtime that runs them. A Source reads its system of record (an
// outbox table, a directory of CSV drops) from a Checkpoint onwards and
// maps what it reads to Records, in source order; it only reads and maps.
// The Sink the runtime hands it owns the rest: validation against the
// record rules, one Avro encoding in the Confluent wire format, publishing
// to the record topics and the dead-letter queue (askonce.dlq.v1, with the
// reason in headers), waiting for the brokers' acknowledgement, saving the
// checkpoint (connect_checkpoints, in the bus database), retries with the
// one backoff (internal/retry), readiness, heartbeats, watermark rounds and
// metrics. Every source kind passes the conformance suite of
// connectors/connectortest.
//
// In the data flow: agency systems -> Source -> Sink -> record topics ->
// materializer -> lookup store.
package connector

import (
	"context"
	"time"
)

// Checkpoint is where a source resumes, opaque to the runtime: an outbox
// seq, a file digest and record count... The source encodes it; the runtime
// saves it once every record put with it is acknowledged, and hands the
// last one saved back to Source.Run. Nil means from the beginning.
type Checkpoint []byte

// Source is one connector instance's reader.
type Source interface {
	// Run reads records from cp onwards and hands them to sink, in source
	// order, until ctx ends (then it returns nil). Input it cannot map goes
	// to the sink as a Record with MapErr set: it never stops the source.
	// An error means the source itself failed (its database or directory
	// is unreachable): the runtime backs off, then calls Run again with the
	// last checkpoint saved.
	Run(ctx context.Context, cp Checkpoint, sink Sink) error
}

// Sink is what a Source hands its records to.
type Sink interface {
	// Put validates recs, encodes each once, publishes them (rejects to the
	// DLQ with their reason), waits for the brokers' acknowledgement, then
	// saves cp. It returns one Outcome per record, in order. It retries
	// until it succeeds; an error means ctx ended, and nothing may be
	// assumed about the batch (its checkpoint was not saved: a restart
	// puts it again, and downstream deduplicates by source version).
	Put(ctx context.Context, recs []Record, cp Checkpoint) ([]Outcome, error)
	// Heard says the source was read successfully just now, data or not.
	// When caughtUp is not zero, everything the source had committed before
	// caughtUp has been Put: the sink writes a watermark round when one is
	// due. Heard records the heartbeat and the instance's readiness.
	Heard(ctx context.Context, caughtUp time.Time)
	// Lag sets how many records the source holds beyond what was Put.
	Lag(n int64)
	// Reserve waits for room for one more batch in the process: the
	// batches read but not yet checkpointed are bounded across all
	// instances (MaxInFlightBatches), so a source calls it before reading
	// a batch. The room is given back by the next Put or Heard, or when
	// Run returns. False when ctx ended first.
	Reserve(ctx context.Context) bool
}

// Sequenced is a Source whose checkpoints are also a number that only
// grows (an outbox seq): the runtime keeps it beside the checkpoint, in
// connect_checkpoints.position, for operators and tools.
type Sequenced interface {
	Seq(cp Checkpoint) int64
}

// Outcome is what Put did with one record: published to its topic (Code
// empty), or dead-lettered with Code and Message.
type Outcome struct {
	Code    string
	Message string
}

// Published says whether the record went to its topic.
func (o Outcome) Published() bool { return o.Code == "" }
