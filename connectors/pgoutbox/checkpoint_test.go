package pgoutbox

import (
	"log/slog"
	"testing"

	"github.com/askonce/askonce/connectors/connector"
	"github.com/askonce/askonce/internal/bus"
)

func TestSeqCheckpoint(t *testing.T) {
	o := NewOutbox(nil, Config{DataCenter: "cnas-dc01"}, bus.Topics{}, slog.New(slog.DiscardHandler))
	for _, seq := range []int64{0, 1, 4242, 1 << 40} {
		if got := o.Seq(SeqCheckpoint(seq)); got != seq {
			t.Errorf("seq %d came back as %d", seq, got)
		}
	}
	if got := o.Seq(nil); got != 0 {
		t.Errorf("no checkpoint: seq %d", got)
	}
	var _ connector.Sequenced = o
	var _ connector.Source = o
}
