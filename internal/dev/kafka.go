package dev

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/askonce/askonce/internal/access"
	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/internal/config"
	"github.com/askonce/askonce/internal/wiring"
)

// BrokerAdmin is the superuser of the embedded broker of a dev run. It
// applies the access model; no component runs as it.
const BrokerAdmin = "admin"

// PasswordsDir is where a dev run keeps the Kafka passwords: one file per
// principal (and BrokerAdmin), named after it, mode 0600, created once and
// kept across runs.
func PasswordsDir(devDir string) string { return filepath.Join(devDir, "kafka-passwords") }

// kafkaIdentities are the Kafka principals of a dev run and their
// passwords.
type kafkaIdentities struct {
	dir   string
	admin config.SASL
	model access.Model
}

// brokerAdmin returns the superuser of the embedded broker: broker.sasl
// when configured, else BrokerAdmin with a password generated once.
func brokerAdmin(cfg *config.Config, dir string) (config.SASL, error) {
	if cfg.Broker.SASL.Mechanism != "" && cfg.Broker.SASL.Mechanism != "none" {
		return cfg.Broker.SASL, nil
	}
	pw, err := ensurePassword(dir, BrokerAdmin)
	if err != nil {
		return config.SASL{}, err
	}
	return config.SASL{Mechanism: "scram-sha-512", Username: BrokerAdmin, Password: pw}, nil
}

// applyAccess gives every principal of cfg's model a password (generated
// once), makes the broker's credentials and ACLs match the model as the
// superuser, and creates the topics as askonce-release.
func applyAccess(ctx context.Context, cfg *config.Config, dir string, admin config.SASL, log *slog.Logger) (*kafkaIdentities, error) {
	m, err := wiring.Access(cfg)
	if err != nil {
		return nil, err
	}
	for _, p := range m.Principals {
		if _, err := ensurePassword(dir, p.Name); err != nil {
			return nil, err
		}
	}
	id := &kafkaIdentities{dir: dir, admin: admin, model: m}
	ac, err := bus.New(wiring.Kafka(id.kafka(cfg, admin)))
	if err != nil {
		return nil, err
	}
	defer ac.Close()
	res, err := access.Apply(ctx, ac.Admin(), m, dir, log.With("component", "access"))
	if err != nil {
		return nil, fmt.Errorf("dev: apply the Kafka access model: %w", err)
	}
	log.Info("Kafka principals and ACLs applied", "principals", len(m.Principals), "acls_created", len(res.Created),
		"acls_kept", res.Kept, "acls_deleted", len(res.Deleted), "passwords_dir", dir)

	rel, err := id.as(cfg, access.ReleaseName)
	if err != nil {
		return nil, err
	}
	rc, err := bus.New(wiring.Kafka(rel.Kafka))
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	if _, err := rc.EnsureTopics(ctx, rc.Topics().Specs(), log); err != nil {
		return nil, fmt.Errorf("dev: create the topics as %s: %w", access.ReleaseName, err)
	}
	return id, nil
}

// kafka is cfg's Kafka client settings authenticating with s.
func (id *kafkaIdentities) kafka(cfg *config.Config, s config.SASL) config.Kafka {
	k := cfg.Kafka
	k.SASL = s
	return k
}

// as is a copy of cfg whose Kafka clients authenticate as principal and
// leave the topics to the release principal.
func (id *kafkaIdentities) as(cfg *config.Config, principal string) (*config.Config, error) {
	if _, ok := id.model.Find(principal); !ok {
		return nil, fmt.Errorf("dev: no Kafka principal %s in the access model", principal)
	}
	pw, err := access.ReadPassword(id.dir, principal)
	if err != nil {
		return nil, err
	}
	c := *cfg
	c.Kafka = id.kafka(cfg, config.SASL{Mechanism: "scram-sha-512", Username: principal, Password: pw})
	c.Kafka.Topics.CreateOnStart = false
	return &c, nil
}

// connect is the configuration of `askonce connect`: all the data
// centers' connectors run in one process, each authenticating as its own
// data center's principal (access.ConnectorName) with its password from
// the passwords directory (connect.sasl_password_dir); the process's own
// requests go as one of them.
func (id *kafkaIdentities) connect(cfg *config.Config) *config.Config {
	c := *cfg
	c.Kafka = id.kafka(cfg, config.SASL{Mechanism: "scram-sha-512"})
	c.Kafka.Topics.CreateOnStart = false
	c.Connect.SASLPasswordDir = id.dir
	return &c
}

// ensurePassword returns the password of name in dir, generating it (32
// random bytes, base64url) the first time.
func ensurePassword(dir, name string) (string, error) {
	pw, err := access.ReadPassword(dir, name)
	if err == nil {
		return pw, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("dev: %w", err)
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("dev: password: %w", err)
	}
	pw = base64.RawURLEncoding.EncodeToString(b)
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("dev: password of %s: %w", name, err)
	}
	if _, err := f.WriteString(pw + "\n"); err != nil {
		_ = f.Close()
		return "", fmt.Errorf("dev: password of %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("dev: password of %s: %w", name, err)
	}
	return pw, nil
}

// kcat is the start of a kcat command line that authenticates as the
// operator (who may read the dead-letter queue and describe every topic
// and group): the password is read from its file by the shell, never
// printed.
func kcat(brokers, pwDir string) string {
	return "kcat -b " + brokers + " -X security.protocol=SASL_PLAINTEXT -X sasl.mechanisms=SCRAM-SHA-512 -X sasl.username=" +
		access.OperatorName + ` -X sasl.password="$(cat ` + filepath.Join(pwDir, access.OperatorName) + `)"`
}

// askonceAs is the environment that makes an askonce command authenticate
// as principal, its password read from its file.
func askonceAs(pwDir, principal string) string {
	return "ASKONCE_KAFKA_SASL_MECHANISM=scram-sha-512 ASKONCE_KAFKA_SASL_USERNAME=" + principal +
		" ASKONCE_KAFKA_SASL_PASSWORD_FILE=" + filepath.Join(pwDir, principal)
}
