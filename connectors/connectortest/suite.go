package connectortest

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/askonce/askonce/connectors/connector"
	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/internal/testenv"
)

// Subject is one source kind under test: a fresh system of record, for one
// data center of the civil-status agency, and how to write to it.
type Subject struct {
	Instance connector.Instance
	// SourceKey is the source key of the record Versions writes.
	SourceKey string
	// NewSource returns a source over the system of record that puts at
	// most batchSize records at once: a new one is a restart.
	NewSource func(batchSize int) connector.Source
	// Versions writes versions from..to of one birth (SourceKey, always
	// the same NIN), in that order, to be read in that order.
	Versions func(t *testing.T, from, to int)
	// Unmappable writes one record the source cannot map.
	Unmappable func(t *testing.T)
}

// Kind makes the Subject of a source kind in env.
type Kind func(t *testing.T, env *Env) *Subject

// Run runs the conformance suite on a source kind: records delivered in
// source order; resume after a kill between publish and checkpoint (at
// least once: nothing lost, duplicates identical); unmappable input
// dead-lettered with its reason without stopping the source; heartbeat
// and watermark with no data.
func Run(t *testing.T, kind Kind) {
	t.Run("Order", func(t *testing.T) { testOrder(t, kind) })
	t.Run("ResumeAfterKill", func(t *testing.T) { testResume(t, kind) })
	t.Run("DeadLetter", func(t *testing.T) { testDeadLetter(t, kind) })
	t.Run("HeartbeatWithoutData", func(t *testing.T) { testHeartbeat(t, kind) })
}

// versions reads the civil-status topic until it holds n records of key
// and returns their versions in topic order, and the messages.
func versions(t *testing.T, e *Env, key string, n int) ([]int64, []kafka.Message) {
	t.Helper()
	msgs := testenv.WaitTopic(t, e.Ctx, e.Addr, e.Topics.CivilStatus, n, 30*time.Second)
	var vs []int64
	for i, r := range e.Civil(msgs) {
		if r.Provenance.SourceKey != key {
			t.Fatalf("message %d: source key %s, want %s", i, r.Provenance.SourceKey, key)
		}
		vs = append(vs, r.Provenance.SourceVersion)
	}
	return vs, msgs
}

func testOrder(t *testing.T, kind Kind) {
	e := NewEnv(t)
	s := kind(t, e)
	s.Versions(t, 1, 5)
	e.Start(e.Runner(s.Instance, s.NewSource(4), connector.Options{}))
	s.Versions(t, 6, 25)
	vs, _ := versions(t, e, s.SourceKey, 25)
	want := make([]int64, 25)
	for i := range want {
		want[i] = int64(i + 1)
	}
	if fmt.Sprint(vs) != fmt.Sprint(want) {
		t.Fatalf("versions on the topic %v, want %v", vs, want)
	}
}

func testResume(t *testing.T, kind Kind) {
	e := NewEnv(t)
	s := kind(t, e)
	s.Versions(t, 1, 30)
	ctx, kill := context.WithCancel(e.Ctx)
	defer kill()
	batches := 0
	r1 := e.Runner(s.Instance, s.NewSource(10), connector.Options{AfterPublish: func(int) {
		if batches++; batches == 2 {
			kill() // the second batch is acknowledged, its checkpoint not saved
		}
	}})
	stop := e.StartCtx(ctx, r1)
	select {
	case <-ctx.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("the second batch was never published")
	}
	stop()
	first, _ := versions(t, e, s.SourceKey, 20)
	if len(first) != 20 {
		t.Fatalf("%d records before the kill, want 20", len(first))
	}

	e.Start(e.Runner(s.Instance, s.NewSource(10), connector.Options{}))
	vs, msgs := versions(t, e, s.SourceKey, 40)
	time.Sleep(300 * time.Millisecond)
	if again := testenv.ReadTopic(t, e.Ctx, e.Addr, e.Topics.CivilStatus); len(again) != len(msgs) {
		vs, msgs = versions(t, e, s.SourceKey, len(again))
	}
	seen := map[int64][]byte{}
	for i, v := range vs {
		if prev, ok := seen[v]; ok && !bytes.Equal(prev, msgs[i].Value) {
			t.Errorf("version %d published twice with different bytes", v)
		}
		seen[v] = msgs[i].Value
	}
	for v := int64(1); v <= 30; v++ {
		if seen[v] == nil {
			t.Errorf("version %d lost (topic holds %v)", v, vs)
		}
	}
	// At least once: what was acknowledged but not checkpointed (11-20)
	// comes again, nothing before it does.
	if len(vs) != 40 || fmt.Sprint(vs[20:30]) != fmt.Sprint(vs[10:20]) {
		t.Errorf("versions on the topic %v: want 1-20, then 11-30", vs)
	}
}

func testDeadLetter(t *testing.T, kind Kind) {
	e := NewEnv(t)
	s := kind(t, e)
	r := e.Runner(s.Instance, s.NewSource(10), connector.Options{})
	e.Start(r)
	s.Unmappable(t)
	dlq := testenv.WaitTopic(t, e.Ctx, e.Addr, e.Topics.DLQ, 1, 30*time.Second)
	d := dlq[0]
	if bus.Header(d, bus.HeaderDLQCode) == "" || bus.Header(d, bus.HeaderDLQMessage) == "" || len(d.Value) == 0 ||
		bus.Header(d, bus.HeaderDLQSource) != s.Instance.Name() || bus.Header(d, bus.HeaderDLQPosition) == "" ||
		bus.Header(d, bus.HeaderDLQAgency) != s.Instance.Agency {
		t.Fatalf("DLQ record: headers %v value %q", d.Headers, d.Value)
	}
	// The source goes on.
	s.Versions(t, 1, 3)
	if vs, _ := versions(t, e, s.SourceKey, 3); fmt.Sprint(vs) != "[1 2 3]" {
		t.Fatalf("after the unmappable record: versions %v", vs)
	}
	if err := r.Healthy(); err != nil {
		t.Fatalf("unmappable input made the connector unhealthy: %v", err)
	}
}

func testHeartbeat(t *testing.T, kind Kind) {
	e := NewEnv(t)
	s := kind(t, e)
	r := e.Runner(s.Instance, s.NewSource(10), connector.Options{WatermarkEvery: 100 * time.Millisecond})
	e.Start(r)
	deadline := time.Now().Add(30 * time.Second)
	for {
		var heard *time.Time
		err := e.DB.QueryRow(e.Ctx, `SELECT heard_at FROM connect_checkpoints WHERE connector = $1`, s.Instance.Name()).Scan(&heard)
		if err == nil && heard != nil && r.Healthy() == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no heartbeat: heard %v err %v healthy %v", heard, err, r.Healthy())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A watermark on every partition of each record topic of the agency.
	for _, topic := range e.Topics.RecordTopicsOf(s.Instance.Agency) {
		for {
			parts := map[int]bool{}
			for _, m := range testenv.ReadTopicAll(t, e.Ctx, e.Addr, topic) {
				if !bus.IsWatermark(m) {
					t.Fatalf("%s: a record, with no data in the source", topic)
				}
				w, err := bus.ParseWatermark(m, e.Topics.WritersOf(topic), time.Now())
				if err == nil && w.DataCenter == s.Instance.DataCenter {
					parts[m.Partition] = true
				}
			}
			if len(parts) == e.Kafka.Topics.RecordPartitions {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: watermarks of %s on %d partitions of %d", topic, s.Instance.DataCenter, len(parts), e.Kafka.Topics.RecordPartitions)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}
