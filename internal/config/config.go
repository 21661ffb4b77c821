// Package config is the configuration of every askonce component: one
// struct, loaded with viper from defaults < YAML file < ASKONCE_* environment
// < flags, validated at start (unknown keys and invalid values are errors
// that name the key), and printable with secrets redacted. It is not on
// the data path: it decides how each component is built and connected.
package config

import (
	"time"
)

// Config is the whole configuration of askonce. Every subcommand reads the
// same structure and uses the parts it needs. Field tags give the key used
// in YAML files, in ASKONCE_* environment variables (upper case, dots become
// underscores) and in `askonce config print`. Fields tagged secret are
// redacted wherever the configuration is shown. Every secret value X has a
// sibling X_file (ASKONCE_..._FILE): a file the value is read from, the
// form Kubernetes and compose secrets are mounted in (see Load).
type Config struct {
	Log         Log         `mapstructure:"log"`
	Ops         Ops         `mapstructure:"ops"`
	Kafka       Kafka       `mapstructure:"kafka"`
	Broker      Broker      `mapstructure:"broker"`
	Postgres    Postgres    `mapstructure:"postgres"`
	Registry    Registry    `mapstructure:"registry"`
	Rules       Rules       `mapstructure:"rules"`
	Connect     Connect     `mapstructure:"connect"`
	Materialize Materialize `mapstructure:"materialize"`
	Notify      Notify      `mapstructure:"notify"`
	Lookup      Lookup      `mapstructure:"lookup"`
	Seed        Seed        `mapstructure:"seed"`
}

// Log configures log/slog output.
type Log struct {
	// Level is one of debug, info, warn, error.
	Level string `mapstructure:"level"`
	// Format is auto (text on a terminal, JSON otherwise), text or json.
	Format string `mapstructure:"format"`
}

// Ops configures the operations HTTP server (/metrics, /healthz, /readyz)
// that every long-running subcommand starts.
type Ops struct {
	// Listen is host:port. Empty means the subcommand's own default port,
	// so that several components can run side by side on one machine.
	Listen string `mapstructure:"listen"`
	// ShutdownTimeout bounds the graceful shutdown of every component.
	ShutdownTimeout time.Duration `mapstructure:"shutdown_timeout"`
	// PprofListen, when set, serves Go's /debug/pprof/ profiles on this
	// address (a separate listener: keep it on loopback). Off by default.
	PprofListen string `mapstructure:"pprof_listen"`
}

// Kafka configures every Kafka connection of the product: producers,
// consumers and topic administration all use these settings.
type Kafka struct {
	// Brokers are the bootstrap brokers, host:port.
	Brokers []string `mapstructure:"brokers"`
	// ClientID is sent to the brokers and shows in their logs and quotas.
	ClientID    string        `mapstructure:"client_id"`
	DialTimeout time.Duration `mapstructure:"dial_timeout"`
	TLS         TLS           `mapstructure:"tls"`
	SASL        SASL          `mapstructure:"sasl"`
	Topics      Topics        `mapstructure:"topics"`
}

// TLS configures TLS for client connections.
type TLS struct {
	Enabled bool `mapstructure:"enabled"`
	// CAFile is a PEM bundle of the CAs that sign the brokers' certificates;
	// empty means the system roots.
	CAFile string `mapstructure:"ca_file"`
	// CertFile and KeyFile are the client certificate for mutual TLS.
	CertFile string `mapstructure:"cert_file"`
	KeyFile  string `mapstructure:"key_file" secret:"path"`
	// ServerName overrides the name checked in the broker's certificate.
	ServerName string `mapstructure:"server_name"`
	// InsecureSkipVerify disables certificate verification. Never in production.
	InsecureSkipVerify bool `mapstructure:"insecure_skip_verify"`
}

// SASL configures client authentication.
type SASL struct {
	// Mechanism is none, plain, scram-sha-256 or scram-sha-512.
	Mechanism string `mapstructure:"mechanism"`
	Username  string `mapstructure:"username"`
	Password  string `mapstructure:"password" secret:"true"`
	// PasswordFile is a file holding Password (see Load).
	PasswordFile string `mapstructure:"password_file"`
}

