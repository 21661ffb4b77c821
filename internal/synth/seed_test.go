package synth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/askonce/askonce/internal/store"
	"github.com/askonce/askonce/internal/testenv"
	"github.com/askonce/askonce/schemas"
)

func openDB(t *testing.T, ctx context.Context) *pgxpool.Pool {
	t.Helper()
	pool, err := store.OpenURL(ctx, testenv.Postgres(t), 8)
	testenv.Must(t, err, "open database")
	t.Cleanup(pool.Close)
	return pool
}

// checksum digests every row of every data-center table, in id order.
func checksum(t *testing.T, ctx context.Context, pool *pgxpool.Pool, n int) string {
	t.Helper()
	var parts []string
	for _, dc := range DataCenters(n) {
		for _, tb := range TableNames {
			var sum *string
			q := fmt.Sprintf("SELECT md5(string_agg(t::text, E'\\n' ORDER BY id)) FROM %s.%s t", dc.Schema, tb)
			testenv.Must(t, pool.QueryRow(ctx, q).Scan(&sum), "checksum %s.%s", dc.Schema, tb)
			if sum != nil {
				parts = append(parts, dc.Schema+"."+tb+":"+*sum)
			}
		}
	}
	return strings.Join(parts, ",")
}

type outboxRow struct {
	dc          DataCenter
	seq         int64
	entity, key string
	op          string
	payload     []byte
	at          time.Time
}

func readOutbox(t *testing.T, ctx context.Context, pool *pgxpool.Pool, n int, after map[string]int64) []outboxRow {
	t.Helper()
	var out []outboxRow
	for _, dc := range DataCenters(n) {
		rows, err := pool.Query(ctx, fmt.Sprintf(`SELECT seq, entity, key, op, payload, created_at FROM %s.askonce_outbox WHERE seq > $1 ORDER BY seq`, dc.Schema), after[dc.Schema])
		testenv.Must(t, err, "read outbox of %s", dc.Schema)
		for rows.Next() {
			r := outboxRow{dc: dc}
			testenv.Must(t, rows.Scan(&r.seq, &r.entity, &r.key, &r.op, &r.payload, &r.at), "scan outbox")
			out = append(out, r)
		}
		testenv.Must(t, rows.Err(), "read outbox")
	}
	return out
}

func tableOf(entity string) table {
	for i, e := range EntityNames {
		if e == entity {
			return table(i)
		}
	}
	panic(entity)
}

// checkOutbox validates every outbox row the way a connector does: a row
// is rejected by schemas.Rules exactly when it is defective on purpose. It
// returns rows and rejected rows per data center and entity.
func checkOutbox(t *testing.T, rows []outboxRow, seed int64, rate float64) (count, invalid map[string]int64) {
	t.Helper()
	rules := schemas.Rules{AllowSynthetic: true, Now: time.Now()}
	count, invalid = map[string]int64{}, map[string]int64{}
	failures := 0
	for _, r := range rows {
		m, err := mapRow(r.dc.Agency, r.dc.Name, r.entity, r.key, r.op, r.payload, r.at)
		testenv.Must(t, err, "map %s %s", r.dc.Name, r.key)
		if r.key != fmt.Sprintf("%s/%d", r.entity, m.id) {
			t.Errorf("%s: outbox key %s for id %d", r.dc.Name, r.key, m.id)
		}
		vs := m.validate(rules)
		want := Defective(seed, rate, TableNames[tableOf(r.entity)], m.id)
		if (len(vs) > 0) != want && failures < 10 {
			failures++
			t.Errorf("%s %s (op %s): defective on purpose %v, violations %v\n%s", r.dc.Name, r.key, r.op, want, vs, r.payload)
		}
		k := r.dc.Name + "/" + r.entity
		count[k]++
		if len(vs) > 0 {
			invalid[k]++
		}
	}
	return count, invalid
}

