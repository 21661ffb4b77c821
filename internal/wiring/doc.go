// Package wiring is askonce's composition root: it turns the configuration
// (internal/config) into each component's own small config struct and
// explicit dependencies (a PostgreSQL pool with its migrations, a Kafka
// connection with its codec over the schema registry, a logger, a
// Prometheus registerer, the shared policy), adds their readiness checks,
// and runs them until the context ends. cmd/askonce, `askonce dev` and the
// integration tests build components through it; component packages never
// import internal/config. The connectors' part is in the sub-package
// connectwire (see there why).
package wiring