// Topics configures the names and shapes of the bus topics. They are
// created at start when missing.
type Topics struct {
	// Prefix is prepended to every topic name (for example to share a
	// cluster between environments, or to isolate tests).
	Prefix string `mapstructure:"prefix"`
	// CreateOnStart creates missing topics when a component starts. Turn it
	// off where topics are managed by the platform (Strimzi KafkaTopic).
	CreateOnStart     bool `mapstructure:"create_on_start"`
	ReplicationFactor int  `mapstructure:"replication_factor"`
	// RecordPartitions is the partition count of the three record topics.
	// Records are keyed by NIN, so this bounds consumer parallelism.
	RecordPartitions int `mapstructure:"record_partitions"`
	// RecordRetention of the record topics; 0 keeps records forever, which
	// lets a new materializer rebuild the lookup store from the topics.
	RecordRetention time.Duration `mapstructure:"record_retention"`
	DLQPartitions   int           `mapstructure:"dlq_partitions"`
	DLQRetention    time.Duration `mapstructure:"dlq_retention"`
	// The audit topic mirrors the hash-chained audit log; 0 keeps it forever.
	AuditPartitions  int           `mapstructure:"audit_partitions"`
	AuditRetention   time.Duration `mapstructure:"audit_retention"`
	NotifyPartitions int           `mapstructure:"notify_partitions"`
	NotifyRetention  time.Duration `mapstructure:"notify_retention"`
	// Agencies get one notification topic each: askonce.notify.<agency>.
	Agencies []string `mapstructure:"agencies"`
}

// Broker configures the embedded Kafka-protocol broker (dev and tests only).
type Broker struct {
	// Listen is the host:port the broker binds and advertises.
	Listen string `mapstructure:"listen"`
	// DataDir holds topics, records and group offsets across restarts.
	DataDir string `mapstructure:"data_dir"`
	// SyncWrites fsyncs every produced batch: slower, but nothing
	// acknowledged is lost on a machine crash.
	SyncWrites bool `mapstructure:"sync_writes"`
	// DefaultPartitions for topics auto-created by clients.
	DefaultPartitions int `mapstructure:"default_partitions"`
	// SASL makes the broker require SASL with one superuser.
	SASL SASL `mapstructure:"sasl"`
	// TLSCertFile and TLSKeyFile make the broker speak TLS only.
	TLSCertFile string `mapstructure:"tls_cert_file"`
	TLSKeyFile  string `mapstructure:"tls_key_file" secret:"path"`
}

// Postgres configures the PostgreSQL connection and the private dev instance.
type Postgres struct {
	// URL is a libpq connection URL. Empty means the private dev instance
	// (its URL, with its generated password, is read from Dev.Dir).
	URL string `mapstructure:"url" secret:"url"`
	// URLFile is a file holding URL (see Load).
	URLFile  string `mapstructure:"url_file"`
	MaxConns int    `mapstructure:"max_conns"`
	Dev      DevPG  `mapstructure:"dev"`
}

// DevPG configures the private PostgreSQL instance that askonce runs for
// development and tests (`askonce pg start`).
type DevPG struct {
	Dir  string `mapstructure:"dir"`
	Host string `mapstructure:"host"`
	Port int    `mapstructure:"port"`
	// BinDir holds initdb, pg_ctl and postgres; empty finds Debian's
	// postgresql-15 binaries.
	BinDir string `mapstructure:"bin_dir"`
	// Install lets askonce install Debian's postgresql-15 with apt-get when
	// the binaries are missing (needs root).
	Install bool `mapstructure:"install"`
}

// Registry configures the schema registry: where clients find it (any
// Confluent Schema Registry API: askonce's own, Confluent SR, Apicurio's
// ccompat API, Karapace) and how `askonce registry` serves it.
type Registry struct {
	// URL is the registry's base URL for every client of the product.
	URL string `mapstructure:"url"`
	// Username and Password are HTTP basic-auth credentials sent by clients;
	// `askonce registry` demands them when RequireAuth is set.
	Username string `mapstructure:"username"`
	Password string `mapstructure:"password" secret:"true"`
	// PasswordFile is a file holding Password (see Load).
	PasswordFile string `mapstructure:"password_file"`
	// Timeout bounds each registry request.
	Timeout time.Duration `mapstructure:"timeout"`
	// AutoRegister lets producers register their schema at start. Off where
	// schemas are registered by a release pipeline (`askonce schemas register`).
	AutoRegister bool `mapstructure:"auto_register"`
	// Listen is the address `askonce registry` serves on.
	Listen string `mapstructure:"listen"`
	// Compatibility is the server's global compatibility level until one is
	// set through PUT /config.
	Compatibility string `mapstructure:"compatibility"`
	// RequireAuth makes `askonce registry` demand basic auth with
	// Username/Password on every request except /healthz, /readyz and /metrics.
	RequireAuth bool `mapstructure:"require_auth"`
	// TLSCertFile and TLSKeyFile make `askonce registry` serve HTTPS only
	// (its basic-auth credential then never crosses the network in clear).
	TLSCertFile string `mapstructure:"tls_cert_file"`
	TLSKeyFile  string `mapstructure:"tls_key_file" secret:"path"`
	// CAFile is the PEM bundle the registry's clients trust for an https
	// registry.url (empty: the system's roots).
	CAFile string `mapstructure:"ca_file"`
}

