package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/askonce/askonce/internal/access"
	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/internal/config"
	"github.com/askonce/askonce/internal/dev"
	"github.com/askonce/askonce/internal/wiring"
)

func (a *app) accessCmd() *cobra.Command {
	keys := map[string]string{"brokers": "kafka.brokers"}
	var synthetic bool
	cmd := &cobra.Command{
		Use:   "access",
		Short: "Show the Kafka principals and their rights, or apply them to a cluster",
		Long: `The Kafka identity model (internal/access): one principal per component kind, one per
agency data center's connector (from connect.pgoutbox and connect.csvdrop, and the synthetic
data centers with --synthetic) and one per agency back office, with exactly the ACLs each
needs. Nobody is granted Delete, Alter or All: nobody deletes topics or records.`,
	}
	cmd.PersistentFlags().BoolVar(&synthetic, "synthetic", false, "add a connector principal for each data center of the synthetic sources (askonce seed)")
	model := func(cfg *config.Config) (access.Model, error) {
		if synthetic {
			dev.AddSynthetic(cfg)
		}
		return wiring.Access(cfg)
	}

	show := &cobra.Command{
		Use:   "show",
		Short: "Print every principal and its grants (--format json for tools)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, _, err := a.load(cmd, keys)
			if err != nil {
				return err
			}
			m, err := model(cfg)
			if err != nil {
				return err
			}
			format, _ := cmd.Flags().GetString("format")
			switch format {
			case "json":
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(m)
			case "table":
				return printModel(a.stdout, m)
			default:
				return fmt.Errorf("access show: --format %q: use table or json", format)
			}
		},
	}
	show.Flags().String("format", "table", "table or json")

	apply := &cobra.Command{
		Use:   "apply",
		Short: "Make the cluster's SCRAM credentials and ACLs match the model (as the cluster admin of kafka.sasl)",
		Long: `Connects as kafka.sasl (a superuser of the cluster) and:
  - sets the SCRAM-SHA-512 credential of every principal that has a password file
    in --passwords-dir (a file named after the principal, e.g. askonce-materializer);
    principals without one keep the credential they have;
  - creates every ACL of the model (Allow, host *, principal User:<name>);
  - deletes the ACLs of askonce-* principals that the model does not have, so that a
    right removed from the code is removed from the cluster.
Idempotent. Rotating a password: write the new one in its file, run apply, restart the
component that uses it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := a.load(cmd, keys)
			if err != nil {
				return err
			}
			m, err := model(cfg)
			if err != nil {
				return err
			}
			dir, _ := cmd.Flags().GetString("passwords-dir")
			c, err := bus.New(wiring.Kafka(cfg.Kafka))
			if err != nil {
				return err
			}
			defer c.Close()
			res, err := access.Apply(cmd.Context(), c.Admin(), m, dir, log)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "principals %d: credentials set %d, without a password file %d\n", len(m.Principals), len(res.Credentials), len(res.NoPassword))
			fmt.Fprintf(a.stdout, "ACLs %d: created %d, already present %d, deleted %d\n", len(m.ACLs()), len(res.Created), res.Kept, len(res.Deleted))
			for _, acl := range res.Deleted {
				fmt.Fprintf(a.stdout, "  deleted %s\n", acl)
			}
			return nil
		},
	}
	apply.Flags().String("passwords-dir", "", "directory of password files, one per principal name (empty: set no credential)")
	cmd.PersistentFlags().StringSlice("brokers", nil, "bootstrap brokers (default from kafka.brokers)")
	cmd.AddCommand(show, apply)
	return cmd
}

// printModel writes the model as a table: each principal, its kind, and
// its grants one per line.
func printModel(w io.Writer, m access.Model) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PRINCIPAL\tKIND\tRESOURCE\tNAME\tOPERATIONS")
	for _, p := range m.Principals {
		for i, g := range p.Grants {
			name, kind := p.Name, string(p.Kind)
			if i > 0 {
				name, kind = "", ""
			}
			res := g.Name
			if g.Pattern == access.Prefixed {
				res += "*"
			}
			ops := make([]string, len(g.Ops))
			for j, o := range g.Ops {
				ops[j] = string(o)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", name, kind, g.Resource, res, strings.Join(ops, ","))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n%d principals, %d ACLs; nobody is granted Delete, Alter or All. A name ending in * is a prefix.\n", len(m.Principals), len(m.ACLs()))
	return err
}