func TestSeedLoadsValidatesAndIsIdempotent(t *testing.T) {
	t.Parallel()
	ctx := testenv.Ctx(t, 3*time.Minute)
	pool := openDB(t, ctx)
	p := Params{Persons: 2000, Seed: 11, Defects: 0.05, DataCenters: 3, Months: 12, AsOf: time.Now()}

	res, err := Ensure(ctx, pool, p, false, Options{Workers: 2, Writers: 3})
	testenv.Must(t, err, "seed")
	if !res.Loaded || res.Run.Status != "complete" || !res.Run.Same(p) {
		t.Fatalf("result %+v", res)
	}
	if len(res.Manifest) != 3*4+6*3 {
		t.Fatalf("manifest has %d rows", len(res.Manifest))
	}
	// The manifest is what the tables hold; the outbox holds one upsert per row.
	outbox := readOutbox(t, ctx, pool, p.DataCenters, nil)
	count, invalid := checkOutbox(t, outbox, p.Seed, p.Defects)
	var total, defects int64
	for _, m := range res.Manifest {
		k := m.DataCenter + "/" + m.Entity
		var n int64
		schema := strings.ReplaceAll(m.DataCenter, "-", "_")
		testenv.Must(t, pool.QueryRow(ctx, fmt.Sprintf("SELECT count(*) FROM %s.%s", schema, TableNames[tableOf(m.Entity)])).Scan(&n), "count")
		if n != m.Rows || count[k] != m.Rows || invalid[k] != m.Defects {
			t.Errorf("%s: manifest %d rows %d defects; table %d rows; outbox %d rows, %d rejected", k, m.Rows, m.Defects, n, count[k], invalid[k])
		}
		total += m.Rows
		defects += m.Defects
	}
	if int64(len(outbox)) != total || res.Run.Rows != total {
		t.Errorf("outbox %d rows, manifest %d, run %d", len(outbox), total, res.Run.Rows)
	}
	keys := map[string]bool{}
	for _, r := range outbox {
		if r.op != "upsert" || keys[r.dc.Schema+r.key] {
			t.Fatalf("%s: outbox row %s op %s (duplicate %v)", r.dc.Name, r.key, r.op, keys[r.dc.Schema+r.key])
		}
		keys[r.dc.Schema+r.key] = true
	}
	if defects == 0 || float64(defects) < 0.03*float64(total) || float64(defects) > 0.07*float64(total) {
		t.Errorf("%d defects in %d rows at rate %g", defects, total, p.Defects)
	}

	// NINs are unique and their positions agree with the birth act (checked
	// by Rules above); spouses point at each other; children carry their
	// parents' names.
	union := func(tbl, cols string) string {
		var parts []string
		for _, dc := range DataCenters(p.DataCenters)[:p.DataCenters] {
			parts = append(parts, fmt.Sprintf("SELECT %s FROM %s.%s", cols, dc.Schema, tbl))
		}
		return "(" + strings.Join(parts, " UNION ALL ") + ")"
	}
	var dups, births int
	testenv.Must(t, pool.QueryRow(ctx, `SELECT count(*) - count(DISTINCT nin), count(*) FROM `+union("births", "nin")+` b WHERE nin ~ '^[0-9]{18}$'`).Scan(&dups, &births), "nin uniqueness")
	if dups != 0 || births < 1800 {
		t.Errorf("%d duplicate NINs among %d", dups, births)
	}
	var unpaired int
	testenv.Must(t, pool.QueryRow(ctx, `SELECT count(*) FROM `+union("marriages", "nin, spouse_nin, act_number")+` m
		WHERE m.nin ~ '^[0-9]{18}$' AND m.spouse_nin IS NOT NULL AND NOT EXISTS (SELECT 1 FROM `+union("marriages", "nin, spouse_nin, act_number")+` o
		WHERE o.nin = m.spouse_nin AND o.spouse_nin = m.nin AND o.act_number = m.act_number)`).Scan(&unpaired), "spouses")
	// Only a spouse's row defective on purpose (bad NIN, no spouse_nin) breaks a pair.
	var badMarriages int64
	for _, m := range res.Manifest {
		if m.Entity == "marriage" {
			badMarriages += m.Defects
		}
	}
	if int64(unpaired) > badMarriages {
		t.Errorf("%d marriages without the spouse's row, %d marriage rows defective", unpaired, badMarriages)
	}
	var children int
	testenv.Must(t, pool.QueryRow(ctx, `SELECT count(*) FROM `+union("births", "*")+` c
		JOIN `+union("marriages", "nin, spouse_nin")+` m ON true
		JOIN `+union("births", "*")+` h ON h.nin = m.nin AND h.sex = 'M'
		JOIN `+union("births", "*")+` w ON w.nin = m.spouse_nin
		WHERE c.surname_latin = h.surname_latin AND c.father_first_name_latin = h.first_names_latin
		  AND c.mother_surname_latin = w.surname_latin AND c.mother_first_names_latin = w.first_names_latin
		  AND c.birth_date > w.birth_date`).Scan(&children), "children")
	if children < 200 {
		t.Errorf("only %d births carry their parents' names", children)
	}
	// Children born in the population carry their parents' NINs (civil-status
	// v2); only a parent's birth row defective on purpose (a mangled NIN)
	// leaves one unmatched.
	var linked, unmatched int
	testenv.Must(t, pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM `+union("births", "nin, sex")+` f
		WHERE f.nin = c.father_nin AND f.sex = 'M') OR NOT EXISTS (SELECT 1 FROM `+union("births", "nin, sex")+` m WHERE m.nin = c.mother_nin AND m.sex = 'F'))
		FROM `+union("births", "father_nin, mother_nin")+` c WHERE c.father_nin IS NOT NULL OR c.mother_nin IS NOT NULL`).Scan(&linked, &unmatched), "parents")
	var badBirths int64
	for _, m := range res.Manifest {
		if m.Entity == "birth" {
			badBirths += m.Defects
		}
	}
	if linked < 500 || int64(unmatched) > 2*badBirths {
		t.Errorf("%d births carry parents' NINs, %d without the parents' acts (%d birth rows defective)", linked, unmatched, badBirths)
	}

	// Same seed again: nothing to do.
	again, err := Ensure(ctx, pool, p, false, Options{})
	testenv.Must(t, err, "seed again")
	if again.Loaded || fmt.Sprint(again.Manifest) != fmt.Sprint(res.Manifest) {
		t.Errorf("seeding again loaded %v, manifest %v", again.Loaded, again.Manifest)
	}
	// Another seed: refused without --reset.
	other := p
	other.Seed = 12
	if _, err := Ensure(ctx, pool, other, false, Options{}); !errors.Is(err, ErrOtherSeed) || !strings.Contains(err.Error(), "--reset") {
		t.Fatalf("another seed: err = %v", err)
	}
	before := checksum(t, ctx, pool, p.DataCenters)
	// --reset replaces it, with fewer data centers: the old schemas go.
	other.DataCenters = 2
	res2, err := Ensure(ctx, pool, other, true, Options{})
	testenv.Must(t, err, "reset")
	if !res2.Loaded || res2.Run.Seed != 12 {
		t.Fatalf("reset: %+v", res2.Run)
	}
	var stale int
	testenv.Must(t, pool.QueryRow(ctx, `SELECT count(*) FROM pg_namespace WHERE nspname LIKE '%\_dc03'`).Scan(&stale), "schemas")
	if stale != 0 {
		t.Errorf("%d schemas of data center 03 survive the reset", stale)
	}
	if checksum(t, ctx, pool, 2) == before {
		t.Error("another seed gave the same rows")
	}
}

func TestSeedIsDeterministicAcrossDatabases(t *testing.T) {
	t.Parallel()
	ctx := testenv.Ctx(t, 3*time.Minute)
	p := Params{Persons: 2500, Seed: 21, Defects: 0.02, DataCenters: 3, Months: 6, AsOf: time.Now()}
	a, b := openDB(t, ctx), openDB(t, ctx)
	_, err := Ensure(ctx, a, p, false, Options{Workers: 3, Writers: 4})
	testenv.Must(t, err, "seed a")
	_, err = Ensure(ctx, b, p, false, Options{Workers: 1, Writers: 1})
	testenv.Must(t, err, "seed b")
	if sa, sb := checksum(t, ctx, a, 3), checksum(t, ctx, b, 3); sa != sb {
		t.Fatalf("same seed, other rows:\n%s\n%s", sa, sb)
	}
	p.Seed = 22
	_, err = Ensure(ctx, b, p, true, Options{})
	testenv.Must(t, err, "reseed b")
	if checksum(t, ctx, a, 3) == checksum(t, ctx, b, 3) {
		t.Fatal("another seed gave the same rows")
	}
}

func TestLiveChangesTheSources(t *testing.T) {
	t.Parallel()
	ctx := testenv.Ctx(t, 3*time.Minute)
	pool := openDB(t, ctx)
	p := Params{Persons: 2000, Seed: 5, Defects: 0.05, DataCenters: 3, Months: 6}
	if err := Live(ctx, pool, LiveOptions{Rate: 10}); err == nil {
		t.Fatal("live mode without a seed did not fail")
	}
	_, err := Ensure(ctx, pool, p, false, Options{})
	testenv.Must(t, err, "seed")
	// One data center as seeded before the parents' NINs: live mode adds the columns.
	_, err = pool.Exec(ctx, `ALTER TABLE etatcivil_dc01.births DROP COLUMN father_nin, DROP COLUMN mother_nin`)
	testenv.Must(t, err, "an older seed")
	last := map[string]int64{}
	for _, r := range readOutbox(t, ctx, pool, p.DataCenters, nil) {
		last[r.dc.Schema] = max(last[r.dc.Schema], r.seq)
	}

	reg := prometheus.NewRegistry()
	// Two runs: act numbers and ids continue from the database after a restart.
	for i, d := range []time.Duration{3 * time.Second, 1500 * time.Millisecond} {
		lctx, cancel := context.WithTimeout(ctx, d)
		var r prometheus.Registerer
		if i == 0 {
			r = reg
		}
		err := Live(lctx, pool, LiveOptions{Rate: 250, Registerer: r})
		cancel()
		testenv.Must(t, err, "live run %d", i)
	}
	var cols int
	testenv.Must(t, pool.QueryRow(ctx, `SELECT count(*) FROM information_schema.columns WHERE table_schema = 'etatcivil_dc01'
		AND table_name = 'births' AND column_name IN ('father_nin', 'mother_nin')`).Scan(&cols), "columns")
	if cols != 2 {
		t.Errorf("live mode left etatcivil_dc01.births with %d of the parents' NIN columns", cols)
	}
	if n := counterSum(t, reg, "askonce_seed_change_errors_total"); n > 0 {
		t.Errorf("%v live changes failed", n)
	}
	changes := readOutbox(t, ctx, pool, p.DataCenters, last)
	if len(changes) < 100 {
		t.Fatalf("live mode wrote %d outbox rows", len(changes))
	}
	ops, entities := map[string]int{}, map[string]int{}
	versions, withParents := 0, 0
	for _, r := range changes {
		ops[r.op]++
		entities[r.entity]++
		m, err := mapRow(r.dc.Agency, r.dc.Name, r.entity, r.key, r.op, r.payload, r.at)
		testenv.Must(t, err, "map")
		if m.version > 1 {
			versions++
		}
		if r.entity == "birth" && r.op == "upsert" && m.version == 1 && m.civil.Person.FatherNIN != nil {
			withParents++
			if m.civil.Person.MotherNIN == nil {
				t.Errorf("live birth %s: a father's NIN without the mother's", m.nin)
			}
		}
	}
	// Live births to a married couple of the population carry their NINs.
	if withParents == 0 {
		t.Errorf("no live birth carries its parents' NINs (%d births)", entities["birth"])
	}
	if ops["correction"] == 0 || ops["upsert"] == 0 || versions == 0 {
		t.Errorf("ops %v, %d rows with version > 1", ops, versions)
	}
	for _, e := range []string{"birth", "contribution", "death", "marriage"} {
		if entities[e] == 0 {
			t.Errorf("no live %s: %v", e, entities)
		}
	}
	// Live rows obey the same contract: rejected exactly when defective on purpose.
	checkOutbox(t, changes, p.Seed, p.Defects)
	if n := counterSum(t, reg, "askonce_seed_changes_total"); n < 100 {
		t.Errorf("askonce_seed_changes_total = %v", n)
	}
	// No act number was given twice, even across the restart.
	for _, c := range []struct{ tbl, max string }{{"births", "1"}, {"deaths", "1"}, {"marriages", "2"}} {
		var parts []string
		for _, dc := range DataCenters(p.DataCenters)[:p.DataCenters] {
			parts = append(parts, "SELECT act_commune, act_year, act_number FROM "+dc.Schema+"."+c.tbl)
		}
		var dup int
		testenv.Must(t, pool.QueryRow(ctx, `SELECT count(*) FROM (SELECT act_commune, act_year, act_number FROM (`+strings.Join(parts, " UNION ALL ")+`) a
			WHERE act_commune IS NOT NULL GROUP BY 1, 2, 3 HAVING count(*) > `+c.max+`) d`).Scan(&dup), "acts")
		if dup != 0 {
			t.Errorf("%d %s act numbers given twice", dup, c.tbl)
		}
	}
}

func counterSum(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	testenv.Must(t, err, "gather")
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				total += m.GetCounter().GetValue()
			}
		}
	}
	return total
}
