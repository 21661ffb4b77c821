package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/askonce/askonce/internal/config"
	"github.com/askonce/askonce/internal/ops"
	"github.com/askonce/askonce/internal/registry"
	"github.com/askonce/askonce/internal/wiring"
)

func (a *app) registryCmd() *cobra.Command {
	def := config.Default()
	cmd := &cobra.Command{
		Use:   "registry",
		Short: "Serve the schema registry (Confluent Schema Registry REST API, stored in PostgreSQL)",
		Long: `Serves the Confluent Schema Registry REST API over PostgreSQL (postgres.url): subjects, versions, schemas by id, lookup, compatibility checks, config and deletes,
with Confluent's error codes. Confluent serializers (Java, .NET, Python, Go), hamba's registry
client and Kafka UIs use it as they would Confluent SR. /metrics, /healthz and /readyz are
served on the same address. Several instances can share one database.

Outside dev mode the calls that change the registry (register, delete, PUT/DELETE config) need
the basic-auth credential registry.username/registry.password (refused with 401 otherwise, and
all of them when none is set); registry.require_auth extends it to every call. --dev accepts
writes without it (askonce dev, local experiments).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := a.load(cmd, map[string]string{"listen": "registry.listen"})
			if err != nil {
				return err
			}
			dev, _ := cmd.Flags().GetBool("dev")
			return runRegistry(cmd.Context(), cfg, log, dev, nil)
		},
	}
	cmd.Flags().String("listen", def.Registry.Listen, "address to serve the API on")
	cmd.Flags().Bool("dev", false, "dev mode: accept schema registrations, deletes and config changes without the credential")
	return cmd
}

func runRegistry(ctx context.Context, cfg *config.Config, log *slog.Logger, dev bool, bound func(string)) error {
	pool, err := wiring.OpenPostgres(ctx, cfg.Postgres)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := registry.CheckSchema(ctx, pool); err != nil {
		return err
	}
	backend := registry.NewBackend(pool, cfg.Registry.Compatibility)
	reg := ops.NewRegistry()
	opsSrv := ops.NewServer(reg, log)
	opsSrv.AddCheck("postgres", backend.Ping)
	srv := registry.NewServer(backend, log, reg, registry.ServerOptions{
		RequireAuth: cfg.Registry.RequireAuth, Username: cfg.Registry.Username, Password: cfg.Registry.Password,
		RequireWriteAuth: !dev,
	}, opsSrv.Handler())
	switch {
	case dev:
		log.Warn("DEV MODE: the schema registry accepts registrations and deletes without a credential")
	case cfg.Registry.Username == "" || cfg.Registry.Password == "":
		log.Warn("schema registry read-only: registrations, deletes and config changes need registry.username and registry.password (or --dev)")
	}
	var tc *tls.Config
	if cfg.Registry.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.Registry.TLSCertFile, cfg.Registry.TLSKeyFile)
		if err != nil {
			return fmt.Errorf("registry: tls_cert_file and tls_key_file: %w", err)
		}
		tc = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	return ops.ServeHTTPS(ctx, cfg.Registry.Listen, srv, log, "schema registry", tc, bound)
}
