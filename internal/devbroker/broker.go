// Package devbroker runs an embedded, single-node Kafka-protocol broker
// (franz-go's kfake) for development and tests. It persists topics, records
// and committed group offsets in a data directory, so it survives restarts.
//
// It sits where a real Kafka cluster sits in production: every other part
// of askonce talks to it over the Kafka protocol only (through
// internal/bus), never through Go calls, so nothing changes when
// kafka.brokers points at a real cluster.
package devbroker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Config is the embedded broker's configuration (broker.* in the
// configuration).
type Config struct {
	// Listen is the host:port the broker binds and advertises.
	Listen string
	// DataDir holds topics, records and group offsets across restarts.
	DataDir string
	// SyncWrites fsyncs every produced batch: slower, but nothing
	// acknowledged is lost on a machine crash.
	SyncWrites bool
	// DefaultPartitions for topics auto-created by clients.
	DefaultPartitions int
	// SASL makes the broker require SASL with one superuser.
	SASL SASL
	// ACLs makes the broker authorize every request by its ACLs (needs
	// SASL): only the superuser bypasses them. The ACLs and the SCRAM
	// credentials created by clients persist in DataDir.
	ACLs bool
	// TLSCertFile and TLSKeyFile make the broker speak TLS only.
	TLSCertFile, TLSKeyFile string
}

// SASL is the broker's one superuser: Mechanism plain, scram-sha-256 or
// scram-sha-512 ("" or none: no SASL).
type SASL struct {
	Mechanism, Username, Password string
}

// Broker is a running embedded broker.
type Broker struct {
	cluster *kfake.Cluster
	addr    string
	lock    *os.File
	log     *slog.Logger
}

// Start binds cfg.Listen, loads any state persisted in cfg.DataDir and
// serves the Kafka protocol until Close. Two brokers can not share a data
// directory: the second fails with a clear error.
func Start(cfg Config, log *slog.Logger) (*Broker, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	host, portStr, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("devbroker: listen address %q: %w", cfg.Listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("devbroker: listen port %q: %w", portStr, err)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("devbroker: data dir: %w", err)
	}
	lock, err := lockDir(cfg.DataDir)
	if err != nil {
		return nil, err
	}

	opts := []kfake.Opt{
		kfake.Ports(port),
		// kfake binds 127.0.0.1 itself; bind the configured host instead.
		// The broker advertises the address it bound.
		kfake.ListenFn(func(network, _ string) (net.Listener, error) {
			return net.Listen(network, net.JoinHostPort(host, strconv.Itoa(port)))
		}),
		kfake.DataDir(cfg.DataDir),
		kfake.ClusterID("askonce-dev"),
		kfake.DefaultNumPartitions(cfg.DefaultPartitions),
		kfake.WithLogger(kfakeLogger{log}),
	}
	if cfg.SyncWrites {
		opts = append(opts, kfake.SyncWrites())
	}
	if cfg.SASL.Mechanism != "" && cfg.SASL.Mechanism != "none" {
		opts = append(opts, kfake.EnableSASL(), kfake.Superuser(strings.ToUpper(cfg.SASL.Mechanism), cfg.SASL.Username, cfg.SASL.Password))
	} else if cfg.ACLs {
		_ = lock.Close()
		return nil, errors.New("devbroker: ACLs need SASL: without it no request has a principal but the anonymous one")
	}
	if cfg.ACLs {
		opts = append(opts, kfake.EnableACLs())
	}
	if cfg.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
		if err != nil {
			_ = lock.Close()
			return nil, fmt.Errorf("devbroker: load TLS key pair: %w", err)
		}
		opts = append(opts, kfake.TLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}))
	}

	cluster, err := kfake.NewCluster(opts...)
	if err != nil {
		_ = lock.Close()
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("devbroker: %s is already in use (another broker running? `askonce broker --listen` picks another address): %w", cfg.Listen, err)
		}
		return nil, fmt.Errorf("devbroker: start: %w", err)
	}
	addrs := cluster.ListenAddrs()
	b := &Broker{cluster: cluster, addr: addrs[0], lock: lock, log: log}
	log.Info("embedded Kafka broker listening", "addr", b.addr, "data_dir", cfg.DataDir,
		"sasl", cfg.SASL.Mechanism, "acls", cfg.ACLs, "tls", cfg.TLSCertFile != "", "sync_writes", cfg.SyncWrites)
	return b, nil
}

// Addr is the host:port clients bootstrap from.
func (b *Broker) Addr() string { return b.addr }

// Close stops accepting connections, flushes state to the data directory
// and releases it.
func (b *Broker) Close() {
	b.cluster.Close()
	_ = b.lock.Close()
	b.log.Info("embedded Kafka broker stopped", "addr", b.addr)
}

// lockDir takes an exclusive advisory lock on dir, so that a second broker
// can not corrupt the first one's files.
func lockDir(dir string) (*os.File, error) {
	p := filepath.Join(dir, ".askonce-broker.lock")
	f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("devbroker: lock %s: %w", p, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("devbroker: data dir %s is in use by another broker", dir)
	}
	return f, nil
}

type kfakeLogger struct{ log *slog.Logger }

func (l kfakeLogger) Logf(level kfake.LogLevel, msg string, args ...any) {
	var lv slog.Level
	switch level {
	case kfake.LogLevelError:
		lv = slog.LevelError
	case kfake.LogLevelWarn:
		lv = slog.LevelWarn
	case kfake.LogLevelInfo:
		// kfake logs every request at info: that is debug for us.
		lv = slog.LevelDebug
	default:
		lv = slog.LevelDebug - 4
	}
	if !l.log.Enabled(context.Background(), lv) {
		return
	}
	l.log.Log(context.Background(), lv, fmt.Sprintf(msg, args...), "component", "kfake")
}
