package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/askonce/askonce/internal/config"
	"github.com/askonce/askonce/internal/devpg"
	"github.com/askonce/askonce/internal/wiring"
)

func (a *app) pgCmd() *cobra.Command {
	def := config.Default()
	keys := map[string]string{"dir": "postgres.dev.dir", "port": "postgres.dev.port"}
	instance := func(cmd *cobra.Command) (*devpg.Instance, error) {
		cfg, log, err := a.load(cmd, keys)
		if err != nil {
			return nil, err
		}
		return devpg.New(wiring.DevPG(cfg.Postgres.Dev), log)
	}
	cmd := &cobra.Command{
		Use:   "pg",
		Short: "Manage the private PostgreSQL instance for dev and tests (start, stop, status, url)",
		Long: `The private PostgreSQL runs Debian's postgresql-15 binaries (installed with apt-get when
missing) on its own port (default 55432) with its data, socket and log under --dir (default
.var/pg) and a generated password. It never touches a system PostgreSQL service.`,
	}
	pf := cmd.PersistentFlags()
	pf.String("dir", def.Postgres.Dev.Dir, "directory of the instance")
	pf.Int("port", def.Postgres.Dev.Port, "TCP port on 127.0.0.1")

	var mode string
	stop := &cobra.Command{
		Use:   "stop",
		Short: "Stop the instance (no-op when it does not run)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			i, err := instance(cmd)
			if err != nil {
				return err
			}
			return i.Stop(cmd.Context(), mode)
		},
	}
	stop.Flags().StringVar(&mode, "mode", "fast", "fast, smart, or immediate (like a crash)")

	destroy := &cobra.Command{
		Use:   "destroy",
		Short: "Stop the instance and delete all its data",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			i, err := instance(cmd)
			if err != nil {
				return err
			}
			return i.Destroy(cmd.Context())
		},
	}
	cmd.AddCommand(destroy, &cobra.Command{
		Use:   "start",
		Short: "Install (when missing), initialize (once) and start the instance; print its URL",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			i, err := instance(cmd)
			if err != nil {
				return err
			}
			u, err := i.Start(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, u)
			return nil
		},
	}, stop, &cobra.Command{
		Use:   "status",
		Short: "Say whether the instance runs (exit status 3 when it does not)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			i, err := instance(cmd)
			if err != nil {
				return err
			}
			pid, running, err := i.Status()
			if err != nil {
				return err
			}
			if !running {
				fmt.Fprintln(a.stdout, "stopped")
				return exitError{code: 3}
			}
			fmt.Fprintf(a.stdout, "running (pid %d)\n", pid)
			return nil
		},
	}, &cobra.Command{
		Use:   "url",
		Short: "Print the connection URL (with the generated password) of the askonce database",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			i, err := instance(cmd)
			if err != nil {
				return err
			}
			u, err := i.URL()
			if err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, u)
			return nil
		},
	})
	return cmd
}

// exitError ends the process with a status code and no message.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }
