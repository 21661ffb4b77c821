package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/internal/config"
	"github.com/askonce/askonce/internal/dbroles"
	"github.com/askonce/askonce/internal/dev"
	"github.com/askonce/askonce/internal/reconcile"
	"github.com/askonce/askonce/internal/store"
	"github.com/askonce/askonce/internal/synth"
	"github.com/askonce/askonce/internal/wiring"
	"github.com/askonce/askonce/schemas"
)

// storeTables are the lookup store's record tables.
var storeTables = []string{"persons", "marriages", "divorces", "deaths", "affiliations", "employment_periods", "contributions"}

// Seed is one `askonce seed` process.
type Seed struct {
	Persons       int
	Rows, Defects int64
	Elapsed       time.Duration
	Usage         Usage
}

// Pipeline is one end-to-end load: connectors and materializer as
// processes, from the connectors' start to the last record in the store.
type Pipeline struct {
	Valid                int64 // records the store must hold (rows - defects)
	Elapsed              time.Duration
	RecordsPerSec        float64
	Connect, Materialize Usage
	Reconciled           int // data centers reconciled clean (0: not checked)
	// CPU of PostgreSQL and of this process (the embedded broker and the
	// registry) from the connectors' start to the last record stored.
	CPU CPUUse
}

// IngestRun is one ingest measurement with its ceilings.
type IngestRun struct {
	Seed Seed
	Pipeline
	// ProduceCeiling: raw kafka-go produce of the same encoded records to
	// the same broker with the same acks and writer settings, records/s.
	ProduceCeiling float64
	// CopyCeiling: raw COPY of the same rows into plain tables with the
	// store's columns, rows/s.
	CopyCeiling float64
	// Ratio is RecordsPerSec over the lower ceiling.
	Ratio float64
}

// seed runs `askonce seed` into the database at srcURL.
func (e *env) seed(ctx context.Context, name, srcURL string, persons int) (Seed, error) {
	s := Seed{Persons: persons}
	start := time.Now()
	p, err := startProc(e.opt.Binary, e.dir, name, []string{"ASKONCE_LOG_FORMAT=json"},
		"seed", "--persons", strconv.Itoa(persons), "--seed", "1", "--url", srcURL)
	if err != nil {
		return s, err
	}
	u, err := p.wait(ctx)
	if err != nil {
		return s, err
	}
	s.Elapsed, s.Usage = time.Since(start), u
	pool, err := store.OpenURL(ctx, srcURL, 2)
	if err != nil {
		return s, err
	}
	defer pool.Close()
	m, err := synth.ReadManifest(ctx, pool)
	if err != nil {
		return s, err
	}
	for _, r := range m {
		s.Rows += r.Rows
		s.Defects += r.Defects
	}
	return s, nil
}

// componentEnv is the environment of the components' processes.
func (e *env) componentEnv(srcURL, busURL, role, prefix, opsAddr string) []string {
	return []string{
		"ASKONCE_POSTGRES_URL=" + e.roleURL(busURL, role), "ASKONCE_CONNECT_SOURCES_URL=" + srcURL,
		"ASKONCE_KAFKA_BROKERS=" + e.broker.Addr(), "ASKONCE_REGISTRY_URL=" + e.regURL,
		"ASKONCE_KAFKA_TOPICS_PREFIX=" + prefix, "ASKONCE_RULES_ALLOW_SYNTHETIC=true",
		"ASKONCE_LOG_FORMAT=json", "ASKONCE_OPS_LISTEN=" + opsAddr,
	}
}

