// Package pgoutbox is the connector for agencies' PostgreSQL systems of
// record: it reads the transactional outbox (askonce_outbox, filled by the
// triggers of sql/outbox.sql in the agency's own transactions) in sequence
// order, maps each row to its Avro record and hands it to the connector
// runtime, which validates, publishes and checkpoints.
package pgoutbox

import _ "embed"

// OutboxSQL is the agency-side contract: the askonce_outbox table and the
// askonce_bump_version and askonce_capture trigger functions. Idempotent;
// run it with search_path set to the schema of the agency's tables.
//
//go:embed sql/outbox.sql
var OutboxSQL string
