package chaos_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/segmentio/kafka-go"

	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/internal/config"
	"github.com/askonce/askonce/internal/materialize"
	"github.com/askonce/askonce/internal/registry"
	"github.com/askonce/askonce/internal/testenv"
	"github.com/askonce/askonce/internal/wiring"
	"github.com/askonce/askonce/schemas"
)

// The hostile producer (testdata/hostile.py) writes, with librdkafka instead
// of askonce's client, one message per case to the record topics under the
// key chaos-hostile-<case>. Every one must end in the DLQ with this reason
// code, and the materializer must go on past it.
const hostileKeyPrefix = "chaos-hostile-"

// Codes of schemas/validate.go for hostile text (a NUL or other control
// character, invalid UTF-8; a string longer than the bound).
const (
	codeTextInvalid = "text.invalid"
	codeTextTooLong = "text.too_long"
)

var hostileExpect = map[string]string{
	"bad-magic":                     bus.ReasonNotFramed,
	"truncated":                     bus.ReasonNotFramed,
	"empty":                         bus.ReasonNotFramed,
	"header-only":                   bus.ReasonMalformed,
	"garbage-body":                  bus.ReasonMalformed,
	"employment-bad-magic":          bus.ReasonNotFramed,
	"contribution-truncated":        bus.ReasonNotFramed,
	"unknown-schema":                bus.ReasonUnknownSchema,
	"nul-first-name":                codeTextInvalid,
	"invalid-utf8-surname":          codeTextInvalid,
	"oversize-first-name":           codeTextTooLong,
	"civil-agency-cnas":             schemas.CodeAgencyUnknown,
	"civil-dc-of-cnas":              schemas.CodeDataCenter,
	"contribution-agency-etatcivil": schemas.CodeAgencyUnknown,
	"contribution-dc-of-casnos":     schemas.CodeDataCenter,
}

func isHostile(key []byte) bool { return bytes.HasPrefix(key, []byte(hostileKeyPrefix)) }

// hostileMsg is one message the hostile producer delivered (its stdout).
type hostileMsg struct {
	Case      string `json:"case"`
	Key       string `json:"key"`
	Topic     string `json:"topic"`
	Partition int    `json:"partition"`
	Offset    int64  `json:"offset"`
	Error     string `json:"error"`
}

// python is Debian's interpreter, which sees Debian's python3-confluent-kafka
// (a pyenv or venv python3 first on PATH would not).
func python(t testing.TB) string {
	t.Helper()
	const py = "/usr/bin/python3"
	if out, err := exec.Command(py, "-c", "import confluent_kafka").CombinedOutput(); err != nil {
		t.Fatalf("chaos: %s cannot import confluent_kafka (%v: %s): run `make deps` (deploy/devfiles/deps.sh installs python3-confluent-kafka)",
			py, err, strings.TrimSpace(string(out)))
	}
	return py
}

