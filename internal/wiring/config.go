package wiring

import (
	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/internal/config"
	"github.com/askonce/askonce/internal/devbroker"
	"github.com/askonce/askonce/internal/devpg"
	"github.com/askonce/askonce/internal/materialize"
	"github.com/askonce/askonce/internal/registry"
)

// The translations from the configuration's sections to the components' own
// config structs. A key added to a section that a component reads is added
// here too.

// DevPG is the private PostgreSQL's config (postgres.dev.*).
func DevPG(c config.DevPG) devpg.Config {
	return devpg.Config{Dir: c.Dir, Host: c.Host, Port: c.Port, BinDir: c.BinDir, Install: c.Install}
}

// Broker is the embedded broker's config (broker.*).
func Broker(c config.Broker) devbroker.Config {
	return devbroker.Config{
		Listen: c.Listen, DataDir: c.DataDir, SyncWrites: c.SyncWrites, DefaultPartitions: c.DefaultPartitions,
		SASL:        devbroker.SASL{Mechanism: c.SASL.Mechanism, Username: c.SASL.Username, Password: c.SASL.Password},
		TLSCertFile: c.TLSCertFile, TLSKeyFile: c.TLSKeyFile,
	}
}

// RegistryClient is a schema registry client's config (registry.url,
// username, password, timeout).
func RegistryClient(c config.Registry) registry.ClientConfig {
	return registry.ClientConfig{URL: c.URL, Username: c.Username, Password: c.Password, Timeout: c.Timeout, CAFile: c.CAFile}
}

// Kafka is the Kafka clients' config (kafka.*).
func Kafka(c config.Kafka) bus.Config {
	t := c.TLS
	return bus.Config{
		Brokers: c.Brokers, ClientID: c.ClientID, DialTimeout: c.DialTimeout,
		TLS: bus.TLS{Enabled: t.Enabled, CAFile: t.CAFile, CertFile: t.CertFile, KeyFile: t.KeyFile,
			ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify},
		SASL:   bus.SASL{Mechanism: c.SASL.Mechanism, Username: c.SASL.Username, Password: c.SASL.Password},
		Topics: Topics(c.Topics),
	}
}

// Topics is the topics' names and shapes (kafka.topics.*).
func Topics(c config.Topics) bus.TopicsConfig {
	return bus.TopicsConfig{
		Prefix: c.Prefix, CreateOnStart: c.CreateOnStart, ReplicationFactor: c.ReplicationFactor,
		RecordPartitions: c.RecordPartitions, RecordRetention: c.RecordRetention,
		DLQPartitions: c.DLQPartitions, DLQRetention: c.DLQRetention,
		AuditPartitions: c.AuditPartitions, AuditRetention: c.AuditRetention,
		NotifyPartitions: c.NotifyPartitions, NotifyRetention: c.NotifyRetention,
		Agencies: c.Agencies,
	}
}

// Materialize is the materializer's config (materialize.*; frozen_after is
// a readiness check of RunMaterializer, not the materializer's).
func Materialize(c config.Materialize) materialize.Config {
	return materialize.Config{GroupID: c.GroupID, BatchSize: c.BatchSize, BatchWait: c.BatchWait,
		MaxBackoff: c.MaxBackoff, StallTimeout: c.StallTimeout, WatermarkHistory: c.WatermarkHistory}
}
