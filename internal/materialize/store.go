// Package materialize applies the record topics to the lookup store in
// PostgreSQL, exactly once in effect: every record is a versioned,
// idempotent upsert keyed by (data_center, source_key), applied in one
// transaction per batch, and Kafka offsets are committed only after that
// transaction. Replays, duplicates and out-of-order versions change nothing.
//
// It sits in the middle of the data flow: downstream of the record topics
// (whoever produced to them), upstream of the lookup API, which reads only
// what it stored. It also applies the connectors' watermark markers, and
// dead-letters what it cannot decode, validate or store.
package materialize

import (
	"cmp"
	"context"
	"embed"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/internal/poison"
	"github.com/askonce/askonce/internal/store"
	"github.com/askonce/askonce/schemas"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrate creates or updates the lookup store.
func Migrate(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) error {
	_, err := store.Migrate(ctx, pool, "store", migrations, "migrations", log)
	return err
}

// CheckSchema returns an error unless the lookup store are at the version this
// release needs (`askonce migrate` migrates them).
func CheckSchema(ctx context.Context, pool *pgxpool.Pool) error {
	return store.Check(ctx, pool, "store", migrations, "migrations")
}

// commonCols start every store table's rows, in this order.
var commonCols = []string{"agency", "data_center", "source_key", "version", "op", "deleted", "event_time",
	"kafka_topic", "kafka_partition", "kafka_offset"}

// table is one store table and its record-specific columns.
type table struct {
	name string
	cols []string
}

// Tables of the store, in the order a batch applies them.
var (
	tPersons       = table{"persons", []string{"nin", "surname_latin", "surname_arabic", "first_names_latin", "first_names_arabic", "marital_surname_latin", "sex", "birth_date", "birth_date_presumed", "birth_commune", "birth_wilaya", "father_first_name_latin", "father_first_name_arabic", "mother_surname_latin", "mother_first_names_latin", "mother_surname_arabic", "mother_first_names_arabic", "act_number", "act_year", "act_commune", "registered_on", "birth_time", "marginal_notes", "father_nin", "mother_nin"}}
	tMarriages     = table{"marriages", []string{"nin", "act_number", "act_year", "act_commune", "marriage_date", "spouse_nin", "spouse_surname_latin", "spouse_first_names_latin", "marginal_notes"}}
	tDivorces      = table{"divorces", []string{"nin", "spouse_nin", "divorce_date", "court", "judgment_number", "marriage_act_number", "marriage_act_year", "marriage_act_commune", "marginal_notes"}}
	tDeaths        = table{"deaths", []string{"nin", "act_number", "act_year", "act_commune", "date_of_death", "place_commune", "marginal_notes"}}
	tAffiliations  = table{"affiliations", []string{"nin", "nss", "fund", "start_date", "end_date", "status", "regime"}}
	tEmployment    = table{"employment_periods", []string{"nin", "nss", "fund", "employer_id", "employer_name", "employer_nif", "start_date", "end_date", "status", "position"}}
	tContributions = table{"contributions", []string{"subject", "nin", "nss", "employer_id", "fund", "period", "wage_base", "amount_due", "amount_paid", "status", "due_date", "paid_date"}}
	tables         = []table{tPersons, tMarriages, tDivorces, tDeaths, tAffiliations, tEmployment, tContributions}
)

// Where a record was read.
type origin struct {
	topic     string
	partition int
	offset    int64
}

// row is one record ready for its table.
type row struct {
	t       table
	dc, key string
	version int64
	values  []any
	agency  string
	msg     int // index of its message in the batch, for the DLQ
}

func date(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

func optDate(t *time.Time) any {
	if t == nil {
		return nil
	}
	return *t
}

func optDur(d *time.Duration) any {
	if d == nil {
		return nil
	}
	return *d
}

func common(p schemas.Provenance, o origin) []any {
	return []any{p.Agency, p.DataCenter, p.SourceKey, p.SourceVersion, p.Operation, p.Operation == schemas.OpDelete,
		p.EventTime, o.topic, o.partition, o.offset}
}

// rowOf maps a decoded, valid record to its store row.
func rowOf(v any, o origin) (row, error) {
	switch r := v.(type) {
	case *schemas.CivilStatusRecord:
		c := common(r.Provenance, o)
		out := row{dc: r.Provenance.DataCenter, key: r.Provenance.SourceKey, version: r.Provenance.SourceVersion}
		switch r.Kind {
		case schemas.KindBirth, schemas.KindPerson:
			out.t = tPersons
			p, b := r.Person, r.Birth
			if p == nil {
				p = &schemas.PersonIdentity{}
			}
			if b == nil {
				b = &schemas.BirthAct{}
			}
			out.values = append(c, r.NIN, p.SurnameLatin, p.SurnameArabic, p.FirstNamesLatin, p.FirstNamesArabic, p.MaritalSurnameLatin,
				p.Sex, date(p.BirthDate), p.BirthDatePresumed, p.BirthCommune, p.BirthWilaya, p.FatherFirstNameLatin, p.FatherFirstNameArabic,
				p.MotherSurnameLatin, p.MotherFirstNamesLatin, p.MotherSurnameArabic, p.MotherFirstNamesArabic,
				nz(b.ActNumber), nz(b.ActYear), b.ActCommune, date(b.RegisteredOn), optDur(b.BirthTime), b.MarginalNotes,
				p.FatherNIN, p.MotherNIN)
		case schemas.KindMarriage:
			out.t = tMarriages
			m := r.Marriage
			if m == nil {
				m = &schemas.MarriageAct{}
			}
			out.values = append(c, r.NIN, nz(m.ActNumber), nz(m.ActYear), m.ActCommune, date(m.MarriageDate), m.SpouseNIN,
				m.SpouseSurnameLatin, m.SpouseFirstNamesLatin, m.MarginalNotes)
		case schemas.KindDivorce:
			out.t = tDivorces
			d := r.Divorce
			if d == nil {
				d = &schemas.DivorceAct{}
			}
			out.values = append(c, r.NIN, d.SpouseNIN, date(d.DivorceDate), d.Court, d.JudgmentNumber,
				d.MarriageActNumber, d.MarriageActYear, d.MarriageActCommune, d.MarginalNotes)
		case schemas.KindDeath:
			out.t = tDeaths
			d := r.Death
			if d == nil {
				d = &schemas.DeathAct{}
			}
			out.values = append(c, r.NIN, nz(d.ActNumber), nz(d.ActYear), d.ActCommune, date(d.DateOfDeath), d.PlaceCommune, d.MarginalNotes)
		default:
			return row{}, fmt.Errorf("civil-status kind %q has no table", r.Kind)
		}
		return out, nil
	case *schemas.EmploymentRecord:
		c := common(r.Provenance, o)
		out := row{dc: r.Provenance.DataCenter, key: r.Provenance.SourceKey, version: r.Provenance.SourceVersion}
		switch r.Kind {
		case schemas.KindAffiliation:
			out.t = tAffiliations
			a := r.Affiliation
			if a == nil {
				a = &schemas.Affiliation{}
			}
			out.values = append(c, r.NIN, r.NSS, r.Fund, date(a.StartDate), optDate(a.EndDate), a.Status, a.Regime)
		case schemas.KindEmployment:
			out.t = tEmployment
			e := r.Employment
			if e == nil {
				e = &schemas.EmploymentPeriod{}
			}
			out.values = append(c, r.NIN, r.NSS, r.Fund, e.EmployerID, e.EmployerName, e.EmployerNIF,
				date(e.StartDate), optDate(e.EndDate), e.Status, e.Position)
		default:
			return row{}, fmt.Errorf("employment kind %q has no table", r.Kind)
		}
		return out, nil
	case *schemas.ContributionRecord:
		out := row{t: tContributions, dc: r.Provenance.DataCenter, key: r.Provenance.SourceKey, version: r.Provenance.SourceVersion}
		out.values = append(common(r.Provenance, o), r.Subject, r.NIN, r.NSS, r.EmployerID, r.Fund, r.Period,
			r.WageBase, r.AmountDue, r.AmountPaid, r.Status, optDate(r.DueDate), optDate(r.PaidDate))
		return out, nil
	}
	return row{}, fmt.Errorf("no table for %T", v)
}

// nz stores 0 (absent in a DELETE without payload) as NULL.
func nz(n int) any {
	if n == 0 {
		return nil
	}
	return n
}

// applyResult counts what a batch did to the store.
type applyResult struct {
	applied map[string]int // by table
	stale   map[string]int // by table: an equal or higher version was stored
}

func (r applyResult) add(o applyResult) {
	for t, n := range o.applied {
		r.applied[t] += n
	}
	for t, n := range o.stale {
		r.stale[t] += n
	}
}

type freshness struct {
	agency string
	last   time.Time
	n      int
}

// markKey is where a watermark marker was applied.
type markKey struct {
	dc, topic string
	partition int
}

// batch is what one transaction writes: records, and the bookkeeping
// that must move with them (freshness, offsets, watermarks).
type batch struct {
	rows    []row
	fresh   map[string]*freshness
	offsets map[origin]struct{}
	marks   map[markKey]bus.Watermark
	// topicsOf are the record topics an agency writes: a data center's
	// watermark is known once markers of all their partitions are applied.
	topicsOf func(agency string) []string
}

// apply writes rows, the data centers' freshness, the partitions' offsets
// and watermarks in one transaction on conn. Rows of one key keep only
// their highest version; a stored row changes only for a higher one.
func apply(ctx context.Context, conn *pgx.Conn, b batch) (applyResult, error) {
	rows, fresh, offsets := b.rows, b.fresh, b.offsets
	res := applyResult{applied: map[string]int{}, stale: map[string]int{}}
	byTable := map[string]map[[2]string]row{}
	for _, r := range rows {
		m := byTable[r.t.name]
		if m == nil {
			m = map[[2]string]row{}
			byTable[r.t.name] = m
		}
		k := [2]string{r.dc, r.key}
		if prev, ok := m[k]; ok {
			res.stale[r.t.name]++
			if prev.version >= r.version {
				continue
			}
		}
		m[k] = r
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return res, fmt.Errorf("store: begin: %w", err)
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck // after commit, a no-op
	for _, t := range tables {
		m := byTable[t.name]
		if len(m) == 0 {
			continue
		}
		keys := make([][2]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		// One lock order for every transaction: no deadlock between
		// instances while partitions move during a rebalance.
		slices.SortFunc(keys, func(a, b [2]string) int {
			if c := strings.Compare(a[0], b[0]); c != 0 {
				return c
			}
			return strings.Compare(a[1], b[1])
		})
		vals := make([][]any, len(keys))
		for i, k := range keys {
			vals[i] = m[k].values
		}
		cols := append(slices.Clone(commonCols), t.cols...)
		stage := "stage_" + t.name
		if _, err := tx.Exec(ctx, "CREATE TEMP TABLE IF NOT EXISTS "+stage+" (LIKE "+t.name+" INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"); err != nil {
			return res, fmt.Errorf("store: stage %s: %w", t.name, err)
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{stage}, cols, pgx.CopyFromRows(vals)); err != nil {
			return res, fmt.Errorf("store: copy %s: %w", t.name, err)
		}
		set := make([]string, 0, len(cols))
		for _, c := range cols[1:] { // agency never changes with a key
			if c == "data_center" || c == "source_key" {
				continue
			}
			set = append(set, c+" = excluded."+c)
		}
		list := strings.Join(cols, ", ")
		tag, err := tx.Exec(ctx, "INSERT INTO "+t.name+" ("+list+", applied_at) SELECT "+list+", now() FROM "+stage+
			" ORDER BY data_center, source_key ON CONFLICT (data_center, source_key) DO UPDATE SET "+strings.Join(set, ", ")+
			", applied_at = excluded.applied_at WHERE "+t.name+".version < excluded.version")
		if err != nil {
			return res, fmt.Errorf("store: upsert %s: %w", t.name, err)
		}
		res.applied[t.name] += int(tag.RowsAffected())
		res.stale[t.name] += len(keys) - int(tag.RowsAffected())
	}
	dcs := make([]string, 0, len(fresh))
	for dc := range fresh {
		dcs = append(dcs, dc)
	}
	slices.Sort(dcs)
	for _, dc := range dcs {
		f := fresh[dc]
		if _, err := tx.Exec(ctx, `INSERT INTO source_freshness (agency, data_center, last_event_time, last_applied_at, records)
VALUES ($1, $2, $3, now(), $4)
ON CONFLICT (data_center) DO UPDATE SET last_event_time = greatest(source_freshness.last_event_time, excluded.last_event_time),
    last_applied_at = now(), records = source_freshness.records + excluded.records`, f.agency, dc, f.last, f.n); err != nil {
			return res, fmt.Errorf("store: freshness: %w", err)
		}
	}
	for o := range offsets {
		if _, err := tx.Exec(ctx, `INSERT INTO materialize_offsets (topic, partition, "offset") VALUES ($1, $2, $3)
ON CONFLICT (topic, partition) DO UPDATE SET "offset" = greatest(materialize_offsets."offset", excluded."offset"), updated_at = now()`,
			o.topic, o.partition, o.offset); err != nil {
			return res, fmt.Errorf("store: offsets: %w", err)
		}
	}
	if err := applyWatermarks(ctx, tx, b.marks, b.topicsOf); err != nil {
		return res, err
	}
	if err := tx.Commit(ctx); err != nil {
		return res, fmt.Errorf("store: commit: %w", err)
	}
	return res, nil
}

// applyIsolating applies b in one transaction; when the store refuses the
// data itself (poison.Classify), it splits the rows until each refused one
// is alone (poison.Isolate), applying all the others, hands the refused to
// deadLetter, and only once that succeeded moves b's freshness, offsets
// and watermarks: every record before a marker is then applied or
// dead-lettered. An outage (or a failed deadLetter) is returned; the
// caller retries the whole batch, which changes nothing already applied.
func applyIsolating(ctx context.Context, conn *pgx.Conn, b batch, deadLetter func([]poison.Failure[row]) error) (applyResult, []poison.Failure[row], error) {
	res, err := apply(ctx, conn, b)
	if err == nil || poison.Classify(err) != poison.Data {
		return res, nil, err
	}
	res = applyResult{applied: map[string]int{}, stale: map[string]int{}}
	fails, err := poison.Isolate(ctx, b.rows, func(ctx context.Context, rs []row) error {
		r, err := apply(ctx, conn, batch{rows: rs, topicsOf: b.topicsOf})
		if err == nil {
			res.add(r)
		}
		return err
	})
	if err != nil {
		return res, nil, err
	}
	if err := deadLetter(fails); err != nil {
		return res, nil, err
	}
	b.rows = nil
	r, err := apply(ctx, conn, b)
	if err != nil {
		return res, nil, err
	}
	res.add(r)
	return res, fails, nil
}

// applyWatermarks records the batch's markers per partition, then moves
// each data center's watermark to the oldest of its partitions' when
// markers of every partition of every topic of its agency are applied,
// recording each advance in store_watermark_history. With several
// materializers, one may compute from another's older committed rows: the
// minimum it finds is then lower than the truth, never higher, and the
// next round moves it on.
func applyWatermarks(ctx context.Context, tx pgx.Tx, marks map[markKey]bus.Watermark, topicsOf func(string) []string) error {
	if len(marks) == 0 {
		return nil
	}
	keys := make([]markKey, 0, len(marks))
	for k := range marks {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b markKey) int {
		return cmp.Or(strings.Compare(a.dc, b.dc), strings.Compare(a.topic, b.topic), cmp.Compare(a.partition, b.partition))
	})
	qb := &pgx.Batch{}
	var dcs []string
	for _, k := range keys {
		w := marks[k]
		qb.Queue(`INSERT INTO store_partition_watermarks (agency, data_center, topic, partition, partitions, watermark, applied_at)
VALUES ($1, $2, $3, $4, $5, $6, now())
ON CONFLICT (data_center, topic, partition) DO UPDATE SET agency = excluded.agency, partitions = excluded.partitions,
    watermark = greatest(store_partition_watermarks.watermark, excluded.watermark), applied_at = now()`,
			w.Agency, k.dc, k.topic, k.partition, w.Partitions, w.At)
		if len(dcs) == 0 || dcs[len(dcs)-1] != k.dc {
			dcs = append(dcs, k.dc)
		}
	}
	if err := tx.SendBatch(ctx, qb).Close(); err != nil {
		return fmt.Errorf("store: partition watermarks: %w", err)
	}
	rows, err := tx.Query(ctx, `SELECT agency, data_center, topic, partition, partitions, watermark
FROM store_partition_watermarks WHERE data_center = ANY($1)`, dcs)
	if err != nil {
		return fmt.Errorf("store: watermarks: %w", err)
	}
	byDC := map[string][]partMark{}
	var dc string
	var p partMark
	if _, err := pgx.ForEachRow(rows, []any{&p.agency, &dc, &p.topic, &p.partition, &p.partitions, &p.at}, func() error {
		byDC[dc] = append(byDC[dc], p)
		return nil
	}); err != nil {
		return fmt.Errorf("store: watermarks: %w", err)
	}
	for _, dc := range dcs {
		at, agency, ok := dataCenterWatermark(byDC[dc], topicsOf)
		if !ok {
			continue
		}
		if _, err := tx.Exec(ctx, `WITH up AS (
    INSERT INTO store_watermarks (agency, data_center, watermark, updated_at) VALUES ($1, $2, $3, now())
    ON CONFLICT (data_center) DO UPDATE SET agency = excluded.agency, watermark = excluded.watermark, updated_at = now()
    WHERE store_watermarks.watermark < excluded.watermark
    RETURNING agency, data_center, watermark)
INSERT INTO store_watermark_history (agency, data_center, watermark, recorded_at)
SELECT agency, data_center, watermark, clock_timestamp() FROM up`, agency, dc, at); err != nil {
			return fmt.Errorf("store: watermark of %s: %w", dc, err)
		}
	}
	return nil
}

// partMark is a partition's newest applied marker.
type partMark struct {
	agency, topic string
	partition     int
	partitions    int
	at            time.Time
}

// dataCenterWatermark is the oldest watermark among a data center's
// partitions, when markers of every partition of every topic its agency
// writes are known; ok is false otherwise.
func dataCenterWatermark(parts []partMark, topicsOf func(string) []string) (time.Time, string, bool) {
	if len(parts) == 0 {
		return time.Time{}, "", false
	}
	agency := parts[0].agency
	want := map[string]int{} // topic -> partitions of its newest round
	seen := map[string]map[int]bool{}
	for _, x := range parts {
		want[x.topic] = max(want[x.topic], x.partitions)
	}
	var oldest time.Time
	for _, x := range parts {
		topic, partition, at := x.topic, x.partition, x.at
		if x.agency != agency {
			return time.Time{}, "", false // two agencies claim it: know nothing
		}
		if partition >= want[topic] {
			continue // a partition the topic no longer has
		}
		if seen[topic] == nil {
			seen[topic] = map[int]bool{}
		}
		seen[topic][partition] = true
		if oldest.IsZero() || at.Before(oldest) {
			oldest = at
		}
	}
	for _, topic := range topicsOf(agency) {
		if want[topic] == 0 || len(seen[topic]) != want[topic] {
			return time.Time{}, "", false
		}
	}
	return oldest, agency, true
}
