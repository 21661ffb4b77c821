package audit_test

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/askonce/askonce/internal/audit"
	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/internal/config"
	"github.com/askonce/askonce/internal/ops"
	"github.com/askonce/askonce/internal/registry"
	"github.com/askonce/askonce/internal/testenv"
	"github.com/askonce/askonce/internal/wiring"
)

// TestTopicMirror: committed entries appear on askonce.audit.v1, keyed by
// NIN, in seq order, Avro in the Confluent wire format, and decode to the
// entries of the table; the checkpoint follows, and a restarted mirror
// goes on from it.
func TestTopicMirror(t *testing.T) {
	ctx := testenv.Ctx(t, 2*time.Minute)
	broker := testenv.StartBroker(t, nil)
	cfg := config.Default()
	cfg.Kafka = broker.Kafka()
	cfg.Kafka.Topics.Prefix = "t" + testenv.Random(3) + "."
	cfg.Registry.URL = testenv.StartRegistry(t)
	rc, err := registry.NewClient(wiring.RegistryClient(cfg.Registry))
	testenv.Must(t, err, "registry client")
	conn, err := wiring.OpenBus(ctx, &cfg, rc.Bus(), ops.NewLogger(io.Discard, "error", "json"))
	testenv.Must(t, err, "bus")
	t.Cleanup(conn.Client.Close)
	topic := conn.Client.Topics().Audit

	pool := open(t, ctx, migrated(t))
	e := start(t, pool, audit.Options{Conn: conn, PublishBatch: 7, PublishInterval: 100 * time.Millisecond})
	nins := []string{"109991234500000001", "109991234500000002", "109991234500000003"}
	for i := range 20 {
		_, err := e.log.Append(ctx, entry(i, nins[i%3]))
		testenv.Must(t, err, "append")
	}
	waitPublished(t, ctx, e, 20)
	e.stop()

	// A second run (a restart) publishes only what is new.
	e = start(t, pool, audit.Options{Conn: conn, PublishBatch: 7, PublishInterval: 100 * time.Millisecond})
	for i := 20; i < 25; i++ {
		_, err := e.log.Append(ctx, entry(i, nins[i%3]))
		testenv.Must(t, err, "append")
	}
	waitPublished(t, ctx, e, 25)

	msgs := testenv.WaitTopic(t, ctx, broker.Addr, topic, 25, 30*time.Second)
	if len(msgs) != 25 {
		t.Fatalf("%d messages on %s, want 25 (no duplicates when nothing crashed)", len(msgs), topic)
	}
	want := map[int64]audit.Entry{}
	rows, err := audit.ForCitizen(ctx, pool, nins[0], 100)
	testenv.Must(t, err, "entries")
	for _, n := range nins[1:] {
		more, err := audit.ForCitizen(ctx, pool, n, 100)
		testenv.Must(t, err, "entries")
		rows = append(rows, more...)
	}
	for _, r := range rows {
		want[r.Seq] = r
	}
	lastSeq := map[string]int64{}
	for _, m := range msgs {
		if m.Value[0] != bus.MagicByte {
			t.Fatalf("not in the wire format: % x", m.Value[:5])
		}
		var got audit.Entry
		_, err := conn.Codec.Decode(ctx, topic, m.Value, &got)
		testenv.Must(t, err, "decode offset %d", m.Offset)
		if string(m.Key) != got.NIN {
			t.Errorf("key %q for nin %q", m.Key, got.NIN)
		}
		// Per citizen (per partition), in seq order.
		if got.Seq <= lastSeq[got.NIN] {
			t.Errorf("seq %d after %d for %s", got.Seq, lastSeq[got.NIN], got.NIN)
		}
		lastSeq[got.NIN] = got.Seq
		w := want[got.Seq]
		if !got.At.Equal(w.At) || fmt.Sprint(norm(got)) != fmt.Sprint(norm(w)) {
			t.Errorf("seq %d on the topic:\n%+v\nin the table:\n%+v", got.Seq, got, w)
		}
		if h, _ := audit.Hash(got); h != got.Hash {
			t.Errorf("seq %d: hash does not recompute from the topic", got.Seq)
		}
	}
	if lag := metric(t, e.reg, "askonce_audit_publish_lag_entries", ""); lag != 0 {
		t.Errorf("publish lag %v", lag)
	}
}

func norm(e audit.Entry) audit.Entry {
	e.At = time.Time{}
	return e
}

func waitPublished(t *testing.T, ctx context.Context, e *env, seq int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var got int64
		testenv.Must(t, e.pool.QueryRow(ctx, `SELECT seq FROM audit_publish WHERE id = 1`).Scan(&got), "checkpoint")
		if got == seq {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("checkpoint at %d, want %d", got, seq)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
