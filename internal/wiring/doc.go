// Package wiring is askonce's composition root for its long-running
// components: it translates the configuration (internal/config) into each
// component's own small config struct, opens what they share (the
// PostgreSQL pool, migrations, the schema registry client, the bus), adds
// their ops checks, and runs them until the context ends. cmd/askonce and
// `askonce dev` call it; component packages (lookup, console, notify,
// portfolio, audit) never import the configuration themselves.
package wiring
