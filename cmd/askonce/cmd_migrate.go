package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/askonce/askonce/internal/dbroles"
	"github.com/askonce/askonce/internal/wiring"
	"github.com/askonce/askonce/internal/wiring/migratewire"
)

func (a *app) migrateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Create or update the database schema and its roles, as the owner role (a one-shot step before the components)",
		Long: `Connects to postgres.url (ASKONCE_POSTGRES_URL or postgres.url_file) with a login that may act as
the owner role askonce_owner: a superuser, or a member of askonce_owner (with CREATEROLE while the
group roles do not exist yet). It creates the group roles that are missing (NOLOGIN: askonce_owner,
askonce_audit_owner, askonce_api, askonce_materialize, askonce_notify, askonce_connect,
askonce_registry, askonce_reader), applies every component's migrations as askonce_owner, hands the
audit log to askonce_audit_owner and grants each runtime role exactly its privileges, revoking any
other. The runtime components never migrate: they stop at start on a database that is behind.

Run it before a new release's components start (a Kubernetes Job, a compose one-shot service). It is
idempotent, and concurrent runs wait for each other.

--logins DIR creates or updates, for each file of DIR named after a runtime group role (askonce_api,
...), the LOGIN role <group>_login, member of that group only, with the file's content as password:
rotate a password by changing its file and running migrate again. Without it, a DBA creates the
login roles (docs/security.md).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := a.load(cmd, nil)
			if err != nil {
				return err
			}
			u, err := wiring.PostgresURL(cfg.Postgres)
			if err != nil {
				return err
			}
			if err := migratewire.Migrate(cmd.Context(), u, log); err != nil {
				return err
			}
			dir, _ := cmd.Flags().GetString("logins")
			if dir == "" {
				return nil
			}
			logins, err := readLogins(dir)
			if err != nil {
				return err
			}
			if err := dbroles.EnsureLogins(cmd.Context(), u, logins); err != nil {
				return err
			}
			for _, l := range logins {
				log.Info("login role set", "login", l.Name, "member_of", l.Group)
			}
			return nil
		},
	}
	cmd.Flags().String("logins", "", "directory of password files, one per runtime group role (askonce_api, ...): create or update <role>_login")
	return cmd
}

// readLogins reads the password files of dir; a file named after no
// runtime role is an error (a typo would leave a component without login).
func readLogins(dir string) ([]dbroles.LoginRole, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("migrate: --logins: %w", err)
	}
	var out []dbroles.LoginRole
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, ".") {
			continue // Kubernetes secret volumes hold ..data links and dirs
		}
		known := false
		for _, r := range dbroles.Runtime {
			known = known || r == name
		}
		if !known {
			return nil, fmt.Errorf("migrate: --logins: %s is named after no runtime role (want one of %s)", filepath.Join(dir, name), strings.Join(dbroles.Runtime, ", "))
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("migrate: --logins: %w", err)
		}
		pw := strings.TrimRight(string(b), "\r\n")
		if pw == "" {
			return nil, fmt.Errorf("migrate: --logins: %s is empty", filepath.Join(dir, name))
		}
		out = append(out, dbroles.LoginRole{Name: name + "_login", Group: name, Password: pw})
	}
	return out, nil
}
