package bus_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/segmentio/kafka-go"

	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/internal/devbroker"
	"github.com/askonce/askonce/internal/testenv"
	"github.com/askonce/askonce/internal/wiring"
)

// TestFoundation is the acceptance test of the foundation: the private
// PostgreSQL answers; the embedded broker takes the askonce topics; kafka-go
// produces and a group reader consumes and commits; after a broker restart
// on the same data dir the same records and the group's offsets are back;
// kcat, an independent Kafka client, sees the topics and the records.
func TestFoundation(t *testing.T) {
	ctx := testenv.Ctx(t, 3*time.Minute)

	// The private PostgreSQL.
	conn, err := pgx.Connect(ctx, testenv.Postgres(t))
	testenv.Must(t, err, "connect to private PostgreSQL")
	var ver int
	testenv.Must(t, conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&ver), "server version")
	_ = conn.Close(ctx)
	if ver < 150000 {
		t.Fatalf("private PostgreSQL is version %d, want 15+", ver)
	}

	// The embedded broker and the topics.
	b := testenv.StartBroker(t, nil)
	client, err := bus.New(wiring.Kafka(b.Kafka()))
	testenv.Must(t, err, "bus client")
	defer client.Close()
	specs := client.Topics().Specs()
	res, err := client.EnsureTopics(ctx, specs, nil)
	testenv.Must(t, err, "ensure topics")
	if len(res.Created) != len(specs) || len(specs) != 19 {
		t.Fatalf("created %d topics of %d specs, want 19", len(res.Created), len(specs))
	}
	res, err = client.EnsureTopics(ctx, specs, nil)
	testenv.Must(t, err, "ensure topics again")
	if len(res.Created) != 0 || len(res.Existed) != len(specs) {
		t.Fatalf("second ensure created %v, want none", res.Created)
	}
	assertTopics(t, ctx, client, specs)

	// Produce 120 records for 30 citizens, 4 each: a citizen's records
	// must share one partition, in order.
	topic := client.Topics().CivilStatus
	w := client.Writer(topic)
	var msgs []kafka.Message
	for i := 0; i < 120; i++ {
		nin := fmt.Sprintf("1099916%011d", i%30)
		msgs = append(msgs, kafka.Message{Key: []byte(nin), Value: []byte(fmt.Sprintf("record-%03d", i))})
	}
	testenv.Must(t, w.WriteMessages(ctx, msgs...), "produce")
	testenv.Must(t, w.Close(), "close writer")

	// A group reader consumes 70 and commits them.
	const group = "it-foundation"
	const firstRead = 70
	if lag, err := client.GroupLag(ctx, group, []string{topic}); err != nil || lag != 120 {
		t.Fatalf("lag of a group that committed nothing: %d, %v; want 120", lag, err)
	}
	r := client.Reader(kafka.ReaderConfig{GroupID: group, GroupTopics: []string{topic}, StartOffset: kafka.FirstOffset})
	seen := map[string]bool{}
	partOf := map[string]int{}
	for i := 0; i < firstRead; i++ {
		m, err := r.FetchMessage(ctx)
		testenv.Must(t, err, "fetch %d", i)
		seen[string(m.Value)] = true
		if p, ok := partOf[string(m.Key)]; ok && p != m.Partition {
			t.Errorf("citizen %s on partitions %d and %d", m.Key, p, m.Partition)
		}
		partOf[string(m.Key)] = m.Partition
		testenv.Must(t, r.CommitMessages(ctx, m), "commit")
	}
	testenv.Must(t, r.Close(), "close reader")
	committedBefore := committed(t, ctx, client, group, topic)
	if committedBefore != firstRead {
		t.Fatalf("group committed %d records before restart, want %d", committedBefore, firstRead)
	}
	if lag, err := client.GroupLag(ctx, group, []string{topic}); err != nil || lag != 120-firstRead {
		t.Fatalf("lag after %d commits: %d, %v; want %d", firstRead, lag, err, 120-firstRead)
	}

	// Restart the broker on the same data dir.
	b.Restart()
	client2, err := bus.New(wiring.Kafka(b.Kafka()))
	testenv.Must(t, err, "bus client after restart")
	defer client2.Close()
	assertTopics(t, ctx, client2, specs)

	if got := committed(t, ctx, client2, group, topic); got != committedBefore {
		t.Fatalf("group offsets after restart sum to %d, want %d", got, committedBefore)
	}
	if got := readAll(t, ctx, client2, topic); len(got) != len(msgs) {
		t.Fatalf("after restart the topic holds %d records, want %d", len(got), len(msgs))
	} else {
		for _, m := range msgs {
			if !got[string(m.Value)] {
				t.Fatalf("record %s lost in restart", m.Value)
			}
		}
	}

	// The group resumes where it committed: exactly the rest, no repeats.
	r2 := client2.Reader(kafka.ReaderConfig{GroupID: group, GroupTopics: []string{topic}, StartOffset: kafka.FirstOffset})
	for i := 0; i < len(msgs)-firstRead; i++ {
		m, err := r2.FetchMessage(ctx)
		testenv.Must(t, err, "fetch after restart %d", i)
		if seen[string(m.Value)] {
			t.Fatalf("record %s delivered again after its offset was committed", m.Value)
		}
		seen[string(m.Value)] = true
		testenv.Must(t, r2.CommitMessages(ctx, m), "commit")
	}
	testenv.Must(t, r2.Close(), "close reader")
	if len(seen) != len(msgs) {
		t.Fatalf("group saw %d distinct records, want %d", len(seen), len(msgs))
	}

	// kcat, an independent client, lists the topics and reads the records.
	kcat := testenv.Need(t, "kcat")
	out, err := exec.CommandContext(ctx, kcat, "-b", b.Addr, "-L").CombinedOutput()
	testenv.Must(t, err, "kcat -L: %s", out)
	for _, s := range specs {
		if !strings.Contains(string(out), fmt.Sprintf("topic %q with %d partitions", s.Name, s.Partitions)) {
			t.Errorf("kcat -L does not list %s with %d partitions:\n%s", s.Name, s.Partitions, out)
		}
	}
	out, err = exec.CommandContext(ctx, kcat, "-b", b.Addr, "-C", "-t", topic, "-e", "-q", "-f", "%s\n").Output()
	testenv.Must(t, err, "kcat -C")
	if n := len(strings.Fields(string(out))); n != len(msgs) {
		t.Fatalf("kcat read %d records, want %d", n, len(msgs))
	}
}