// pipeline runs the materializer, then the connectors, until the store
// holds valid records, then stops both and reconciles every data center.
func (e *env) pipeline(ctx context.Context, name, srcURL, busURL, prefix string, valid int64) (Pipeline, error) {
	r := Pipeline{Valid: valid}
	matOps, err := freeAddr()
	if err != nil {
		return r, err
	}
	matPprof, matPprofAddr, err := e.pprofEnv()
	if err != nil {
		return r, err
	}
	mat, err := startProc(e.opt.Binary, e.dir, name+"-materialize", append(e.componentEnv(srcURL, busURL, dbroles.Materialize, prefix, matOps), matPprof...), "materialize")
	if err != nil {
		return r, err
	}
	defer mat.stop(10 * time.Second)
	if err := waitHTTP(ctx, mat, "http://"+matOps+"/readyz", 2*time.Minute); err != nil {
		return r, err
	}
	conOps, err := freeAddr()
	if err != nil {
		return r, err
	}
	start := time.Now()
	cpu0 := e.cpu.snap(0)
	conPprof, conPprofAddr, err := e.pprofEnv()
	if err != nil {
		return r, err
	}
	con, err := startProc(e.opt.Binary, e.dir, name+"-connect", append(e.componentEnv(srcURL, busURL, dbroles.Connect, prefix, conOps), conPprof...), "connect", "--synthetic")
	if err != nil {
		return r, err
	}
	// Profiles of the first seconds of the load (the processes stop at its end).
	e.prof.cpuProfile(ctx, matPprofAddr, name+"-materialize", 5*time.Second, e.progress)
	e.prof.cpuProfile(ctx, conPprofAddr, name+"-connect", 5*time.Second, e.progress)
	defer con.stop(10 * time.Second)
	busPool, err := store.OpenURL(ctx, busURL, 2)
	if err != nil {
		return r, err
	}
	defer busPool.Close()
	last := time.Now()
	for {
		for _, p := range []*proc{mat, con} {
			if ok, err := p.exited(); ok {
				return r, fmt.Errorf("bench: %s exited: %v\n%s", p.name, err, p.tail(20))
			}
		}
		m, _ := scrape(ctx, "http://"+matOps+"/metrics", "askonce_materialize_records_applied_total", "askonce_materialize_records_stale_total")
		applied := int64(m["askonce_materialize_records_applied_total"])
		if applied >= valid {
			n, err := storeRows(ctx, busPool)
			if err != nil {
				return r, err
			}
			if n >= valid {
				r.Elapsed = time.Since(start)
				r.CPU = cpu0.to(e.cpu.snap(0))
				break
			}
		}
		if time.Since(last) > 10*time.Second {
			e.progress("  %s: %d of %d records applied (%.0f/s)", name, applied, valid, float64(applied)/time.Since(start).Seconds())
			last = time.Now()
		}
		select {
		case <-ctx.Done():
			return r, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	r.RecordsPerSec = float64(valid) / r.Elapsed.Seconds()
	// The lookup API takes its answers' as_of from the data centers'
	// watermarks: let the connectors' last rounds reach the store before
	// they stop (outside the timed part).
	if err := waitWatermarks(ctx, busPool, start, time.Minute); err != nil {
		return r, err
	}
	r.Connect = con.stop(30 * time.Second)
	r.Materialize = mat.stop(30 * time.Second)
	r.Connect.Wall, r.Materialize.Wall = r.Elapsed, r.Elapsed
	n, err := e.reconcile(ctx, srcURL, busPool, prefix)
	if err != nil {
		return r, err
	}
	r.Reconciled = n
	return r, nil
}

// waitWatermarks waits until every data center that has records in the
// store has a watermark written after since.
func waitWatermarks(ctx context.Context, pool *pgxpool.Pool, since time.Time, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var missing int64
		err := pool.QueryRow(ctx, `SELECT count(*) FROM source_freshness f
WHERE NOT EXISTS (SELECT 1 FROM store_watermarks w WHERE w.data_center = f.data_center AND w.watermark >= $1)`, since).Scan(&missing)
		if err != nil {
			return fmt.Errorf("bench: watermarks: %w", err)
		}
		if missing == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: %d data centers have no watermark after %s", missing, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// storeRows counts the records in the store.
func storeRows(ctx context.Context, pool *pgxpool.Pool) (int64, error) {
	parts := make([]string, len(storeTables))
	for i, t := range storeTables {
		parts[i] = "(SELECT count(*) FROM " + t + ")"
	}
	var n int64
	if err := pool.QueryRow(ctx, "SELECT "+strings.Join(parts, " + ")).Scan(&n); err != nil {
		return 0, fmt.Errorf("bench: count the store: %w", err)
	}
	return n, nil
}

// reconcile proves the store equals every synthetic data center's source.
func (e *env) reconcile(ctx context.Context, srcURL string, busPool *pgxpool.Pool, prefix string) (int, error) {
	src, err := store.OpenURL(ctx, srcURL, 2)
	if err != nil {
		return 0, err
	}
	defer src.Close()
	cfg := config.Default()
	cfg.Seed.DataCenters = e.opt.Config.Seed.DataCenters
	dev.AddSynthetic(&cfg)
	topics := bus.NewTopics(bus.TopicsConfig{Prefix: prefix})
	rules := schemas.Rules{AllowSynthetic: true}
	for _, s := range cfg.Connect.PGOutbox {
		rep, err := reconcile.Compare(ctx, reconcile.Outbox{Origin: schemas.Origin{Agency: s.Agency, DataCenter: s.DataCenter}, Pool: src, Schema: s.Schema}, busPool, rules, topics)
		if err != nil {
			return 0, err
		}
		if !rep.Clean() {
			return 0, fmt.Errorf("bench: reconcile %s: missing %d, behind %d, extra %d: %v", s.DataCenter, rep.Missing, rep.Behind, rep.Extra, rep.Examples)
		}
	}
	return len(cfg.Connect.PGOutbox), nil
}

// ingestRun is run i: clone the seeded sources, load them end to end into
// a fresh store under a fresh topic prefix, then measure both ceilings on
// the same records and rows.
func (e *env) ingestRun(ctx context.Context, i int) (IngestRun, error) {
	var r IngestRun
	if i == 1 {
		u, err := e.createDB(ctx, "src")
		if err != nil {
			return r, err
		}
		e.progress("  seeding %d persons (askonce seed)", e.opt.PersonsIngest)
		if e.ingestSeed, err = e.seed(ctx, "seed-ingest", u, e.opt.PersonsIngest); err != nil {
			return r, err
		}
	}
	r.Seed = e.ingestSeed
	srcURL, err := e.cloneDB(ctx, "src", fmt.Sprintf("src%d", i))
	if err != nil {
		return r, err
	}
	busURL, err := e.createBusDB(ctx, fmt.Sprintf("bus%d", i))
	if err != nil {
		return r, err
	}
	prefix := fmt.Sprintf("b%sr%d.", e.id, i)
	if r.Pipeline, err = e.pipeline(ctx, fmt.Sprintf("ingest%d", i), srcURL, busURL, prefix, r.Seed.Rows-r.Seed.Defects); err != nil {
		return r, err
	}
	e.progress("  %d records in %s: %.0f/s; reconciled %d data centers; measuring the ceilings", r.Valid, r.Elapsed.Round(time.Millisecond), r.RecordsPerSec, r.Reconciled)
	if r.ProduceCeiling, err = e.produceCeiling(ctx, prefix, r.Valid); err != nil {
		return r, err
	}
	busPool, err := store.OpenURL(ctx, busURL, 4)
	if err != nil {
		return r, err
	}
	defer busPool.Close()
	if r.CopyCeiling, err = copyCeiling(ctx, busPool, r.Valid); err != nil {
		return r, err
	}
	r.Ratio = r.RecordsPerSec / min(r.ProduceCeiling, r.CopyCeiling)
	return r, nil
}

// produceCeiling reads back the records the connectors published under
// prefix and produces them again, as fast as the same kafka-go writer
// settings allow (acks=all, batches of the connectors' size, as many
// concurrent producers as connector instances), to fresh topics with the
// same partitions. It returns records/s.
func (e *env) produceCeiling(ctx context.Context, prefix string, want int64) (float64, error) {
	kc := e.opt.Config.Kafka
	kc.Brokers = []string{e.broker.Addr()}
	kc.TLS, kc.SASL = config.TLS{}, config.SASL{}
	kc.Topics.Prefix = prefix
	client, err := bus.New(wiring.Kafka(kc))
	if err != nil {
		return 0, err
	}
	defer client.Close()
	var msgs []kafka.Message
	var create []kafka.TopicConfig
	for _, topic := range client.Topics().Records() {
		md, err := client.Admin().Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
		if err != nil {
			return 0, fmt.Errorf("bench: metadata %s: %w", topic, err)
		}
		if len(md.Topics) != 1 || md.Topics[0].Error != nil {
			return 0, fmt.Errorf("bench: metadata %s: %v", topic, md.Topics)
		}
		parts := md.Topics[0].Partitions
		out := prefix + "ceiling." + strings.TrimPrefix(topic, prefix)
		create = append(create, kafka.TopicConfig{Topic: out, NumPartitions: len(parts), ReplicationFactor: 1})
		for _, p := range parts {
			got, err := readPartition(ctx, e.broker.Addr(), topic, p.ID, out)
			if err != nil {
				return 0, err
			}
			msgs = append(msgs, got...)
		}
	}
	if int64(len(msgs)) < want {
		return 0, fmt.Errorf("bench: the record topics hold %d messages, fewer than the %d records stored", len(msgs), want)
	}
	resp, err := client.Admin().CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: create})
	if err != nil {
		return 0, fmt.Errorf("bench: create ceiling topics: %w", err)
	}
	for t, err := range resp.Errors {
		if err != nil {
			return 0, fmt.Errorf("bench: create %s: %w", t, err)
		}
	}
	// The connectors' producer: one writer per process, batches of
	// connect.batch_size, one synchronous WriteMessages per instance.
	w := client.Writer("")
	w.BatchSize = 1000
	w.BatchBytes = 4 << 20
	w.BatchTimeout = 5 * time.Millisecond
	w.MaxAttempts = 3
	defer w.Close()
	batch := e.opt.Config.Connect.BatchSize
	if batch <= 0 {
		batch = 1000
	}
	instances := 3 * max(1, e.opt.Config.Seed.DataCenters)
	chunks := make(chan []kafka.Message, len(msgs)/batch+1)
	for i := 0; i < len(msgs); i += batch {
		chunks <- msgs[i:min(i+batch, len(msgs))]
	}
	close(chunks)
	g, gctx := errgroup.WithContext(ctx)
	start := time.Now()
	for range instances {
		g.Go(func() error {
			for c := range chunks {
				if err := w.WriteMessages(gctx, c...); err != nil {
					return fmt.Errorf("bench: produce ceiling: %w", err)
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return 0, err
	}
	return float64(len(msgs)) / time.Since(start).Seconds(), nil
}

// readPartition reads a partition from its first to its last offset,
// addressed to topic out.
func readPartition(ctx context.Context, addr, topic string, partition int, out string) ([]kafka.Message, error) {
	conn, err := kafka.DialLeader(ctx, "tcp", addr, topic, partition)
	if err != nil {
		return nil, fmt.Errorf("bench: read %s/%d: %w", topic, partition, err)
	}
	defer conn.Close()
	first, last, err := conn.ReadOffsets()
	if err != nil {
		return nil, fmt.Errorf("bench: offsets %s/%d: %w", topic, partition, err)
	}
	var msgs []kafka.Message
	off := first
	if _, err := conn.Seek(first, kafka.SeekAbsolute); err != nil {
		return nil, err
	}
	for off < last {
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		b := conn.ReadBatch(1, 16<<20)
		for {
			m, err := b.ReadMessage()
			if err != nil {
				break
			}
			msgs = append(msgs, kafka.Message{Topic: out, Key: m.Key, Value: m.Value, Headers: m.Headers})
			off = m.Offset + 1
		}
		if err := b.Close(); err != nil && !errors.Is(err, kafka.ErrGenerationEnded) {
			return nil, fmt.Errorf("bench: read %s/%d at %d: %w", topic, partition, off, err)
		}
		if _, err := conn.Seek(off, kafka.SeekAbsolute); err != nil {
			return nil, err
		}
	}
	return msgs, nil
}

// copyCeiling copies the store's rows out (binary COPY, untimed) and then
// times COPY of them into plain tables with the same columns and no index,
// one stream per table, as many streams at once as CPUs. It returns rows/s.
func copyCeiling(ctx context.Context, pool *pgxpool.Pool, want int64) (float64, error) {
	bufs := make([]*bytes.Buffer, len(storeTables))
	for i, t := range storeTables {
		conn, err := pool.Acquire(ctx)
		if err != nil {
			return 0, err
		}
		var b bytes.Buffer
		_, err = conn.Conn().PgConn().CopyTo(ctx, &b, "COPY "+t+" TO STDOUT (FORMAT binary)")
		if err == nil {
			_, err = conn.Exec(ctx, "DROP TABLE IF EXISTS bench_copy_"+t+"; CREATE TABLE bench_copy_"+t+" (LIKE "+t+" INCLUDING DEFAULTS)")
		}
		conn.Release()
		if err != nil {
			return 0, fmt.Errorf("bench: copy ceiling %s: %w", t, err)
		}
		bufs[i] = &b
	}
	var rows int64
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, runtime.NumCPU()))
	start := time.Now()
	for i, t := range storeTables {
		g.Go(func() error {
			conn, err := pool.Acquire(gctx)
			if err != nil {
				return err
			}
			defer conn.Release()
			tag, err := conn.Conn().PgConn().CopyFrom(gctx, bytes.NewReader(bufs[i].Bytes()), "COPY bench_copy_"+t+" FROM STDIN (FORMAT binary)")
			if err != nil {
				return fmt.Errorf("bench: copy ceiling %s: %w", t, err)
			}
			mu.Lock()
			rows += tag.RowsAffected()
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return 0, err
	}
	took := time.Since(start)
	if rows != want {
		return 0, fmt.Errorf("bench: copy ceiling copied %d rows, the store holds %d", rows, want)
	}
	for _, t := range storeTables {
		if _, err := pool.Exec(ctx, "DROP TABLE bench_copy_"+t); err != nil {
			return 0, err
		}
	}
	return float64(rows) / took.Seconds(), nil
}
