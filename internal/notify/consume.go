package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/schemas"
)

// ConsumeOptions configure the reference consumer.
type ConsumeOptions struct {
	// Agency whose topic askonce.notify.<agency> is read.
	Agency string
	// Group is the consumer group (askonce-consume-<agency> when empty):
	// offsets are committed there after each notification is printed.
	Group string
	// FromBeginning starts a group without committed offsets at the oldest
	// notification kept; otherwise at the newest. A group with committed
	// offsets always resumes where it stopped.
	FromBeginning bool
	// ExitWhenIdle returns after this long without a notification (0: run
	// until ctx ends).
	ExitWhenIdle time.Duration
	// Remember is how many recent ids are kept to drop duplicates (replays
	// of the router deliver the same id again); 100,000 when 0.
	Remember int
}

// Printed is a notification as Consume prints it, one JSON object a line.
type Printed struct {
	schemas.Notification
	OccurredOn string `json:"occurred_on"`
	Topic      string `json:"topic"`
	Partition  int    `json:"partition"`
	Offset     int64  `json:"offset"`
}

// Consume is `askonce consume`: it reads an agency's notifications in a
// consumer group, prints each as a JSON line on out, commits its offset
// after printing, and skips ids already printed in this run. It returns
// the number printed.
func Consume(ctx context.Context, conn *bus.Conn, opt ConsumeOptions, out io.Writer, log *slog.Logger) (int, error) {
	if opt.Agency == "" {
		return 0, errors.New("consume: no agency")
	}
	if opt.Group == "" {
		opt.Group = "askonce-consume-" + opt.Agency
	}
	if opt.Remember <= 0 {
		opt.Remember = 100_000
	}
	topic := conn.Client.Topics().Notify(opt.Agency)
	if err := UseNotificationSchemas(ctx, conn, []string{opt.Agency}); err != nil {
		return 0, err
	}
	start := kafka.LastOffset
	if opt.FromBeginning {
		start = kafka.FirstOffset
	}
	r := conn.Client.Reader(kafka.ReaderConfig{GroupID: opt.Group, GroupTopics: []string{topic}, StartOffset: start,
		MinBytes: 1, MaxBytes: 4 << 20, MaxWait: 250 * time.Millisecond, CommitInterval: 0})
	defer r.Close()
	log.Info("consuming notifications", "topic", topic, "group", opt.Group)
	seen := newRecent(opt.Remember)
	printed := 0
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	for {
		fctx, cancel := ctx, context.CancelFunc(func() {})
		if opt.ExitWhenIdle > 0 {
			fctx, cancel = context.WithTimeout(ctx, opt.ExitWhenIdle)
		}
		msg, err := r.FetchMessage(fctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
				return printed, nil
			}
			return printed, fmt.Errorf("consume: %w", err)
		}
		var n schemas.Notification
		if _, err := conn.Codec.Decode(ctx, topic, msg.Value, &n); err != nil {
			var de *bus.DecodeError
			if !errors.As(err, &de) {
				return printed, err
			}
			log.Warn("notification that cannot decode: skipped", "position", bus.OffsetPosition(msg.Topic, msg.Partition, msg.Offset), "err", err)
		} else if seen.add(n.ID) {
			if err := enc.Encode(Printed{Notification: n, OccurredOn: n.OccurredOn.Format(time.DateOnly),
				Topic: msg.Topic, Partition: msg.Partition, Offset: msg.Offset}); err != nil {
				return printed, fmt.Errorf("consume: print: %w", err)
			}
			printed++
		}
		// Printed (or skipped): the group may move past it.
		if err := r.CommitMessages(ctx, msg); err != nil {
			if ctx.Err() != nil {
				return printed, nil
			}
			return printed, fmt.Errorf("consume: commit: %w", err)
		}
	}
}

// recent remembers the last n ids.
type recent struct {
	set  map[string]struct{}
	ring []string
	next int
}

func newRecent(n int) *recent { return &recent{set: map[string]struct{}{}, ring: make([]string, n)} }

// add reports whether id is new, and remembers it.
func (r *recent) add(id string) bool {
	if _, ok := r.set[id]; ok {
		return false
	}
	if old := r.ring[r.next]; old != "" {
		delete(r.set, old)
	}
	r.ring[r.next] = id
	r.next = (r.next + 1) % len(r.ring)
	r.set[id] = struct{}{}
	return true
}
