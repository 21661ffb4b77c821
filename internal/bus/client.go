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
)

// Client holds the connection settings shared by every Kafka connection of
// a process. It is cheap to keep for the life of the process; writers and
// readers it creates must be closed by their owner.
type Client struct {
	cfg       Config
	brokers   []string
	transport *kafka.Transport
	dialer    *kafka.Dialer
	admin     *kafka.Client
	topics    Topics
}

// New validates the TLS and SASL settings (reading certificate files now,
// so that a bad path fails at start) and returns a client.
func New(cfg Config) (*Client, error) {
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
			TLS:           tlsCfg,
			SASLMechanism: mech,
			// The readers' connections, with readerGrace on their
			// deadlines (netDialer keeps them alive every 30 s).
			DialFunc: func(ctx context.Context, network, address string) (net.Conn, error) {
				conn, err := netDialer.DialContext(ctx, network, address)
				if err != nil {
					return nil, err
				}
				return graceConn{conn}, nil
			},
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

// readerGrace is how much later than kafka-go's deadlines a reader's
// connection gives up on the broker: an answer later still is an i/o
// timeout, which kafka-go logs ("the kafka reader got an unknown error
// reading partition ...", a WARN of the materializer), and the connection
// is closed and dialed again. It is franz-go's request timeout overhead
// (kgo.RequestTimeoutOverhead), which likewise deadlines a fetch at its
// max wait plus 10 s; Java's consumer waits 30 s (request.timeout.ms).
//
// kafka-go's own margin is thin. Its reader sets the deadline of a fetch
// MaxWait after it starts it (reader.go, (*reader).read:
// conn.SetReadDeadline(t0.Add(r.maxWait))), for writing the request as
// well as reading the answer, and asks the broker to wait until that
// deadline less a round-trip allowance (conn.go, ReadBatchWith:
// adjustDeadlineForRTT(deadline, now, defaultRTT)): 1 s when MaxWait is
// 1 s or more, a quarter of MaxWait below, which is 62 ms for the 250 ms
// of the materializer and the notification router. The embedded broker of
// `askonce dev` answered later than that all through the initial load
// (issue 26: 40 to 1,050 such WARN lines per start; answers measured 40 to
// 340 ms late, more under the race detector): kfake serves every request
// on one goroutine (cluster.go, (*Cluster).run), so an answer queues
// behind produce and fetch requests that took up to 190 ms each there
// (570 ms with the machine overloaded); it starts a parked fetch's timer
// when it handles the request, not when it read it (01_fetch.go,
// handleFetch: time.AfterFunc(wait, w.cb)); and it shares its process and
// the machine's cores with the seeding, so its timers fired 40-55 ms late.
// A larger ReadBatchTimeout does not help: it bounds the reading of a
// batch once its answer has begun.
const readerGrace = 10 * time.Second

// graceConn is a reader's connection: every deadline kafka-go sets on it is
// readerGrace later on the socket. kafka-go still computes the broker's
// fetch wait from its own deadline, so fetches wait as configured.
type graceConn struct{ net.Conn }

func (c graceConn) SetDeadline(t time.Time) error      { return c.Conn.SetDeadline(graceLater(t)) }
func (c graceConn) SetReadDeadline(t time.Time) error  { return c.Conn.SetReadDeadline(graceLater(t)) }
func (c graceConn) SetWriteDeadline(t time.Time) error { return c.Conn.SetWriteDeadline(graceLater(t)) }

func graceLater(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.Add(readerGrace)
}

// Reader returns a consumer configured with this client's brokers and
// dialer; rc names the group and topics. The owner commits offsets
// explicitly (CommitInterval 0) after its own work is durable. rc.MaxWait
// (default 500 ms) bounds how long the broker holds a fetch that finds no
// new record; the broker may answer readerGrace late before the reader
// gives up on it.
func (c *Client) Reader(rc kafka.ReaderConfig) *kafka.Reader {
	rc.Brokers = c.brokers
	rc.Dialer = c.dialer
	if rc.MaxWait == 0 {
		rc.MaxWait = 500 * time.Millisecond
	}
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

func tlsConfig(t TLS) (*tls.Config, error) {
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

func saslMechanism(s SASL) (sasl.Mechanism, error) {
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
