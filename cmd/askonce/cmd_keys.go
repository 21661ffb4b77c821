package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/askonce/askonce/internal/attest"
	"github.com/askonce/askonce/internal/config"
)

func (a *app) keysCmd() *cobra.Command {
	// keysDir resolves --dir / lookup.signing_keys_dir.
	keysDir := func(cmd *cobra.Command) (string, error) {
		cfg, _, err := a.load(cmd, map[string]string{"dir": "lookup.signing_keys_dir"})
		if err != nil {
			return "", err
		}
		return cfg.Lookup.SigningKeysDir, nil
	}
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Manage the Ed25519 keys that sign the documents the lookup API issues",
		Long: `A keys directory holds one <kid>.pem (PKCS#8 private key, mode 0600) and one <kid>.json
(created_at, retired_at) per key. The newest key that is not retired signs; retired keys stay
published so that what they signed still verifies. Private keys never leave the directory:
these commands print key ids and public keys only.`,
	}
	cmd.PersistentFlags().String("dir", config.Default().Lookup.SigningKeysDir, "keys directory (lookup.signing_keys_dir)")

	rotate := &cobra.Command{
		Use:   "rotate",
		Short: "Generate a new active signing key (the first one in an empty directory); older keys are retired",
		Long: `Generates a new Ed25519 key, makes it the active one and marks the previous ones retired.
Retired keys keep verifying the documents they signed. Running lookup APIs sign with the new
key after their next key reload. Publish the new key set (askonce keys export, or GET /v1/keys)
to offline verifiers before documents signed with it reach them.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := keysDir(cmd)
			if err != nil {
				return err
			}
			kid, err := attest.Rotate(dir)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "new active key %s in %s\n", kid, dir)
			return nil
		},
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the keys: id, status, creation and retirement times",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := keysDir(cmd)
			if err != nil {
				return err
			}
			k, err := attest.LoadKeyring(dir, attest.KeyringOptions{})
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "KID\tSTATUS\tCREATED\tRETIRED")
			for _, pk := range k.PublicKeys() {
				retired := "-"
				if pk.RetiredAt != nil {
					retired = pk.RetiredAt.UTC().Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", pk.KID, pk.Status, pk.CreatedAt.UTC().Format(time.RFC3339), retired)
			}
			return tw.Flush()
		},
	}
	export := &cobra.Command{
		Use:   "export",
		Short: "Print the public key set (JWKS JSON, as GET /v1/keys serves it) for offline verifiers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := keysDir(cmd)
			if err != nil {
				return err
			}
			k, err := attest.LoadKeyring(dir, attest.KeyringOptions{})
			if err != nil {
				return err
			}
			b, err := json.MarshalIndent(k.KeySet(), "", "  ")
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(a.stdout, "%s\n", b)
			return err
		},
	}
	cmd.AddCommand(rotate, list, export)
	return cmd
}
