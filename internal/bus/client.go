// Package bus is askonce's only door to Kafka: it builds every connection
// (TLS, SASL), names and creates the topics, and hands out kafka-go writers
// and group readers configured the same way. Connectors produce through it,
// the materializer and the notification router consume through it.
package bus

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"

	"github.com/askonce/askonce/internal/config"
)

// Client holds the connection settings shared by every Kafka connection of
// a process. It is cheap to keep for the life of the process; writers and
// readers it creates must be closed by their owner.
type Client struct {
	cfg       config.Kafka
	brokers   []string
	transport *kafka.Transport
	dialer    *kafka.Dialer
	admin     *kafka.Client
	topics    Topics
}

// New validates the TLS and SASL settings (reading certificate files now,
// so that a bad path fails at start) and returns a client.
func New(cfg config.Kafka) (*Client, error) {
	tlsCfg, err := tlsConfig(cfg.TLS)
	if err != nil {
		return nil, err
	}
	mech, err := saslMechanism(cfg.SASL)
	if err != nil {
		return nil, err
	}
	brokers := make([]string, len(cfg.Brokers))
	for i, b := range cfg.Brokers {
		brokers[i] = strings.TrimSpace(b)
	}
	netDialer := &net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: 30 * time.Second}
	transport := &kafka.Transport{
		Dial:        netDialer.DialContext,
		DialTimeout: cfg.DialTimeout,
		ClientID:    cfg.ClientID,
		TLS:         tlsCfg,
		SASL:        mech,
		IdleTimeout: 5 * time.Minute,
		MetadataTTL: 30 * time.Second,
	}
	return &Client{
		cfg:       cfg,
		brokers:   brokers,
		transport: transport,
		dialer: &kafka.Dialer{
			ClientID:      cfg.ClientID,
			Timeout:       cfg.DialTimeout,
			DualStack:     true,
			TLS:           tlsCfg,
			SASLMechanism: mech,
			KeepAlive:     30 * time.Second,
		},
		admin: &kafka.Client{
			Addr:      kafka.TCP(brokers...),
			Transport: transport,
			Timeout:   cfg.DialTimeout + 20*time.Second,
		},
		topics: NewTopics(cfg.Topics),
	}, nil
}

// Topics are the names of the bus topics, with the configured prefix.
func (c *Client) Topics() Topics { return c.topics }

// Brokers are the bootstrap brokers.
func (c *Client) Brokers() []string { return c.brokers }

// Admin is a kafka-go client for protocol requests (metadata, offsets,
// topic administration) over the shared transport.
func (c *Client) Admin() *kafka.Client { return c.admin }

// Dialer is the dialer group readers use.
func (c *Client) Dialer() *kafka.Dialer { return c.dialer }

// Writer returns a producer for topic that waits for all in-sync replicas
// and partitions by key with Kafka's own murmur2 partitioner, so that a
// citizen's records land on the same partition whichever client (Java,
// .NET, Python or askonce) produced them. Tune batching on the result.
func (c *Client) Writer(topic string) *kafka.Writer {
	return &kafka.Writer{
		Addr:                   kafka.TCP(c.brokers...),
		Topic:                  topic,
		Transport:              c.transport,
		Balancer:               &PartitionBalancer{},
		RequiredAcks:           kafka.RequireAll,
		AllowAutoTopicCreation: false,
		BatchTimeout:           10 * time.Millisecond,
		MaxAttempts:            10,
		WriteBackoffMin:        100 * time.Millisecond,
		WriteBackoffMax:        2 * time.Second,
	}
}

// fetchGrace is how late a broker may answer a fetch, after the wait it
// was asked for, before a reader gives up on the connection (an i/o
// timeout: kafka-go logs "the kafka reader got an unknown error reading
// partition ...", closes the connection and dials again). It is kafka-go's
// defaultRTT (time.go), the largest round-trip allowance kafka-go keeps,
// so it can not be chosen freely (see Reader).
const fetchGrace = time.Second

