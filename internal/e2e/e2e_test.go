package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/internal/config"
	"github.com/askonce/askonce/internal/dbroles"
	"github.com/askonce/askonce/internal/registry"
	"github.com/askonce/askonce/internal/store"
	"github.com/askonce/askonce/internal/testenv"
	"github.com/askonce/askonce/internal/wiring"
	"github.com/askonce/askonce/internal/wiring/migratewire"
	"github.com/askonce/askonce/schemas"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "askonce-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "askonce")
	build := exec.Command("go", "build", "-o", binary, "github.com/askonce/askonce/cmd/askonce")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: build:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type proc struct {
	t    *testing.T
	name string
	cmd  *exec.Cmd
	log  string
}

func start(t *testing.T, env []string, name string, args ...string) *proc {
	t.Helper()
	log := filepath.Join(t.TempDir(), name+".log")
	f, err := os.Create(log)
	testenv.Must(t, err, "log file")
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	testenv.Must(t, cmd.Start(), "start %s", name)
	p := &proc{t: t, name: name, cmd: cmd, log: log}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			_ = cmd.Wait()
		}
		f.Close()
		if t.Failed() {
			b, _ := os.ReadFile(log)
			t.Logf("%s log:\n%s", name, tail(b, 30))
		}
	})
	return p
}

func (p *proc) kill() {
	p.t.Helper()
	testenv.Must(p.t, p.cmd.Process.Signal(syscall.SIGKILL), "kill %s", p.name)
	_ = p.cmd.Wait()
}

