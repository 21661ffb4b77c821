// Package synth is the synthetic agencies: it plays the part of the
// agencies' own systems of record, upstream of the bus, so that the whole
// data flow can run and be tested without a single real citizen.
//
// Ensure (`askonce seed`) generates a deterministic population and writes
// it into a sources database laid out as the agencies' data centers would
// hold it: one PostgreSQL schema per data center (etatcivil_dcNN, cnas_dcNN,
// casnos_dcNN), each with the tables of sql/agency.sql and the outbox
// contract of connectors/pgoutbox (askonce_outbox and its triggers). Rows
// are written through those tables, so every row lands in the outbox
// exactly as a real agency's change would, and the pgoutbox connector
// publishes it like any other. Live (`askonce seed --live`) then keeps
// changing the sources (births, deaths, marriages, contributions,
// payments, corrections, hires, rare withdrawals) through the same tables
// and triggers, one small transaction per change.
//
// The population follows the country's shape: families as lineages, the
// age pyramid, births weighted by wilaya, names in Arabic and Latin script,
// presumed birth dates, employment careers and monthly contributions at the
// two funds, employers in arrears. Regions cuts the 58 wilayas into
// contiguous strips, one per data center; DataCenters lists the data
// centers, for the connector instances that read them. A fixed fraction of
// the rows is defective on purpose (Defective), so that the record rules
// and the dead-letter queue are exercised on every run.
//
// Synthetic NINs can never be a real person's: their commune is in the
// reserved block 99WW, which the record rules refuse unless synthetic data
// is allowed. The same seed, population and number of data centers give
// the same rows on any machine and with any parallelism.
//
// It exists for development, tests and measurement (`askonce seed`,
// `askonce dev`, the synthetic connector configuration, the chaos test,
// the benchmarks, the generated deployment files); no production data
// ever passes through it.
package synth
