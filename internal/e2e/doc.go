// Package e2e holds the end-to-end tests: they build the real binary and
// run the bus as separate processes (broker, registry, connectors,
// materializer, lookup API) over the private PostgreSQL and the embedded
// broker, from an agency's outbox to a signed document, and SIGKILL
// components in the middle of a load. The package has no code of its own
// beside its tests.
package e2e
