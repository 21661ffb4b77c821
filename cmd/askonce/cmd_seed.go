package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/askonce/askonce/internal/config"
	"github.com/askonce/askonce/internal/devpg"
	"github.com/askonce/askonce/internal/ops"
	"github.com/askonce/askonce/internal/store"
	"github.com/askonce/askonce/internal/synth"
	"github.com/askonce/askonce/internal/wiring"
)

const defaultSeedOps = "127.0.0.1:9105"

type seedFlags struct {
	live, reset bool
	asOf        string
	writers     int
}

func (a *app) seedCmd() *cobra.Command {
	def := config.Default()
	var f seedFlags
	cmd := &cobra.Command{
		Use:   "seed",
		Short: "Load the synthetic agency sources (civil status, CNAS, CASNOS) and optionally keep changing them",
		Long: `Generates a deterministic synthetic population (birth acts with synthetic NINs, families,
marriages, divorces, deaths, CNAS and CASNOS affiliations, employment periods and monthly
contributions) and writes it into one PostgreSQL schema per agency data center
(etatcivil_dcNN, cnas_dcNN, casnos_dcNN) of the sources database, through the agency-side
outbox contract: every row goes through the tables' triggers into askonce_outbox.
A fraction --defects of the rows is invalid on purpose; askonce_seed.manifest counts rows
and defects per data center and entity.

The same --seed, --persons and --data-centers give the same rows. When the database already
holds that seed, seed does nothing; when it holds another one, it fails: --reset drops the
seed's schemas and loads again.

--live then keeps making changes (births, deaths, marriages, contributions, payments,
corrections, hires, rare deletes) at --rate changes per second until interrupted, serving
/metrics, /healthz and /readyz on http://` + defaultSeedOps + ` (--ops-listen).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := a.load(cmd, map[string]string{
				"persons":      "seed.persons",
				"seed":         "seed.seed",
				"defects":      "seed.defects",
				"data-centers": "seed.data_centers",
				"months":       "seed.months",
				"rate":         "seed.live_rate",
				"url":          "connect.sources_url",
			})
			if err != nil {
				return err
			}
			return a.runSeed(cmd.Context(), cfg, log, f)
		},
	}
	fl := cmd.Flags()
	fl.Int("persons", def.Seed.Persons, "size of the synthetic population")
	fl.Int64("seed", def.Seed.Seed, "random seed: the same seed gives the same rows")
	fl.Float64("defects", def.Seed.Defects, "fraction of rows made invalid on purpose (0-0.5)")
	fl.Int("data-centers", def.Seed.DataCenters, "data centers per agency (regions of wilayas)")
	fl.Int("months", def.Seed.Months, "months of contributions, ending last month")
	fl.Float64("rate", def.Seed.LiveRate, "changes per second in --live mode")
	fl.String("url", "", "sources database URL (default: database askonce_sources on the private PostgreSQL)")
	fl.BoolVar(&f.live, "live", false, "after seeding (or if already seeded), keep making changes until interrupted")
	fl.BoolVar(&f.reset, "reset", false, "drop the seed's schemas (etatcivil_dcNN, cnas_dcNN, casnos_dcNN, askonce_seed) and seed again")
	fl.StringVar(&f.asOf, "as-of", "", "month YYYY-MM the data is generated in (default: the current month); dates end before it")
	fl.IntVar(&f.writers, "writers", 3, "parallel COPY connections")
	return cmd
}

func (a *app) runSeed(ctx context.Context, cfg *config.Config, log *slog.Logger, f seedFlags) error {
	p := synth.Params{
		Persons: cfg.Seed.Persons, Seed: cfg.Seed.Seed, Defects: cfg.Seed.Defects,
		DataCenters: cfg.Seed.DataCenters, Months: cfg.Seed.Months,
	}
	if f.asOf != "" {
		t, err := time.Parse("2006-01", f.asOf)
		if err != nil {
			return fmt.Errorf("seed: --as-of must be YYYY-MM, got %q", f.asOf)
		}
		p.AsOf = t
	}
	if f.writers < 1 || f.writers > 64 {
		return fmt.Errorf("seed: --writers must be 1-64, got %d", f.writers)
	}
	// seed is a dev tool: with no URL it writes to the private PostgreSQL.
	if err := usePrivatePostgres(cfg, log, "seed", "connect.sources_url (--url)"); err != nil {
		return err
	}
	url, err := wiring.SourcesURL(ctx, cfg)
	if err != nil {
		return err
	}
	pool, err := store.OpenURL(ctx, url, f.writers+3)
	if err != nil {
		return err
	}
	defer pool.Close()
	if pc, err := pgx.ParseConfig(url); err == nil {
		log.Info("sources database", "host", pc.Host, "port", pc.Port, "database", pc.Database)
	}

	if !f.live {
		return a.seedOnce(ctx, pool, p, f, log)
	}
	// Live: serve /metrics, /healthz, /readyz from the start (the initial
	// seed may take minutes), then change the sources until interrupted.
	reg := ops.NewRegistry()
	srv := ops.NewServer(reg, log)
	srv.AddCheck("postgres", pool.Ping)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return srv.Serve(gctx, ops.DefaultListen(cfg.Ops.Listen, defaultSeedOps), nil) })
	g.Go(func() error {
		if err := a.seedOnce(gctx, pool, p, f, log); err != nil {
			return err
		}
		if err := synth.Live(gctx, pool, synth.LiveOptions{Rate: cfg.Seed.LiveRate, Log: log, Registerer: reg}); err != nil {
			return err
		}
		return context.Canceled // stops the ops server; ctx ended
	})
	if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// seedOnce makes the sources database hold the seed p and prints its table.
func (a *app) seedOnce(ctx context.Context, pool *pgxpool.Pool, p synth.Params, f seedFlags, log *slog.Logger) error {
	res, err := synth.Ensure(ctx, pool, p, f.reset, synth.Options{Log: log, Progress: synth.NewProgress(a.stderr, log), Writers: f.writers})
	if err != nil {
		if ctx.Err() != nil {
			return errors.New("seed: interrupted; the sources database holds a partial seed: run again with --reset")
		}
		return err
	}
	rows, defects := res.Totals()
	if res.Loaded {
		rate := float64(rows) / max(res.Elapsed.Seconds(), 0.001)
		log.Info("seed loaded", "persons", res.Run.Persons, "seed", res.Run.Seed, "rows", rows, "defects", defects,
			"elapsed", res.Elapsed.Round(time.Millisecond).String(), "rows_per_s", int64(rate))
		fmt.Fprintf(a.stdout, "Seeded %s rows (%s defective on purpose) in %s, %s rows/s: %s\n\n",
			synth.Group(rows), synth.Group(defects), res.Elapsed.Round(time.Millisecond), synth.Group(int64(rate)), res.Run)
	} else {
		fmt.Fprintf(a.stdout, "The sources database already holds this seed (%s, loaded %s): nothing to do.\n\n",
			res.Run, res.Run.CompletedAt.Local().Format(time.DateTime))
	}
	return synth.PrintManifest(a.stdout, res.Manifest)
}

// usePrivatePostgres points postgres.url at the private PostgreSQL of
// `askonce pg start` when neither postgres.url nor connect.sources_url is
// set. Only the tools of the synthetic sources (seed, reconcile
// --synthetic) call it, so that they work beside `make demo` as they are;
// every other command stops without postgres.url.
func usePrivatePostgres(cfg *config.Config, log *slog.Logger, cmd, sourcesKey string) error {
	if cfg.Connect.SourcesURL != "" || cfg.Postgres.URL != "" {
		return nil
	}
	inst, err := devpg.New(wiring.DevPG(cfg.Postgres.Dev), log)
	if err != nil {
		return err
	}
	if cfg.Postgres.URL, err = inst.URL(); err != nil {
		return fmt.Errorf("%s: neither %s nor postgres.url is set and %w", cmd, sourcesKey, err)
	}
	return nil
}
