package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/askonce/askonce/internal/audit"
	"github.com/askonce/askonce/internal/wiring"
)

func (a *app) auditCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Check the lookup API's hash-chained audit log and list a citizen's accesses",
	}
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Recompute the audit log's hash chain; exit 1 and name the first altered or missing entry",
		Long: `Reads the audit log (postgres.url) in seq order and recomputes every entry's hash from its
fields and the previous entry's hash. A changed field, a deleted entry, a rewritten suffix or
entries removed from the end (against the topic mirror's checkpoint) are reported with the
seq of the first bad entry. Note the last hash printed: if the log is ever rewritten whole,
that entry's hash will differ. Exit status 0 when intact, 1 otherwise.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, _, err := a.load(cmd, nil)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			pool, err := wiring.OpenPostgres(ctx, cfg.Postgres)
			if err != nil {
				return err
			}
			defer pool.Close()
			start := time.Now()
			res, err := audit.Verify(ctx, pool)
			if err != nil {
				return err
			}
			if !res.Intact() {
				fmt.Fprintf(a.stdout, "audit log TAMPERED at entry %d: %s\n", res.FirstBad, res.Reason)
				fmt.Fprintf(a.stdout, "%d entries intact before it\n", res.Entries)
				return exitError{code: 1}
			}
			if res.Entries == 0 {
				fmt.Fprintln(a.stdout, "audit log intact: 0 entries")
				return nil
			}
			fmt.Fprintf(a.stdout, "audit log intact: %d entries, last hash %s (entry %d), checked in %s\n",
				res.Entries, res.LastHash, res.LastSeq, time.Since(start).Round(time.Millisecond))
			fmt.Fprintf(a.stdout, "published on the audit topic up to entry %d\n", res.Published)
			return nil
		},
	}
	var nin string
	var limit int
	var asJSON bool
	logCmd := &cobra.Command{
		Use:   "log --nin NIN",
		Short: "Print who asked for a citizen's data, when, why and with what outcome (newest first)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if nin == "" {
				return fmt.Errorf("audit log: --nin is required")
			}
			cfg, _, err := a.load(cmd, nil)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			pool, err := wiring.OpenPostgres(ctx, cfg.Postgres)
			if err != nil {
				return err
			}
			defer pool.Close()
			entries, err := audit.ForCitizen(ctx, pool, nin, limit)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(a.stdout)
				for _, e := range entries {
					if err := enc.Encode(e); err != nil {
						return err
					}
				}
				return nil
			}
			if len(entries) == 0 {
				fmt.Fprintf(a.stdout, "no request about %s in the audit log\n", nin)
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "AT\tCLIENT\tCLERK\tDOCUMENT TYPE\tPURPOSE\tOUTCOME\tREASON\tDOCUMENT\tREQUEST\tSEQ")
			dash := func(s string) string {
				if s == "" {
					return "-"
				}
				return s
			}
			for _, e := range entries {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n", e.At.UTC().Format(time.RFC3339), dash(e.Client), dash(e.ClerkID),
					dash(e.DocumentType), dash(e.Purpose), e.Outcome, dash(e.Reason), dash(e.DocumentID), dash(e.RequestID), e.Seq)
			}
			return tw.Flush()
		},
	}
	logCmd.Flags().StringVar(&nin, "nin", "", "the citizen's NIN")
	logCmd.Flags().IntVar(&limit, "limit", 100, "most entries to print (at most 10000)")
	logCmd.Flags().BoolVar(&asJSON, "json", false, "print JSON lines instead of a table")
	cmd.AddCommand(verify, logCmd)
	return cmd
}
