package devbroker

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl/scram"
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

// A data directory written without SASL, then started with SASL and ACLs:
// the configured superuser logs in (kfake would otherwise take the
// directory's empty user list), and a changed superuser password is the
// one in force after a restart.
func TestSuperuserOverDataDir(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Listen: "127.0.0.1:0", DataDir: dir, DefaultPartitions: 1}
	b, err := Start(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	addr := b.Addr()
	b.Close()
	for _, pw := range []string{"first-password", "second-password"} {
		cfg := Config{Listen: addr, DataDir: dir, DefaultPartitions: 1, ACLs: true,
			SASL: SASL{Mechanism: "scram-sha-512", Username: "admin", Password: pw}}
		b, err := Start(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := ping(addr, "admin", pw); err != nil {
			t.Errorf("superuser with %s: %v", pw, err)
		}
		if pw == "second-password" {
			if err := ping(addr, "admin", "first-password"); !errors.Is(err, kafka.SASLAuthenticationFailed) {
				t.Errorf("the superuser's old password: %v, want SASL authentication failed", err)
			}
		}
		b.Close()
	}
	if _, err := Start(Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), ACLs: true}, nil); err == nil {
		t.Error("ACLs without SASL accepted")
	}
}

func ping(addr, user, pw string) error {
	mech, err := scram.Mechanism(scram.SHA512, user, pw)
	if err != nil {
		return err
	}
	c := &kafka.Client{Addr: kafka.TCP(addr), Timeout: 5 * time.Second, Transport: &kafka.Transport{SASL: mech}}
	_, err = c.Metadata(context.Background(), &kafka.MetadataRequest{Topics: []string{}})
	return err
}
