package bus

import "time"

// Config is what every Kafka connection of a process shares (kafka.* in
// the configuration): producers, consumers and topic administration.
type Config struct {
	// Brokers are the bootstrap brokers, host:port.
	Brokers []string
	// ClientID is sent to the brokers and shows in their logs and quotas.
	ClientID    string
	DialTimeout time.Duration
	TLS         TLS
	SASL        SASL
	Topics      TopicsConfig
}

// TLS configures TLS for client connections; the zero value is plaintext.
type TLS struct {
	Enabled bool
	// CAFile is a PEM bundle of the CAs that sign the brokers' certificates;
	// empty means the system roots.
	CAFile string
	// CertFile and KeyFile are the client certificate for mutual TLS.
	CertFile, KeyFile string
	// ServerName overrides the name checked in the broker's certificate.
	ServerName string
	// InsecureSkipVerify disables certificate verification. Never in production.
	InsecureSkipVerify bool
}

// SASL configures client authentication; the zero value is none.
type SASL struct {
	// Mechanism is none (or ""), plain, scram-sha-256 or scram-sha-512.
	Mechanism          string
	Username, Password string
}

// TopicsConfig names and shapes the bus topics. Names depend on Prefix
// only; the zero value names the production topics.
type TopicsConfig struct {
	// Prefix is prepended to every topic name (to share a cluster between
	// environments, or to isolate tests).
	Prefix string
	// CreateOnStart creates missing topics when Open runs. Off where topics
	// are managed by the platform (Strimzi KafkaTopic).
	CreateOnStart     bool
	ReplicationFactor int
	// RecordPartitions is the partition count of the three record topics.
	// Records are keyed by NIN, so this bounds consumer parallelism.
	RecordPartitions int
	// RecordRetention of the record topics; 0 keeps records forever.
	RecordRetention time.Duration
	DLQPartitions   int
	DLQRetention    time.Duration
	// The audit topic mirrors the hash-chained audit log; 0 keeps it forever.
	AuditPartitions  int
	AuditRetention   time.Duration
	NotifyPartitions int
	NotifyRetention  time.Duration
	// Agencies get one notification topic each: askonce.notify.<agency>.
	Agencies []string
}
