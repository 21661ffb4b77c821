package devbroker

import (
	"strings"
	"testing"
)

func TestDataDirIsExclusive(t *testing.T) {
	cfg := Config{DefaultPartitions: 12}
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	b, err := Start(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := Start(cfg, nil); err == nil || !strings.Contains(err.Error(), "in use by another broker") {
		t.Fatalf("second broker on the same data dir: err = %v", err)
	}
	other := cfg
	other.DataDir = t.TempDir()
	other.Listen = b.Addr()
	if _, err := Start(other, nil); err == nil || !strings.Contains(err.Error(), "already in use") {
		t.Fatalf("second broker on the same address: err = %v", err)
	}
}

func TestBadListen(t *testing.T) {
	cfg := Config{DefaultPartitions: 12}
	cfg.Listen = "nohostport"
	cfg.DataDir = t.TempDir()
	if _, err := Start(cfg, nil); err == nil {
		t.Fatal("bad listen address accepted")
	}
}
