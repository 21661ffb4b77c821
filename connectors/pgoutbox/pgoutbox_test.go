package pgoutbox_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/segmentio/kafka-go"

	"github.com/askonce/askonce/connectors"
	"github.com/askonce/askonce/connectors/connector"
	"github.com/askonce/askonce/connectors/connectortest"
	"github.com/askonce/askonce/connectors/csvdrop"
	"github.com/askonce/askonce/connectors/pgoutbox"
	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/internal/config"
	"github.com/askonce/askonce/internal/ops"
	"github.com/askonce/askonce/internal/store"
	"github.com/askonce/askonce/internal/testenv"
	"github.com/askonce/askonce/internal/wiring"
	"github.com/askonce/askonce/schemas"
)

// agencySchema creates schema with the outbox contract and the synthetic
// agency tables, as an agency would.
func agencySchema(t *testing.T, ctx context.Context, pool *pgxpool.Pool, schema string) {
	t.Helper()
	tables, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "internal", "synth", "sql", "agency.sql"))
	testenv.Must(t, err, "agency.sql")
	conn, err := pool.Acquire(ctx)
	testenv.Must(t, err, "acquire")
	defer conn.Release()
	for _, sql := range []string{"CREATE SCHEMA " + schema, "SET search_path TO " + schema, pgoutbox.OutboxSQL, string(tables), "RESET search_path"} {
		_, err := conn.Exec(ctx, sql)
		testenv.Must(t, err, "agency schema %s", schema)
	}
}

func exec(t *testing.T, ctx context.Context, pool *pgxpool.Pool, sql string, args ...any) {
	t.Helper()
	_, err := pool.Exec(ctx, sql, args...)
	testenv.Must(t, err, "exec %s", sql)
}

const birthCols = `(id, nin, surname_latin, surname_arabic, first_names_latin, first_names_arabic, sex, birth_date,
	birth_commune, birth_wilaya, father_first_name_latin, mother_surname_latin, mother_first_names_latin,
	act_number, act_year, act_commune, registered_on, birth_time, father_nin, mother_nin)`

// Parents of the births insertBirth writes (civil-status v2 columns).
const fatherNIN, motherNIN = "109559916001010137", "209609916002020137"

func insertBirth(t *testing.T, ctx context.Context, pool *pgxpool.Pool, schema string, id int, nin string) {
	t.Helper()
	exec(t, ctx, pool, `INSERT INTO `+schema+`.births `+birthCols+` VALUES
		($1, $2, 'BENALI', 'بن علي', 'Youcef', 'يوسف', 'M', '1985-03-14', '9916', '16', 'Ahmed', 'SAIDI', 'Fatiha',
		 42, 1985, '9916', '1985-03-16', '08:30:00', $3, $4)`, id, nin, fatherNIN, motherNIN)
}

