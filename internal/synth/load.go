package synth

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"github.com/askonce/askonce/connectors/pgoutbox"
)

// AgencySQL creates the synthetic agencies' tables (births, marriages,
// divorces, deaths, affiliations, employment_periods, contributions) and
// attaches the outbox triggers. Run it after pgoutbox.OutboxSQL with
// search_path set to the data center's schema.
//
//go:embed sql/agency.sql
var AgencySQL string

// MetaSchema holds the seed's own bookkeeping: the run and its manifest.
const MetaSchema = "askonce_seed"

const metaSQL = `
CREATE SCHEMA IF NOT EXISTS askonce_seed;
COMMENT ON SCHEMA askonce_seed IS 'askonce seed: parameters and manifest of the synthetic agency sources in this database';
CREATE TABLE IF NOT EXISTS askonce_seed.run (
    id           integer PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    seed         bigint           NOT NULL,
    persons      integer          NOT NULL,
    data_centers integer          NOT NULL,
    months       integer          NOT NULL,
    defects      double precision NOT NULL,
    as_of        date             NOT NULL,
    status       text             NOT NULL CHECK (status IN ('loading', 'complete')),
    rows         bigint,
    started_at   timestamptz      NOT NULL DEFAULT now(),
    completed_at timestamptz
);
CREATE TABLE IF NOT EXISTS askonce_seed.manifest (
    data_center text        NOT NULL,
    agency      text        NOT NULL,
    entity      text        NOT NULL,
    rows        bigint      NOT NULL,
    defects     bigint      NOT NULL,
    seed        bigint      NOT NULL,
    persons     integer     NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (data_center, entity)
);`

// Run is the seed a database holds (askonce_seed.run).
type Run struct {
	Params
	Status      string // loading (interrupted, or in progress) or complete
	Rows        int64
	StartedAt   time.Time
	CompletedAt time.Time
}

// Same reports whether the run was made with the identity of p: seed,
// persons and data centers.
func (r *Run) Same(p Params) bool {
	return r.Seed == p.Seed && r.Persons == p.Persons && r.DataCenters == p.DataCenters
}

func (r *Run) String() string {
	return fmt.Sprintf("seed %d, %d persons, %d data centers per agency, %d months, defects %g, as of %s",
		r.Seed, r.Persons, r.DataCenters, r.Months, r.Defects, r.AsOf.Format("2006-01"))
}

// ReadRun returns the seed held by the database, or nil when there is none.
func ReadRun(ctx context.Context, q *pgxpool.Pool) (*Run, error) {
	var exists bool
	if err := q.QueryRow(ctx, `SELECT to_regclass('askonce_seed.run') IS NOT NULL`).Scan(&exists); err != nil {
		return nil, fmt.Errorf("synth: read seed: %w", err)
	}
	if !exists {
		return nil, nil
	}
	var r Run
	var rows *int64
	var completed *time.Time
	err := q.QueryRow(ctx, `SELECT seed, persons, data_centers, months, defects, as_of, status, rows, started_at, completed_at
		FROM askonce_seed.run WHERE id = 1`).Scan(&r.Seed, &r.Persons, &r.DataCenters, &r.Months, &r.Defects, &r.AsOf,
		&r.Status, &rows, &r.StartedAt, &completed)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("synth: read seed: %w", err)
	}
	if rows != nil {
		r.Rows = *rows
	}
	if completed != nil {
		r.CompletedAt = *completed
	}
	return &r, nil
}

// ManifestRow is one data center and entity of a seed.
type ManifestRow struct {
	DataCenter, Agency, Entity string
	Rows, Defects              int64
}

