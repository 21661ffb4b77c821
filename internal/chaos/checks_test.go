package chaos_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/segmentio/kafka-go"

	"github.com/askonce/askonce/connectors/pgoutbox"
	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/internal/config"
	"github.com/askonce/askonce/internal/dev"
	"github.com/askonce/askonce/internal/materialize"
	"github.com/askonce/askonce/internal/registry"
	"github.com/askonce/askonce/internal/testenv"
	"github.com/askonce/askonce/internal/wiring"
	"github.com/askonce/askonce/schemas"
)

// storeTables are the lookup store's record tables (internal/materialize
// migrations). The materializer only ever inserts into them or updates a
// row to a higher version; a withdrawal is an update to a tombstone
// (deleted = true) at the DELETE's higher version, never a DELETE.
var storeTables = []string{"persons", "marriages", "divorces", "deaths", "affiliations", "employment_periods", "contributions"}

// installGuard records in chaos_regressions every committed change of a
// store table that moves a record to a lower version (or rewrites it at
// the same version, or moves its key), and every DELETE or TRUNCATE: none
// may ever happen. The rows of a rolled-back transaction roll back with it.
func installGuard(ctx context.Context, db *pgxpool.Pool) error {
	stmts := []string{
		`CREATE TABLE chaos_regressions (
			at timestamptz NOT NULL DEFAULT clock_timestamp(),
			table_name text NOT NULL, op text NOT NULL,
			data_center text, source_key text, old_version bigint, new_version bigint)`,
		// SECURITY DEFINER: it records as the test's superuser what the
		// materializer's role (which may not write here) does.
		`CREATE FUNCTION chaos_guard() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        INSERT INTO chaos_regressions (table_name, op) VALUES (TG_TABLE_NAME, 'TRUNCATE');
        RETURN NULL;
    END IF;
    IF TG_OP = 'DELETE' THEN
        INSERT INTO chaos_regressions (table_name, op, data_center, source_key, old_version)
        VALUES (TG_TABLE_NAME, 'DELETE', OLD.data_center, OLD.source_key, OLD.version);
        RETURN OLD;
    END IF;
    IF NEW.version < OLD.version OR NEW.data_center <> OLD.data_center OR NEW.source_key <> OLD.source_key THEN
        INSERT INTO chaos_regressions (table_name, op, data_center, source_key, old_version, new_version)
        VALUES (TG_TABLE_NAME, 'UPDATE to a lower version', OLD.data_center, OLD.source_key, OLD.version, NEW.version);
    ELSIF NEW.version = OLD.version THEN
        INSERT INTO chaos_regressions (table_name, op, data_center, source_key, old_version, new_version)
        VALUES (TG_TABLE_NAME, 'rewrite at the same version', OLD.data_center, OLD.source_key, OLD.version, NEW.version);
    END IF;
    RETURN NEW;
END
$$`,
	}
	for _, t := range storeTables {
		stmts = append(stmts,
			fmt.Sprintf(`CREATE TRIGGER chaos_guard AFTER UPDATE OR DELETE ON %s FOR EACH ROW EXECUTE FUNCTION chaos_guard()`, pgx.Identifier{t}.Sanitize()),
			fmt.Sprintf(`CREATE TRIGGER chaos_guard_truncate AFTER TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION chaos_guard()`, pgx.Identifier{t}.Sanitize()))
	}
	for _, s := range stmts {
		if _, err := db.Exec(ctx, s); err != nil {
			return fmt.Errorf("chaos: guard: %w", err)
		}
	}
	return nil
}

type findings struct {
	rows []string // regressions: lower version, DELETE, TRUNCATE
	same int      // rewrites at the same version (harmless, reported)
}

func guardFindings(ctx context.Context, t *testing.T, db *pgxpool.Pool) findings {
	t.Helper()
	rows, err := db.Query(ctx, `SELECT table_name, op, coalesce(data_center, ''), coalesce(source_key, ''),
		coalesce(old_version, 0), coalesce(new_version, 0), at FROM chaos_regressions ORDER BY at`)
	testenv.Must(t, err, "read chaos_regressions")
	defer rows.Close()
	var f findings
	for rows.Next() {
		var tbl, op, dc, key string
		var oldV, newV int64
		var at time.Time
		testenv.Must(t, rows.Scan(&tbl, &op, &dc, &key, &oldV, &newV, &at), "regression row")
		if op == "rewrite at the same version" {
			f.same++
			continue
		}
		f.rows = append(f.rows, fmt.Sprintf("%s %s %s/%s version %d -> %d at %s", tbl, op, dc, key, oldV, newV, at.Format(time.RFC3339Nano)))
	}
	testenv.Must(t, rows.Err(), "read chaos_regressions")
	return f
}

