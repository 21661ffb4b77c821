package synth

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// Kinds of live changes, with their agency and weight (relative frequency).
var liveKinds = []struct {
	kind, agency string
	weight       int
}{
	{"contribution", "", 34}, // agency: cnas or casnos, as drawn
	{"payment", "", 20},
	{"birth", AgencyEtatCivil, 16},
	{"death", AgencyEtatCivil, 8},
	{"marriage", AgencyEtatCivil, 7},
	{"hire", AgencyCNAS, 6},
	{"correction", AgencyEtatCivil, 6},
	{"delete", AgencyEtatCivil, 1},
}

// LiveOptions configure Live.
type LiveOptions struct {
	// Rate is the changes per second (0: none, the process only waits).
	Rate float64
	Log  *slog.Logger
	// Registerer receives the askonce_seed_* metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// SummaryEvery is the period of the summary log line while the rate
	// is kept (default 10s). The rate is measured every 10 s whatever this
	// period: below 90% of Rate, a WARN says every 10 s what is achieved
	// and what bounds it.
	SummaryEvery time.Duration
}

// rateWindow is the period over which the achieved rate is measured,
// published (askonce_seed_changes_per_second) and, when short of the asked
// rate, logged.
const rateWindow = 10 * time.Second

// liveMetrics are the counters of live mode.
type liveMetrics struct {
	changes, defective *prometheus.CounterVec
	errors, skipped    *prometheus.CounterVec
	perSecond, asked   prometheus.Gauge
	busy               prometheus.Gauge
}

func newLiveMetrics(reg prometheus.Registerer) *liveMetrics {
	m := &liveMetrics{
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "askonce", Subsystem: "seed", Name: "changes_total",
			Help: "Changes made by askonce seed --live in the synthetic agency sources, by agency and kind."}, []string{"agency", "kind"}),
		defective: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "askonce", Subsystem: "seed", Name: "defective_changes_total",
			Help: "Live changes written defective on purpose (the connectors must reject them)."}, []string{"agency", "kind"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "askonce", Subsystem: "seed", Name: "change_errors_total",
			Help: "Live changes that failed (database errors)."}, []string{"kind"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "askonce", Subsystem: "seed", Name: "changes_skipped_total",
			Help: "Live changes skipped because no suitable record was found."}, []string{"kind"}),
		perSecond: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "askonce", Subsystem: "seed", Name: "changes_per_second",
			Help: "Live changes made per second over the last 10 s (compare with askonce_seed_asked_changes_per_second)."}),
		asked: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "askonce", Subsystem: "seed", Name: "asked_changes_per_second",
			Help: "The rate live mode was asked for (--rate)."}),
		busy: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "askonce", Subsystem: "seed", Name: "database_busy_ratio",
			Help: "Share of the last 10 s live mode spent in its database transactions: near 1, the database bounds the rate."}),
	}
	if reg != nil {
		reg.MustRegister(m.changes, m.defective, m.errors, m.skipped, m.perSecond, m.asked, m.busy)
	}
	return m
}

// errSkip: no suitable record for this change now.
var errSkip = errors.New("no candidate")

// live is the state of live mode.
type live struct {
	pool    *pgxpool.Pool
	run     *Run
	pl      *plan
	dcs     []DataCenter
	r       *rand.Rand
	log     *slog.Logger
	m       *liveMetrics
	nextID  [numTables]int64
	acts    map[uint32]int32
	idRange map[string][2]int64 // schema/table -> min, max id
	// adultsBelow is the highest id of an adult's births row, by schema.
	adultsBelow map[string]int64
	regions     [][]int
	regionW     []float64 // cumulative population share of regions
	today       day

	rate float64 // asked, changes/s

	cache   map[string][]candidate // persons found and not used yet, by purpose/schema
	rows    map[string][]srcRow    // the same for rows of other tables
	touched map[string]bool        // NINs and rows changed by the transaction in progress
	later   deferred               // the writes of the transaction in progress
	usedUp  map[string]time.Time   // kinds without candidates, until when
	empty   map[string]time.Time   // caches whose last refill found nothing, until when
	now     time.Time              // the start of the transaction in progress
	streak  map[string]int         // consecutive skips of a kind

	mu        sync.Mutex
	counts    map[string]int64 // by kind, since the last summary
	total     int64
	errs      int64
	win       window   // since the last rate measurement
	sinceSum  window   // since the last summary line
	usedUpNow []string // kinds left out at the last batch
}

// window is what live mode did over a measurement window.
type window struct {
	changes    int64         // committed
	skipped    int64         // no candidate found
	rolledBack int64         // made, then rolled back with their failed transaction
	failed     int64         // transactions that failed
	txs        int64         // transactions committed
	busy       time.Duration // time spent in transactions
}

func (w *window) add(o window) {
	w.changes += o.changes
	w.skipped += o.skipped
	w.rolledBack += o.rolledBack
	w.failed += o.failed
	w.txs += o.txs
	w.busy += o.busy
}