func assertTopics(t *testing.T, ctx context.Context, c *bus.Client, specs []bus.Spec) {
	t.Helper()
	topics, err := c.ListTopics(ctx)
	testenv.Must(t, err, "list topics")
	for _, s := range specs {
		if topics[s.Name] != s.Partitions {
			t.Errorf("topic %s has %d partitions, want %d", s.Name, topics[s.Name], s.Partitions)
		}
	}
}

// committed sums the group's committed offsets over the topic's partitions.
func committed(t *testing.T, ctx context.Context, c *bus.Client, group, topic string) int64 {
	t.Helper()
	parts := make([]int, 12)
	for i := range parts {
		parts[i] = i
	}
	resp, err := c.Admin().OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: parts}})
	testenv.Must(t, err, "offset fetch")
	var sum int64
	for _, p := range resp.Topics[topic] {
		if p.Error != nil {
			t.Fatalf("offset fetch partition %d: %v", p.Partition, p.Error)
		}
		if p.CommittedOffset > 0 {
			sum += p.CommittedOffset
		}
	}
	return sum
}

// readAll reads every record of topic with partition readers (no group).
func readAll(t *testing.T, ctx context.Context, c *bus.Client, topic string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for p := 0; p < 12; p++ {
		r := c.Reader(kafka.ReaderConfig{Topic: topic, Partition: p})
		last, err := r.ReadLag(ctx)
		testenv.Must(t, err, "lag of partition %d", p)
		for i := int64(0); i < last; i++ {
			m, err := r.ReadMessage(ctx)
			testenv.Must(t, err, "read partition %d", p)
			out[string(m.Value)] = true
		}
		_ = r.Close()
	}
	return out
}

// TestSASLAndTLS proves that the client settings in configuration are the
// ones every connection uses: a broker that demands SCRAM over TLS accepts
// the configured client and refuses a wrong password or a missing CA.
func TestSASLAndTLS(t *testing.T) {
	ctx := testenv.Ctx(t, 2*time.Minute)
	certFile, keyFile := selfSigned(t)
	b := testenv.StartBroker(t, func(c *devbroker.Config) {
		c.SASL = devbroker.SASL{Mechanism: "scram-sha-512", Username: "askonce-bus", Password: "correct horse"}
		c.TLSCertFile, c.TLSKeyFile = certFile, keyFile
	})
	good := wiring.Kafka(b.Kafka())
	good.SASL = bus.SASL{Mechanism: "scram-sha-512", Username: "askonce-bus", Password: "correct horse"}
	good.TLS = bus.TLS{Enabled: true, CAFile: certFile}

	c, err := bus.New(good)
	testenv.Must(t, err, "client")
	defer c.Close()
	testenv.Must(t, c.Ping(ctx), "ping with good credentials")
	_, err = c.EnsureTopics(ctx, c.Topics().Specs(), nil)
	testenv.Must(t, err, "ensure topics over SASL+TLS")
	w := c.Writer(c.Topics().Employment)
	testenv.Must(t, w.WriteMessages(ctx, kafka.Message{Key: []byte("k"), Value: []byte("v")}), "produce over SASL+TLS")
	_ = w.Close()

	badPass := good
	badPass.SASL.Password = "wrong"
	noCA := good
	noCA.TLS.CAFile = ""
	for name, cfg := range map[string]bus.Config{"wrong password": badPass, "untrusted certificate": noCA} {
		c, err := bus.New(cfg)
		testenv.Must(t, err, "client")
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err = c.Ping(pctx)
		cancel()
		c.Close()
		if err == nil {
			t.Errorf("%s: ping succeeded, want a refusal", name)
		}
	}

	// A bad CA path fails at start, not at first use.
	missing := good
	missing.TLS.CAFile = filepath.Join(t.TempDir(), "none.pem")
	if _, err := bus.New(missing); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing CA file: err = %v, want not-exist", err)
	}
}

func selfSigned(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	testenv.Must(t, err, "key")
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "askonce test broker"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	testenv.Must(t, err, "certificate")
	kder, err := x509.MarshalECPrivateKey(key)
	testenv.Must(t, err, "marshal key")
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	testenv.Must(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600), "write cert")
	testenv.Must(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600), "write key")
	return certFile, keyFile
}