// synthetic is the configuration of the 33 synthetic data centers, as
// `askonce connect --synthetic` and `askonce reconcile --synthetic` see it.
func synthetic() *config.Config {
	cfg := config.Default()
	cfg.Connect.PGOutbox = nil
	dev.AddSynthetic(&cfg)
	return &cfg
}

// outboxHeads is the sum of the last outbox seq of every synthetic data
// center: the connectors are done when their checkpoints add up to it.
func outboxHeads(ctx context.Context, t *testing.T, src *pgxpool.Pool) int64 {
	t.Helper()
	n := scalar(ctx, src, `SELECT `+sumOutbox(t))
	if n < 0 {
		t.Fatal("chaos: could not count the outbox rows")
	}
	return n
}

func sumOutbox(t *testing.T) string {
	t.Helper()
	var heads []string
	for _, s := range synthetic().Connect.PGOutbox {
		heads = append(heads, fmt.Sprintf("(SELECT coalesce(max(seq), 0) FROM %s)", pgx.Identifier{s.Schema, "askonce_outbox"}.Sanitize()))
	}
	return strings.Join(heads, " + ")
}

// checkpointed is the sum of the connectors' checkpoints (last outbox seq
// published, per data center).
func checkpointed(ctx context.Context, db *pgxpool.Pool) int64 {
	return scalar(ctx, db, `SELECT coalesce(sum(position), 0)::bigint FROM connect_checkpoints WHERE connector LIKE 'pgoutbox:%'`)
}

// topicCheck is what checkTopics found.
type topicCheck struct {
	OutboxRows, Valid, Defective int // outbox rows of every data center, by what the rules say
	Published, Distinct, Dups    int // record-topic messages, distinct (data center, key, version), extra copies
	DLQ, DLQDistinct, DLQByMat   int // DLQ messages, distinct (data center, position), materializer rejects
	Hostile, DLQHostile          int // hostile-producer messages on the record topics, and in the DLQ
	Markers                      int // watermark markers on the record topics (no record: not judged here)
	Lost, Unknown                int // valid rows not on the topics; topic records no valid row explains
	NotRejected, Unexplained     int // defective rows not in the DLQ; DLQ records no defective row explains
}

// isMarker reports whether m is a watermark marker (a record-topic message
// with a null value that a connector writes to tell how far its data center
// is published; internal/bus/watermark.go): the header is named as a
// literal so that this check does not depend on that code.
func isMarker(m kafka.Message) bool {
	return bus.Header(m, "askonce.watermark") != ""
}

type recID struct {
	dc, key string
	version int64
}