// Live keeps changing the seeded sources at o.Rate changes per second until
// ctx ends: births (act numbers continue those in the database), deaths of
// the elderly, marriages, monthly contributions of the current month,
// payments of arrears (UPDATE, version+1), name corrections (op
// 'correction'), hires and rare deletes of withdrawn death acts, through the
// agency tables and their outbox triggers; the seed's defect fraction
// applies to inserted rows. The changes due are made in batches, one
// transaction each (batchEvery's worth, at most 250), their records chosen
// from caches of candidates and their writes sent in one round trip at the
// end (deferred): with a transaction and several round trips per change the
// rate stayed at a few hundred per second on a busy 2-core machine. Every
// 10 s the achieved rate is published (askonce_seed_changes_per_second);
// below 90% of o.Rate a WARN says what bounds it.
func Live(ctx context.Context, pool *pgxpool.Pool, o LiveOptions) error {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.SummaryEvery <= 0 {
		o.SummaryEvery = 10 * time.Second
	}
	run, err := ReadRun(ctx, pool)
	if err != nil {
		return err
	}
	if run == nil || run.Status != "complete" {
		return errors.New("synth: live mode needs a complete seed in the sources database: run askonce seed first")
	}
	lockConn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	defer lockConn.Release()
	var got bool
	if err := lockConn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtext('askonce.seed.live'))`).Scan(&got); err != nil {
		return fmt.Errorf("synth: lock: %w", err)
	}
	if !got {
		return errors.New("synth: another askonce seed --live is changing this database")
	}
	defer func() {
		_, _ = lockConn.Exec(context.Background(), `SELECT pg_advisory_unlock(hashtext('askonce.seed.live'))`)
	}()

	pl, err := newPlan(run.Params)
	if err != nil {
		return err
	}
	l := &live{
		pool: pool, run: run, pl: pl, dcs: DataCenters(run.DataCenters), log: o.Log,
		r:           rand.New(rand.NewPCG(uint64(run.Seed), uint64(time.Now().UnixNano()))),
		m:           newLiveMetrics(o.Registerer),
		acts:        map[uint32]int32{},
		idRange:     map[string][2]int64{},
		adultsBelow: map[string]int64{},
		regions:     Regions(run.DataCenters),
		counts:      map[string]int64{},
		rate:        max(o.Rate, 0),

		cache:   map[string][]candidate{},
		rows:    map[string][]srcRow{},
		touched: map[string]bool{},
		later:   newDeferred(),
		usedUp:  map[string]time.Time{},
		empty:   map[string]time.Time{},
		streak:  map[string]int{},
	}
	l.m.asked.Set(l.rate)
	acc := 0.0
	for _, ws := range l.regions {
		for _, w := range ws {
			acc += wilayaShare(w)
		}
		l.regionW = append(l.regionW, acc)
	}
	start := time.Now()
	if err := l.prepare(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	o.Log.Info("live mode started", "rate", o.Rate, "seed", run.Seed, "persons", run.Persons,
		"data_centers", len(l.dcs), "prepared_in", time.Since(start).Round(time.Millisecond).String())

	// Measures and summaries come from their own goroutine, so a rate
	// above what the database sustains never delays them.
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(min(rateWindow, o.SummaryEvery))
		defer t.Stop()
		last, lastSum := time.Now(), time.Now()
		for {
			select {
			case <-done:
				l.summarize(time.Since(lastSum), true)
				return
			case now := <-t.C:
				short := l.measure(now.Sub(last))
				last = now
				// Short of the rate: measure already said so. On it: a
				// summary every SummaryEvery.
				if now.Sub(lastSum) >= o.SummaryEvery-time.Second/10 {
					if !short {
						l.summarize(now.Sub(lastSum), false)
					} else {
						l.takeSummary()
					}
					lastSum = now
				}
			}
		}
	}()
	defer func() {
		close(done)
		wg.Wait()
	}()
	if o.Rate <= 0 {
		<-ctx.Done()
		return nil
	}
	// The changes due at time t since base are rate*t (the first one at
	// once); they are made in batches of at most maxN per transaction, at
	// most one batch per batchEvery unless a full one is due: a batch of a
	// few changes costs nearly as much as a full one (a statement per table
	// of a data center, a commit).
	maxN := batchSize(o.Rate)
	base := time.Now()
	var scheduled int64
	var lastBatch time.Time
	timer := time.NewTimer(0)
	defer timer.Stop()
	for ctx.Err() == nil {
		now := time.Now()
		due := int64(now.Sub(base).Seconds()*o.Rate) + 1 - scheduled
		if due <= 0 || (due < int64(maxN) && now.Sub(lastBatch) < batchEvery) {
			next := base.Add(time.Duration(float64(scheduled) / o.Rate * float64(time.Second)))
			if due > 0 {
				next = lastBatch.Add(batchEvery)
			}
			timer.Reset(max(next.Sub(now), time.Millisecond))
			select {
			case <-ctx.Done():
				return nil
			case <-timer.C:
			}
			continue
		}
		// Behind schedule (the database is slower than the rate): catch up
		// at most one second's worth, never an ever-growing backlog.
		if backlog := int64(math.Ceil(o.Rate)); due > backlog {
			scheduled += due - backlog
			due = backlog
		}
		n := int(min(due, int64(maxN)))
		lastBatch = now
		// A batch begun is finished, even when ctx ends meanwhile: Ctrl-C
		// does not throw away a tenth of a second of changes.
		bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), batchTimeout)
		l.batch(bctx, n)
		cancel()
		scheduled += int64(n)
	}
	return nil
}

// batchSize is the most changes made in one transaction at rate: a
// batchEvery's worth, at least 1 and at most 250, so that a transaction
// stays short (a connector waits for the transactions in flight before it
// publishes what follows them).
func batchSize(rate float64) int {
	return int(min(250, max(1, math.Ceil(rate*batchEvery.Seconds()))))
}

// batchEvery is the period of the batches at a rate above 10 changes/s;
// batchTimeout bounds one.
const (
	batchEvery   = 100 * time.Millisecond
	batchTimeout = 30 * time.Second
)

// measure publishes the rate achieved over the last window and, when it is
// below 90% of the asked rate, says so with what bounds it. It returns
// whether the rate was short.
func (l *live) measure(elapsed time.Duration) bool {
	l.mu.Lock()
	w, usedUp := l.win, l.usedUpNow
	l.win = window{}
	l.mu.Unlock()
	secs := max(elapsed.Seconds(), 0.001)
	perS := float64(w.changes) / secs
	busy := min(w.busy.Seconds()/secs, 1)
	l.m.perSecond.Set(perS)
	l.m.busy.Set(busy)
	// Fewer than 10 changes due in the window are too few to judge.
	if l.rate <= 0 || perS >= 0.9*l.rate || l.rate*secs < 10 {
		return false
	}
	l.log.Warn("live changes below the asked rate", "asked_per_s", l.rate, "per_s", fmt.Sprintf("%.1f", perS),
		"window", elapsed.Round(time.Second).String(), "bound", l.bound(w, elapsed, usedUp))
	return true
}

// bound says what kept the changes of window w below the asked rate.
func (l *live) bound(w window, elapsed time.Duration, usedUp []string) string {
	secs := max(elapsed.Seconds(), 0.001)
	busy := min(w.busy.Seconds()/secs, 1)
	attempts := w.changes + w.skipped + w.rolledBack
	var why []string
	if busy >= 0.85 && attempts > 0 {
		why = append(why, fmt.Sprintf("the database: live mode spent %.0f%% of the time in its transactions, %.2f ms per change "+
			"(its queries and writes, the outbox triggers, %d commits, on CPUs shared with PostgreSQL and, in askonce dev, "+
			"the broker, the connectors and the materializer)",
			100*busy, float64(w.busy.Microseconds())/1000/float64(attempts), w.txs))
	}
	if w.skipped > 0 && float64(w.skipped) >= 0.1*float64(attempts) {
		why = append(why, fmt.Sprintf("%d of %d changes drawn found no suitable record (askonce_seed_changes_skipped_total)", w.skipped, attempts))
	}
	if len(usedUp) > 0 {
		why = append(why, fmt.Sprintf("the population: no candidate left lately for %s, whose share went to the other kinds "+
			"(a larger population, --persons on a fresh .var/, lasts longer at this rate)", strings.Join(usedUp, ", ")))
	}
	if w.failed > 0 {
		why = append(why, fmt.Sprintf("%d transactions failed, %d changes rolled back with them (see the WARN lines above)", w.failed, w.rolledBack))
	}
	if len(why) == 0 {
		why = append(why, fmt.Sprintf("CPU: live mode was in its transactions only %.0f%% of the time, so this process did not get the CPU to keep the pace (the machine is busy)", 100*busy))
	}
	return strings.Join(why, "; ")
}

// takeSummary returns and resets what the summary line reports.
func (l *live) takeSummary() (map[string]int64, int64, int64, window, []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	counts, total, errs, w := l.counts, l.total, l.errs, l.sinceSum
	l.counts, l.sinceSum = map[string]int64{}, window{}
	return counts, total, errs, w, l.usedUpNow
}

func (l *live) summarize(elapsed time.Duration, final bool) {
	counts, total, errs, w, usedUp := l.takeSummary()
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	attrs := []any{"changes", w.changes, "per_s", fmt.Sprintf("%.1f", float64(w.changes)/max(elapsed.Seconds(), 0.001)),
		"asked_per_s", l.rate, "transactions", w.txs, "total", total, "errors", errs}
	for _, k := range keys {
		attrs = append(attrs, k, counts[k])
	}
	if len(usedUp) > 0 {
		attrs = append(attrs, "used_up", strings.Join(usedUp, ","))
	}
	msg := "live changes"
	if final {
		msg = "live mode stopped"
	}
	l.log.Info(msg, attrs...)
}

// prepare adds the indexes live mode's lookups need, and reads where ids
// and act numbers continue.
func (l *live) prepare(ctx context.Context) error {
	l.today = dayOfTime(time.Now())
	indexes := map[string][]string{
		AgencyEtatCivil: {"births (nin)", "marriages (nin)", "divorces (nin)", "deaths (nin)"},
		AgencyCNAS:      {"employment_periods (nin)", "contributions (nin, period)", "affiliations (nin)"},
	}
	indexes[AgencyCASNOS] = indexes[AgencyCNAS]
	var created bool
	for _, dc := range l.dcs {
		for _, ix := range indexes[dc.Agency] {
			tbl := strings.Fields(ix)[0]
			name := "askonce_seed_" + tbl + "_nin"
			var exists bool
			if err := l.pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, dc.Schema+"."+name).Scan(&exists); err != nil {
				return fmt.Errorf("synth: live: %w", err)
			}
			if exists {
				continue
			}
			if !created {
				l.log.Info("live mode: indexing the sources for lookups (once)")
				created = true
			}
			if _, err := l.pool.Exec(ctx, "CREATE INDEX IF NOT EXISTS "+name+" ON "+pgx.Identifier{dc.Schema}.Sanitize()+"."+ix); err != nil {
				return fmt.Errorf("synth: live: index %s.%s: %w", dc.Schema, name, err)
			}
		}
		if created {
			if _, err := l.pool.Exec(ctx, "ANALYZE "+strings.Join(qualified(dc.Schema, agencyTables(dc.Agency)), ", ")); err != nil {
				return fmt.Errorf("synth: live: analyze %s: %w", dc.Schema, err)
			}
		}
	}
	year := l.today.Year()
	for _, dc := range l.dcs {
		for _, t := range agencyTables(dc.Agency) {
			var lo, hi *int64
			q := fmt.Sprintf("SELECT min(id), max(id) FROM %s.%s", pgx.Identifier{dc.Schema}.Sanitize(), TableNames[t])
			if err := l.pool.QueryRow(ctx, q).Scan(&lo, &hi); err != nil {
				return fmt.Errorf("synth: live: %w", err)
			}
			if lo != nil {
				l.idRange[dc.Schema+"/"+TableNames[t]] = [2]int64{*lo, *hi}
				l.nextID[t] = max(l.nextID[t], *hi+1)
			}
		}
		if dc.Agency != AgencyEtatCivil {
			continue
		}
		// Every person a change picks is an adult: the picks start below the
		// last adult's id, never among the babies live births keep adding
		// (at a high rate they soon outnumber the population, and a scan from
		// among them finds no one).
		var adults *int64
		if err := l.pool.QueryRow(ctx, "SELECT max(id) FROM "+sq(dc.Schema)+".births WHERE birth_date < $1", l.yearsAgo(18)).Scan(&adults); err != nil {
			return fmt.Errorf("synth: live: %w", err)
		}
		if adults != nil {
			l.adultsBelow[dc.Schema] = *adults
		}
		if err := l.addParentColumns(ctx, dc.Schema); err != nil {
			return err
		}
		for kind, tbl := range map[int]string{actBirth: "births", actMarriage: "marriages", actDeath: "deaths"} {
			q := fmt.Sprintf(`SELECT act_commune, act_year, max(act_number) FROM %s.%s
				WHERE act_year >= $1 AND act_commune ~ '^99[0-9]{2}$' AND act_number IS NOT NULL GROUP BY 1, 2`, pgx.Identifier{dc.Schema}.Sanitize(), tbl)
			rows, err := l.pool.Query(ctx, q, year)
			if err != nil {
				return fmt.Errorf("synth: live: %w", err)
			}
			for rows.Next() {
				var commune string
				var y, n int32
				if err := rows.Scan(&commune, &y, &n); err != nil {
					rows.Close()
					return fmt.Errorf("synth: live: %w", err)
				}
				if w := wilayaOfCommune(commune); w > 0 {
					k := actKey(kind, w, int(y))
					l.acts[k] = max(l.acts[k], n)
				}
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return fmt.Errorf("synth: live: %w", err)
			}
		}
	}
	for t := range l.nextID {
		l.nextID[t] = max(l.nextID[t], 1)
	}
	return nil
}

// addParentColumns gives a database seeded before the parents' NINs
// (civil-status v2) the births columns father_nin and mother_nin, as
// sql/agency.sql does for a new seed: live births then carry them, the
// seeded rows keep NULL.
func (l *live) addParentColumns(ctx context.Context, schema string) error {
	var n int
	if err := l.pool.QueryRow(ctx, `SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass($1)
		AND attname IN ('father_nin', 'mother_nin') AND NOT attisdropped`, schema+".births").Scan(&n); err != nil {
		return fmt.Errorf("synth: live: %w", err)
	}
	if n == 2 {
		return nil
	}
	l.log.Info("live mode: adding the parents' NIN columns to a database seeded before them", "schema", schema)
	if _, err := l.pool.Exec(ctx, "ALTER TABLE "+pgx.Identifier{schema}.Sanitize()+
		".births ADD COLUMN IF NOT EXISTS father_nin text, ADD COLUMN IF NOT EXISTS mother_nin text"); err != nil {
		return fmt.Errorf("synth: live: %s.births: %w", schema, err)
	}
	return nil
}

func qualified(schema string, ts []table) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = pgx.Identifier{schema}.Sanitize() + "." + TableNames[t]
	}
	return out
}

// nextAct returns the next act number of kind in wilaya w's synthetic commune this year.
func (l *live) nextAct(kind, w int) (int, error) {
	k := actKey(kind, w, l.today.Year())
	if l.acts[k] >= 99999 {
		// Nothing written yet: the change is skipped, not failed.
		return 0, fmt.Errorf("%w: act numbers of %s exhausted for %d", errSkip, syntheticCommune(w), l.today.Year())
	}
	l.acts[k]++
	return int(l.acts[k]), nil
}

func (l *live) newID(t table) int64 {
	id := l.nextID[t]
	l.nextID[t]++
	return id
}

// dc picks a data center of agency, weighted by its region's population.
func (l *live) dc(agency string) (DataCenter, int) {
	u := l.r.Float64() * l.regionW[len(l.regionW)-1]
	region := sort.SearchFloat64s(l.regionW, u)
	for region < len(l.regionW)-1 && len(l.regions[region]) == 0 {
		region++
	}
	for i, a := range Agencies {
		if a == agency {
			return l.dcs[i*l.run.DataCenters+region], region
		}
	}
	panic("synth: unknown agency " + agency)
}

// dcOfNIN returns the etatcivil data center holding the civil status of a
// synthetic NIN (positions 6-9 are its birth commune 99WW).
func (l *live) dcOfNIN(nin string) (DataCenter, bool) {
	if len(nin) != 18 {
		return DataCenter{}, false
	}
	w := wilayaOfCommune(nin[5:9])
	if w == 0 {
		return DataCenter{}, false
	}
	return l.dcs[int(l.pl.regions[w])], true
}

func (l *live) wilayaIn(region int) int {
	ws := l.regions[region]
	total := 0.0
	for _, w := range ws {
		total += wilayaShare(w)
	}
	u := l.r.Float64() * total
	for _, w := range ws {
		if u < wilayaShare(w) {
			return w
		}
		u -= wilayaShare(w)
	}
	return ws[len(ws)-1]
}

// seek returns a random starting id for table t of schema.
func (l *live) seek(schema string, t table) int64 { return l.seekBelow(schema, t, 0) }

// seekBelow is seek up to id below at most (0: no bound).
func (l *live) seekBelow(schema string, t table, below int64) int64 {
	r, ok := l.idRange[schema+"/"+TableNames[t]]
	if below > 0 {
		r[1] = min(r[1], below)
	}
	if !ok || r[1] <= r[0] {
		return 0
	}
	return r[0] + l.r.Int64N(r[1]-r[0]+1)
}

func (l *live) grow(schema string, t table, id int64) {
	k := schema + "/" + TableNames[t]
	r, ok := l.idRange[k]
	if !ok {
		r = [2]int64{id, id}
	}
	l.idRange[k] = [2]int64{min(r[0], id), max(r[1], id)}
}

func (l *live) defective(t table, id int64) bool {
	_, _, ok := defectOf(l.pl.seed, l.run.Defects, t, id)
	return ok
}

// drawKind draws the kind of a change by weight. A kind used up at now
// (see usedUpAfter) gives its draw to the kinds still available, the rare
// delete aside: the share of withdrawn death acts stays what it is.
func (l *live) drawKind(now time.Time) string {
	kind := l.draw(func(string) bool { return true })
	if !l.usedUp[kind].After(now) {
		return kind
	}
	if k := l.draw(func(k string) bool { return k != "delete" && !l.usedUp[k].After(now) }); k != "" {
		return k
	}
	clear(l.usedUp) // all used up: try them all again
	return kind
}

// draw draws a kind among those ok accepts, by weight ("" when none).
func (l *live) draw(ok func(kind string) bool) string {
	total := 0
	for _, k := range liveKinds {
		if ok(k.kind) {
			total += k.weight
		}
	}
	if total == 0 {
		return ""
	}
	u := l.r.IntN(total)
	for _, k := range liveKinds {
		if !ok(k.kind) {
			continue
		}
		if u < k.weight {
			return k.kind
		}
		u -= k.weight
	}
	panic("unreachable")
}

// A kind of change that found no candidate usedUpAfter times in a row (the
// population has none left: at a high rate a small population runs out of
// elderly persons to die, of jobs whose month is not paid yet...) is left
// out for usedUpFor; its share of the rate goes to the other kinds, and
// the summaries name it.
const (
	usedUpAfter = 3
	usedUpFor   = 30 * time.Second
	// drawsPerChange bounds the kinds drawn for one change when the first
	// ones find no candidate.
	drawsPerChange = 3
)

// made is one change of a batch.
type made struct {
	kind, agency string
	defective    bool
}

// batch makes n changes in one transaction. A change that finds no
// suitable record is skipped (it wrote nothing); a database error rolls the
// whole transaction back, the changes made before it with it.
func (l *live) batch(ctx context.Context, n int) {
	start := time.Now()
	l.today, l.now = dayOfTime(start), start
	var ok []made
	var skipped []string
	var failedKind string
	l.reset()
	err := pgx.BeginFunc(ctx, l.pool, func(tx pgx.Tx) error {
		for range n {
			for range drawsPerChange {
				kind := l.drawKind(start)
				agency, bad, err := l.do(ctx, tx, kind)
				if errors.Is(err, errSkip) {
					skipped = append(skipped, kind)
					if l.streak[kind]++; l.streak[kind] >= usedUpAfter {
						l.usedUp[kind], l.streak[kind] = start.Add(usedUpFor), 0
					}
					continue
				}
				if err != nil {
					failedKind = kind
					return err
				}
				l.streak[kind] = 0
				ok = append(ok, made{kind, agency, bad})
				break
			}
		}
		return l.flush(ctx, tx)
	})
	l.reset()
	var usedUp []string
	for _, k := range liveKinds {
		if l.usedUp[k.kind].After(start) {
			usedUp = append(usedUp, k.kind)
		}
	}
	w := window{busy: time.Since(start), skipped: int64(len(skipped))}
	for _, k := range skipped {
		l.m.skipped.WithLabelValues(k).Inc()
	}
	switch {
	case err != nil && ctx.Err() != nil:
		return
	case err != nil:
		w.failed, w.rolledBack = 1, int64(len(ok))
		if failedKind == "" {
			failedKind = "batch" // its writes, or the commit
		}
		l.m.errors.WithLabelValues(failedKind).Inc()
		l.log.Warn("live change failed", "kind", failedKind, "rolled_back", len(ok), "err", err)
		ok = nil
	default:
		w.txs, w.changes = 1, int64(len(ok))
	}
	for _, c := range ok {
		l.m.changes.WithLabelValues(c.agency, c.kind).Inc()
		if c.defective {
			l.m.defective.WithLabelValues(c.agency, c.kind).Inc()
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.usedUpNow = usedUp
	for _, c := range ok {
		l.counts[c.kind]++
	}
	l.total += w.changes
	l.errs += w.failed
	l.win.add(w)
	l.sinceSum.add(w)
}

func (l *live) do(ctx context.Context, tx pgx.Tx, kind string) (agency string, defective bool, err error) {
	switch kind {
	case "birth":
		defective, err = l.birth(ctx, tx)
		return AgencyEtatCivil, defective, err
	case "death":
		defective, err = l.death(ctx, tx)
		return AgencyEtatCivil, defective, err
	case "marriage":
		defective, err = l.marriage(ctx, tx)
		return AgencyEtatCivil, defective, err
	case "correction":
		return AgencyEtatCivil, false, l.correction(ctx, tx)
	case "delete":
		return AgencyEtatCivil, false, l.deleteAct(ctx, tx)
	case "hire":
		defective, err = l.hire(ctx, tx)
		return AgencyCNAS, defective, err
	case "contribution":
		agency = AgencyCNAS
		if l.r.Float64() < 0.2 {
			agency = AgencyCASNOS
		}
		defective, err = l.contribution(ctx, tx, agency)
		return agency, defective, err
	case "payment":
		agency = AgencyCNAS
		if l.r.Float64() < 0.25 {
			agency = AgencyCASNOS
		}
		return agency, false, l.payment(ctx, tx, agency)
	}
	return "", false, fmt.Errorf("unknown change %q", kind)
}

// sq is a schema's name quoted for SQL: live mode names every table with
// its schema rather than setting search_path, a round trip saved per
// statement (the outbox triggers pin their own search_path).
func sq(schema string) string { return pgx.Identifier{schema}.Sanitize() }

// inSchema names the tables of a query template written as {s}.table.
func inSchema(schema, q string) string { return strings.ReplaceAll(q, "{s}", sq(schema)) }

// Every write of a change waits in l.later until the end of its batch,
// then the whole batch's writes go in one round trip (flush): inserts
// through json_populate_recordset (each value parsed by its column type's
// input function, as COPY does for the seed, so live rows are encoded
// exactly as the seed's), marginal notes, payments, withdrawn acts and
// name corrections, one statement per table of a data center. Under a busy
// CPU a round trip costs milliseconds: the reads that choose the records
// are batched too (the candidate caches below).
type deferred struct {
	inserts  []insertRows
	insertAt map[pendingKey]int
	notes    map[string]*idTexts // births' marginal notes appended, by schema
	paid     map[string][]int64  // contributions paid, by schema
	deleted  map[string][]int64  // death acts withdrawn, by schema
	fixed    map[string]*fixes   // births' names corrected, by schema
}

// pendingKey is a table of a data center.
type pendingKey struct {
	schema string
	t      table
}

// insertRows are rows for one table of a data center, as a JSON array
// being written (without its closing bracket).
type insertRows struct {
	key  pendingKey
	json []byte
}

type idTexts struct {
	ids   []int64
	texts []string
}

type fixes struct {
	ids               []int64
	first, sur, notes []string
}

func newDeferred() deferred {
	return deferred{insertAt: map[pendingKey]int{}, notes: map[string]*idTexts{}, paid: map[string][]int64{},
		deleted: map[string][]int64{}, fixed: map[string]*fixes{}}
}

func (d *deferred) reset() {
	d.inserts = d.inserts[:0]
	clear(d.insertAt)
	clear(d.notes)
	clear(d.paid)
	clear(d.deleted)
	clear(d.fixed)
}

// insert queues one row, made defective when the seed's defect decision
// says so, and says whether it is.
func (l *live) insert(schema string, t table, row []val) bool {
	id := row[0].i
	d, h, bad := defectOf(l.pl.seed, l.run.Defects, t, id)
	if bad {
		d.fn(l.pl, h, row)
	}
	k := pendingKey{schema, t}
	i, ok := l.later.insertAt[k]
	if !ok {
		i = len(l.later.inserts)
		l.later.insertAt[k] = i
		l.later.inserts = append(l.later.inserts, insertRows{key: k, json: []byte{'['}})
	} else {
		l.later.inserts[i].json = append(l.later.inserts[i].json, ',')
	}
	l.later.inserts[i].json = appendJSONRow(l.later.inserts[i].json, tableColumns[t], row)
	l.grow(schema, t, id)
	return bad
}

// note queues a marginal note appended to a births row.
func (l *live) note(schema string, id int64, note string) {
	n := l.later.notes[schema]
	if n == nil {
		n = &idTexts{}
		l.later.notes[schema] = n
	}
	n.ids, n.texts = append(n.ids, id), append(n.texts, note)
}

// appendJSONRow appends row as a JSON object of its columns' texts.
func appendJSONRow(b []byte, cols []string, row []val) []byte {
	b = append(b, '{')
	var text []byte
	for i, v := range row {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, cols[i])
		b = append(b, ':')
		if v.k == vNull {
			b = append(b, "null"...)
			continue
		}
		text = appendText(text[:0], v)
		b = appendJSONString(b, string(text))
	}
	return append(b, '}')
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// flush sends the batch's writes, one statement per table of a data
// center, in one round trip.
func (l *live) flush(ctx context.Context, tx pgx.Tx) error {
	d := &l.later
	b := &pgx.Batch{}
	for _, ins := range d.inserts {
		cols := strings.Join(tableColumns[ins.key.t], ", ")
		tbl := sq(ins.key.schema) + "." + TableNames[ins.key.t]
		b.Queue("INSERT INTO "+tbl+" ("+cols+") SELECT "+cols+" FROM json_populate_recordset(NULL::"+tbl+", $1::json)",
			string(append(ins.json, ']')))
	}
	for _, schema := range sortedKeys(d.notes) {
		n := d.notes[schema]
		b.Queue(inSchema(schema, `UPDATE {s}.births b SET marginal_notes = b.marginal_notes || v.notes
			FROM (SELECT id, array_agg(note ORDER BY ord) AS notes FROM unnest($1::bigint[], $2::text[]) WITH ORDINALITY AS u(id, note, ord) GROUP BY id) v
			WHERE b.id = v.id`), n.ids, n.texts)
	}
	for _, schema := range sortedKeys(d.paid) {
		b.Queue(inSchema(schema, `UPDATE {s}.contributions SET amount_paid = amount_due, status = 'PAID', paid_date = $2 WHERE id = ANY($1)`),
			d.paid[schema], l.today.Time())
	}
	for _, schema := range sortedKeys(d.deleted) {
		b.Queue(inSchema(schema, `DELETE FROM {s}.deaths WHERE id = ANY($1)`), d.deleted[schema])
	}
	if len(d.fixed) > 0 {
		// Published as corrections; askonce.op is reset after them.
		b.Queue(`SET LOCAL askonce.op = 'correction'`)
		for _, schema := range sortedKeys(d.fixed) {
			f := d.fixed[schema]
			b.Queue(inSchema(schema, `UPDATE {s}.births b SET first_names_latin = v.first, surname_latin = v.sur,
				marginal_notes = array_append(b.marginal_notes, v.note)
				FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) AS v(id, first, sur, note) WHERE b.id = v.id`),
				f.ids, f.first, f.sur, f.notes)
		}
		b.Queue(`SET LOCAL askonce.op = ''`)
	}
	if b.Len() == 0 {
		return nil
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("write the batch: %w", err)
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// reset forgets what the last transaction queued and touched.
func (l *live) reset() {
	l.later.reset()
	clear(l.touched)
}

type candidate struct {
	id                                          int64
	nin, surname, surnameAr, first, firstAr, sx string
	birth                                       time.Time
	commune                                     string
	spouseNIN                                   string
	spouseID                                    int64
	father                                      *father // of a mother's child: her husband's births row
}

type father struct {
	id                                 int64
	surname, surnameAr, first, firstAr string
}

// Live mode finds the records its changes apply to with queries that return
// a few dozen candidates from a random id, and keeps the ones it did not
// use for the next changes of the same kind and data center: it is the only
// writer of the sources (its advisory lock), so they stay candidates until
// it changes them itself, and it drops each one it uses. The writes of the
// current transaction wait for its end (deferred), so its own queries do
// not see them yet: the persons and rows it touched are remembered until
// then, and skipped.
const (
	cacheFill   = 64 // candidates one query returns
	cacheWindow = 16 // candidates a change chooses from
)

// persons returns up to cacheWindow candidates for purpose in dc, from the
// cache or, when it is empty, from pickPersons.
func (l *live) persons(ctx context.Context, tx pgx.Tx, dc DataCenter, purpose, join, cond string, args ...any) ([]candidate, picked, error) {
	p := picked{l: l, key: purpose + "/" + dc.Schema}
	touched := func(c candidate) bool { return l.touched[c.nin] }
	c := slices.DeleteFunc(l.cache[p.key], touched)
	if len(c) == 0 {
		if l.empty[p.key].After(l.now) {
			return nil, p, nil
		}
		found, err := l.pickPersons(ctx, tx, dc, join, cond, args...)
		if err != nil {
			return nil, p, err
		}
		if len(found) == 0 {
			l.empty[p.key] = l.now.Add(usedUpFor)
		}
		c = slices.DeleteFunc(found, touched)
		if purpose == "mother" {
			if err := l.addFathers(ctx, tx, c); err != nil {
				return nil, p, err
			}
		}
	}
	l.cache[p.key] = c
	if len(c) > cacheWindow {
		// A random window: the cache holds consecutive ids.
		p.off = l.r.IntN(len(c) - cacheWindow + 1)
	}
	p.n = min(len(c)-p.off, cacheWindow)
	return c[p.off : p.off+p.n], p, nil
}

// picked is a window of a cache of candidates.
type picked struct {
	l      *live
	key    string
	off, n int
}

// use removes the i-th candidate of the window from the cache.
func (p picked) use(i int) { p.l.cache[p.key] = slices.Delete(p.l.cache[p.key], p.off+i, p.off+i+1) }

// drop removes the whole window from the cache.
func (p picked) drop() { p.l.cache[p.key] = slices.Delete(p.l.cache[p.key], p.off, p.off+p.n) }

// addFathers finds the births row of each mother's husband (his first row,
// in his data center), all in one round trip.
func (l *live) addFathers(ctx context.Context, tx pgx.Tx, mothers []candidate) error {
	bySchema := map[string][]string{}
	for _, m := range mothers {
		if fdc, ok := l.dcOfNIN(m.spouseNIN); ok {
			bySchema[fdc.Schema] = append(bySchema[fdc.Schema], m.spouseNIN)
		}
	}
	found := map[string]*father{}
	b := &pgx.Batch{}
	for _, schema := range sortedKeys(bySchema) {
		b.Queue(inSchema(schema, `SELECT DISTINCT ON (nin) nin, id, coalesce(surname_latin, ''), coalesce(surname_arabic, ''),
			coalesce(first_names_latin, ''), coalesce(first_names_arabic, '') FROM {s}.births WHERE nin = ANY($1) ORDER BY nin, id`),
			bySchema[schema]).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var nin string
				var f father
				if err := rows.Scan(&nin, &f.id, &f.surname, &f.surnameAr, &f.first, &f.firstAr); err != nil {
					return err
				}
				found[nin] = &f
			}
			return rows.Err()
		})
	}
	if b.Len() > 0 {
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
	}
	for i := range mothers {
		mothers[i].father = found[mothers[i].spouseNIN]
	}
	return nil
}

// pickPersons returns up to cacheFill persons of a data center's births
// from a random id, filtered by cond (SQL over b), skipping rows defective
// on purpose.
func (l *live) pickPersons(ctx context.Context, tx pgx.Tx, dc DataCenter, join, cond string, args ...any) ([]candidate, error) {
	cols := `b.id, b.nin, coalesce(b.surname_latin, ''), coalesce(b.surname_arabic, ''), coalesce(b.first_names_latin, ''),
		coalesce(b.first_names_arabic, ''), coalesce(b.sex, ''), b.birth_date, coalesce(b.birth_commune, '')`
	spouse := ", '', 0::bigint"
	if join != "" {
		spouse = ", coalesce(m.spouse_nin, ''), m.id"
	}
	from := l.seekBelow(dc.Schema, tBirths, l.adultsBelow[dc.Schema])
	var out []candidate
	for attempt := 0; attempt < 2 && len(out) == 0; attempt++ {
		q := inSchema(dc.Schema, "SELECT "+cols+spouse+" FROM {s}.births b "+join+" WHERE b.id >= $1 AND b.nin ~ '^[0-9]{18}$' AND b.birth_date IS NOT NULL AND "+
			cond+" ORDER BY b.id LIMIT "+strconv.Itoa(cacheFill))
		rows, err := tx.Query(ctx, q, append([]any{from}, args...)...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var c candidate
			if err := rows.Scan(&c.id, &c.nin, &c.surname, &c.surnameAr, &c.first, &c.firstAr, &c.sx, &c.birth, &c.commune, &c.spouseNIN, &c.spouseID); err != nil {
				rows.Close()
				return nil, err
			}
			if l.defective(tBirths, c.id) || (c.spouseID != 0 && l.defective(tMarriages, c.spouseID)) {
				continue
			}
			out = append(out, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		from = 0
	}
	return out, nil
}

// srcRow is a candidate row of the funds' tables (or a death act).
type srcRow struct {
	id            int64
	nin, nss, emp string
	wage          *int64 // the person's last wage at this employer, for a contribution
}

// touchKey names a row for l.touched.
func touchKey(kind, schema string, id int64) string {
	return kind + "/" + schema + "/" + strconv.FormatInt(id, 10)
}

// takeRow returns the first row of the cache key that ok accepts, dropping
// those it refuses; when none is left it refills the cache once with fill.
// It reports false when no row is accepted.
func (l *live) takeRow(key string, fill func() ([]srcRow, error), ok func(srcRow) bool) (srcRow, bool, error) {
	for refilled := false; ; refilled = true {
		c := l.rows[key]
		for len(c) > 0 {
			r := c[0]
			c = c[1:]
			if ok(r) {
				l.rows[key] = c
				return r, true, nil
			}
		}
		l.rows[key] = c
		if refilled || l.empty[key].After(l.now) {
			return srcRow{}, false, nil
		}
		found, err := fill()
		if err != nil {
			return srcRow{}, false, err
		}
		if len(found) == 0 {
			l.empty[key] = l.now.Add(usedUpFor)
		}
		l.rows[key] = found
	}
}

// queryRows reads rows with q (its $1 is the first id) from a random id
// of table t, then from the start when that finds none.
func (l *live) queryRows(ctx context.Context, tx pgx.Tx, schema string, t table, q string, scan func(pgx.CollectableRow) (srcRow, error), args ...any) ([]srcRow, error) {
	from := l.seek(schema, t)
	for attempt := 0; attempt < 2; attempt++ {
		rows, err := tx.Query(ctx, q, append([]any{from}, args...)...)
		if err != nil {
			return nil, err
		}
		out, err := pgx.CollectRows(rows, scan)
		if err != nil || len(out) > 0 {
			return out, err
		}
		from = 0
	}
	return nil, nil
}

func scanID(r pgx.CollectableRow) (srcRow, error) {
	var s srcRow
	err := r.Scan(&s.id)
	return s, err
}

func (l *live) yearsAgo(y float64) time.Time { return l.today.addYears(-y).Time() }

func (l *live) birth(ctx context.Context, tx pgx.Tx) (bool, error) {
	dc, region := l.dc(AgencyEtatCivil)
	mothers, pick, err := l.persons(ctx, tx, dc, "mother", "JOIN {s}.marriages m ON m.nin = b.nin",
		`b.sex = 'F' AND b.birth_date > $2 AND b.birth_date < $3
		 AND NOT EXISTS (SELECT 1 FROM {s}.divorces d WHERE d.nin = b.nin)
		 AND NOT EXISTS (SELECT 1 FROM {s}.deaths x WHERE x.nin = b.nin)`, l.yearsAgo(45), l.yearsAgo(18))
	if err != nil {
		return false, err
	}
	sex := byte('M')
	if l.r.IntN(204) >= 104 {
		sex = 'F'
	}
	list := maleNames[eraNew]
	if sex == 'F' {
		list = femaleNames[eraNew]
	}
	first := list[int(float64(len(list))*math.Pow(l.r.Float64(), 1.7))]
	var surname, fatherFirst, motherSur, motherFirst name
	fatherNIN, motherNIN := null(), null()
	w := 0
	if len(mothers) > 0 {
		i := l.r.IntN(len(mothers))
		mo := mothers[i]
		pick.use(i)
		if f := mo.father; f != nil && !l.defective(tBirths, f.id) && f.surname != "" {
			surname, fatherFirst = name{f.surname, f.surnameAr}, name{f.first, f.firstAr}
			motherSur, motherFirst = name{mo.surname, mo.surnameAr}, name{mo.first, mo.firstAr}
			// Both parents are registered: the act carries their NINs.
			fatherNIN, motherNIN = str(mo.spouseNIN), str(mo.nin)
			w = wilayaOfCommune(mo.commune)
		}
	}
	if w == 0 { // parents outside the population
		w = l.wilayaIn(region)
		surname = surnames[l.r.IntN(len(surnames))]
		fatherFirst = maleNames[eraMid][l.r.IntN(len(maleNames[eraMid]))]
		motherSur = surnames[l.r.IntN(len(surnames))]
		motherFirst = femaleNames[eraNew][l.r.IntN(len(femaleNames[eraNew]))]
	}
	dc = l.dcs[int(l.pl.regions[w])]
	num, err := l.nextAct(actBirth, w)
	if err != nil {
		return false, err
	}
	year := l.today.Year()
	nin := buildNIN(sex, false, year, w, num, 1)
	commune := syntheticCommune(w)
	id := l.newID(tBirths)
	row := []val{integer(id), str(nin), str(surname.Latin), str(surname.Arabic), str(first.Latin), str(first.Arabic),
		null(), str(sexCode(sex)), date(l.today), boolean(false), str(commune), str(wilayaCode(uint8(w))),
		str(fatherFirst.Latin), str(fatherFirst.Arabic), str(motherSur.Latin), str(motherFirst.Latin),
		str(motherSur.Arabic), str(motherFirst.Arabic), integer(int64(num)), integer(int64(year)), str(commune),
		date(l.today), {k: vTime, i: int64(l.r.IntN(1440)) * 60}, arr([]string{}), fatherNIN, motherNIN}
	return l.insert(dc.Schema, tBirths, row), nil
}

func (l *live) death(ctx context.Context, tx pgx.Tx) (bool, error) {
	dc, _ := l.dc(AgencyEtatCivil)
	cands, pick, err := l.persons(ctx, tx, dc, "death", "", `b.birth_date < $2 AND b.birth_commune ~ '^99[0-9]{2}$'
		AND NOT EXISTS (SELECT 1 FROM {s}.deaths x WHERE x.nin = b.nin)`, l.yearsAgo(60))
	if err != nil {
		return false, err
	}
	if len(cands) == 0 {
		return false, errSkip
	}
	// The older, the likelier (Gompertz hazard).
	weights := make([]float64, len(cands))
	total := 0.0
	for i, c := range cands {
		weights[i] = math.Exp(gompB * yearsBetween(dayOfTime(c.birth), l.today))
		total += weights[i]
	}
	u := l.r.Float64() * total
	chosen := len(cands) - 1
	for i := range cands {
		if u < weights[i] {
			chosen = i
			break
		}
		u -= weights[i]
	}
	c := cands[chosen]
	w := wilayaOfCommune(c.commune)
	num, err := l.nextAct(actDeath, w)
	if err != nil {
		return false, err
	}
	pick.use(chosen)
	l.touched[c.nin] = true
	id := l.newID(tDeaths)
	row := []val{integer(id), str(c.nin), integer(int64(num)), integer(int64(l.today.Year())), str(c.commune),
		date(l.today), str(c.commune), arr([]string{})}
	bad := l.insert(dc.Schema, tDeaths, row)
	l.note(dc.Schema, c.id, fmt.Sprintf("%s le %s à %s", feminine(c.sx[0], "Décédé"), l.today.french(), c.commune))
	return bad, nil
}

func (l *live) marriage(ctx context.Context, tx pgx.Tx) (bool, error) {
	unmarried := `b.birth_date > $2 AND b.birth_date < $3 AND b.birth_commune ~ '^99[0-9]{2}$'
		AND NOT EXISTS (SELECT 1 FROM {s}.marriages m WHERE m.nin = b.nin)
		AND NOT EXISTS (SELECT 1 FROM {s}.deaths x WHERE x.nin = b.nin)`
	dcM, _ := l.dc(AgencyEtatCivil)
	men, pickMan, err := l.persons(ctx, tx, dcM, "man", "", "b.sex = 'M' AND "+unmarried, l.yearsAgo(60), l.yearsAgo(22))
	if err != nil {
		return false, err
	}
	dcW := dcM
	if l.r.Float64() >= 0.7 {
		dcW, _ = l.dc(AgencyEtatCivil)
	}
	women, pickWoman, err := l.persons(ctx, tx, dcW, "woman", "", "b.sex = 'F' AND "+unmarried, l.yearsAgo(45), l.yearsAgo(19))
	if err != nil {
		return false, err
	}
	if len(men) == 0 || len(women) == 0 {
		return false, errSkip
	}
	hi, wi := l.r.IntN(len(men)), l.r.IntN(len(women))
	h, w := men[hi], women[wi]
	ww := wilayaOfCommune(w.commune)
	num, err := l.nextAct(actMarriage, ww)
	if err != nil {
		return false, err
	}
	pickMan.use(hi)
	pickWoman.use(wi)
	l.touched[h.nin], l.touched[w.nin] = true, true
	anyBad := false
	for _, side := range []struct {
		dc         DataCenter
		self, mate candidate
	}{{dcM, h, w}, {dcW, w, h}} {
		id := l.newID(tMarriages)
		row := []val{integer(id), str(side.self.nin), integer(int64(num)), integer(int64(l.today.Year())), str(w.commune),
			date(l.today), str(side.mate.nin), str(side.mate.surname), str(side.mate.first), arr([]string{})}
		anyBad = l.insert(side.dc.Schema, tMarriages, row) || anyBad
		l.note(side.dc.Schema, side.self.id, fmt.Sprintf("%s le %s à %s avec %s", feminine(side.self.sx[0], "Marié"), l.today.french(), w.commune, side.mate.nin))
	}
	return anyBad, nil
}

func (l *live) correction(ctx context.Context, tx pgx.Tx) error {
	dc, _ := l.dc(AgencyEtatCivil)
	// Most names have no correction: a few windows of the cache (and a
	// refill) before giving up.
	for range cacheFill / cacheWindow {
		if err := l.correct(ctx, tx, dc); !errors.Is(err, errSkip) {
			return err
		}
	}
	return errSkip
}

func (l *live) correct(ctx context.Context, tx pgx.Tx, dc DataCenter) error {
	cands, pick, err := l.persons(ctx, tx, dc, "correction", "", "true")
	if err != nil {
		return err
	}
	for i, c := range cands {
		first, sur, ok := correctName(c.first, c.surname)
		if !ok {
			continue
		}
		pick.use(i)
		l.touched[c.nin] = true
		what := c.first + " → " + first
		if sur != c.surname {
			what = c.surname + " → " + sur
		}
		f := l.later.fixed[dc.Schema]
		if f == nil {
			f = &fixes{}
			l.later.fixed[dc.Schema] = f
		}
		f.ids, f.first, f.sur = append(f.ids, c.id), append(f.first, first), append(f.sur, sur)
		f.notes = append(f.notes, fmt.Sprintf("Rectifié par jugement du %s : %s", l.today.french(), what))
		return nil
	}
	pick.drop() // none of these names has a correction
	return errSkip
}

// deleteAct withdraws a death act of an earlier year (annulled by a court:
// the person was not dead). Earlier years only, so that no act number of
// the current year is ever freed and reused.
func (l *live) deleteAct(ctx context.Context, tx pgx.Tx) error {
	dc, _ := l.dc(AgencyEtatCivil)
	r, ok, err := l.takeRow("delete/"+dc.Schema, func() ([]srcRow, error) {
		return l.queryRows(ctx, tx, dc.Schema, tDeaths, inSchema(dc.Schema,
			`SELECT id FROM {s}.deaths WHERE id >= $1 AND act_year < $2 AND nin ~ '^[0-9]{18}$' ORDER BY id LIMIT `+strconv.Itoa(cacheFill)),
			scanID, l.today.Year())
	}, func(r srcRow) bool {
		return !l.defective(tDeaths, r.id) && !l.touched[touchKey("delete", dc.Schema, r.id)]
	})
	if err != nil || !ok {
		return cmp.Or(err, errSkip)
	}
	l.touched[touchKey("delete", dc.Schema, r.id)] = true
	l.later.deleted[dc.Schema] = append(l.later.deleted[dc.Schema], r.id)
	return nil
}

func (l *live) period() string { return periodString(monthIndex(l.today)) }

func (l *live) contribution(ctx context.Context, tx pgx.Tx, agency string) (bool, error) {
	dc, _ := l.dc(agency)
	period := l.period()
	// With each job, the wage of the person's last month there.
	var q string
	var t table
	if agency == AgencyCNAS {
		t = tEmployment
		q = `SELECT e.id, e.nin, coalesce(e.nss, ''), coalesce(e.employer_id, ''), w.wage_base FROM {s}.employment_periods e
			LEFT JOIN LATERAL (SELECT wage_base FROM {s}.contributions c WHERE c.nin = e.nin AND coalesce(c.employer_id, '') = coalesce(e.employer_id, '')
				AND c.wage_base IS NOT NULL ORDER BY c.period DESC LIMIT 1) w ON true
			WHERE e.id >= $1 AND e.status = 'OPEN' AND e.nin ~ '^[0-9]{18}$'
			AND NOT EXISTS (SELECT 1 FROM {s}.contributions c WHERE c.nin = e.nin AND c.period = $2 AND c.employer_id = e.employer_id)
			ORDER BY e.id LIMIT `
	} else {
		t = tAffiliations
		q = `SELECT e.id, e.nin, coalesce(e.nss, ''), '', w.wage_base FROM {s}.affiliations e
			LEFT JOIN LATERAL (SELECT wage_base FROM {s}.contributions c WHERE c.nin = e.nin AND coalesce(c.employer_id, '') = ''
				AND c.wage_base IS NOT NULL ORDER BY c.period DESC LIMIT 1) w ON true
			WHERE e.id >= $1 AND e.status = 'ACTIVE' AND e.fund = 'CASNOS' AND e.nin ~ '^[0-9]{18}$'
			AND NOT EXISTS (SELECT 1 FROM {s}.contributions c WHERE c.nin = e.nin AND c.period = $2)
			ORDER BY e.id LIMIT `
	}
	q = inSchema(dc.Schema, q+strconv.Itoa(cacheFill))
	// Keyed by period: a new month makes every job due again.
	s, ok, err := l.takeRow("contribution/"+dc.Schema+"/"+period, func() ([]srcRow, error) {
		return l.queryRows(ctx, tx, dc.Schema, t, q, func(r pgx.CollectableRow) (srcRow, error) {
			var s srcRow
			err := r.Scan(&s.id, &s.nin, &s.nss, &s.emp, &s.wage)
			return s, err
		}, period)
	}, func(r srcRow) bool {
		return !l.defective(t, r.id) && r.nss != "" && !l.touched[touchKey("contribution", dc.Schema, r.id)]
	})
	if err != nil || !ok {
		return false, cmp.Or(err, errSkip)
	}
	l.touched[touchKey("contribution", dc.Schema, s.id)] = true
	var wage int64
	if s.wage != nil {
		wage = *s.wage
	} else {
		wage = int64(max(snmg, math.Round(38000*math.Exp(0.45*l.r.NormFloat64())/10)*10)) * 100
	}
	fund, due := "CNAS", wage*345/1000
	emp := null()
	if agency == AgencyCASNOS {
		fund, due = "CASNOS", wage*15/100
	} else {
		emp = str(s.emp)
	}
	status, paid, paidDate := "UNPAID", int64(0), null()
	if l.r.Float64() < 0.8 {
		status, paid, paidDate = "PAID", due, date(l.today)
	}
	id := l.newID(tContributions)
	// Not yet due: the month is not over.
	row := []val{integer(id), str("INSURED"), str(s.nin), str(s.nss), emp, str(fund), str(period),
		integer(wage), integer(due), integer(paid), str(status), null(), paidDate}
	return l.insert(dc.Schema, tContributions, row), nil
}

func (l *live) payment(ctx context.Context, tx pgx.Tx, agency string) error {
	dc, _ := l.dc(agency)
	r, ok, err := l.takeRow("payment/"+dc.Schema, func() ([]srcRow, error) {
		return l.queryRows(ctx, tx, dc.Schema, tContributions, inSchema(dc.Schema, `SELECT id FROM {s}.contributions WHERE id >= $1 AND status IN ('UNPAID', 'PARTIAL')
			AND amount_due IS NOT NULL ORDER BY id LIMIT `+strconv.Itoa(cacheFill)), scanID)
	}, func(r srcRow) bool {
		return !l.defective(tContributions, r.id) && !l.touched[touchKey("payment", dc.Schema, r.id)]
	})
	if err != nil || !ok {
		return cmp.Or(err, errSkip)
	}
	l.touched[touchKey("payment", dc.Schema, r.id)] = true
	l.later.paid[dc.Schema] = append(l.later.paid[dc.Schema], r.id)
	return nil
}

// hire opens a new job for a person whose last job ended in the last three
// years, at an employer of the same region.
func (l *live) hire(ctx context.Context, tx pgx.Tx) (bool, error) {
	dc, region := l.dc(AgencyCNAS)
	s, ok, err := l.takeRow("hire/"+dc.Schema, func() ([]srcRow, error) {
		found, err := l.queryRows(ctx, tx, dc.Schema, tEmployment, inSchema(dc.Schema, `SELECT e.id, e.nin, coalesce(e.nss, '') FROM {s}.employment_periods e
			WHERE e.id >= $1 AND e.status = 'CLOSED' AND e.end_date > $2 AND e.nin ~ '^[0-9]{18}$'
			AND NOT EXISTS (SELECT 1 FROM {s}.employment_periods o WHERE o.nin = e.nin AND o.status = 'OPEN')
			ORDER BY e.id LIMIT `+strconv.Itoa(cacheFill)), func(r pgx.CollectableRow) (srcRow, error) {
			var s srcRow
			err := r.Scan(&s.id, &s.nin, &s.nss)
			return s, err
		}, l.yearsAgo(3))
		if err != nil {
			return nil, err
		}
		// One job each (a person with several closed jobs is found once),
		// under 55 (the register year, NIN positions 3-5, as the birth
		// year), alive.
		seen := map[string]bool{}
		found = slices.DeleteFunc(found, func(r srcRow) bool {
			yy := int(r.nin[2]-'0')*100 + int(r.nin[3]-'0')*10 + int(r.nin[4]-'0')
			by := 2000 + yy
			if yy >= 800 {
				by = 1000 + yy
			}
			drop := seen[r.nin] || l.today.Year()-by > 55
			seen[r.nin] = true
			return drop
		})
		dead, err := l.dead(ctx, tx, found)
		return slices.DeleteFunc(found, func(r srcRow) bool { return dead[r.nin] }), err
	}, func(s srcRow) bool {
		return !l.defective(tEmployment, s.id) && s.nss != "" && !l.touched[s.nin]
	})
	if err != nil || !ok {
		return false, cmp.Or(err, errSkip)
	}
	l.touched[s.nin] = true
	w := uint8(l.wilayaIn(region))
	k := int32(min(l.pl.employers[w]-1, int(float64(l.pl.employers[w])*math.Pow(l.r.Float64(), 2))))
	emp := makeEmployer(l.pl, w, k)
	id := l.newID(tEmployment)
	row := []val{integer(id), str(s.nin), str(s.nss), str("CNAS"), str(emp.id), str(emp.name), str(emp.nif),
		date(l.today), null(), str("OPEN"), str(emp.sector.Positions[l.r.IntN(len(emp.sector.Positions))])}
	return l.insert(dc.Schema, tEmployment, row), nil
}

// dead says which of the rows' persons have a death act in the data center
// of their civil status, in one round trip.
func (l *live) dead(ctx context.Context, tx pgx.Tx, rows []srcRow) (map[string]bool, error) {
	bySchema := map[string][]string{}
	for _, r := range rows {
		if cdc, ok := l.dcOfNIN(r.nin); ok {
			bySchema[cdc.Schema] = append(bySchema[cdc.Schema], r.nin)
		}
	}
	dead := map[string]bool{}
	b := &pgx.Batch{}
	for _, schema := range sortedKeys(bySchema) {
		b.Queue(inSchema(schema, `SELECT DISTINCT nin FROM {s}.deaths WHERE nin = ANY($1)`), bySchema[schema]).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var nin string
				if err := rows.Scan(&nin); err != nil {
					return err
				}
				dead[nin] = true
			}
			return rows.Err()
		})
	}
	if b.Len() == 0 {
		return dead, nil
	}
	return dead, tx.SendBatch(ctx, b).Close()
}
