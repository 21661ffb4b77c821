package materialize_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/segmentio/kafka-go"

	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/internal/config"
	"github.com/askonce/askonce/internal/dbroles"
	"github.com/askonce/askonce/internal/materialize"
	"github.com/askonce/askonce/internal/ops"
	"github.com/askonce/askonce/internal/registry"
	"github.com/askonce/askonce/internal/store"
	"github.com/askonce/askonce/internal/testenv"
	"github.com/askonce/askonce/internal/wiring"
	"github.com/askonce/askonce/schemas"
	"github.com/askonce/askonce/schemas/schematest"
)

type env struct {
	cfg    config.Config
	broker *testenv.Broker
	conn   *bus.Conn
	pool   *pgxpool.Pool
}

func setup(t *testing.T, ctx context.Context) *env {
	t.Helper()
	e := &env{broker: testenv.StartBroker(t, nil)}
	e.cfg = config.Default()
	e.cfg.Kafka = e.broker.Kafka()
	// The store as `askonce migrate` leaves it; the materializer logs in
	// with its role, the test reads as the superuser.
	db := testenv.Database(t, materialize.Migrate)
	e.cfg.Postgres.URL = db.URL(dbroles.Materialize)
	e.cfg.Registry.URL = testenv.StartRegistry(t)
	e.cfg.Rules.AllowSynthetic = true
	e.cfg.Materialize.BatchWait = 50 * time.Millisecond
	rc, err := registry.NewClient(wiring.RegistryClient(e.cfg.Registry))
	testenv.Must(t, err, "registry client")
	e.conn, err = wiring.OpenBus(ctx, &e.cfg, rc.Bus(), ops.NewLogger(io.Discard, "error", "json"))
	testenv.Must(t, err, "bus")
	t.Cleanup(e.conn.Client.Close)
	e.pool, err = store.OpenURL(ctx, db.Admin, 4)
	testenv.Must(t, err, "store")
	t.Cleanup(e.pool.Close)
	return e
}

// run starts a materializer in group and returns a stop function.
func (e *env) run(t *testing.T, ctx context.Context, group string) (stop func(), srv *ops.Server) {
	t.Helper()
	cfg := e.cfg
	cfg.Materialize.GroupID = group
	log := ops.NewLogger(io.Discard, "error", "json")
	reg := ops.NewRegistry()
	srv = ops.NewServer(reg, log)
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- wiring.RunMaterializer(rctx, &cfg, reg, srv, log) }()
	var once bool
	return func() {
		if once {
			return
		}
		once = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("wiring.RunMaterializer: %v", err)
		}
	}, srv
}

func (e *env) produce(t *testing.T, ctx context.Context, msgs ...kafka.Message) {
	t.Helper()
	w := e.conn.Client.Writer("")
	defer w.Close()
	testenv.Must(t, w.WriteMessages(ctx, msgs...), "produce")
}

func (e *env) encode(t *testing.T, topic string, v any, key string) kafka.Message {
	t.Helper()
	b, err := e.conn.Codec.Encode(topic, v)
	testenv.Must(t, err, "encode")
	return kafka.Message{Topic: topic, Key: []byte(key), Value: b}
}

