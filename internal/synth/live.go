package synth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"sort"
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
	// SummaryEvery is the period of the summary log line (default 10s).
	SummaryEvery time.Duration
}

// liveMetrics are the counters of live mode.
type liveMetrics struct {
	changes, defective *prometheus.CounterVec
	errors, skipped    *prometheus.CounterVec
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
	}
	if reg != nil {
		reg.MustRegister(m.changes, m.defective, m.errors, m.skipped)
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
	regions [][]int
	regionW []float64 // cumulative population share of regions
	today   day

	mu     sync.Mutex
	counts map[string]int64 // agency/kind, since the last summary
	total  int64
	errs   int64
}

// Live keeps changing the seeded sources at o.Rate changes per second until
// ctx ends: births (act numbers continue those in the database), deaths of
// the elderly, marriages, monthly contributions of the current month,
// payments of arrears (UPDATE, version+1), name corrections (op
// 'correction'), hires and rare deletes of withdrawn death acts. Each change
// is one small transaction through the agency tables and their outbox
// triggers; the seed's defect fraction applies to inserted rows.
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
		r:       rand.New(rand.NewPCG(uint64(run.Seed), uint64(time.Now().UnixNano()))),
		m:       newLiveMetrics(o.Registerer),
		acts:    map[uint32]int32{},
		idRange: map[string][2]int64{},
		regions: Regions(run.DataCenters),
		counts:  map[string]int64{},
	}
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

	// Summaries come from their own goroutine, so a rate above what the
	// database sustains never delays them.
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(o.SummaryEvery)
		defer t.Stop()
		last := time.Now()
		for {
			select {
			case <-done:
				l.summarize(time.Since(last), true)
				return
			case now := <-t.C:
				l.summarize(now.Sub(last), false)
				last = now
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
	interval := time.Duration(float64(time.Second) / o.Rate)
	next := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for ctx.Err() == nil {
		now := time.Now()
		if wait := next.Sub(now); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return nil
			case <-timer.C:
			}
			continue
		}
		// Behind schedule (the database is slower than the rate): catch up
		// at most one second's worth, never an ever-growing backlog.
		if now.Sub(next) > time.Second {
			next = now.Add(-time.Second)
		}
		l.change(ctx)
		next = next.Add(interval)
	}
	return nil
}

