package main

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/askonce/askonce/internal/lookup"
	"github.com/askonce/askonce/internal/policy"
)

func (a *app) policyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Check a lookup policy file; make and hash client API keys",
	}
	var dev bool
	check := &cobra.Command{
		Use:   "check FILE",
		Short: "Validate a policy file and list what each client may ask",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			p, err := policy.Load(args[0], dev, lookup.PolicyCatalog)
			if err != nil {
				return err
			}
			for _, c := range p.Clients() {
				fmt.Fprintf(a.stdout, "%s (%s), %g req/s (burst %d)\n", c.ID, c.Name, c.Rate, c.Burst)
				grants := c.Purposes()
				for _, purpose := range slices.Sorted(maps.Keys(grants)) {
					fmt.Fprintf(a.stdout, "  %s: %s\n", purpose, strings.Join(grants[purpose], ", "))
				}
			}
			if p.DevOnly() {
				fmt.Fprintln(a.stdout, "dev_only: accepted only with lookup.dev_mode")
			}
			return nil
		},
	}
	check.Flags().BoolVar(&dev, "dev", false, "accept a dev_only policy")
	newKey := &cobra.Command{
		Use:   "new-key",
		Short: "Generate a random API key and print it with the hash to put in the policy",
		Long: `Prints a new API key (give it to the client's operators over a secure channel; askonce
never stores it) and its hash (put it in the client's api_keys in the policy file).`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			b := make([]byte, 32)
			if _, err := rand.Read(b); err != nil {
				return err
			}
			key := "ak_" + base64.RawURLEncoding.EncodeToString(b)
			fmt.Fprintf(a.stdout, "key:  %s\nhash: %s\n", key, policy.HashKey(key))
			return nil
		},
	}
	hashKey := &cobra.Command{
		Use:   "hash-key",
		Short: "Read an API key on stdin and print the hash to put in the policy",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
			key := strings.TrimSpace(line)
			if key == "" {
				if err != nil {
					return fmt.Errorf("policy hash-key: no key on stdin: %w", err)
				}
				return errors.New("policy hash-key: empty key")
			}
			fmt.Fprintln(a.stdout, policy.HashKey(key))
			return nil
		},
	}
	cmd.AddCommand(check, newKey, hashKey)
	return cmd
}