// Reader returns a consumer configured with this client's brokers and
// dialer; rc names the group and topics. The owner commits offsets
// explicitly (CommitInterval 0) after its own work is durable.
//
// rc.MaxWait is how long the broker may hold a fetch that finds no new
// record (default 500 ms); the reader waits fetchGrace more for the
// answer. kafka-go keeps no such margin for a short MaxWait: its reader
// sets the read deadline MaxWait after it starts a fetch (reader.go,
// (*reader).read: conn.SetReadDeadline(t0.Add(r.maxWait))) and asks the
// broker to wait until that deadline less a round-trip allowance
// (conn.go, ReadBatchWith: adjustDeadlineForRTT(deadline, now,
// defaultRTT)), which is defaultRTT (1 s) when MaxWait is 1 s or more but
// a quarter of MaxWait below: 62 ms for the 250 ms of the materializer and
// the notification router. (ReadBatchTimeout does not help: it bounds the
// reading of a batch once its answer has begun.) Any answer later than
// that was an i/o timeout, a WARN and a new connection. The embedded
// broker of `askonce dev` answered later all through the initial load
// (issue 26: 40 to 260 such WARN lines per start; measured 40-340 ms
// late): kfake serves every request on one goroutine (cluster.go,
// (*Cluster).run), so an answer queues behind produce and fetch requests
// that took up to 190 ms each there; it starts a parked fetch's timer when
// it handles the request, not when it read it (01_fetch.go, handleFetch:
// time.AfterFunc(wait, w.cb)); and it shares its process and the machine's
// cores with the seeding, so its timers fired 40-55 ms late.
//
// So kafka-go is given MaxWait + fetchGrace (1 s or more): its allowance
// is then the full defaultRTT, the broker is asked to wait MaxWait, as the
// caller meant, and the read deadline is fetchGrace after that. A broker
// later than that is a genuine timeout, still logged. kafka-go's reader
// stats report MaxWait + fetchGrace.
func (c *Client) Reader(rc kafka.ReaderConfig) *kafka.Reader {
	rc.Brokers = c.brokers
	rc.Dialer = c.dialer
	if rc.MaxWait == 0 {
		rc.MaxWait = 500 * time.Millisecond
	}
	rc.MaxWait += fetchGrace
	return kafka.NewReader(rc)
}

// Ping asks the cluster for its metadata: the readiness check of every
// component that uses Kafka.
func (c *Client) Ping(ctx context.Context) error {
	resp, err := c.admin.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{}})
	if err != nil {
		return fmt.Errorf("bus: kafka metadata from %s: %w", strings.Join(c.brokers, ","), err)
	}
	if len(resp.Brokers) == 0 {
		return errors.New("bus: kafka cluster reports no brokers")
	}
	return nil
}

// Close releases idle connections.
func (c *Client) Close() { c.transport.CloseIdleConnections() }

func tlsConfig(t config.TLS) (*tls.Config, error) {
	if !t.Enabled {
		return nil, nil
	}
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         t.ServerName,
		InsecureSkipVerify: t.InsecureSkipVerify, //nolint:gosec // explicit, documented opt-in
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("bus: kafka.tls.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("bus: kafka.tls.ca_file %s holds no PEM certificate", t.CAFile)
		}
		cfg.RootCAs = pool
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("bus: kafka.tls client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

func saslMechanism(s config.SASL) (sasl.Mechanism, error) {
	switch s.Mechanism {
	case "", "none":
		return nil, nil
	case "plain":
		return plain.Mechanism{Username: s.Username, Password: s.Password}, nil
	case "scram-sha-256":
		m, err := scram.Mechanism(scram.SHA256, s.Username, s.Password)
		if err != nil {
			return nil, fmt.Errorf("bus: kafka.sasl: %w", err)
		}
		return m, nil
	case "scram-sha-512":
		m, err := scram.Mechanism(scram.SHA512, s.Username, s.Password)
		if err != nil {
			return nil, fmt.Errorf("bus: kafka.sasl: %w", err)
		}
		return m, nil
	default:
		return nil, fmt.Errorf("bus: kafka.sasl.mechanism %q is not supported", s.Mechanism)
	}
}
