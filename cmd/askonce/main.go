// Command askonce is the one binary of the askonce data-exchange bus. Each
// component is a subcommand; `askonce --help` lists them. Along the data
// flow: connect (agency sources onto the topics), registry (the schemas),
// materialize (topics into the lookup store), notify (changes to the
// agencies that asked to hear of them), serve (the lookup API and the
// clerk console); then the tools around them (request, verify, consume,
// audit, reconcile, keys, policy, schemas, topics, config) and those of
// development (dev, broker, pg, seed, bench).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// Signals are handled here and only here: every component returns when
	// this context ends.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a := newApp(os.Stdout, os.Stderr, os.Environ())
	if err := a.root().ExecuteContext(ctx); err != nil {
		code := 1
		var ee exitError
		if errors.As(err, &ee) {
			code = ee.code
		} else {
			fmt.Fprintln(os.Stderr, "askonce:", err)
		}
		stop()
		os.Exit(code)
	}
}