func (l *live) summarize(window time.Duration, final bool) {
	l.mu.Lock()
	counts, total, errs := l.counts, l.total, l.errs
	l.counts = map[string]int64{}
	l.mu.Unlock()
	var n int64
	keys := make([]string, 0, len(counts))
	for k, v := range counts {
		keys = append(keys, k)
		n += v
	}
	sort.Strings(keys)
	attrs := []any{"changes", n, "per_s", fmt.Sprintf("%.1f", float64(n)/max(window.Seconds(), 0.001)), "total", total, "errors", errs}
	for _, k := range keys {
		attrs = append(attrs, k, counts[k])
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
		return 0, fmt.Errorf("act numbers of %s exhausted for %d", syntheticCommune(w), l.today.Year())
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
func (l *live) seek(schema string, t table) int64 {
	r, ok := l.idRange[schema+"/"+TableNames[t]]
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

// change makes one change of a kind drawn by weight.
func (l *live) change(ctx context.Context) {
	total := 0
	for _, k := range liveKinds {
		total += k.weight
	}
	u := l.r.IntN(total)
	i := 0
	for ; u >= liveKinds[i].weight; i++ {
		u -= liveKinds[i].weight
	}
	kind := liveKinds[i].kind
	l.today = dayOfTime(time.Now())
	var agency string
	var bad bool
	err := pgx.BeginFunc(ctx, l.pool, func(tx pgx.Tx) error {
		var err error
		agency, bad, err = l.do(ctx, tx, kind)
		return err
	})
	switch {
	case errors.Is(err, errSkip):
		l.m.skipped.WithLabelValues(kind).Inc()
	case err != nil && ctx.Err() != nil:
	case err != nil:
		l.m.errors.WithLabelValues(kind).Inc()
		l.mu.Lock()
		l.errs++
		l.mu.Unlock()
		l.log.Warn("live change failed", "kind", kind, "err", err)
	default:
		l.m.changes.WithLabelValues(agency, kind).Inc()
		if bad {
			l.m.defective.WithLabelValues(agency, kind).Inc()
		}
		l.mu.Lock()
		l.counts[kind]++
		l.total++
		l.mu.Unlock()
	}
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

func setPath(ctx context.Context, tx pgx.Tx, schema string) error {
	_, err := tx.Exec(ctx, "SET LOCAL search_path TO "+pgx.Identifier{schema}.Sanitize())
	return err
}

// insert writes one row (making it defective when the seed's defect
// decision says so) through COPY, so that live rows are encoded exactly as
// the seed's.
func (l *live) insert(ctx context.Context, tx pgx.Tx, schema string, t table, row []val) (bool, error) {
	id := row[0].i
	d, h, bad := defectOf(l.pl.seed, l.run.Defects, t, id)
	if bad {
		d.fn(l.pl, h, row)
	}
	if err := setPath(ctx, tx, schema); err != nil {
		return bad, err
	}
	sql := "COPY " + TableNames[t] + " (" + strings.Join(tableColumns[t], ", ") + ") FROM STDIN"
	if _, err := tx.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(appendCopyRow(nil, row)), sql); err != nil {
		return bad, fmt.Errorf("insert into %s.%s: %w", schema, TableNames[t], err)
	}
	l.grow(schema, t, id)
	return bad, nil
}

type candidate struct {
	id                                          int64
	nin, surname, surnameAr, first, firstAr, sx string
	birth                                       time.Time
	commune                                     string
	spouseNIN                                   string
	spouseID                                    int64
}

// pickPersons returns up to 16 persons of a data center's births from a
// random id, filtered by cond (SQL over b), skipping rows defective on purpose.
func (l *live) pickPersons(ctx context.Context, tx pgx.Tx, dc DataCenter, join, cond string, args ...any) ([]candidate, error) {
	if err := setPath(ctx, tx, dc.Schema); err != nil {
		return nil, err
	}
	cols := `b.id, b.nin, coalesce(b.surname_latin, ''), coalesce(b.surname_arabic, ''), coalesce(b.first_names_latin, ''),
		coalesce(b.first_names_arabic, ''), coalesce(b.sex, ''), b.birth_date, coalesce(b.birth_commune, '')`
	spouse := ", '', 0::bigint"
	if join != "" {
		spouse = ", coalesce(m.spouse_nin, ''), m.id"
	}
	from := l.seek(dc.Schema, tBirths)
	var out []candidate
	for attempt := 0; attempt < 2 && len(out) == 0; attempt++ {
		q := "SELECT " + cols + spouse + " FROM births b " + join + " WHERE b.id >= $1 AND b.nin ~ '^[0-9]{18}$' AND b.birth_date IS NOT NULL AND " +
			cond + " ORDER BY b.id LIMIT 16"
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

func (l *live) yearsAgo(y float64) time.Time { return l.today.addYears(-y).Time() }

func (l *live) birth(ctx context.Context, tx pgx.Tx) (bool, error) {
	dc, region := l.dc(AgencyEtatCivil)
	mothers, err := l.pickPersons(ctx, tx, dc, "JOIN marriages m ON m.nin = b.nin",
		`b.sex = 'F' AND b.birth_date > $2 AND b.birth_date < $3
		 AND NOT EXISTS (SELECT 1 FROM divorces d WHERE d.nin = b.nin)
		 AND NOT EXISTS (SELECT 1 FROM deaths x WHERE x.nin = b.nin)`, l.yearsAgo(45), l.yearsAgo(18))
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
		mo := mothers[l.r.IntN(len(mothers))]
		if fdc, ok := l.dcOfNIN(mo.spouseNIN); ok {
			if err := setPath(ctx, tx, fdc.Schema); err != nil {
				return false, err
			}
			var fid int64
			err := tx.QueryRow(ctx, `SELECT id, coalesce(surname_latin, ''), coalesce(surname_arabic, ''), coalesce(first_names_latin, ''), coalesce(first_names_arabic, '')
				FROM births WHERE nin = $1 ORDER BY id LIMIT 1`, mo.spouseNIN).Scan(&fid, &surname.Latin, &surname.Arabic, &fatherFirst.Latin, &fatherFirst.Arabic)
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return false, err
			}
			if err == nil && !l.defective(tBirths, fid) && surname.Latin != "" {
				motherSur, motherFirst = name{mo.surname, mo.surnameAr}, name{mo.first, mo.firstAr}
				// Both parents are registered: the act carries their NINs.
				fatherNIN, motherNIN = str(mo.spouseNIN), str(mo.nin)
				w = wilayaOfCommune(mo.commune)
			}
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
	return l.insert(ctx, tx, dc.Schema, tBirths, row)
}

func (l *live) death(ctx context.Context, tx pgx.Tx) (bool, error) {
	dc, _ := l.dc(AgencyEtatCivil)
	cands, err := l.pickPersons(ctx, tx, dc, "", `b.birth_date < $2 AND b.birth_commune ~ '^99[0-9]{2}$'
		AND NOT EXISTS (SELECT 1 FROM deaths x WHERE x.nin = b.nin)`, l.yearsAgo(60))
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
	c := cands[len(cands)-1]
	for i := range cands {
		if u < weights[i] {
			c = cands[i]
			break
		}
		u -= weights[i]
	}
	w := wilayaOfCommune(c.commune)
	num, err := l.nextAct(actDeath, w)
	if err != nil {
		return false, err
	}
	id := l.newID(tDeaths)
	row := []val{integer(id), str(c.nin), integer(int64(num)), integer(int64(l.today.Year())), str(c.commune),
		date(l.today), str(c.commune), arr([]string{})}
	bad, err := l.insert(ctx, tx, dc.Schema, tDeaths, row)
	if err != nil {
		return bad, err
	}
	note := fmt.Sprintf("%s le %s à %s", feminine(c.sx[0], "Décédé"), l.today.french(), c.commune)
	_, err = tx.Exec(ctx, `UPDATE births SET marginal_notes = array_append(marginal_notes, $2) WHERE id = $1`, c.id, note)
	return bad, err
}

func (l *live) marriage(ctx context.Context, tx pgx.Tx) (bool, error) {
	unmarried := `b.birth_date > $2 AND b.birth_date < $3 AND b.birth_commune ~ '^99[0-9]{2}$'
		AND NOT EXISTS (SELECT 1 FROM marriages m WHERE m.nin = b.nin)
		AND NOT EXISTS (SELECT 1 FROM deaths x WHERE x.nin = b.nin)`
	dcM, _ := l.dc(AgencyEtatCivil)
	men, err := l.pickPersons(ctx, tx, dcM, "", "b.sex = 'M' AND "+unmarried, l.yearsAgo(60), l.yearsAgo(22))
	if err != nil {
		return false, err
	}
	dcW := dcM
	if l.r.Float64() >= 0.7 {
		dcW, _ = l.dc(AgencyEtatCivil)
	}
	women, err := l.pickPersons(ctx, tx, dcW, "", "b.sex = 'F' AND "+unmarried, l.yearsAgo(45), l.yearsAgo(19))
	if err != nil {
		return false, err
	}
	if len(men) == 0 || len(women) == 0 {
		return false, errSkip
	}
	h, w := men[l.r.IntN(len(men))], women[l.r.IntN(len(women))]
	ww := wilayaOfCommune(w.commune)
	num, err := l.nextAct(actMarriage, ww)
	if err != nil {
		return false, err
	}
	anyBad := false
	for _, side := range []struct {
		dc         DataCenter
		self, mate candidate
	}{{dcM, h, w}, {dcW, w, h}} {
		id := l.newID(tMarriages)
		row := []val{integer(id), str(side.self.nin), integer(int64(num)), integer(int64(l.today.Year())), str(w.commune),
			date(l.today), str(side.mate.nin), str(side.mate.surname), str(side.mate.first), arr([]string{})}
		bad, err := l.insert(ctx, tx, side.dc.Schema, tMarriages, row)
		if err != nil {
			return bad, err
		}
		anyBad = anyBad || bad
		note := fmt.Sprintf("%s le %s à %s avec %s", feminine(side.self.sx[0], "Marié"), l.today.french(), w.commune, side.mate.nin)
		if _, err := tx.Exec(ctx, `UPDATE births SET marginal_notes = array_append(marginal_notes, $2) WHERE id = $1`, side.self.id, note); err != nil {
			return anyBad, err
		}
	}
	return anyBad, nil
}

func (l *live) correction(ctx context.Context, tx pgx.Tx) error {
	dc, _ := l.dc(AgencyEtatCivil)
	cands, err := l.pickPersons(ctx, tx, dc, "", "true")
	if err != nil {
		return err
	}
	for _, c := range cands {
		first, sur, ok := correctName(c.first, c.surname)
		if !ok {
			continue
		}
		if _, err := tx.Exec(ctx, `SET LOCAL askonce.op = 'correction'`); err != nil {
			return err
		}
		what := c.first + " → " + first
		if sur != c.surname {
			what = c.surname + " → " + sur
		}
		note := fmt.Sprintf("Rectifié par jugement du %s : %s", l.today.french(), what)
		_, err := tx.Exec(ctx, `UPDATE births SET first_names_latin = $2, surname_latin = $3,
			marginal_notes = array_append(marginal_notes, $4) WHERE id = $1`, c.id, first, sur, note)
		return err
	}
	return errSkip
}

// deleteAct withdraws a death act of an earlier year (annulled by a court:
// the person was not dead). Earlier years only, so that no act number of
// the current year is ever freed and reused.
func (l *live) deleteAct(ctx context.Context, tx pgx.Tx) error {
	dc, _ := l.dc(AgencyEtatCivil)
	if err := setPath(ctx, tx, dc.Schema); err != nil {
		return err
	}
	from := l.seek(dc.Schema, tDeaths)
	for attempt := 0; attempt < 2; attempt++ {
		rows, err := tx.Query(ctx, `SELECT id FROM deaths WHERE id >= $1 AND act_year < $2 AND nin ~ '^[0-9]{18}$' ORDER BY id LIMIT 8`, from, l.today.Year())
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		for _, id := range ids {
			if l.defective(tDeaths, id) {
				continue
			}
			_, err := tx.Exec(ctx, `DELETE FROM deaths WHERE id = $1`, id)
			return err
		}
		from = 0
	}
	return errSkip
}

func (l *live) period() string { return periodString(monthIndex(l.today)) }

func (l *live) contribution(ctx context.Context, tx pgx.Tx, agency string) (bool, error) {
	dc, _ := l.dc(agency)
	if err := setPath(ctx, tx, dc.Schema); err != nil {
		return false, err
	}
	period := l.period()
	var q string
	var t table
	if agency == AgencyCNAS {
		t = tEmployment
		q = `SELECT e.id, e.nin, coalesce(e.nss, ''), coalesce(e.employer_id, '') FROM employment_periods e
			WHERE e.id >= $1 AND e.status = 'OPEN' AND e.nin ~ '^[0-9]{18}$'
			AND NOT EXISTS (SELECT 1 FROM contributions c WHERE c.nin = e.nin AND c.period = $2 AND c.employer_id = e.employer_id)
			ORDER BY e.id LIMIT 8`
	} else {
		t = tAffiliations
		q = `SELECT e.id, e.nin, coalesce(e.nss, ''), '' FROM affiliations e
			WHERE e.id >= $1 AND e.status = 'ACTIVE' AND e.fund = 'CASNOS' AND e.nin ~ '^[0-9]{18}$'
			AND NOT EXISTS (SELECT 1 FROM contributions c WHERE c.nin = e.nin AND c.period = $2)
			ORDER BY e.id LIMIT 8`
	}
	from := l.seek(dc.Schema, t)
	for attempt := 0; attempt < 2; attempt++ {
		rows, err := tx.Query(ctx, q, from, period)
		if err != nil {
			return false, err
		}
		type src struct {
			id            int64
			nin, nss, emp string
		}
		srcs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (src, error) {
			var s src
			err := r.Scan(&s.id, &s.nin, &s.nss, &s.emp)
			return s, err
		})
		if err != nil {
			return false, err
		}
		for _, s := range srcs {
			if l.defective(t, s.id) || s.nss == "" {
				continue
			}
			// The wage of the person's last month, or a new one.
			var wage int64
			err := tx.QueryRow(ctx, `SELECT wage_base FROM contributions WHERE nin = $1 AND coalesce(employer_id, '') = $2
				AND wage_base IS NOT NULL ORDER BY period DESC LIMIT 1`, s.nin, s.emp).Scan(&wage)
			if errors.Is(err, pgx.ErrNoRows) {
				wage = int64(max(snmg, math.Round(38000*math.Exp(0.45*l.r.NormFloat64())/10)*10)) * 100
			} else if err != nil {
				return false, err
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
			return l.insert(ctx, tx, dc.Schema, tContributions, row)
		}
		from = 0
	}
	return false, errSkip
}

func (l *live) payment(ctx context.Context, tx pgx.Tx, agency string) error {
	dc, _ := l.dc(agency)
	if err := setPath(ctx, tx, dc.Schema); err != nil {
		return err
	}
	from := l.seek(dc.Schema, tContributions)
	for attempt := 0; attempt < 2; attempt++ {
		rows, err := tx.Query(ctx, `SELECT id FROM contributions WHERE id >= $1 AND status IN ('UNPAID', 'PARTIAL')
			AND amount_due IS NOT NULL ORDER BY id LIMIT 8`, from)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		for _, id := range ids {
			if l.defective(tContributions, id) {
				continue
			}
			_, err := tx.Exec(ctx, `UPDATE contributions SET amount_paid = amount_due, status = 'PAID', paid_date = $2 WHERE id = $1`,
				id, l.today.Time())
			return err
		}
		from = 0
	}
	return errSkip
}

// hire opens a new job for a person whose last job ended in the last three
// years, at an employer of the same region.
func (l *live) hire(ctx context.Context, tx pgx.Tx) (bool, error) {
	dc, region := l.dc(AgencyCNAS)
	if err := setPath(ctx, tx, dc.Schema); err != nil {
		return false, err
	}
	from := l.seek(dc.Schema, tEmployment)
	for attempt := 0; attempt < 2; attempt++ {
		rows, err := tx.Query(ctx, `SELECT e.id, e.nin, coalesce(e.nss, '') FROM employment_periods e
			WHERE e.id >= $1 AND e.status = 'CLOSED' AND e.end_date > $2 AND e.nin ~ '^[0-9]{18}$'
			AND NOT EXISTS (SELECT 1 FROM employment_periods o WHERE o.nin = e.nin AND o.status = 'OPEN')
			ORDER BY e.id LIMIT 8`, from, l.yearsAgo(3))
		if err != nil {
			return false, err
		}
		type src struct {
			id       int64
			nin, nss string
		}
		srcs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (src, error) {
			var s src
			err := r.Scan(&s.id, &s.nin, &s.nss)
			return s, err
		})
		if err != nil {
			return false, err
		}
		for _, s := range srcs {
			if l.defective(tEmployment, s.id) || s.nss == "" {
				continue
			}
			// Register year (NIN positions 3-5) as the birth year: under 55, alive.
			yy := int(s.nin[2]-'0')*100 + int(s.nin[3]-'0')*10 + int(s.nin[4]-'0')
			by := 2000 + yy
			if yy >= 800 {
				by = 1000 + yy
			}
			if l.today.Year()-by > 55 {
				continue
			}
			if cdc, ok := l.dcOfNIN(s.nin); ok {
				var deadN int
				q := "SELECT count(*) FROM " + pgx.Identifier{cdc.Schema}.Sanitize() + ".deaths WHERE nin = $1"
				if err := tx.QueryRow(ctx, q, s.nin).Scan(&deadN); err != nil {
					return false, err
				}
				if deadN > 0 {
					continue
				}
			}
			w := uint8(l.wilayaIn(region))
			k := int32(min(l.pl.employers[w]-1, int(float64(l.pl.employers[w])*math.Pow(l.r.Float64(), 2))))
			emp := makeEmployer(l.pl, w, k)
			id := l.newID(tEmployment)
			row := []val{integer(id), str(s.nin), str(s.nss), str("CNAS"), str(emp.id), str(emp.name), str(emp.nif),
				date(l.today), null(), str("OPEN"), str(emp.sector.Positions[l.r.IntN(len(emp.sector.Positions))])}
			return l.insert(ctx, tx, dc.Schema, tEmployment, row)
		}
		from = 0
	}
	return false, errSkip
}