// ReadManifest returns the manifest of the seed in the database.
func ReadManifest(ctx context.Context, q *pgxpool.Pool) ([]ManifestRow, error) {
	rows, err := q.Query(ctx, `SELECT data_center, agency, entity, rows, defects FROM askonce_seed.manifest`)
	if err != nil {
		return nil, fmt.Errorf("synth: read manifest: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ManifestRow, error) {
		var m ManifestRow
		err := r.Scan(&m.DataCenter, &m.Agency, &m.Entity, &m.Rows, &m.Defects)
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("synth: read manifest: %w", err)
	}
	sortManifest(out)
	return out, nil
}

func sortManifest(m []ManifestRow) {
	order := map[string]int{}
	for i, e := range EntityNames {
		order[e] = i
	}
	agencyOrder := map[string]int{}
	for i, a := range Agencies {
		agencyOrder[a] = i
	}
	sort.Slice(m, func(i, j int) bool {
		if m[i].Agency != m[j].Agency {
			return agencyOrder[m[i].Agency] < agencyOrder[m[j].Agency]
		}
		if m[i].DataCenter != m[j].DataCenter {
			return m[i].DataCenter < m[j].DataCenter
		}
		return order[m[i].Entity] < order[m[j].Entity]
	})
}

// seedSchemas lists the data-center schemas of askonce seed in the database.
func seedSchemas(ctx context.Context, q *pgxpool.Pool) ([]string, error) {
	rows, err := q.Query(ctx, `SELECT nspname::text FROM pg_namespace
		WHERE nspname ~ '^(etatcivil|cnas|casnos)_dc[0-9]{2}$' ORDER BY 1`)
	if err != nil {
		return nil, fmt.Errorf("synth: list schemas: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// Reset drops every data-center schema of askonce seed (etatcivil_dcNN,
// cnas_dcNN, casnos_dcNN) and askonce_seed, and returns what it dropped.
func Reset(ctx context.Context, pool *pgxpool.Pool) ([]string, error) {
	schemas, err := seedSchemas(ctx, pool)
	if err != nil {
		return nil, err
	}
	schemas = append(schemas, MetaSchema)
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		for _, s := range schemas {
			if _, err := tx.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{s}.Sanitize()+" CASCADE"); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("synth: reset: %w", err)
	}
	return schemas, nil
}

// ErrOtherSeed means the database holds another seed; --reset replaces it.
var ErrOtherSeed = errors.New("the sources database holds another seed")

// Options tune a load.
type Options struct {
	Log *slog.Logger
	// Progress receives the rows written; nil shows nothing.
	Progress ProgressSink
	// Workers generate rows (default: the CPUs); Writers COPY them, one
	// pool connection each (default 3). The pool needs Writers+1 connections.
	Workers, Writers int
}

// ProgressSink follows a load.
type ProgressSink interface {
	Start(total int64)
	Add(rows int64)
	Finish()
}

// Result describes the seed in the database after Ensure.
type Result struct {
	Run      *Run
	Manifest []ManifestRow
	// Loaded is false when the database already held this seed.
	Loaded  bool
	Elapsed time.Duration
}

// Totals sums rows and defects.
func (r *Result) Totals() (rows, defects int64) {
	for _, m := range r.Manifest {
		rows += m.Rows
		defects += m.Defects
	}
	return rows, defects
}

// Ensure makes the database hold the seed p: it loads it when the database
// has none; does nothing when it holds the same seed (same seed, persons
// and data centers); and fails with ErrOtherSeed when it holds another one
// or an interrupted load, unless reset is set, which drops the seed's
// schemas first. One seed runs at a time (advisory lock).
func Ensure(ctx context.Context, pool *pgxpool.Pool, p Params, reset bool, o Options) (*Result, error) {
	p, err := p.normalize()
	if err != nil {
		return nil, err
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	lock, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("synth: %w", err)
	}
	defer lock.Release()
	var got bool
	if err := lock.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtext('askonce.seed'))`).Scan(&got); err != nil {
		return nil, fmt.Errorf("synth: lock: %w", err)
	}
	if !got {
		return nil, errors.New("synth: another askonce seed is writing to this database")
	}
	defer func() {
		_, _ = lock.Exec(context.Background(), `SELECT pg_advisory_unlock(hashtext('askonce.seed'))`)
	}()

	if reset {
		dropped, err := Reset(ctx, pool)
		if err != nil {
			return nil, err
		}
		o.Log.Info("seed reset: schemas dropped", "schemas", len(dropped))
	}
	run, err := ReadRun(ctx, pool)
	if err != nil {
		return nil, err
	}
	switch {
	case run != nil && run.Status == "complete" && run.Same(p):
		m, err := ReadManifest(ctx, pool)
		if err != nil {
			return nil, err
		}
		if run.Months != p.Months || run.Defects != p.Defects {
			o.Log.Warn("the database holds this seed with other months or defects; run with --reset to change them",
				"held_months", run.Months, "held_defects", run.Defects)
		}
		return &Result{Run: run, Manifest: m}, nil
	case run != nil && run.Status == "complete":
		return nil, fmt.Errorf("synth: %w (%s); run with --reset to replace it", ErrOtherSeed, run)
	case run != nil:
		return nil, fmt.Errorf("synth: %w: an interrupted load started %s (%s); run with --reset to start again",
			ErrOtherSeed, run.StartedAt.Format(time.RFC3339), run)
	}
	if existing, err := seedSchemas(ctx, pool); err != nil {
		return nil, err
	} else if len(existing) > 0 {
		return nil, fmt.Errorf("synth: %w: schemas %s exist without a seed record; run with --reset to replace them",
			ErrOtherSeed, strings.Join(existing, ", "))
	}
	return load(ctx, pool, p, o)
}

// flushSize is the COPY text size at which a data center's table buffer is written.
const flushSize = 512 << 10

// blocksPerChunk is the work unit of a generator: 8 blocks, 8192 persons.
const blocksPerChunk = 8

type copyJob struct {
	k    int // dc*numTables + table
	buf  []byte
	rows int64
}

func load(ctx context.Context, pool *pgxpool.Pool, p Params, o Options) (*Result, error) {
	started := time.Now()
	pl, err := newPlan(p)
	if err != nil {
		return nil, err
	}
	workers, writers := o.Workers, o.Writers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if writers <= 0 {
		writers = 3
	}
	if _, err := pool.Exec(ctx, metaSQL); err != nil {
		return nil, fmt.Errorf("synth: create %s: %w", MetaSchema, err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO askonce_seed.run (seed, persons, data_centers, months, defects, as_of, status)
		VALUES ($1, $2, $3, $4, $5, $6, 'loading')`, p.Seed, p.Persons, p.DataCenters, p.Months, p.Defects, p.AsOf); err != nil {
		return nil, fmt.Errorf("synth: record the seed: %w", err)
	}
	dcs := DataCenters(p.DataCenters)
	if err := setupSchemas(ctx, pool, dcs); err != nil {
		return nil, err
	}
	o.Log.Info("data-center schemas ready", "data_centers", len(dcs))

	t0 := time.Now()
	totals, err := pl.prepare(ctx, workers)
	if err != nil {
		return nil, err
	}
	var total int64
	for _, v := range totals {
		total += v
	}
	o.Log.Info("population planned", "persons", p.Persons, "rows", total, "took", time.Since(t0).Round(time.Millisecond).String())

	rows, defects, err := pl.write(ctx, pool, dcs, total, workers, writers, o.Progress)
	if err != nil {
		return nil, err
	}
	var manifest []ManifestRow
	for i, dc := range dcs {
		for _, t := range agencyTables(dc.Agency) {
			k := i*int(numTables) + int(t)
			manifest = append(manifest, ManifestRow{DataCenter: dc.Name, Agency: dc.Agency, Entity: EntityNames[t], Rows: rows[k], Defects: defects[k]})
		}
	}
	var written int64
	for _, v := range rows {
		written += v
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		for _, m := range manifest {
			if _, err := tx.Exec(ctx, `INSERT INTO askonce_seed.manifest (data_center, agency, entity, rows, defects, seed, persons)
				VALUES ($1, $2, $3, $4, $5, $6, $7)`, m.DataCenter, m.Agency, m.Entity, m.Rows, m.Defects, p.Seed, p.Persons); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `UPDATE askonce_seed.run SET status = 'complete', rows = $1, completed_at = now() WHERE id = 1`, written)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("synth: write manifest: %w", err)
	}
	run, err := ReadRun(ctx, pool)
	if err != nil {
		return nil, err
	}
	sortManifest(manifest)
	return &Result{Run: run, Manifest: manifest, Loaded: true, Elapsed: time.Since(started)}, nil
}

// setupSchemas creates each data center's schema with the outbox contract
// and the agency tables.
func setupSchemas(ctx context.Context, pool *pgxpool.Pool, dcs []DataCenter) error {
	for _, dc := range dcs {
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			id := pgx.Identifier{dc.Schema}.Sanitize()
			if _, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+id); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, "SET LOCAL search_path TO "+id); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, pgoutbox.OutboxSQL); err != nil {
				return fmt.Errorf("outbox contract: %w", err)
			}
			if _, err := tx.Exec(ctx, AgencySQL); err != nil {
				return fmt.Errorf("agency tables: %w", err)
			}
			_, err := tx.Exec(ctx, "COMMENT ON SCHEMA "+id+" IS "+quoteLiteral("askonce seed: synthetic "+dc.Agency+" data center "+dc.Name))
			return err
		})
		if err != nil {
			return fmt.Errorf("synth: set up schema %s: %w", dc.Schema, err)
		}
	}
	return nil
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// write is pass 2: generators (workers) produce chunks of COPY text, one
// merger appends them to a buffer per data center and table, and writers
// COPY each buffer that reaches flushSize into its schema (the outbox
// triggers fire on every row). Memory stays bounded whatever the population.
func (pl *plan) write(ctx context.Context, pool *pgxpool.Pool, dcs []DataCenter, total int64, workers, writers int, prog ProgressSink) (rows, defects []int64, err error) {
	ndc := len(dcs)
	nk := ndc * int(numTables)
	chunks := (pl.blocks + blocksPerChunk - 1) / blocksPerChunk
	free := make(chan *chunk, workers+1)
	for range workers + 1 {
		free <- newChunk(ndc)
	}
	full := make(chan *chunk, workers)
	jobs := make(chan copyJob, writers)
	bufs := make(chan []byte, 2*writers+nk)
	getBuf := func() []byte {
		select {
		case b := <-bufs:
			return b[:0]
		default:
			return make([]byte, 0, flushSize+flushSize/4)
		}
	}
	putBuf := func(b []byte) {
		select {
		case bufs <- b:
		default:
		}
	}
	rows, defects = make([]int64, nk), make([]int64, nk)
	if prog != nil {
		prog.Start(total)
		defer prog.Finish()
	}

	g, gctx := errgroup.WithContext(ctx)
	var next atomic.Int64
	var genDone atomic.Int64
	for range workers {
		g.Go(func() error {
			gen := newGen(pl)
			em := newEmitter(pl)
			defer func() {
				if genDone.Add(1) == int64(workers) {
					close(full)
				}
			}()
			for {
				c := int(next.Add(1) - 1)
				if c >= chunks {
					return nil
				}
				var out *chunk
				select {
				case out = <-free:
				case <-gctx.Done():
					return gctx.Err()
				}
				out.reset()
				em.out = out
				for b := c * blocksPerChunk; b < min(pl.blocks, (c+1)*blocksPerChunk); b++ {
					gen.block(b)
					em.block(gen)
				}
				select {
				case full <- out:
				case <-gctx.Done():
					return gctx.Err()
				}
			}
		})
	}
	g.Go(func() error { // merger
		defer close(jobs)
		pending := make([][]byte, nk)
		pendingRows := make([]int64, nk)
		send := func(k int) error {
			j := copyJob{k: k, buf: pending[k], rows: pendingRows[k]}
			pending[k], pendingRows[k] = nil, 0
			select {
			case jobs <- j:
				return nil
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		for c := range full {
			for k, b := range c.bufs {
				if len(b) == 0 {
					continue
				}
				if pending[k] == nil {
					pending[k] = getBuf()
				}
				pending[k] = append(pending[k], b...)
				pendingRows[k] += c.rows[k]
				rows[k] += c.rows[k]
				defects[k] += c.defects[k]
				if len(pending[k]) >= flushSize {
					if err := send(k); err != nil {
						return err
					}
				}
			}
			free <- c
		}
		for k := range pending {
			if len(pending[k]) > 0 {
				if err := send(k); err != nil {
					return err
				}
			}
		}
		return nil
	})
	for range writers {
		g.Go(func() error {
			for j := range jobs {
				dc, t := dcs[j.k/int(numTables)], table(j.k%int(numTables))
				if err := copyRows(gctx, pool, dc.Schema, t, j.buf, j.rows); err != nil {
					return err
				}
				putBuf(j.buf)
				if prog != nil {
					prog.Add(j.rows)
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	return rows, defects, nil
}

// copyRows writes COPY text into one data center's table, in its own
// transaction, with search_path on the schema so the outbox triggers write
// to that schema's askonce_outbox.
func copyRows(ctx context.Context, pool *pgxpool.Pool, schema string, t table, buf []byte, want int64) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	defer conn.Release()
	// Each COPY commits on its own; a crash leaves the run 'loading', which
	// the next seed reports (and --reset clears): no need to wait for WAL flushes.
	if _, err := conn.Exec(ctx, "SET synchronous_commit TO off; SET search_path TO "+pgx.Identifier{schema}.Sanitize()); err != nil {
		return fmt.Errorf("synth: %s: %w", schema, err)
	}
	sql := "COPY " + TableNames[t] + " (" + strings.Join(tableColumns[t], ", ") + ") FROM STDIN"
	tag, err := conn.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(buf), sql)
	if err != nil {
		return fmt.Errorf("synth: copy into %s.%s: %w", schema, TableNames[t], err)
	}
	if tag.RowsAffected() != want {
		return fmt.Errorf("synth: copy into %s.%s wrote %d rows, want %d", schema, TableNames[t], tag.RowsAffected(), want)
	}
	return nil
}
