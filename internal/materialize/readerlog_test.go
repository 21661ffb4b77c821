package materialize

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/internal/ops"
	"github.com/askonce/askonce/internal/testenv"
	"github.com/askonce/askonce/schemas"
)

// TestReaderErrorLog: what kafka-go reports through the reader's error
// logger is a WARN (an operator must see a consumer that is stuck), except
// the cancellation of a partition reader that a rebalance or Close
// stopped, which is no failure (issue 26: a healthy start logs no WARN).
func TestReaderErrorLog(t *testing.T) {
	b := testenv.StartBroker(t, nil)
	client, err := bus.New(bus.Config{Brokers: []string{b.Addr}})
	testenv.Must(t, err, "bus client")
	defer client.Close()
	var buf syncBuffer
	cfg := Config{BatchSize: 2000, BatchWait: 100 * time.Millisecond, MaxBackoff: 30 * time.Second, StallTimeout: time.Minute}
	cfg.GroupID = "reader-log-" + testenv.Random(3)
	m := New(cfg, &bus.Conn{Client: client}, nil, schemas.Rules{}, ops.NewRegistry(), ops.NewLogger(&buf, "debug", "json"))
	defer m.Close()

	el := m.rc.ErrorLogger
	el.Printf("error initializing the kafka reader for partition %d of %s: %s", 3, "askonce.civil-status.v1",
		fmt.Errorf("failed to dial: %w", context.Canceled))
	el.Printf("the kafka reader got an unknown error reading partition %d of %s at offset %d: %s", 6, "askonce.contribution.v1", 9681,
		&os.SyscallError{Syscall: "read", Err: os.ErrDeadlineExceeded})

	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		switch {
		case strings.Contains(l, "context canceled") && !strings.Contains(l, `"level":"DEBUG"`):
			t.Errorf("a canceled partition reader is logged above debug: %s", l)
		case strings.Contains(l, "unknown error reading partition 6") && !strings.Contains(l, `"level":"WARN"`):
			t.Errorf("a read that timed out is not a WARN: %s", l)
		}
	}
	if s := buf.String(); !strings.Contains(s, "context canceled") || !strings.Contains(s, "partition 6") {
		t.Errorf("the reader's error logger wrote:\n%s", s)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