// Rules configures the validation of records beyond their Avro types
// (schemas.Rules), applied by connectors before publishing and by the
// materializer before storing.
type Rules struct {
	// AllowSynthetic accepts synthetic persons (reserved commune block 99CC).
	// Dev, tests and pilots only: synthetic data must never mix with real.
	AllowSynthetic bool `mapstructure:"allow_synthetic"`
	// AllowPendingWilayas accepts wilaya codes 59-69 (approved, not yet law).
	AllowPendingWilayas bool `mapstructure:"allow_pending_wilayas"`
}

// Connect configures `askonce connect`: the connector instances it runs
// (one per agency data center and source kind) and how they batch and retry.
type Connect struct {
	// SourcesURL is the database of pgoutbox sources whose own url is empty,
	// and where `askonce seed` writes the synthetic agencies. Empty means the
	// private PostgreSQL's server, database askonce_sources.
	SourcesURL string `mapstructure:"sources_url" secret:"url"`
	// SourcesURLFile is a file holding SourcesURL (see Load).
	SourcesURLFile string `mapstructure:"sources_url_file"`
	// BatchSize is the most records a connector reads, publishes and
	// checkpoints at once; it bounds memory whatever the backlog.
	BatchSize int `mapstructure:"batch_size"`
	// PollInterval is how often an idle connector looks for new records.
	PollInterval time.Duration `mapstructure:"poll_interval"`
	// MaxBackoff caps the exponential backoff while a source or the broker is down.
	MaxBackoff time.Duration `mapstructure:"max_backoff"`
	// PruneAfter deletes outbox rows this long after they were published
	// (needs DELETE on askonce_outbox); 0 never prunes.
	PruneAfter time.Duration `mapstructure:"prune_after"`
	// SASLPasswordDir, when set, gives each agency data center's connector
	// its own Kafka identity: it authenticates with kafka.sasl.mechanism as
	// askonce-connect-<agency>-<dc> (access.ConnectorName) with the password
	// in the file of that name in this directory. Empty: every instance
	// uses kafka.sasl.
	SASLPasswordDir string `mapstructure:"sasl_password_dir"`
	// PGOutbox lists the transactional-outbox sources (set in the YAML file).
	PGOutbox []PGOutbox `mapstructure:"pgoutbox"`
	// CSVDrop lists the directories watched for legacy CSV exports.
	CSVDrop []CSVDrop `mapstructure:"csvdrop"`
}

// PGOutbox is one agency data center's database with an askonce_outbox.
type PGOutbox struct {
	Agency     string `mapstructure:"agency" yaml:"agency"`
	DataCenter string `mapstructure:"data_center" yaml:"data_center"`
	// URL of the agency database; empty means connect.sources_url.
	URL string `mapstructure:"url" yaml:"url" secret:"url"`
	// Schema holding askonce_outbox (search_path); empty means public.
	Schema string `mapstructure:"schema" yaml:"schema"`
}

// CSVDrop is one directory where a legacy system drops CSV exports.
type CSVDrop struct {
	Agency     string `mapstructure:"agency" yaml:"agency"`
	DataCenter string `mapstructure:"data_center" yaml:"data_center"`
	// Dir is watched for *.csv files; done/ and rejected/ are created in it.
	Dir string `mapstructure:"dir" yaml:"dir"`
}

