package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/askonce/askonce/internal/config"
	"github.com/askonce/askonce/internal/ops"
)

// app is the state of one invocation: where output goes, the environment it
// was started with, and the configuration loaded for the chosen subcommand.
type app struct {
	stdout, stderr io.Writer
	environ        []string
	configFile     string
}

func newApp(stdout, stderr io.Writer, environ []string) *app {
	return &app{stdout: stdout, stderr: stderr, environ: environ}
}

// globalFlags are the persistent flags every subcommand has, with their keys.
var globalFlags = map[string]string{
	"log-level":    "log.level",
	"log-format":   "log.format",
	"ops-listen":   "ops.listen",
	"pprof-listen": "ops.pprof_listen",
}

func (a *app) root() *cobra.Command {
	root := &cobra.Command{
		Use:   "askonce",
		Short: "askonce: the inter-agency data-exchange bus (a citizen is never asked twice for a paper the administration holds)",
		Long: `askonce publishes civil-status, employment and contribution records from the agencies'
data centers onto Kafka topics (Avro, Confluent wire format), materializes them into a lookup
store, and answers clerks' document requests with signed documents or a clear "not held".

Configuration: defaults < --config FILE (YAML) < ASKONCE_* environment < flags.
See deploy/askonce.example.yaml for every key.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	def := config.Default()
	pf := root.PersistentFlags()
	pf.StringVar(&a.configFile, "config", "", "YAML configuration file")
	pf.String("log-level", def.Log.Level, "log level: debug, info, warn, error")
	pf.String("log-format", def.Log.Format, "log format: auto, text, json")
	pf.String("ops-listen", "", "address of /metrics, /healthz, /readyz (default: the subcommand's own port)")
	pf.String("pprof-listen", "", "address of Go's /debug/pprof/ profiles (default: off; keep it on loopback)")

	root.AddCommand(
		a.accessCmd(),
		a.auditCmd(),
		a.benchCmd(),
		a.configCmd(),
		a.connectCmd(),
		a.devCmd(),
		a.keysCmd(),
		a.materializeCmd(),
		a.migrateCmd(),
		a.notifyCmd(),
		a.consumeCmd(),
		a.brokerCmd(),
		a.pgCmd(),
		a.policyCmd(),
		a.reconcileCmd(),
		a.requestCmd(),
		a.registryCmd(),
		a.schemasCmd(),
		a.serveCmd(),
		a.seedCmd(),
		a.topicsCmd(),
		a.verifyCmd(),
		a.versionCmd(),
	)
	return root
}

// load builds the configuration for cmd: its own flags (flagKeys maps flag
// names to keys) plus the global ones.
func (a *app) load(cmd *cobra.Command, flagKeys map[string]string) (*config.Config, *slog.Logger, error) {
	keys := map[string]string{}
	for f, k := range globalFlags {
		keys[f] = k
	}
	for f, k := range flagKeys {
		keys[f] = k
	}
	cfg, err := config.Load(config.Layers{File: a.configFile, Environ: a.environ, Flags: cmd.Flags(), FlagKeys: keys})
	if err != nil {
		return nil, nil, err
	}
	log := ops.NewLogger(a.stderr, cfg.Log.Level, cfg.Log.Format)
	if cfg.Ops.PprofListen != "" {
		ctx := cmd.Context()
		if ctx == nil {
			ctx = context.Background()
		}
		go func() {
			if err := ops.ServePprof(ctx, cfg.Ops.PprofListen, log); err != nil {
				log.Error("pprof server stopped", "err", err)
			}
		}()
	}
	return cfg, log, nil
}

func (a *app) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of askonce and of the Go toolchain that built it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			version, goVersion, revision := "(devel)", "", ""
			if bi, ok := debug.ReadBuildInfo(); ok {
				if bi.Main.Version != "" {
					version = bi.Main.Version
				}
				goVersion = bi.GoVersion
				for _, s := range bi.Settings {
					if s.Key == "vcs.revision" {
						revision = s.Value
					}
				}
			}
			fmt.Fprintf(a.stdout, "askonce %s %s %s\n", version, goVersion, revision)
			return nil
		},
	}
}