func TestConnectorPublishesValidatesAndDeadLetters(t *testing.T) {
	env := connectortest.NewEnv(t)
	ctx := env.Ctx
	srcURL := testenv.Postgres(t)
	src, err := store.OpenURL(ctx, srcURL, 4)
	testenv.Must(t, err, "source db")
	t.Cleanup(src.Close)
	agencySchema(t, ctx, src, "etatcivil_dc07")
	agencySchema(t, ctx, src, "cnas_dc01")

	const nin = "109859916000420137"
	insertBirth(t, ctx, src, "etatcivil_dc07", 1, nin)
	insertBirth(t, ctx, src, "etatcivil_dc07", 2, "10985991600042013X") // nin.format
	exec(t, ctx, src, `INSERT INTO cnas_dc01.employment_periods (id, nin, nss, fund, employer_id, employer_name, start_date, end_date, status)
		VALUES (1, $1, '1600123456', 'CNAS', '16E0099', 'SARL Atlas', '2015-01-01', '2010-01-01', 'CLOSED')`, nin) // date.order
	exec(t, ctx, src, `INSERT INTO cnas_dc01.contributions (id, subject, nin, nss, employer_id, fund, period, wage_base, amount_due, amount_paid, status, due_date)
		VALUES (1, 'INSURED', $1, '1600123456', '16E0099', 'CNAS', '2026-09', 6500000, 2275000, 2275000, 'PAID', '2026-10-30')`, nin)
	// An outbox row no askonce mapping knows (an agency's own extra table).
	exec(t, ctx, src, `INSERT INTO cnas_dc01.askonce_outbox (entity, key, op, payload) VALUES ('chifa_card', 'chifa_card/1', 'upsert', '{"version":1}')`)

	cfg := connectors.Config{
		BatchSize: 1000, PollInterval: 50 * time.Millisecond, MaxBackoff: 30 * time.Second,
		Rules:      schemas.Rules{AllowSynthetic: true},
		SourcesURL: srcURL,
		PGOutbox: []connectors.PGOutbox{
			{Agency: "etatcivil", DataCenter: "etatcivil-dc07", Schema: "etatcivil_dc07"},
			{Agency: "cnas", DataCenter: "cnas-dc01", Schema: "cnas_dc01"},
		},
	}
	opsSrv := connect(env, cfg)

	topics := env.Topics
	addr := env.Addr
	partitions := env.Kafka.Topics.RecordPartitions
	dlq := testenv.WaitTopic(t, ctx, addr, topics.DLQ, 3, 30*time.Second)
	civil := testenv.WaitTopic(t, ctx, addr, topics.CivilStatus, 1, 10*time.Second)
	contrib := testenv.WaitTopic(t, ctx, addr, topics.Contribution, 1, 10*time.Second)
	if emp := testenv.ReadTopic(t, ctx, addr, topics.Employment); len(emp) != 0 || len(civil) != 1 || len(dlq) != 3 || len(contrib) != 1 {
		t.Fatalf("topics hold civil %d, employment %d, contribution %d, dlq %d", len(civil), len(emp), len(contrib), len(dlq))
	}

	// Caught up, each connector writes watermark rounds: a marker on every
	// partition of each record topic of its agency, after its records.
	for _, c := range []struct{ topic, dc string }{
		{topics.CivilStatus, "etatcivil-dc07"}, {topics.Employment, "cnas-dc01"}, {topics.Contribution, "cnas-dc01"},
	} {
		deadline := time.Now().Add(30 * time.Second)
		for {
			seen := map[int]bool{}
			recordAfterMarker := false
			for _, m := range testenv.ReadTopicAll(t, ctx, addr, c.topic) {
				if !bus.IsWatermark(m) {
					if seen[m.Partition] {
						recordAfterMarker = true
					}
					continue
				}
				w, err := bus.ParseWatermark(m, topics.WritersOf(c.topic), time.Now())
				if err != nil || w.DataCenter != c.dc || w.Partitions != partitions {
					t.Fatalf("marker on %s/%d: %+v %v", c.topic, m.Partition, w, err)
				}
				seen[m.Partition] = true
			}
			if recordAfterMarker {
				t.Fatalf("%s: a record of the first batch after a marker on its partition", c.topic)
			}
			if len(seen) == partitions {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: markers of %s on %d partitions of %d", c.topic, c.dc, len(seen), partitions)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	codec := env.Codec()
	m := civil[0]
	var rec schemas.CivilStatusRecord
	_, err = codec.Decode(ctx, topics.CivilStatus, m.Value, &rec)
	testenv.Must(t, err, "decode")
	if string(m.Key) != nin || rec.NIN != nin || rec.Kind != schemas.KindBirth || rec.Person.SurnameArabic != "بن علي" ||
		rec.Provenance.SourceKey != "birth/1" || rec.Provenance.SourceVersion != 1 || rec.Provenance.DataCenter != "etatcivil-dc07" ||
		rec.Provenance.Operation != schemas.OpUpsert || rec.Birth.BirthTime == nil || *rec.Birth.BirthTime != 8*time.Hour+30*time.Minute ||
		rec.Person.FatherNIN == nil || *rec.Person.FatherNIN != fatherNIN || rec.Person.MotherNIN == nil || *rec.Person.MotherNIN != motherNIN {
		t.Fatalf("record = key %s %+v person %+v birth %+v", m.Key, rec.Provenance, rec.Person, rec.Birth)
	}

	codes := map[string]kafka.Message{}
	for _, d := range dlq {
		codes[bus.Header(d, bus.HeaderDLQCode)] = d
	}
	for code, source := range map[string]string{"nin.format": "pgoutbox:etatcivil-dc07", "date.order": "pgoutbox:cnas-dc01", "entity.unknown": "pgoutbox:cnas-dc01"} {
		d, ok := codes[code]
		if !ok {
			t.Fatalf("no DLQ record with code %s: %v", code, codes)
		}
		if bus.Header(d, bus.HeaderDLQSource) != source || bus.Header(d, bus.HeaderDLQMessage) == "" || len(d.Value) == 0 ||
			bus.Header(d, bus.HeaderDLQPosition) == "" || bus.Header(d, bus.HeaderDLQAgency) == "" {
			t.Errorf("DLQ %s: headers %v value %s", code, d.Headers, d.Value)
		}
	}
	if v := bus.Header(codes["nin.format"], bus.HeaderDLQViolations); v == "" {
		t.Error("DLQ record lacks the violations header")
	}

	// A correction and a withdrawal travel as new versions of the same key.
	tx, err := src.Begin(ctx)
	testenv.Must(t, err, "begin")
	_, err = tx.Exec(ctx, "SET LOCAL askonce.op = 'correction'")
	testenv.Must(t, err, "set op")
	_, err = tx.Exec(ctx, "UPDATE etatcivil_dc07.births SET first_names_latin = 'Youssef' WHERE id = 1")
	testenv.Must(t, err, "correct")
	testenv.Must(t, tx.Commit(ctx), "commit")
	exec(t, ctx, src, "DELETE FROM etatcivil_dc07.births WHERE id = 1")
	var ops []string
	for _, m := range testenv.WaitTopic(t, ctx, addr, topics.CivilStatus, 3, 30*time.Second) {
		var r schemas.CivilStatusRecord
		_, err := codec.Decode(ctx, topics.CivilStatus, m.Value, &r)
		testenv.Must(t, err, "decode")
		if string(m.Key) != nin || r.Provenance.SourceKey != "birth/1" {
			t.Errorf("key %s source key %s", m.Key, r.Provenance.SourceKey)
		}
		ops = append(ops, fmt.Sprintf("%s@%d", r.Provenance.Operation, r.Provenance.SourceVersion))
	}
	if fmt.Sprint(ops) != "[UPSERT@1 CORRECTION@2 DELETE@3]" {
		t.Fatalf("versions of birth/1: %v", ops)
	}

	// The checkpoint moved to the head of each outbox.
	busDB := env.DB
	deadline := time.Now().Add(10 * time.Second)
	for {
		var pos, published, rejected int64
		err := busDB.QueryRow(ctx, `SELECT position, published, rejected FROM connect_checkpoints WHERE connector = 'pgoutbox:etatcivil-dc07'`).Scan(&pos, &published, &rejected)
		if err == nil && pos == 4 && published == 3 && rejected == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("checkpoint of etatcivil-dc07: pos %d published %d rejected %d err %v", pos, published, rejected, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if errs := opsSrv.Ready(ctx); len(errs) > 0 {
		for name, err := range errs {
			if err != nil {
				t.Errorf("not ready: %s: %v", name, err)
			}
		}
	}
}

// TestOutboxGaps: a row committed after a higher one is still published in
// order; a seq left by a rolled-back transaction is passed.
func TestOutboxGaps(t *testing.T) {
	ctx := testenv.Ctx(t, time.Minute)
	pool, err := store.OpenURL(ctx, testenv.Postgres(t), 4)
	testenv.Must(t, err, "db")
	t.Cleanup(pool.Close)
	agencySchema(t, ctx, pool, "cnas_dc02")
	topics := bus.NewTopics(wiring.Topics(config.Default().Kafka.Topics))
	o := pgoutbox.NewOutbox(pool, pgoutbox.Config{Agency: "cnas", DataCenter: "cnas-dc02", Schema: "cnas_dc02"}, topics, slog.New(slog.DiscardHandler))
	ins := `INSERT INTO cnas_dc02.affiliations (id, nin, nss, fund, start_date, status) VALUES ($1, '109859916000420137', '1600123456', 'CNAS', '2007-09-01', 'ACTIVE')`

	seqs := func(after int64) ([]string, bool) {
		b, err := o.Read(ctx, after, 100)
		testenv.Must(t, err, "read")
		var out []string
		for _, r := range b.Records {
			out = append(out, r.Position)
		}
		return out, b.Soon
	}

	slow, err := pool.Begin(ctx) // takes seq 1, commits last
	testenv.Must(t, err, "begin")
	defer slow.Rollback(context.Background()) //nolint:errcheck // no-op after commit
	_, err = slow.Exec(ctx, ins, 1)
	testenv.Must(t, err, "insert 1")
	exec(t, ctx, pool, ins, 2) // seq 2, committed first
	for i := 0; i < 2; i++ {
		if got, soon := seqs(0); len(got) != 0 || !soon {
			t.Fatalf("read past an in-flight seq: %v soon=%v", got, soon)
		}
	}
	testenv.Must(t, slow.Commit(ctx), "commit")
	if got, _ := seqs(0); fmt.Sprint(got) != "[seq 1 seq 2]" {
		t.Fatalf("after commit: %v", got)
	}

	rolled, err := pool.Begin(ctx) // takes seq 3, rolls back
	testenv.Must(t, err, "begin")
	defer rolled.Rollback(context.Background()) //nolint:errcheck // no-op after rollback
	_, err = rolled.Exec(ctx, ins, 3)
	testenv.Must(t, err, "insert 3")
	exec(t, ctx, pool, ins, 4) // seq 4
	if got, _ := seqs(2); len(got) != 0 {
		t.Fatalf("read past an in-flight seq: %v", got)
	}
	testenv.Must(t, rolled.Rollback(ctx), "rollback")
	// The gap is passed once every transaction older than it has ended:
	// at once here, unless a transaction of another test on the same
	// PostgreSQL server holds the cluster's xmin back for a while.
	var got []string
	for deadline := time.Now().Add(30 * time.Second); len(got) == 0 && time.Now().Before(deadline); {
		if got, _ = seqs(2); len(got) == 0 {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if fmt.Sprint(got) != "[seq 4]" {
		t.Fatalf("after rollback: %v", got)
	}
}

// TestConformance runs the connector conformance suite on the outbox.
func TestConformance(t *testing.T) {
	connectortest.Run(t, func(t *testing.T, env *connectortest.Env) *connectortest.Subject {
		ctx := env.Ctx
		pool, err := store.OpenURL(ctx, testenv.Postgres(t), 4)
		testenv.Must(t, err, "source db")
		t.Cleanup(pool.Close)
		agencySchema(t, ctx, pool, "etatcivil_dc03")
		cfg := pgoutbox.Config{Agency: "etatcivil", DataCenter: "etatcivil-dc03", Schema: "etatcivil_dc03", PollInterval: 20 * time.Millisecond}
		return &connectortest.Subject{
			Instance:  connector.Instance{Kind: "pgoutbox", Agency: cfg.Agency, DataCenter: cfg.DataCenter},
			SourceKey: "birth/1",
			NewSource: func(batchSize int) connector.Source {
				c := cfg
				c.BatchSize = batchSize
				return pgoutbox.NewOutbox(pool, c, env.Topics, env.Log)
			},
			Versions: func(t *testing.T, from, to int) {
				for v := from; v <= to; v++ {
					if v == 1 {
						insertBirth(t, ctx, pool, "etatcivil_dc03", 1, "109859916000420137")
						continue
					}
					// Each update is a commit and a new version (askonce_bump_version).
					exec(t, ctx, pool, "UPDATE etatcivil_dc03.births SET marginal_notes = ARRAY[$1] WHERE id = 1", fmt.Sprintf("note %d", v))
				}
			},
			Unmappable: func(t *testing.T) {
				exec(t, ctx, pool, `INSERT INTO etatcivil_dc03.askonce_outbox (entity, key, op, payload) VALUES ('chifa_card', 'chifa_card/1', 'upsert', '{"version":1}')`)
			},
		}
	})
}

// connect runs `askonce connect` (connectors.Run) on env until the test
// ends, and returns its ops server (readiness checks).
func connect(env *connectortest.Env, cfg connectors.Config) *ops.Server {
	// `askonce migrate` ran: connectors.Run checks every kind's tables.
	env.Migrate(csvdrop.Migrate)
	reg := ops.NewRegistry()
	opsSrv := ops.NewServer(reg, env.Log)
	ctx, stop := context.WithCancel(env.Ctx)
	done := make(chan error, 1)
	go func() {
		done <- connectors.Run(ctx, cfg, connectors.Deps{DB: env.DB, Bus: env.Conn, Registry: env.Registry, Metrics: reg, Ops: opsSrv, Log: env.Log})
	}()
	env.T.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			env.T.Errorf("connectors.Run: %v", err)
		}
	})
	return opsSrv
}