// Materialize configures `askonce materialize`, which applies the record
// topics to the lookup store in PostgreSQL.
type Materialize struct {
	// GroupID is the Kafka consumer group; instances with the same group
	// share the partitions.
	GroupID string `mapstructure:"group_id"`
	// BatchSize is the most messages applied in one transaction.
	BatchSize int `mapstructure:"batch_size"`
	// BatchWait is how long a batch waits to fill after its first message.
	BatchWait time.Duration `mapstructure:"batch_wait"`
	// MaxBackoff caps the backoff while PostgreSQL, Kafka or the registry is down.
	MaxBackoff time.Duration `mapstructure:"max_backoff"`
	// StallTimeout: a consumer that has waited this long for a message
	// while its group has messages to read leaves the group and joins again.
	StallTimeout time.Duration `mapstructure:"stall_timeout"`
	// FrozenAfter: /readyz fails when no data center's watermark has
	// advanced for this long (the store stopped following its sources);
	// 0 disables the check.
	FrozenAfter time.Duration `mapstructure:"frozen_after"`
	// WatermarkHistory is how long every advance of a data center's
	// watermark is kept (store_watermark_history: what as_of a document
	// could claim when it was issued).
	WatermarkHistory time.Duration `mapstructure:"watermark_history"`
}

// Notify configures `askonce notify`, the router that turns record
// changes into notifications on askonce.notify.<agency> for the agencies
// whose portfolio holds the citizen.
type Notify struct {
	// GroupID is the router's own Kafka consumer group on the record and
	// portfolio topics; instances with the same group share the partitions.
	GroupID string `mapstructure:"group_id"`
	// BatchSize is the most messages routed in one PostgreSQL transaction.
	BatchSize int `mapstructure:"batch_size"`
	// BatchWait is how long a batch waits to fill after its first message.
	BatchWait time.Duration `mapstructure:"batch_wait"`
	// MaxBackoff caps the backoff while PostgreSQL, Kafka or the registry is down.
	MaxBackoff time.Duration `mapstructure:"max_backoff"`
}

// Lookup configures `askonce serve`, the lookup API for clerks and
// back-office systems.
type Lookup struct {
	// Listen is the address of the API (and of /metrics, /healthz, /readyz).
	Listen string `mapstructure:"listen"`
	// PolicyFile is the YAML policy: clients, their credentials, and which
	// document types each may ask for which purposes. Required: deny by default.
	PolicyFile string `mapstructure:"policy_file"`
	// PolicyPoll is how often the API looks whether the policy file
	// changed, and loads it when it did: a revoked key is refused within
	// this long, without SIGHUP or restart. 0: only on SIGHUP.
	PolicyPoll time.Duration `mapstructure:"policy_poll"`
	// DevMode accepts a policy marked dev_only (well-known dev API keys).
	// Never in production.
	DevMode bool `mapstructure:"dev_mode"`
	// StaleAfter, when set, replaces every document type's freshness bound
	// (the catalog's freshness_bound_seconds): an answer that reads a data
	// center whose watermark is older is source_stale. 0 (the default):
	// the catalog's bounds.
	StaleAfter time.Duration `mapstructure:"stale_after"`
	// DataCenters are the data centers the API expects to hear from, as
	// agency/data_center (cnas/cnas-dc03): until one has a watermark in the
	// store, no answer that reads its agency claims an as_of (source_stale).
	// Empty: the data centers the store holds records or watermarks of, so
	// one that has published nothing yet is not known to be missing.
	// `askonce dev` expects the seeded data centers.
	DataCenters []string `mapstructure:"data_centers"`
	// FrozenAfter: /readyz fails when no data center's watermark has
	// advanced for this long; 0 disables the check.
	FrozenAfter time.Duration `mapstructure:"frozen_after"`
	// SigningKeysDir holds the Ed25519 signing keys (askonce keys rotate).
	SigningKeysDir string `mapstructure:"signing_keys_dir"`
	// CreateSigningKey creates a first signing key when the directory has none.
	CreateSigningKey bool `mapstructure:"create_signing_key"`
	// RequestTimeout bounds each request, audit included.
	RequestTimeout time.Duration `mapstructure:"request_timeout"`
	// MaxBodyBytes bounds request bodies.
	MaxBodyBytes int64 `mapstructure:"max_body_bytes"`
	// PublicURL is the address clerks and verifiers reach the API at
	// (https://api.example), when a proxy terminates TLS in front of it:
	// the printed verification links and QR codes use it, and the
	// console's cookies are Secure when it is https. Empty: taken from
	// each request.
	PublicURL string `mapstructure:"public_url"`
	// TrustedProxies are the reverse proxies (CIDR prefixes or addresses)
	// whose forwarding header names the client, for the per-address
	// limits (console sign-in, /verify) and the logs: the right-most
	// address in it that is not itself a trusted proxy. Empty (the
	// default): the client is the TCP peer and the headers, which any
	// caller can write, are ignored.
	TrustedProxies []string `mapstructure:"trusted_proxies"`
	// ForwardedHeader is the header the trusted proxies write:
	// x-forwarded-for or forwarded (RFC 7239). Only that one is read: a
	// proxy that writes one passes the other, as the caller wrote it, on.
	ForwardedHeader string `mapstructure:"forwarded_header"`
	// TLSCertFile and TLSKeyFile make the API serve HTTPS; ClientCAFile
	// additionally accepts client certificates signed by that CA (mTLS),
	// matched to clients by their certificate fingerprint in the policy.
	TLSCertFile  string `mapstructure:"tls_cert_file"`
	TLSKeyFile   string `mapstructure:"tls_key_file" secret:"path"`
	ClientCAFile string `mapstructure:"client_ca_file"`
}

