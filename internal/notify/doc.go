// Package notify turns changes in citizens' records into notifications for
// the agencies that serve them, so that an agency learns of a death, a
// marriage or a new employment without asking anyone ("ask never").
//
// The router (askonce notify) is its own consumer group on the three
// record topics and on the portfolio topic of every configured agency,
// askonce.portfolio.<agency>. It decodes and validates each
// record as the materializer does, looks up the portfolios (PostgreSQL,
// package portfolio, which owns those tables) of the citizen concerned, and emits one Avro
// notification per subscribed agency on askonce.notify.<agency>, keyed by
// NIN, with an id derived from (agency, data center, source key, source
// version, kind, citizen): a replay produces the same id. The table
// notify_sent remembers, per agency, source record, kind and citizen, the
// highest version notified and a digest of the facts told, so replays and
// stale versions notify nothing and a corrected record notifies once, as a
// correction. Offsets are committed after the notifications are
// acknowledged by every in-sync replica, audited, and notify_sent is
// committed: at least once on the wire, exactly once in effect.
//
// A portfolio change belongs to the agency of the topic it was read from
// (only that agency's back office may write it): one naming another
// agency is dead-lettered (portfolio.agency_mismatch), never applied.
// Changes are checked against the lookup policy in force (package
// policy), read through the Watcher the process shares.
//
// Consume is the reference consumer (askonce consume) that back-office
// teams can copy.
package notify
