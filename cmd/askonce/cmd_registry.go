package main

import (
	"context"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/askonce/askonce/internal/config"
	"github.com/askonce/askonce/internal/ops"
	"github.com/askonce/askonce/internal/registry"
	"github.com/askonce/askonce/internal/store"
)

func (a *app) registryCmd() *cobra.Command {
	def := config.Default()
	cmd := &cobra.Command{
		Use:   "registry",
		Short: "Serve the schema registry (Confluent Schema Registry REST API, stored in PostgreSQL)",
		Long: `Serves the Confluent Schema Registry REST API over PostgreSQL (postgres.url, or the private
instance): subjects, versions, schemas by id, lookup, compatibility checks, config and deletes,
with Confluent's error codes. Confluent serializers (Java, .NET, Python, Go), hamba's registry
client and Kafka UIs use it as they would Confluent SR. /metrics, /healthz and /readyz are
served on the same address. Several instances can share one database.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := a.load(cmd, map[string]string{"listen": "registry.listen"})
			if err != nil {
				return err
			}
			return runRegistry(cmd.Context(), cfg, log)
		},
	}
	cmd.Flags().String("listen", def.Registry.Listen, "address to serve the API on")
	return cmd
}

func runRegistry(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	pool, err := store.Open(ctx, cfg.Postgres)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := registry.Migrate(ctx, pool, log); err != nil {
		return err
	}
	backend := registry.NewBackend(pool, cfg.Registry.Compatibility)
	reg := ops.NewRegistry()
	opsSrv := ops.NewServer(reg, log)
	opsSrv.AddCheck("postgres", backend.Ping)
	srv := registry.NewServer(backend, log, reg, registry.ServerOptions{
		RequireAuth: cfg.Registry.RequireAuth, Username: cfg.Registry.Username, Password: cfg.Registry.Password,
	}, opsSrv.Handler())
	return ops.ServeHTTP(ctx, cfg.Registry.Listen, srv, log, "schema registry", nil)
}
