package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/askonce/askonce/internal/bench"
)

func (a *app) benchCmd() *cobra.Command {
	opt := bench.Defaults()
	var quick bool
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure ingest and lookup on this machine, as ratios to its ceilings, and write BENCHMARKS.md",
		Long: `Measures the bus on this machine and writes BENCHMARKS.md (make bench):

 1. Ingest, end to end: seeds --persons-ingest persons in 33 data centers (askonce seed), runs
    askonce connect --synthetic and askonce materialize as processes until the store holds every
    valid record, reconciles, and measures two ceilings on the same records: raw kafka-go produce
    to the same broker (acks=all) and raw COPY into PostgreSQL. --runs runs: median, min, max.
 2. Lookup: a store of --persons-lookup persons, askonce serve as a process (auth, policy, signing,
    audit), closed-loop HTTP clients at 1, 16, 64 and 256 for --duration each, against raw pgx
    queries of the same document rules at the same concurrency.
 3. Micro: go test -bench of Avro vs JSON per record type (when the go tool is found).
 4. Peak RSS and CPU of each component; 5. an extrapolation to 47 M citizens.

Runs on the private PostgreSQL (askonce pg) in databases bench_<id>_* that it creates and drops,
an embedded broker on a free port with a temporary data directory, and the schema registry in
this process. Never touches the dev data. Progress on stderr. Heavy: minutes at the defaults;
--quick is a smoke run.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := a.load(cmd, nil)
			if err != nil {
				return err
			}
			if quick {
				out := opt.Out
				opt.QuickSizes()
				// Explicit sizes win over --quick's.
				fl := cmd.Flags()
				for name, set := range map[string]func(){
					"persons-ingest": func() { opt.PersonsIngest, _ = fl.GetInt("persons-ingest") },
					"persons-lookup": func() { opt.PersonsLookup, _ = fl.GetInt("persons-lookup") },
					"runs":           func() { opt.Runs, _ = fl.GetInt("runs") },
					"duration":       func() { opt.Duration, _ = fl.GetDuration("duration") },
				} {
					if fl.Changed(name) {
						set()
					}
				}
				opt.Out = out
			}
			opt.Config, opt.Log, opt.Progress = cfg, log, a.stderr
			if wd, err := os.Getwd(); err == nil {
				opt.ModuleDir = bench.ModuleDir(wd)
			}
			_, err = bench.Run(cmd.Context(), opt)
			return err
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&opt.PersonsIngest, "persons-ingest", opt.PersonsIngest, "persons seeded for the ingest runs")
	fl.IntVar(&opt.PersonsLookup, "persons-lookup", opt.PersonsLookup, "persons in the lookup store (also the askonce seed figure)")
	fl.IntVar(&opt.Runs, "runs", opt.Runs, "ingest runs (median, min, max)")
	fl.DurationVar(&opt.Duration, "duration", opt.Duration, "duration of each lookup concurrency level")
	fl.IntSliceVar(&opt.Concurrency, "clients", opt.Concurrency, "lookup concurrency levels")
	fl.StringVar(&opt.Out, "out", "BENCHMARKS.md", "file written (empty: none)")
	fl.BoolVar(&opt.Micro, "micro", opt.Micro, "run the go test -bench micro benchmarks (needs the go tool and the source tree)")
	fl.BoolVar(&opt.SkipIngest, "skip-ingest", false, "leave out the ingest runs (a partial report)")
	fl.BoolVar(&opt.SkipLookup, "skip-lookup", false, "leave out the lookup benchmark (a partial report)")
	fl.StringVar(&opt.ProfileDir, "profile", "", "directory for CPU profiles (pprof) of the lookup API at each level and of connect/materialize in each ingest run")
	fl.BoolVar(&quick, "quick", false, "smoke run: 5,000 / 20,000 persons, 1 run, 3 s per level")
	return cmd
}
