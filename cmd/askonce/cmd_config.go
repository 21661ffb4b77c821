package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/askonce/askonce/internal/config"
)

func (a *app) configCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Inspect the configuration",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "print",
		Short: "Print the effective configuration (defaults < file < ASKONCE_* env < flags), secrets redacted",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, _, err := a.load(cmd, nil)
			if err != nil {
				return err
			}
			out, err := cfg.YAML()
			if err != nil {
				return err
			}
			_, err = a.stdout.Write(out)
			return err
		},
	}, &cobra.Command{
		Use:   "keys",
		Short: "List every configuration key with its environment variable",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			for _, k := range config.Keys() {
				fmt.Fprintf(a.stdout, "%-40s %s\n", k, config.EnvName(k))
			}
			return nil
		},
	})
	return cmd
}
