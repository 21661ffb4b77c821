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
// The package holds only the test (TestChaos); it is skipped with -short.
// ASKONCE_CHAOS_SEED replays a run's fault schedule, ASKONCE_CHAOS_DURATION
// changes how long faults are injected (default 60s, and at least 20
// faults whatever the duration).
package chaos