// waitRows waits until query returns want.
func waitRows(t *testing.T, ctx context.Context, pool *pgxpool.Pool, want string, query string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var got string
	for time.Now().Before(deadline) {
		err := pool.QueryRow(ctx, query, args...).Scan(&got)
		if err == nil && got == want {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s = %q, want %q", query, got, want)
}

func TestMaterializeAppliesVersionsAndDeadLetters(t *testing.T) {
	ctx := testenv.Ctx(t, 3*time.Minute)
	e := setup(t, ctx)
	topics := e.conn.Client.Topics()

	birth := schematest.Birth()
	v1 := *birth
	v1.Provenance.SourceVersion = 1
	v1.Person = &schemas.PersonIdentity{}
	*v1.Person = *birth.Person
	v1.Person.FirstNamesLatin = "Youcef (v1)"
	v3 := *birth // version 3 in the builder
	marriage := schematest.Marriage()
	emp := schematest.Employment()
	contrib := schematest.Contribution()
	invalid := schematest.Birth()
	invalid.NIN = "109859916000990137" // act number positions disagree: nin.birth_mismatch
	invalid.Provenance.SourceKey = "birth/bad"
	unknownID := binary.BigEndian.AppendUint32([]byte{0}, 999999)
	// A child of NIN and SpouseNIN, written with the latest schema (v2,
	// parents' NINs); and a younger one from a producer still on v1, which
	// knows nothing of the parents' NINs.
	child := schematest.ChildBirth()
	fromV1 := schematest.ChildBirth()
	fromV1.NIN, fromV1.Provenance.SourceKey = "100169916000080137", "birth/2016/9916/8"
	fromV1.Person.FirstNamesLatin, fromV1.Person.Sex = "Adam", "M"
	fromV1.Person.BirthDate = time.Date(2016, time.June, 1, 0, 0, 0, 0, time.UTC)
	fromV1.Birth.ActNumber, fromV1.Birth.ActYear, fromV1.Birth.RegisteredOn = 8, 2016, fromV1.Person.BirthDate.AddDate(0, 0, 2)
	rc, err := registry.NewClient(wiring.RegistryClient(e.cfg.Registry))
	testenv.Must(t, err, "registry client")
	oldCodec := bus.NewCodec(rc, bus.CodecOptions{AutoRegister: true, IsNotFound: registry.IsNotFound})
	subs, err := schemas.Catalog()
	testenv.Must(t, err, "catalog")
	for _, s := range subs {
		if s.Topic == bus.BaseCivilStatus {
			_, err = oldCodec.Use(ctx, topics.CivilStatus, s.Versions[0])
			testenv.Must(t, err, "civil-status v1")
		}
	}
	v1Msg, err := oldCodec.Encode(topics.CivilStatus, fromV1)
	testenv.Must(t, err, "encode with v1")

	e.produce(t, ctx,
		e.encode(t, topics.CivilStatus, &v3, schematest.NIN),
		e.encode(t, topics.CivilStatus, &v1, schematest.NIN), // older version after a newer one
		e.encode(t, topics.CivilStatus, marriage, schematest.NIN),
		kafka.Message{Topic: topics.CivilStatus, Key: []byte("x"), Value: []byte("garbage, not a framed record")},
		kafka.Message{Topic: topics.Employment, Key: []byte("y"), Value: append(unknownID, 1, 2, 3)},
		e.encode(t, topics.CivilStatus, invalid, invalid.NIN),
		e.encode(t, topics.Employment, emp, schematest.NIN),
		e.encode(t, topics.Contribution, contrib, schematest.NIN),
		e.encode(t, topics.CivilStatus, &v3, schematest.NIN), // duplicate
		e.encode(t, topics.CivilStatus, child, child.NIN),
		kafka.Message{Topic: topics.CivilStatus, Key: []byte(fromV1.NIN), Value: v1Msg},
	)
	stop, srv := e.run(t, ctx, "mat-1")
	defer stop()

	waitRows(t, ctx, e.pool, "6", `SELECT (SELECT count(*) FROM persons) + (SELECT count(*) FROM marriages) + (SELECT count(*) FROM employment_periods) + (SELECT count(*) FROM contributions)`)
	var first string
	var version int64
	testenv.Must(t, e.pool.QueryRow(ctx, `SELECT first_names_latin, version FROM persons WHERE nin = $1`, schematest.NIN).Scan(&first, &version), "person")
	if first != birth.Person.FirstNamesLatin || version != 3 {
		t.Fatalf("stored %q version %d, want the highest version 3", first, version)
	}
	waitRows(t, ctx, e.pool, "spouse", `SELECT relation FROM family_links WHERE nin = $1`, schematest.NIN)
	// The parents' NINs are stored; the v1 record, read through v2, has none.
	waitRows(t, ctx, e.pool, schematest.ChildNIN, `SELECT string_agg(nin, ',' ORDER BY nin) FROM persons WHERE father_nin = $1 AND mother_nin = $2 AND NOT deleted`,
		schematest.NIN, schematest.SpouseNIN)
	waitRows(t, ctx, e.pool, "Adam true", `SELECT first_names_latin || ' ' || (father_nin IS NULL AND mother_nin IS NULL)::text FROM persons WHERE nin = $1`, fromV1.NIN)

	dlq := testenv.WaitTopic(t, ctx, e.broker.Addr, topics.DLQ, 3, 30*time.Second)
	codes := map[string]kafka.Message{}
	for _, m := range dlq {
		codes[bus.Header(m, bus.HeaderDLQCode)] = m
	}
	for _, code := range []string{bus.ReasonNotFramed, bus.ReasonUnknownSchema, schemas.CodeNINBirthMismatch} {
		m, ok := codes[code]
		if !ok {
			t.Fatalf("DLQ lacks %s: %v", code, codes)
		}
		if bus.Header(m, bus.HeaderDLQSource) != materialize.DLQSource || bus.Header(m, bus.HeaderDLQPosition) == "" {
			t.Errorf("DLQ %s headers: %v", code, m.Headers)
		}
	}
	if string(codes[bus.ReasonNotFramed].Value) != "garbage, not a framed record" {
		t.Errorf("DLQ lost the original bytes: %q", codes[bus.ReasonNotFramed].Value)
	}
	var fresh int
	testenv.Must(t, e.pool.QueryRow(ctx, `SELECT count(*) FROM source_freshness`).Scan(&fresh), "freshness")
	if fresh != 2 { // etatcivil-dc07, cnas-dc01
		t.Errorf("freshness rows = %d", fresh)
	}
	// Caught up: the group has nothing left to read (what the stall
	// watchdog relies on to tell an idle consumer from a stuck one).
	var lag int64
	for deadline := time.Now().Add(30 * time.Second); ; {
		var err error
		lag, err = e.conn.Client.GroupLag(ctx, "mat-1", topics.Records())
		testenv.Must(t, err, "group lag")
		if lag == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if lag != 0 {
		t.Errorf("group lag after catching up: %d, want 0", lag)
	}
	if errs := srv.Ready(ctx); len(errs) > 0 {
		for n, err := range errs {
			if err != nil {
				t.Errorf("not ready: %s: %v", n, err)
			}
		}
	}

	// Deleting withdraws; an old version replayed later cannot bring it back.
	del := *birth
	del.Provenance.SourceVersion = 4
	del.Provenance.Operation = schemas.OpDelete
	e.produce(t, ctx, e.encode(t, topics.CivilStatus, &del, schematest.NIN), e.encode(t, topics.CivilStatus, &v3, schematest.NIN))
	waitRows(t, ctx, e.pool, "true 4", `SELECT deleted::text || ' ' || version FROM persons WHERE nin = $1`, schematest.NIN)
	stop()

	// Replaying every topic from offset 0 in a new group changes nothing.
	before := snapshot(t, ctx, e.pool)
	stop2, _ := e.run(t, ctx, "mat-replay")
	defer stop2()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if dlq2 := testenv.ReadTopic(t, ctx, e.broker.Addr, topics.DLQ); len(dlq2) >= 6 || time.Now().After(deadline) {
			// The replay dead-letters the same 3 messages again: proof it read them all.
			if len(dlq2) < 6 {
				t.Fatalf("replay did not reach the end of the topics: DLQ holds %d", len(dlq2))
			}
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	if after := snapshot(t, ctx, e.pool); after != before {
		t.Fatalf("replay changed the store:\nbefore %s\nafter  %s", before, after)
	}
}

// snapshot summarizes every store table, applied_at excluded.
func snapshot(t *testing.T, ctx context.Context, pool *pgxpool.Pool) string {
	t.Helper()
	var out string
	for _, tbl := range []string{"persons", "marriages", "divorces", "deaths", "affiliations", "employment_periods", "contributions"} {
		var n int
		var sum string
		testenv.Must(t, pool.QueryRow(ctx, fmt.Sprintf(`SELECT count(*), coalesce(md5(string_agg(data_center || source_key || version || deleted || kafka_offset, ',' ORDER BY data_center, source_key)), '') FROM %s`, tbl)).Scan(&n, &sum), "snapshot")
		out += fmt.Sprintf("%s=%d:%s ", tbl, n, sum)
	}
	return out
}

// TestStallWatchdog: a consumer waiting longer than the stall timeout is
// a stall only when its group has messages to read; an idle bus is not.
func TestStallWatchdog(t *testing.T) {
	ctx := testenv.Ctx(t, 2*time.Minute)
	e := setup(t, ctx)
	cfg := wiring.Materialize(e.cfg.Materialize)
	cfg.GroupID = "stall-watchdog"
	cfg.StallTimeout = 200 * time.Millisecond
	log := ops.NewLogger(io.Discard, "error", "json")
	m := materialize.New(cfg, e.conn, e.pool, schemas.Rules{AllowSynthetic: true}, ops.NewRegistry(), log)
	defer m.Close()

	// Nothing to read: waiting is not a stall.
	idle, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer cancel()
	if err := materialize.Watchdog(idle, m, time.Now().Add(-time.Minute)); err != nil {
		t.Fatalf("idle bus: watchdog returned %v, want nil at the end of its context", err)
	}

	// Messages wait on a record topic: a consumer that has not seen one
	// for longer than the stall timeout is stalled.
	w := e.conn.Client.Writer(e.conn.Client.Topics().Employment)
	testenv.Must(t, w.WriteMessages(ctx, kafka.Message{Key: []byte("109991234500000001"), Value: []byte("x")}), "produce")
	testenv.Must(t, w.Close(), "close writer")
	stalled, cancel2 := context.WithTimeout(ctx, 30*time.Second)
	defer cancel2()
	if err := materialize.Watchdog(stalled, m, time.Now().Add(-time.Minute)); err != materialize.ErrStalled {
		t.Fatalf("lag 1, waiting a minute: watchdog returned %v, want ErrStalled", err)
	}
	// Waiting less than the timeout is not a stall, lag or not.
	recent, cancel3 := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel3()
	if err := materialize.Watchdog(recent, m, time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("waiting since just now: %v", err)
	}
}