// checkTopics maps and validates every outbox row of every data center as
// the connector does, and compares with what the topics hold: every valid
// row exactly once in effect (copies identical), every defective row in
// the DLQ with a reason, nothing else.
func checkTopics(ctx context.Context, t *testing.T, k kafkaCred, reg config.Registry, src *pgxpool.Pool) topicCheck {
	t.Helper()
	var tc topicCheck
	cfg := synthetic()
	cfg.Registry = reg
	rc, err := registry.NewClient(wiring.RegistryClient(cfg.Registry))
	testenv.Must(t, err, "registry client")
	codec := bus.NewCodec(rc, bus.CodecOptions{IsNotFound: registry.IsNotFound})
	topics := bus.NewTopics(wiring.Topics(cfg.Kafka.Topics))
	for _, topic := range topics.Records() {
		text, err := schemas.LatestText(strings.TrimPrefix(topic, cfg.Kafka.Topics.Prefix))
		testenv.Must(t, err, "schema of %s", topic)
		_, err = codec.Use(ctx, topic, text)
		testenv.Must(t, err, "codec for %s", topic)
	}
	rules := schemas.Rules{AllowSynthetic: true, AllowPendingWilayas: cfg.Rules.AllowPendingWilayas}

	// What the sources hold.
	valid := map[recID]bool{}
	defective := map[string]bool{} // data center + " " + position
	for _, s := range cfg.Connect.PGOutbox {
		rows, err := src.Query(ctx, `SELECT seq, entity, key, op, payload::text, created_at FROM `+
			pgx.Identifier{s.Schema, "askonce_outbox"}.Sanitize()+` ORDER BY seq`)
		testenv.Must(t, err, "outbox of %s", s.DataCenter)
		ps := schemas.Origin{Agency: s.Agency, DataCenter: s.DataCenter}
		for rows.Next() {
			var r pgoutbox.Row
			var payload string
			testenv.Must(t, rows.Scan(&r.Seq, &r.Entity, &r.Key, &r.Op, &payload, &r.CreatedAt), "outbox row")
			r.Payload = []byte(payload)
			tc.OutboxRows++
			rec := pgoutbox.Map(r, ps, topics)
			ok := rec.MapErr == nil
			var version int64
			if ok {
				var vs schemas.Violations
				switch v := rec.Value.(type) {
				case *schemas.CivilStatusRecord:
					vs, version = rules.CivilStatus(v), v.Provenance.SourceVersion
				case *schemas.EmploymentRecord:
					vs, version = rules.Employment(v), v.Provenance.SourceVersion
				case *schemas.ContributionRecord:
					vs, version = rules.Contribution(v), v.Provenance.SourceVersion
				}
				ok = len(vs) == 0
				if ok {
					_, err := codec.Encode(rec.Topic, rec.Value)
					ok = err == nil
				}
			}
			if ok {
				valid[recID{s.DataCenter, r.Key, version}] = true
			} else {
				defective[s.DataCenter+" "+rec.Position] = true
			}
		}
		rows.Close()
		testenv.Must(t, rows.Err(), "outbox of %s", s.DataCenter)
	}
	tc.Valid, tc.Defective = len(valid), len(defective)

	// What the record topics hold.
	seen := map[recID][]byte{}
	for _, topic := range topics.Records() {
		for _, m := range testenv.ReadTopicWith(t, ctx, k.dialer(), k.addr, topic) {
			if isHostile(m.Key) { // checkHostile's business
				tc.Hostile++
				continue
			}
			if isMarker(m) {
				tc.Markers++
				continue
			}
			rec, err := codec.DecodeRecord(ctx, topics, topic, m.Value)
			testenv.Must(t, err, "decode a message of %s", topic)
			p := rec.Prov()
			tc.Published++
			id := recID{p.DataCenter, p.SourceKey, p.SourceVersion}
			fp := append(append([]byte(nil), m.Key...), m.Value...)
			if prev, ok := seen[id]; ok {
				tc.Dups++
				if string(prev) != string(fp) {
					t.Errorf("chaos: %v published twice with different content", id)
				}
				continue
			}
			seen[id] = fp
		}
	}
	tc.Distinct = len(seen)
	var lost, unknown []string
	for id := range valid {
		if _, ok := seen[id]; !ok {
			lost = append(lost, fmt.Sprintf("%s/%s v%d", id.dc, id.key, id.version))
		}
	}
	for id := range seen {
		if !valid[id] {
			unknown = append(unknown, fmt.Sprintf("%s/%s v%d", id.dc, id.key, id.version))
		}
	}
	report := func(what string, l []string) {
		if len(l) == 0 {
			return
		}
		sort.Strings(l)
		t.Errorf("chaos: %d %s, e.g. %s", len(l), what, strings.Join(l[:min(5, len(l))], ", "))
	}
	tc.Lost, tc.Unknown = len(lost), len(unknown)
	report("valid outbox rows missing from the record topics", lost)
	report("records on the topics that no valid outbox row explains", unknown)

	// What the DLQ holds.
	dlq := map[string]bool{}
	for _, m := range testenv.ReadTopicWith(t, ctx, k.dialer(), k.addr, topics.DLQ) {
		tc.DLQ++
		if bus.Header(m, bus.HeaderDLQCode) == "" {
			t.Errorf("chaos: DLQ record without a reason: %v", m.Headers)
		}
		if bus.Header(m, bus.HeaderDLQSource) == materialize.DLQSource {
			if isHostile(m.Key) {
				tc.DLQHostile++
			} else {
				tc.DLQByMat++
			}
			continue
		}
		dlq[bus.Header(m, bus.HeaderDLQDataCenter)+" "+bus.Header(m, bus.HeaderDLQPosition)] = true
	}
	tc.DLQDistinct = len(dlq)
	var notRejected, unexplained []string
	for id := range defective {
		if !dlq[id] {
			notRejected = append(notRejected, id)
		}
	}
	for id := range dlq {
		if !defective[id] {
			unexplained = append(unexplained, id)
		}
	}
	tc.NotRejected, tc.Unexplained = len(notRejected), len(unexplained)
	report("defective outbox rows missing from the DLQ", notRejected)
	report("DLQ records that no defective outbox row explains", unexplained)
	if tc.DLQByMat > 0 {
		t.Errorf("chaos: the materializer dead-lettered %d records that the connectors had accepted", tc.DLQByMat)
	}
	return tc
}
