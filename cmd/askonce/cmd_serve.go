package main

import (
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/askonce/askonce/internal/config"
	"github.com/askonce/askonce/internal/ops"
	"github.com/askonce/askonce/internal/wiring"
)

func (a *app) serveCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the lookup API: signed documents for clerks, or a clear \"not held\"",
		Long: `Serves the lookup API on lookup.listen (default http://127.0.0.1:8080), with /metrics,
/healthz and /readyz on the same address: POST /v1/document-requests, GET /v1/document-types,
GET /v1/attestations/{id}, GET /v1/citizens/{nin}/access-log, GET /v1/keys, GET /openapi.yaml;
the clerk console at /console and the public verification page /verify/{id}.
Clients and what they may ask come from the policy file (lookup.policy_file); SIGHUP reloads it
and the signing keys. Every request is appended to the hash-chained audit log before it is
answered.

--dev serves the dev policy (deploy/devfiles/policy.yaml, keys dev-<client>-key) and creates a
signing key when there is none.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := a.load(cmd, map[string]string{"listen": "lookup.listen", "policy": "lookup.policy_file"})
			if err != nil {
				return err
			}
			if dev, _ := cmd.Flags().GetBool("dev"); dev {
				cfg.Lookup.DevMode = true
				cfg.Lookup.CreateSigningKey = true
				if cfg.Lookup.PolicyFile == "" {
					cfg.Lookup.PolicyFile = "deploy/devfiles/policy.yaml"
				}
			}
			// The API's live heap is small (tens of MB) and its garbage is
			// per request: collecting at 5x the live heap instead of 2x
			// spends a third of the GC CPU for a few tens of MB more RSS
			// (see BENCHMARKS.md). GOGC set in the environment wins.
			if _, set := os.LookupEnv("GOGC"); !set {
				debug.SetGCPercent(400)
			}
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			reg := ops.NewRegistry()
			return wiring.Serve(cmd.Context(), cfg, reg, ops.NewServer(reg, log), log, nil, hup, nil)
		},
	}
	def := config.Default()
	cmd.Flags().String("listen", def.Lookup.Listen, "address of the API")
	cmd.Flags().String("policy", "", "policy file (lookup.policy_file)")
	cmd.Flags().Bool("dev", false, "dev mode: the dev policy and its well-known keys, a signing key created when missing")
	return cmd
}
