package csvdrop

import (
	"strings"
	"testing"
)

func TestFileCheckpoint(t *testing.T) {
	c := fileCheckpoint{sha: sha([]byte("birth")), records: 1234567}
	cp := c.encode()
	if len(cp) != 40 {
		t.Fatalf("%d bytes", len(cp))
	}
	if got := decodeCheckpoint(cp); got != c {
		t.Fatalf("decoded %+v, want %+v", got, c)
	}
	for _, cp := range [][]byte{nil, {}, []byte(strings.Repeat("x", 8)), make([]byte, 41)} {
		if got := decodeCheckpoint(cp); got != (fileCheckpoint{}) {
			t.Errorf("%x decoded as %+v", cp, got)
		}
	}
}