func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func run(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func scalar(t *testing.T, ctx context.Context, pool *pgxpool.Pool, q string) int64 {
	t.Helper()
	var n int64
	testenv.Must(t, pool.QueryRow(ctx, q).Scan(&n), "%s", q)
	return n
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestPipelineSurvivesSIGKILL seeds 33 data centers, runs the connectors
// and the materializer as processes, SIGKILLs each in the middle of its
// load, restarts it, and proves with reconcile that nothing was lost and
// that records published twice are the same record.
func TestPipelineSurvivesSIGKILL(t *testing.T) {
	ctx := testenv.Ctx(t, 5*time.Minute)
	broker := testenv.StartBroker(t, nil)
	regURL := testenv.StartRegistry(t)
	// The bus database as `askonce migrate` leaves it; each process logs
	// in with its own role.
	srcURL, busDB := testenv.Postgres(t), testenv.Database(t, migratewire.Migrations...)
	busURL := busDB.Admin
	env := []string{
		"ASKONCE_KAFKA_BROKERS=" + broker.Addr, "ASKONCE_REGISTRY_URL=" + regURL,
		"ASKONCE_CONNECT_SOURCES_URL=" + srcURL,
		"ASKONCE_CONNECT_BATCH_SIZE=40", "ASKONCE_MATERIALIZE_BATCH_SIZE=100", "ASKONCE_MATERIALIZE_BATCH_WAIT=20ms",
		"ASKONCE_RULES_ALLOW_SYNTHETIC=true", "ASKONCE_LOG_FORMAT=json", "ASKONCE_OPS_LISTEN=127.0.0.1:0",
	}
	as := func(role string) []string {
		return append(slices.Clone(env), "ASKONCE_POSTGRES_URL="+busDB.URL(role))
	}
	out, err := run(t, env, "seed", "--persons", "4000", "--seed", "11")
	if err != nil {
		t.Fatalf("seed: %v\n%s", err, out)
	}
	src, err := store.OpenURL(ctx, srcURL, 2)
	testenv.Must(t, err, "sources")
	defer src.Close()
	rows := scalar(t, ctx, src, `SELECT sum(rows)::bigint FROM askonce_seed.manifest`)
	defects := scalar(t, ctx, src, `SELECT sum(defects)::bigint FROM askonce_seed.manifest`)
	var heads []string
	for i := 1; i <= 11; i++ {
		for _, a := range []string{"etatcivil", "cnas", "casnos"} {
			heads = append(heads, fmt.Sprintf("(SELECT coalesce(max(seq), 0) FROM %s_dc%02d.askonce_outbox)", a, i))
		}
	}
	outboxTotal := scalar(t, ctx, src, "SELECT "+strings.Join(heads, " + "))
	if outboxTotal != rows {
		t.Fatalf("outbox holds %d rows, the manifest %d", outboxTotal, rows)
	}
	t.Logf("seeded %d rows (%d defective) in 33 data centers", rows, defects)

	// Connectors: killed mid-load, restarted.
	connect := start(t, as(dbroles.Connect), "connect", "connect", "--synthetic")
	bus1, err := store.OpenURL(ctx, busURL, 2)
	testenv.Must(t, err, "bus db")
	defer bus1.Close()
	checkpointed := func() int64 {
		var n int64
		if bus1.QueryRow(ctx, `SELECT coalesce(sum(position), 0)::bigint FROM connect_checkpoints`).Scan(&n) != nil {
			return 0
		}
		return n
	}
	waitFor(t, "the connectors to start publishing", time.Minute, func() bool { return checkpointed() >= rows/5 })
	connect.kill()
	atKill := checkpointed()
	if atKill >= rows {
		t.Fatalf("the connectors finished (%d of %d) before the kill: nothing proven", atKill, rows)
	}
	t.Logf("connect SIGKILLed with %d of %d outbox rows checkpointed", atKill, rows)
	start(t, as(dbroles.Connect), "connect-2", "connect", "--synthetic")
	waitFor(t, "every outbox row to be checkpointed", 2*time.Minute, func() bool { return checkpointed() == rows })

	// Materializer: killed mid-load, restarted.
	mat := start(t, as(dbroles.Materialize), "materialize", "materialize")
	storeRows := func() int64 {
		var n int64
		q := `SELECT (SELECT count(*) FROM persons) + (SELECT count(*) FROM marriages) + (SELECT count(*) FROM divorces) +
			(SELECT count(*) FROM deaths) + (SELECT count(*) FROM affiliations) + (SELECT count(*) FROM employment_periods) +
			(SELECT count(*) FROM contributions)`
		if bus1.QueryRow(ctx, q).Scan(&n) != nil {
			return 0
		}
		return n
	}
	valid := rows - defects
	waitFor(t, "the materializer to start applying", time.Minute, func() bool { return storeRows() >= valid/5 })
	mat.kill()
	t.Logf("materialize SIGKILLed with %d of %d records stored", storeRows(), valid)
	// Two instances in the same group share the partitions.
	start(t, as(dbroles.Materialize), "materialize-2", "materialize")
	start(t, as(dbroles.Materialize), "materialize-3", "materialize")
	out, err = run(t, as(dbroles.Reader), "reconcile", "--synthetic", "--wait", "90s")
	if err != nil || !strings.Contains(out, "zero difference over 33 data centers") {
		t.Fatalf("reconcile: %v\n%s", err, out)
	}
	if storeRows() != valid {
		t.Fatalf("store holds %d records, want %d", storeRows(), valid)
	}

	// Records published twice (the batch in flight at the kill) are the
	// same record: same key, same version, same bytes.
	cfg := config.Default()
	cfg.Registry.URL = regURL
	rc, err := registry.NewClient(wiring.RegistryClient(cfg.Registry))
	testenv.Must(t, err, "registry")
	codec := bus.NewCodec(rc, bus.CodecOptions{IsNotFound: registry.IsNotFound})
	topics := bus.NewTopics(wiring.Topics(cfg.Kafka.Topics))
	type id struct{ dc, key string }
	seen := map[id]string{}
	published, dups := 0, 0
	for _, topic := range topics.Records() {
		text, err := schemas.LatestText(strings.TrimPrefix(topic, cfg.Kafka.Topics.Prefix))
		testenv.Must(t, err, "schema")
		_, err = codec.Use(ctx, topic, text)
		testenv.Must(t, err, "codec")
		for _, m := range testenv.ReadTopic(t, ctx, broker.Addr, topic) {
			rec, err := codec.DecodeRecord(ctx, topics, topic, m.Value)
			testenv.Must(t, err, "decode")
			p := rec.Prov()
			published++
			k := id{p.DataCenter, p.SourceKey}
			fp := fmt.Sprintf("%s|%d|%x", m.Key, p.SourceVersion, m.Value)
			if prev, ok := seen[k]; ok {
				dups++
				if prev != fp {
					t.Fatalf("%v published twice with different content:\n%s\n%s", k, prev, fp)
				}
			}
			seen[k] = fp
		}
	}
	if int64(len(seen)) != valid {
		t.Fatalf("topics hold %d distinct records, want %d", len(seen), valid)
	}
	// Per data center: the topics hold exactly its valid rows, the DLQ
	// exactly its defective ones.
	perDC := map[string]int64{}
	for k := range seen {
		perDC[k.dc]++
	}
	dlqDC := map[string]int64{}
	dlq := map[string]bool{}
	for _, m := range testenv.ReadTopic(t, ctx, broker.Addr, topics.DLQ) {
		id := bus.Header(m, bus.HeaderDLQSource) + " " + bus.Header(m, bus.HeaderDLQPosition)
		if !dlq[id] {
			dlqDC[bus.Header(m, bus.HeaderDLQDataCenter)]++
		}
		dlq[id] = true
		if bus.Header(m, bus.HeaderDLQCode) == "" {
			t.Fatalf("DLQ record without a reason: %v", m.Headers)
		}
	}
	if int64(len(dlq)) != defects {
		t.Fatalf("DLQ holds %d distinct rejects, want the %d defective rows", len(dlq), defects)
	}
	mrows, err := src.Query(ctx, `SELECT data_center, sum(rows - defects)::bigint, sum(defects)::bigint FROM askonce_seed.manifest GROUP BY data_center`)
	testenv.Must(t, err, "manifest")
	dcs := 0
	for mrows.Next() {
		var dc string
		var good, bad int64
		testenv.Must(t, mrows.Scan(&dc, &good, &bad), "manifest row")
		if perDC[dc] != good || dlqDC[dc] != bad {
			t.Errorf("%s: topics %d (want %d), DLQ %d (want %d)", dc, perDC[dc], good, dlqDC[dc], bad)
		}
		dcs++
	}
	mrows.Close()
	if dcs != 33 {
		t.Fatalf("manifest lists %d data centers", dcs)
	}
	t.Logf("%d records published (%d twice, identical), %d distinct rejects in the DLQ; per data center counts match for all 33", published, dups, len(dlq))

	// A life certificate through the whole pipeline: sources -> connectors
	// -> Kafka -> materializers -> store -> the lookup API, with connect-2
	// and the two materializers still running (so watermarks keep moving).
	lifeCertificate(t, ctx, as(dbroles.API), bus1)
}

// lifeCertificate starts the lookup API on the store the pipeline filled,
// issues a life certificate for a living person and checks its as_of
// against the store's watermarks: as_of is the oldest watermark of the
// etatcivil data centers (a life certificate reads them all), so it is
// not after the newest etatcivil watermark the store held when it was
// issued (store_watermark_history records every advance with the instant
// it was made), not before the oldest they had a moment before the
// request, and not more than a minute before the issue time (connectors
// write a watermark every 5 s while caught up).
func lifeCertificate(t *testing.T, ctx context.Context, env []string, db *pgxpool.Pool) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	testenv.Must(t, err, "free port")
	api := ln.Addr().String()
	ln.Close()
	serveEnv := append(append([]string(nil), env...), "ASKONCE_LOOKUP_LISTEN="+api,
		"ASKONCE_LOOKUP_SIGNING_KEYS_DIR="+filepath.Join(t.TempDir(), "keys"))
	start(t, serveEnv, "serve", "serve", "--dev", "--policy", filepath.Join(testenv.RepoRoot(t), "deploy", "devfiles", "policy.yaml"))
	base := "http://" + api
	waitFor(t, "the lookup API to be ready", time.Minute, func() bool {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	var nin string
	testenv.Must(t, db.QueryRow(ctx, `SELECT p.nin FROM persons p WHERE NOT p.deleted
		AND NOT EXISTS (SELECT 1 FROM deaths d WHERE d.nin = p.nin AND NOT d.deleted) ORDER BY p.nin LIMIT 1`).Scan(&nin), "a living person")
	var etatcivilDCs int
	testenv.Must(t, db.QueryRow(ctx, `SELECT count(*) FROM store_watermarks WHERE agency = 'etatcivil'`).Scan(&etatcivilDCs), "watermarks")
	if etatcivilDCs != 11 {
		t.Fatalf("%d etatcivil data centers have a watermark in the store, want 11", etatcivilDCs)
	}

	before := time.Now()
	body, _ := json.Marshal(map[string]string{"document_type": "life-certificate", "nin": nin, "purpose": "pension-life-proof", "clerk_id": "e2e"})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/document-requests", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer dev-cnr-key")
	resp, err := http.DefaultClient.Do(req)
	testenv.Must(t, err, "life certificate request")
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	after := time.Now()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("life certificate for %s: %s\n%s", nin, resp.Status, answer)
	}
	var doc struct {
		Document struct {
			IssuedAt string `json:"issued_at"`
			AsOf     string `json:"as_of"`
			Fields   struct {
				Alive bool `json:"alive"`
			} `json:"fields"`
		} `json:"document"`
	}
	testenv.Must(t, json.Unmarshal(answer, &doc), "signed document")
	issuedAt, err := time.Parse(time.RFC3339, doc.Document.IssuedAt)
	testenv.Must(t, err, "issued_at %q", doc.Document.IssuedAt)
	asOf, err := time.Parse(time.RFC3339, doc.Document.AsOf)
	testenv.Must(t, err, "as_of %q", doc.Document.AsOf)
	if !doc.Document.Fields.Alive {
		t.Errorf("life certificate of a living person says alive=false: %s", answer)
	}

	// The newest etatcivil watermark the store held by the time the answer
	// came back (an upper bound of the one at issue: an advance is recorded
	// before it commits), and the oldest of the 11 a few seconds before the
	// request (the API caches watermarks a second; 5 s leaves room for a
	// transaction recorded before it committed): as_of lies between.
	var newest, oldest time.Time
	testenv.Must(t, db.QueryRow(ctx, `SELECT max(watermark) FROM store_watermark_history
		WHERE agency = 'etatcivil' AND recorded_at <= $1`, after).Scan(&newest), "newest etatcivil watermark")
	var known int
	testenv.Must(t, db.QueryRow(ctx, `SELECT count(*), min(w) FROM (
		SELECT DISTINCT ON (data_center) watermark AS w FROM store_watermark_history
		WHERE agency = 'etatcivil' AND recorded_at <= $1 ORDER BY data_center, recorded_at DESC) last`,
		before.Add(-5*time.Second)).Scan(&known, &oldest), "oldest etatcivil watermark")
	// Stronger, as watermarks only advance (store_watermarks is updated
	// only upwards): as_of is not after the oldest of the 11 by the answer
	// either. An as_of taken from the clock instead would be.
	var oldestAfter time.Time
	testenv.Must(t, db.QueryRow(ctx, `SELECT min(w) FROM (
		SELECT DISTINCT ON (data_center) watermark AS w FROM store_watermark_history
		WHERE agency = 'etatcivil' AND recorded_at <= $1 ORDER BY data_center, recorded_at DESC) last`,
		after).Scan(&oldestAfter), "oldest etatcivil watermark by the answer")
	t.Logf("life certificate issued at %s, as_of %s; etatcivil watermarks: newest %s and oldest %s by the answer, oldest %s before the request",
		doc.Document.IssuedAt, doc.Document.AsOf, newest.UTC().Format(time.RFC3339Nano), oldestAfter.UTC().Format(time.RFC3339Nano),
		oldest.UTC().Format(time.RFC3339Nano))
	if asOf.After(newest) {
		t.Errorf("as_of %s is after the newest etatcivil watermark the store held when it was issued (%s)", doc.Document.AsOf, newest.UTC().Format(time.RFC3339Nano))
	}
	if asOf.After(oldestAfter) {
		t.Errorf("as_of %s is after the oldest etatcivil watermark the store held when it was issued (%s): it is not the store's watermark",
			doc.Document.AsOf, oldestAfter.UTC().Format(time.RFC3339Nano))
	}
	if issuedAt.Sub(asOf) > time.Minute {
		t.Errorf("as_of %s is %s before the issue time %s: more than a minute", doc.Document.AsOf, issuedAt.Sub(asOf), doc.Document.IssuedAt)
	}
	// as_of is written to the second (RFC 3339), so compare the oldest
	// truncated likewise.
	if known == 11 && asOf.Before(oldest.Truncate(time.Second)) {
		t.Errorf("as_of %s is before the oldest etatcivil watermark the store held just before the request (%s): not the measured watermark",
			doc.Document.AsOf, oldest.UTC().Format(time.RFC3339Nano))
	}
}