// runHostile runs the hostile producer to completion. Its stderr goes to
// log; it returns the messages delivered, and an error when it failed or
// did not deliver every case.
func runHostile(ctx context.Context, py string, k kafkaCred, registryURL string, log io.Writer) ([]hostileMsg, error) {
	script, err := filepath.Abs(filepath.Join("testdata", "hostile.py"))
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, py, script, "--brokers", k.addr, "--registry", registryURL, "--timeout", "120")
	cmd.Stderr = log
	if k.user != "" {
		// In the environment, not the arguments: ps shows those.
		cmd.Env = append(os.Environ(), "HOSTILE_SASL_USERNAME="+k.user, "HOSTILE_SASL_PASSWORD="+k.password)
	}
	out, runErr := cmd.Output()
	var msgs []hostileMsg
	var failed []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Bytes()
		if bytes.Contains(line, []byte(`"done"`)) {
			continue
		}
		var m hostileMsg
		if err := json.Unmarshal(line, &m); err != nil {
			return nil, fmt.Errorf("hostile.py: output line %q: %w", line, err)
		}
		if m.Error != "" {
			failed = append(failed, m.Case+": "+m.Error)
			continue
		}
		msgs = append(msgs, m)
	}
	if runErr != nil || len(failed) > 0 {
		return msgs, fmt.Errorf("hostile.py: %v; not delivered: %s", runErr, strings.Join(failed, "; "))
	}
	var missing []string
	got := map[string]bool{}
	for _, m := range msgs {
		got[m.Case] = true
	}
	for c := range hostileExpect {
		if !got[c] {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 || len(msgs) != len(hostileExpect) {
		sort.Strings(missing)
		return msgs, fmt.Errorf("hostile.py delivered %d messages, want the %d cases (missing %v)", len(msgs), len(hostileExpect), missing)
	}
	return msgs, nil
}

// verdict is what the materializer does with a message of a record topic
// (materialize.prepare): the reason code it dead-letters it with (the
// decode reason, or the first violation's code), with every violation's
// code, or "" when it would apply it to the store. An error is transient.
func verdict(ctx context.Context, codec *bus.Codec, topics bus.Topics, rules schemas.Rules, topic string, value []byte) (string, []string, error) {
	v, err := codec.DecodeRecord(ctx, topics, topic, value)
	var de *bus.DecodeError
	if errors.As(err, &de) {
		return de.Reason, []string{de.Reason}, nil
	}
	if err != nil {
		return "", nil, err
	}
	vs := rules.Check(v)
	if len(vs) == 0 {
		return "", nil, nil
	}
	return vs[0].Code, vs.Codes(), nil
}

// TestHostileProducer runs the hostile producer against an embedded broker
// and askonce's registry, reads back what it wrote with askonce's client,
// and judges every message as the materializer would: each must be
// rejected with its case's code, and for exactly that reason (a record
// hostile in one way only), so that TestChaos tests what it says.
func TestHostileProducer(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos: skipped with -short")
	}
	py := python(t)
	ctx := testenv.Ctx(t, 3*time.Minute)
	b := testenv.StartBroker(t, nil)
	regURL := testenv.StartRegistry(t)
	cfg := config.Default()
	cfg.Kafka = b.Kafka()
	cfg.Registry.URL = regURL
	client, err := bus.New(wiring.Kafka(cfg.Kafka))
	testenv.Must(t, err, "kafka client")
	defer client.Close()
	topics := client.Topics()
	_, err = client.EnsureTopics(ctx, topics.Specs(), nil)
	testenv.Must(t, err, "topics")
	rc, err := registry.NewClient(wiring.RegistryClient(cfg.Registry))
	testenv.Must(t, err, "registry client")
	codec := bus.NewCodec(rc, bus.CodecOptions{AutoRegister: true, IsNotFound: registry.IsNotFound})
	for _, topic := range topics.Records() {
		text, err := schemas.LatestText(topic)
		testenv.Must(t, err, "schema of %s", topic)
		_, err = codec.Use(ctx, topic, text)
		testenv.Must(t, err, "register the schema of %s", topic)
	}

	var stderr bytes.Buffer
	sent, err := runHostile(ctx, py, kafkaCred{addr: b.Addr}, regURL, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	t.Logf("hostile.py:\n%s", strings.TrimSpace(stderr.String()))

	rules := schemas.Rules{AllowSynthetic: true}
	seen := map[string]bool{}
	for _, topic := range topics.Records() {
		for _, m := range testenv.ReadTopic(t, ctx, b.Addr, topic) {
			if !isHostile(m.Key) {
				t.Errorf("%s holds a message the hostile producer did not write: key %q", topic, m.Key)
				continue
			}
			c := strings.TrimPrefix(string(m.Key), hostileKeyPrefix)
			seen[c] = true
			code, all, err := verdict(ctx, codec, topics, rules, topic, m.Value)
			testenv.Must(t, err, "judge %s", c)
			want := hostileExpect[c]
			switch {
			case code == "":
				t.Errorf("%s (%s): the materializer would apply it to the store, want it dead-lettered with %s", c, topic, want)
			case code != want:
				t.Errorf("%s (%s): dead-lettered with %s (every code: %v), want %s", c, topic, code, all, want)
			case len(all) != 1 && !allSame(all):
				t.Errorf("%s (%s): hostile in more ways than its case: codes %v", c, topic, all)
			default:
				t.Logf("%-30s %-24s -> %s", c, topic, code)
			}
		}
	}
	for _, m := range sent {
		if !seen[m.Case] {
			t.Errorf("%s: delivered at %s/%d/%d but not read back", m.Case, m.Topic, m.Partition, m.Offset)
		}
	}
}

func allSame(s []string) bool {
	for _, x := range s {
		if x != s[0] {
			return false
		}
	}
	return true
}

// hostileState is, for each hostile case, where the run put it: the DLQ
// (with which codes, how many copies), or the store (a record that should
// have been rejected and was applied).
type hostileState struct {
	dlq     map[string][]string // case -> DLQ codes, one per copy
	dlqFrom map[string]string   // case -> who dead-lettered it (askonce.dlq.source)
	stored  map[string]string   // case -> "table data_center"
	lastDLQ time.Time           // when the last one was dead-lettered (askonce.dlq.time)
}

func (s hostileState) resolved(c string) bool { return len(s.dlq[c]) > 0 || s.stored[c] != "" }

// readHostile reads the DLQ and the store for the hostile cases. The
// hostile records' provenance source_key is their Kafka key.
func readHostile(ctx context.Context, t *testing.T, k kafkaCred, dlqTopic string, db *pgxpool.Pool) hostileState {
	t.Helper()
	s := hostileState{dlq: map[string][]string{}, dlqFrom: map[string]string{}, stored: map[string]string{}}
	for _, m := range testenv.ReadTopicWith(t, ctx, k.dialer(), k.addr, dlqTopic) {
		if !isHostile(m.Key) {
			continue
		}
		c := strings.TrimPrefix(string(m.Key), hostileKeyPrefix)
		s.dlq[c] = append(s.dlq[c], bus.Header(m, bus.HeaderDLQCode))
		s.dlqFrom[c] = bus.Header(m, bus.HeaderDLQSource)
		if at, err := time.Parse(time.RFC3339Nano, bus.Header(m, bus.HeaderDLQTime)); err == nil && at.After(s.lastDLQ) {
			s.lastDLQ = at
		}
	}
	for _, tbl := range storeTables {
		rows, err := db.Query(ctx, `SELECT source_key, data_center FROM `+tbl+` WHERE source_key LIKE $1`, hostileKeyPrefix+"%")
		if err != nil {
			continue // PostgreSQL restarting: asked again
		}
		for rows.Next() {
			var key, dc string
			if rows.Scan(&key, &dc) == nil {
				s.stored[strings.TrimPrefix(key, hostileKeyPrefix)] = tbl + " " + dc
			}
		}
		rows.Close()
	}
	return s
}

// waitHostile waits until every hostile case is in the DLQ or (wrongly)
// in the store, and returns the cases neither holds after timeout.
func waitHostile(ctx context.Context, t *testing.T, k kafkaCred, dlqTopic string, db *pgxpool.Pool, sent []hostileMsg, timeout time.Duration) (hostileState, []string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s := readHostile(ctx, t, k, dlqTopic, db)
		var missing []string
		for _, m := range sent {
			if !s.resolved(m.Case) {
				missing = append(missing, fmt.Sprintf("%s (%s/%d/%d)", m.Case, m.Topic, m.Partition, m.Offset))
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			return s, missing
		}
		time.Sleep(2 * time.Second)
	}
}

// hostileCheck is what the run did with the hostile records.
type hostileCheck struct {
	At           time.Duration // when the producer ran, from the start of the faults
	Took         time.Duration // until every one was in the DLQ
	Lines        []string      // per case: code and copies
	Failures     int           // cases not dead-lettered with their code
	Committed    int           // hostile records the materializer's group committed past
	AppliedAfter int64         // store rows applied from later offsets of a hostile record's partition
	Partitions   string        // of the hostile records' partitions, how many saw a later record applied
	StoreBefore  int64         // store rows when the producer was done
	StoreAfter   int64         // store rows at the end
}

// checkHostile asserts that every hostile record is in the DLQ with its
// case's reason code (dead-lettered by the materializer, never applied),
// that the materializer's group committed past every one of them (it did
// not stop there), and that the store kept applying records after them.
func checkHostile(ctx context.Context, t *testing.T, k kafkaCred, topics bus.Topics, db *pgxpool.Pool, sent []hostileMsg, s hostileState, hc *hostileCheck) {
	t.Helper()
	sort.Slice(sent, func(i, j int) bool { return sent[i].Case < sent[j].Case })
	for _, m := range sent {
		want := hostileExpect[m.Case]
		codes := s.dlq[m.Case]
		line := fmt.Sprintf("%-30s %-17s %-11s ", m.Case, strings.TrimPrefix(m.Topic, "askonce."), fmt.Sprintf("p%d@%d", m.Partition, m.Offset))
		switch {
		case s.stored[m.Case] != "":
			hc.Failures++
			t.Errorf("chaos: hostile record %s was APPLIED to the store (%s), want it in the DLQ with %s", m.Case, s.stored[m.Case], want)
			line += "APPLIED to the store (" + s.stored[m.Case] + "), want " + want
		case len(codes) == 0:
			hc.Failures++
			t.Errorf("chaos: hostile record %s (%s/%d/%d) is not in the DLQ, want %s", m.Case, m.Topic, m.Partition, m.Offset, want)
			line += "NOT in the DLQ, want " + want
		default:
			bad := ""
			for _, c := range codes {
				if c == "" {
					bad = "a copy without a reason code"
				} else if c != want {
					bad = "code " + c
				}
			}
			if s.dlqFrom[m.Case] != materialize.DLQSource {
				bad += " (dead-lettered by " + s.dlqFrom[m.Case] + ")"
			}
			distinct := slices.Compact(slices.Sorted(slices.Values(codes)))
			line += fmt.Sprintf("DLQ %s x%d", strings.Join(distinct, ", "), len(codes))
			if bad != "" {
				hc.Failures++
				t.Errorf("chaos: hostile record %s is in the DLQ with %s, want %s", m.Case, strings.TrimSpace(bad), want)
				line += " WANT " + want
			}
		}
		hc.Lines = append(hc.Lines, line)
	}

	// The group committed past each: the materializer did not stop at it.
	c := k.client(10 * time.Second)
	parts := map[string][]int{}
	for _, tp := range topics.Records() {
		for p := 0; p < config.Default().Kafka.Topics.RecordPartitions; p++ {
			parts[tp] = append(parts[tp], p)
		}
	}
	res, err := c.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: config.Default().Materialize.GroupID, Topics: parts})
	testenv.Must(t, err, "committed offsets of askonce-materialize")
	committed := map[string]int64{}
	for tp, ps := range res.Topics {
		for _, p := range ps {
			committed[fmt.Sprintf("%s/%d", tp, p.Partition)] = p.CommittedOffset
		}
	}
	var stuck []string
	for _, m := range sent {
		if off := committed[fmt.Sprintf("%s/%d", m.Topic, m.Partition)]; off > m.Offset {
			hc.Committed++
		} else {
			stuck = append(stuck, fmt.Sprintf("%s at %s/%d/%d (committed %d)", m.Case, m.Topic, m.Partition, m.Offset, off))
		}
	}
	if len(stuck) > 0 {
		t.Errorf("chaos: the materializer's group did not commit past %d hostile records: %s", len(stuck), strings.Join(stuck, "; "))
	}

	// Records after them were applied: store rows read from a later offset
	// of a hostile record's partition.
	var tps []string
	var pps []int32
	var offs []int64
	for _, m := range sent {
		tps, pps, offs = append(tps, m.Topic), append(pps, int32(m.Partition)), append(offs, m.Offset)
	}
	later := map[string]bool{}
	for _, tbl := range storeTables {
		rows, err := db.Query(ctx, `SELECT h.topic, h.part, count(t.*) FROM unnest($1::text[], $2::int[], $3::bigint[]) AS h(topic, part, off)
			JOIN `+tbl+` t ON t.kafka_topic = h.topic AND t.kafka_partition = h.part AND t.kafka_offset > h.off
			GROUP BY h.topic, h.part`, tps, pps, offs)
		testenv.Must(t, err, "store rows after the hostile records")
		for rows.Next() {
			var tp string
			var p int32
			var n int64
			testenv.Must(t, rows.Scan(&tp, &p, &n), "store rows after the hostile records")
			hc.AppliedAfter += n
			later[fmt.Sprintf("%s/%d", tp, p)] = true
		}
		rows.Close()
	}
	distinct := map[string]bool{}
	for _, m := range sent {
		distinct[fmt.Sprintf("%s/%d", m.Topic, m.Partition)] = true
	}
	hc.Partitions = fmt.Sprintf("%d of the %d partitions holding a hostile record", len(later), len(distinct))
	hc.StoreAfter = storeRows(ctx, db)
	if hc.AppliedAfter == 0 {
		t.Errorf("chaos: no record published after a hostile one in its partition was applied to the store")
	}
	if hc.StoreBefore >= 0 && hc.StoreAfter <= hc.StoreBefore {
		t.Errorf("chaos: the store did not grow after the hostile records (%d rows then, %d now)", hc.StoreBefore, hc.StoreAfter)
	}
}

// failureLines are the distinct error and warning messages of a JSON log
// (slog), for a failure message.
func failureLines(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var out []string
	seen := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
			Err   string `json:"err"`
		}
		if json.Unmarshal(sc.Bytes(), &e) != nil || (e.Level != "WARN" && e.Level != "ERROR") {
			continue
		}
		k := e.Msg + ": " + e.Err
		if seen[k] == 0 {
			out = append(out, k)
		}
		seen[k]++
	}
	for i, k := range out {
		out[i] = fmt.Sprintf("%s (x%d)", k, seen[k])
	}
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return strings.Join(out, "\n")
}
