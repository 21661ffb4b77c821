package testenv

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl/scram"

	"github.com/askonce/askonce/internal/bus"
)

// ReadTopic returns every message of topic present now (up to each
// partition's high watermark), partition by partition, in offset order,
// but the connectors' watermark markers (bus.IsWatermark): records only.
func ReadTopic(t testing.TB, ctx context.Context, broker, topic string) []kafka.Message {
	t.Helper()
	return withoutMarkers(ReadTopicAll(t, ctx, broker, topic))
}

// ReadTopicAll is ReadTopic with the watermark markers.
func ReadTopicAll(t testing.TB, ctx context.Context, broker, topic string) []kafka.Message {
	t.Helper()
	msgs, err := readTopic(ctx, nil, broker, topic)
	if err != nil {
		t.Fatalf("testenv: read %s: %v", topic, err)
	}
	return msgs
}

// ReadTopicWith is ReadTopic (markers aside) over d's connections: SASL
// credentials for a broker that authorizes by ACLs (SASLDialer).
func ReadTopicWith(t testing.TB, ctx context.Context, d *kafka.Dialer, broker, topic string) []kafka.Message {
	t.Helper()
	msgs, err := readTopic(ctx, d, broker, topic)
	if err != nil {
		t.Fatalf("testenv: read %s: %v", topic, err)
	}
	return withoutMarkers(msgs)
}

// SASLDialer is a dialer that authenticates with SCRAM-SHA-512.
func SASLDialer(t testing.TB, user, password string) *kafka.Dialer {
	t.Helper()
	mech, err := scram.Mechanism(scram.SHA512, user, password)
	if err != nil {
		t.Fatalf("testenv: SCRAM mechanism: %v", err)
	}
	return &kafka.Dialer{Timeout: 10 * time.Second, DualStack: true, SASLMechanism: mech}
}

func withoutMarkers(msgs []kafka.Message) []kafka.Message {
	return slices.DeleteFunc(msgs, bus.IsWatermark)
}

// WaitTopic reads topic until it holds at least n messages (watermark
// markers aside, as ReadTopic), or fails the test after timeout.
func WaitTopic(t testing.TB, ctx context.Context, broker, topic string, n int, timeout time.Duration) []kafka.Message {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		msgs, err := readTopic(ctx, nil, broker, topic)
		msgs = withoutMarkers(msgs)
		if err == nil && len(msgs) >= n {
			return msgs
		}
		if time.Now().After(deadline) {
			t.Fatalf("testenv: %s holds %d messages, want %d (err %v)", topic, len(msgs), n, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func readTopic(ctx context.Context, d *kafka.Dialer, broker, topic string) ([]kafka.Message, error) {
	if d == nil {
		d = kafka.DefaultDialer
	}
	conn, err := d.DialContext(ctx, "tcp", broker)
	if err != nil {
		return nil, err
	}
	parts, err := conn.ReadPartitions(topic)
	conn.Close()
	if err != nil {
		return nil, err
	}
	var out []kafka.Message
	for _, p := range parts {
		leader := net.JoinHostPort(p.Leader.Host, strconv.Itoa(p.Leader.Port))
		pc, err := d.DialLeader(ctx, "tcp", leader, topic, p.ID)
		if err != nil {
			return nil, err
		}
		first, last, err := pc.ReadOffsets()
		pc.Close()
		if err != nil {
			return nil, err
		}
		if last <= first {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{broker}, Dialer: d, Topic: topic, Partition: p.ID, MaxWait: 50 * time.Millisecond})
		if err := r.SetOffset(first); err != nil {
			r.Close()
			return nil, err
		}
		for off := first; off < last; {
			rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			m, err := r.ReadMessage(rctx)
			cancel()
			if err != nil {
				r.Close()
				return nil, fmt.Errorf("partition %d offset %d: %w", p.ID, off, err)
			}
			out = append(out, m)
			off = m.Offset + 1
		}
		r.Close()
	}
	return out, nil
}
