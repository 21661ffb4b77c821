package main

import (
	"github.com/spf13/cobra"

	"github.com/askonce/askonce/internal/config"
	"github.com/askonce/askonce/internal/dev"
)

func (a *app) devCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run the whole bus in one process on embedded defaults, with synthetic data (make demo)",
		Long: `Starts (or reuses) the private PostgreSQL, then in this process: the embedded Kafka broker
(127.0.0.1:9092, data in .var/kafka), the schema registry (http://127.0.0.1:8081), synthetic
sources for 11 data centers per agency (seeded once: --persons, default 50000), the connectors,
the materializer and the lookup API (http://127.0.0.1:8080, dev policy and keys). When the
store has caught up with the synthetic sources' records (records written by other producers
are reported, never waited for) it prints what to try and writes .var/dev/sample-citizens.json;
the sources then keep changing at --rate changes per second (below 90% of it, a WARN every
10 s says what bounds it). Ctrl-C stops everything; running again keeps the data and resumes;
make clean wipes .var/.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := a.load(cmd, map[string]string{"persons": "seed.persons", "rate": "seed.live_rate"})
			if err != nil {
				return err
			}
			def := config.Default()
			if !cmd.Flags().Changed("persons") && cfg.Seed.Persons == def.Seed.Persons {
				cfg.Seed.Persons, _ = cmd.Flags().GetInt("persons")
			}
			if !cmd.Flags().Changed("rate") && cfg.Seed.LiveRate == def.Seed.LiveRate {
				cfg.Seed.LiveRate, _ = cmd.Flags().GetFloat64("rate")
			}
			return dev.Run(cmd.Context(), cfg, dev.Options{Dir: ".var/dev", Out: a.stdout, Progress: a.stderr, StopPostgres: true}, log)
		},
	}
	cmd.Flags().Int("persons", 50_000, "size of the synthetic population (first run only)")
	cmd.Flags().Float64("rate", 2, "changes per second the synthetic sources keep making")
	return cmd
}