// Seed configures `askonce seed`, the synthetic agency sources.
type Seed struct {
	// Persons is the size of the synthetic population.
	Persons int `mapstructure:"persons"`
	// Seed makes the population deterministic: same seed, same rows.
	Seed int64 `mapstructure:"seed"`
	// Defects is the fraction of source rows made invalid on purpose (bad
	// NIN, future date, missing field, end before start), in [0, 0.5].
	Defects float64 `mapstructure:"defects"`
	// DataCenters per agency.
	DataCenters int `mapstructure:"data_centers"`
	// Months of monthly contributions generated, ending last month.
	Months int `mapstructure:"months"`
	// LiveRate is the changes per second `askonce seed --live` keeps making.
	LiveRate float64 `mapstructure:"live_rate"`
}

// Default returns the configuration used when nothing else is set: the
// embedded broker and the private PostgreSQL on this machine.
func Default() Config {
	return Config{
		Log: Log{Level: "info", Format: "auto"},
		Ops: Ops{ShutdownTimeout: 15 * time.Second},
		Kafka: Kafka{
			Brokers:     []string{"127.0.0.1:9092"},
			ClientID:    "askonce",
			DialTimeout: 10 * time.Second,
			SASL:        SASL{Mechanism: "none"},
			Topics: Topics{
				CreateOnStart:     true,
				ReplicationFactor: 1,
				RecordPartitions:  12,
				RecordRetention:   0,
				DLQPartitions:     3,
				DLQRetention:      30 * 24 * time.Hour,
				AuditPartitions:   3,
				NotifyPartitions:  3,
				NotifyRetention:   14 * 24 * time.Hour,
				Agencies:          []string{"cnr", "cnas", "casnos", "cnac", "anem", "cacobatph", "etatcivil"},
			},
		},
		Broker: Broker{
			Listen:            "127.0.0.1:9092",
			DataDir:           ".var/kafka",
			DefaultPartitions: 12,
			SASL:              SASL{Mechanism: "none"},
		},
		Postgres: Postgres{
			MaxConns: 32,
			Dev: DevPG{
				Dir:     ".var/pg",
				Host:    "127.0.0.1",
				Port:    55432,
				Install: true,
			},
		},
		Registry: Registry{
			URL:           "http://127.0.0.1:8081",
			Timeout:       10 * time.Second,
			AutoRegister:  true,
			Listen:        "127.0.0.1:8081",
			Compatibility: "BACKWARD",
		},
		Connect: Connect{
			BatchSize:    1000,
			PollInterval: 250 * time.Millisecond,
			MaxBackoff:   30 * time.Second,
		},
		Materialize: Materialize{
			GroupID:          "askonce-materialize",
			BatchSize:        2000,
			BatchWait:        100 * time.Millisecond,
			MaxBackoff:       30 * time.Second,
			StallTimeout:     time.Minute,
			FrozenAfter:      2 * time.Minute,
			WatermarkHistory: 7 * 24 * time.Hour,
		},
		Notify: Notify{
			GroupID:    "askonce-notify",
			BatchSize:  1000,
			BatchWait:  100 * time.Millisecond,
			MaxBackoff: 30 * time.Second,
		},
		Lookup: Lookup{
			Listen:           "127.0.0.1:8080",
			PolicyPoll:       5 * time.Second,
			ForwardedHeader:  "x-forwarded-for",
			FrozenAfter:      2 * time.Minute,
			SigningKeysDir:   ".var/keys",
			CreateSigningKey: false,
			RequestTimeout:   5 * time.Second,
			MaxBodyBytes:     16 << 10,
		},
		Seed: Seed{Persons: 100_000, Seed: 1, Defects: 0.01, DataCenters: 11, Months: 12, LiveRate: 5},
	}
}
