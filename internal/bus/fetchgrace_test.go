package bus_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/internal/testenv"
)

// TestReaderToleratesLateFetchAnswers: a broker that answers an empty
// fetch 300 ms after the wait it was asked for (as the embedded broker did
// while `askonce dev` seeded: issue 26) costs a group reader nothing. The
// broker is still asked to wait what the reader's MaxWait says, so a
// record produced to an idle partition arrives as fast as before. With
// kafka-go's own margin for a 250 ms MaxWait (62 ms), every such fetch
// ended in an i/o timeout, logged and followed by a new connection.
func TestReaderToleratesLateFetchAnswers(t *testing.T) {
	ctx := testenv.Ctx(t, 2*time.Minute)
	b := testenv.StartBroker(t, nil)
	client, err := bus.New(b.Kafka())
	testenv.Must(t, err, "bus client")
	defer client.Close()
	topic := "late-fetch-" + testenv.Random(3)
	_, err = client.EnsureTopics(ctx, []bus.Spec{{Name: topic, Partitions: 1, ReplicationFactor: 1}}, nil)
	testenv.Must(t, err, "create topic")

	const lateBy = 300 * time.Millisecond
	const maxWait = 250 * time.Millisecond
	late := &lateFetches{by: lateBy}
	nd := &net.Dialer{Timeout: 5 * time.Second}
	client.Dialer().DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := nd.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return late.wrap(c), nil
	}

	var mu sync.Mutex
	var errs []string
	r := client.Reader(kafka.ReaderConfig{
		GroupID: "late-fetch", GroupTopics: []string{topic}, StartOffset: kafka.FirstOffset,
		MinBytes: 1, MaxBytes: 1 << 20, MaxWait: maxWait,
		ErrorLogger: kafka.LoggerFunc(func(msg string, args ...any) {
			mu.Lock()
			errs = append(errs, fmt.Sprintf(msg, args...))
			mu.Unlock()
		}),
	})
	defer r.Close()
	w := client.Writer(topic)
	defer w.Close()

	// Idle fetches for a few seconds (each answered lateBy after its
	// wait), then a record: it must come promptly, on the same
	// connection.
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	got := make(chan time.Time, 1)
	go func() {
		if _, err := r.FetchMessage(rctx); err == nil {
			got <- time.Now()
		}
		close(got)
	}()
	time.Sleep(4 * time.Second)
	sent := time.Now()
	testenv.Must(t, w.WriteMessages(ctx, kafka.Message{Key: []byte("k"), Value: []byte("v")}), "produce")
	at, ok := <-got
	if !ok {
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("the reader never delivered the record; %d reader errors, the first: %q", len(errs), errs[:min(len(errs), 1)])
	}
	// At worst the fetch in flight ends (maxWait, answered lateBy late)
	// before the next one finds the record.
	if d := at.Sub(sent); d > maxWait+lateBy+2*time.Second {
		t.Errorf("the record took %s to arrive", d)
	}

	fetches, waits, dials := late.stats()
	t.Logf("%d fetches, broker asked to wait %v, %d fetch connections, reader errors: %d", fetches, waits, dials, len(errs))
	if fetches < 3 {
		t.Fatalf("only %d fetches were answered late: the test did not test", fetches)
	}
	for w := range waits {
		if w > maxWait || w < maxWait/2 {
			t.Errorf("the broker was asked to hold a fetch %v, want about MaxWait (%v)", w, maxWait)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, e := range errs {
		t.Errorf("reader error: %s", e)
	}
	if dials > 1 {
		t.Errorf("%d connections fetched: the reader dropped its connection", dials)
	}
}

// lateFetches wraps connections so that the answer to each fetch request
// reaches the client `by` after the broker sent it, honoring the client's
// read deadline as a slow network or a busy broker would.
type lateFetches struct {
	by     time.Duration
	mu     sync.Mutex
	waits  map[time.Duration]bool
	n      int
	fconns int
}

func (l *lateFetches) wrap(c net.Conn) net.Conn { return &lateConn{Conn: c, l: l} }

func (l *lateFetches) stats() (int, map[time.Duration]bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n, l.waits, l.fconns
}

type lateConn struct {
	net.Conn
	l *lateFetches

	mu        sync.Mutex
	deadline  time.Time
	fetching  bool // a fetch request was written: its answer is due
	fetched   bool // this connection has sent a fetch
	held      []byte
	releaseAt time.Time
}

func (c *lateConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
	return c.Conn.SetDeadline(t)
}

func (c *lateConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
	return c.Conn.SetReadDeadline(t)
}

// Write notes fetch requests: size, api key 1 (Fetch), version, correlation
// id, client id, replica id, then the max wait in ms.
func (c *lateConn) Write(p []byte) (int, error) {
	if len(p) >= 14 && binary.BigEndian.Uint16(p[4:6]) == 1 {
		idLen := int(int16(binary.BigEndian.Uint16(p[12:14])))
		off := 14 + max(idLen, 0) + 4
		c.mu.Lock()
		first := !c.fetched
		c.fetching, c.fetched = true, true
		c.mu.Unlock()
		if len(p) >= off+4 {
			wait := time.Duration(binary.BigEndian.Uint32(p[off:off+4])) * time.Millisecond
			c.l.mu.Lock()
			if c.l.waits == nil {
				c.l.waits = map[time.Duration]bool{}
			}
			// kafka-go rounds down to whole milliseconds from its deadline.
			c.l.waits[wait.Truncate(10*time.Millisecond)] = true
			c.l.n++
			if first {
				c.l.fconns++
			}
			c.l.mu.Unlock()
		}
	}
	return c.Conn.Write(p)
}

func (c *lateConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	if len(c.held) == 0 {
		fetching := c.fetching
		c.mu.Unlock()
		n, err := c.Conn.Read(p)
		if !fetching || n == 0 {
			return n, err
		}
		c.mu.Lock()
		c.fetching = false
		c.held = append(c.held[:0], p[:n]...)
		c.releaseAt = time.Now().Add(c.l.by)
	}
	release, deadline := c.releaseAt, c.deadline
	c.mu.Unlock()
	if !deadline.IsZero() && deadline.Before(release) {
		time.Sleep(time.Until(deadline))
		return 0, &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
	}
	time.Sleep(time.Until(release))
	c.mu.Lock()
	defer c.mu.Unlock()
	n := copy(p, c.held)
	c.held = c.held[n:]
	return n, nil
}
