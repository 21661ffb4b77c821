// Package chaos is `make chaos`: it runs the bus as separate processes of
// the real binary (broker, registry, connect, materialize, serve, and the
// synthetic agency sources in live mode) on a PostgreSQL cluster of its
// own, SIGKILLs and restarts a random component at random intervals while
// the sources keep changing, then proves that nothing was lost: `askonce
// reconcile` finds zero difference, no stored record ever went back to a
// lower version (triggers on the store tables), every valid outbox row is
// on its topic and every defective one in the DLQ, and every document the
// lookup API issued is in the audit log.
//
// Two more faults. A hostile producer (testdata/hostile.py, Debian's
// python3-confluent-kafka, so librdkafka rather than askonce's client)
// writes to the record topics frames that are not the wire format, an
// unknown schema id and well-framed records with hostile text or another
// agency's provenance, each under its own key chaos-hostile-<case>: every
// one must be in the DLQ with its reason code (hostile_test.go), the
// materializer's group must commit past it and the store go on. And every
// materializer process is paused (SIGSTOP, 30-90 s, once the store has
// caught up) while the sources keep changing; the report counts the life
// certificates asked meanwhile, issued or refused as stale. Every document
// issued must claim no more freshness (as_of) than the store's watermark
// history shows it had when it was issued (watermark_test.go).
//
// The broker runs as the dev broker does, with SASL and ACLs on: the
// superuser applies the access model (`askonce access apply --synthetic`),
// askonce-release creates the topics, the materializer and the lookup API
// authenticate as askonce-materializer and askonce-api; the connectors, one
// process for every data center, and the hostile producer, which must
// reach the record topics of two agencies, as the superuser. The test's
// own reads are the superuser's.
//
// The package holds only the test (TestChaos); it is skipped with -short.
// ASKONCE_CHAOS_SEED replays a run's fault schedule, ASKONCE_CHAOS_DURATION
// changes how long faults are injected (default 60s, and at least 20
// faults whatever the duration).
package chaos
