package connectwire

import (
	"context"
	"crypto/pbkdf2"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl/scram"

	"github.com/askonce/askonce/connectors"
	"github.com/askonce/askonce/connectors/connector"
	"github.com/askonce/askonce/connectors/csvdrop"
	"github.com/askonce/askonce/internal/access"
	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/internal/config"
	"github.com/askonce/askonce/internal/dbroles"
	"github.com/askonce/askonce/internal/devbroker"
	"github.com/askonce/askonce/internal/ops"
	"github.com/askonce/askonce/internal/registry"
	"github.com/askonce/askonce/internal/testenv"
	"github.com/askonce/askonce/internal/wiring"
	"github.com/askonce/askonce/schemas"
)

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	testenv.Must(t, os.WriteFile(path, []byte(body), 0o600), "write %s", path)
}

// TestCredentials: each data center's password is read once from the file
// named after its principal, without the trailing newline; a missing or
// empty file is an error naming the file and the principal, and no error
// shows a password.
func TestCredentials(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "askonce-connect-cnas-dc01"), "pw-of-cnas-dc01\n")
	writeFile(t, filepath.Join(dir, "askonce-connect-etatcivil-dc07"), "pw-of-etatcivil\r\n")
	c := connectors.Config{
		PGOutbox: []connectors.PGOutbox{{Agency: "cnas", DataCenter: "cnas-dc01"}},
		CSVDrop: []connectors.CSVDrop{
			{Agency: "cnas", DataCenter: "cnas-dc01", Dir: "/x"}, // the same data center, another kind
			{Agency: "etatcivil", DataCenter: "etatcivil-dc07", Dir: "/y"},
		},
	}
	creds, err := credentials(dir, c)
	testenv.Must(t, err, "credentials")
	if len(creds) != 2 {
		t.Fatalf("%d credentials, want 2: %v", len(creds), creds)
	}
	if got := creds[dcKey{"cnas", "cnas-dc01"}]; got.principal != "askonce-connect-cnas-dc01" || got.password != "pw-of-cnas-dc01" {
		t.Errorf("cnas-dc01: %s %q", got.principal, got.password)
	}
	if got := creds[dcKey{"etatcivil", "etatcivil-dc07"}]; got.password != "pw-of-etatcivil" {
		t.Errorf("etatcivil-dc07: password %q", got.password)
	}
	if s := fmt.Sprint(creds); strings.Contains(s, "pw-of") {
		t.Errorf("a credential prints its password: %s", s)
	}

	c.CSVDrop = append(c.CSVDrop, connectors.CSVDrop{Agency: "casnos", DataCenter: "casnos-dc11", Dir: "/z"},
		connectors.CSVDrop{Agency: "cnr", DataCenter: "dc02", Dir: "/w"})
	writeFile(t, filepath.Join(dir, "askonce-connect-cnr-dc02"), "\n")
	_, err = credentials(dir, c)
	if err == nil {
		t.Fatal("a missing and an empty password file accepted")
	}
	for _, want := range []string{
		filepath.Join(dir, "askonce-connect-casnos-dc11") + " is missing", "principal askonce-connect-casnos-dc11",
		filepath.Join(dir, "askonce-connect-cnr-dc02") + " is empty", "principal askonce-connect-cnr-dc02",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "pw-of") {
		t.Errorf("the error shows a password: %v", err)
	}
}

// TestRunFailsWithoutPassword: a data center without its password file
// stops `askonce connect` at start, before PostgreSQL and the brokers are
// waited for (neither exists here).
func TestRunFailsWithoutPassword(t *testing.T) {
	ctx := testenv.Ctx(t, 30*time.Second)
	cfg := config.Default()
	cfg.Postgres.URL = "postgres://askonce@127.0.0.1:1/none"
	cfg.Kafka.Brokers = []string{"127.0.0.1:1"}
	cfg.Kafka.SASL = config.SASL{Mechanism: "scram-sha-256", Username: "u", Password: "p"}
	cfg.Connect.SASLPasswordDir = t.TempDir()
	cfg.Connect.CSVDrop = []config.CSVDrop{{Agency: "cnas", DataCenter: "cnas-dc01", Dir: t.TempDir()}}
	log := ops.NewLogger(io.Discard, "error", "json")
	reg := ops.NewRegistry()
	start := time.Now()
	err := Run(ctx, &cfg, reg, ops.NewServer(reg, log), log)
	if err == nil || !strings.Contains(err.Error(), "askonce-connect-cnas-dc01 is missing") || !strings.Contains(err.Error(), "principal askonce-connect-cnas-dc01") {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("failed after %s: it waited for something", d)
	}
}

// addSCRAMUser creates user with password on the broker at addr
// (SCRAM-SHA-256), as the superuser admin.
func addSCRAMUser(t *testing.T, ctx context.Context, addr string, admin config.SASL, user, password string) {
	t.Helper()
	mech, err := scram.Mechanism(scram.SHA256, admin.Username, admin.Password)
	testenv.Must(t, err, "scram")
	cl := &kafka.Client{Addr: kafka.TCP(addr), Timeout: 10 * time.Second, Transport: &kafka.Transport{SASL: mech}}
	salt := []byte("askonce-test-" + user)
	salted, err := pbkdf2.Key(sha256.New, password, salt, 4096, sha256.Size)
	testenv.Must(t, err, "pbkdf2")
	resp, err := cl.AlterUserScramCredentials(ctx, &kafka.AlterUserScramCredentialsRequest{Upsertions: []kafka.UserScramCredentialsUpsertion{
		{Name: user, Mechanism: kafka.ScramMechanismSha256, Iterations: 4096, Salt: salt, SaltedPassword: salted}}})
	testenv.Must(t, err, "create SCRAM user %s", user)
	for _, r := range resp.Results {
		testenv.Must(t, r.Error, "create SCRAM user %s", r.User)
	}
}

// TestOwnPrincipals runs `askonce connect` with connect.sasl_password_dir
// against a broker that requires SCRAM. kafka.sasl is the broker's
// superuser (the process's own identity); the broker also knows
// askonce-connect-cnas-dc01 and askonce-connect-cnas-dc02, each with its
// own password. Two CSV drop instances each drop a record: cnas-dc01,
// whose file holds its principal's password, publishes (it would not as
// the superuser with that password, nor as itself with the superuser's);
// cnas-dc02, whose file holds a wrong password, fails authentication and
// publishes nothing (it would have published with kafka.sasl), while
// cnas-dc01 goes on.
func TestOwnPrincipals(t *testing.T) {
	ctx := testenv.Ctx(t, 2*time.Minute)
	admin := config.SASL{Mechanism: "scram-sha-256", Username: "askonce-test-admin", Password: "admin horse"}
	broker := testenv.StartBroker(t, func(c *devbroker.Config) {
		c.SASL = devbroker.SASL{Mechanism: admin.Mechanism, Username: admin.Username, Password: admin.Password}
	})
	user, password := access.ConnectorName("cnas", "cnas-dc01"), "right horse battery"
	addSCRAMUser(t, ctx, broker.Addr, admin, user, password)
	addSCRAMUser(t, ctx, broker.Addr, admin, access.ConnectorName("cnas", "cnas-dc02"), "dc02 staple")
	cfg := config.Default()
	cfg.Kafka = broker.Kafka()
	cfg.Kafka.SASL = admin
	cfg.Registry.URL = testenv.StartRegistry(t)
	cfg.Postgres.URL = testenv.Database(t, connector.Migrate, csvdrop.Migrate).URL(dbroles.Connect)
	cfg.Rules.AllowSynthetic = true
	cfg.Connect.PollInterval = 50 * time.Millisecond
	cfg.Connect.MaxBackoff = time.Second
	pwDir, dir1, dir2 := t.TempDir(), t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(pwDir, "askonce-connect-cnas-dc01"), password+"\n")
	writeFile(t, filepath.Join(pwDir, "askonce-connect-cnas-dc02"), "not the password\n")
	cfg.Connect.SASLPasswordDir = pwDir
	cfg.Connect.CSVDrop = []config.CSVDrop{
		{Agency: "cnas", DataCenter: "cnas-dc01", Dir: dir1},
		{Agency: "cnas", DataCenter: "cnas-dc02", Dir: dir2},
	}
	nin := func(act int) string { return fmt.Sprintf("10985%s%05d0137", "9916", act) }
	affiliation := func(n string) string {
		return "id,version,nin,nss,fund,start_date,end_date,status,regime\n" +
			fmt.Sprintf("1,4,%s,1600123456,CNAS,2007-09-01,2019-12-31,CLOSED,SALARIE\n", n)
	}
	writeFile(t, filepath.Join(dir1, "affiliation-2026-01.csv"), affiliation(nin(42)))
	writeFile(t, filepath.Join(dir2, "affiliation-2026-01.csv"), affiliation(nin(43)))

	log := ops.NewLogger(io.Discard, "error", "json")
	reg := ops.NewRegistry()
	srv := ops.NewServer(reg, log)
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- Run(rctx, &cfg, reg, srv, log) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("connectwire.Run: %v", err)
		}
	})

	// cnas-dc01's file is published and checkpointed.
	report := filepath.Join(dir1, csvdrop.DoneDir, "affiliation-2026-01.csv.report.json")
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(report); err == nil {
			break
		}
		select {
		case err := <-done:
			done <- err // for the cleanup
			t.Fatalf("connectwire.Run returned: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("cnas-dc01's file was not published (readiness %v)", srv.Ready(ctx))
		}
		time.Sleep(50 * time.Millisecond)
	}

	// cnas-dc02 cannot authenticate: its connector is not ready, failing
	// to publish (the broker closes the connection on a failed SCRAM
	// exchange), and its file is still waiting.
	var connErr error
	deadline = time.Now().Add(30 * time.Second)
	for {
		connErr = srv.Ready(ctx)["connectors"]
		if connErr != nil && strings.Contains(connErr.Error(), "csvdrop:cnas-dc02: publish") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readiness of the connectors: %v; want cnas-dc02 failing to publish", connErr)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if strings.Contains(connErr.Error(), "cnas-dc01") {
		t.Errorf("cnas-dc01 not ready: %v", connErr)
	}
	if strings.Contains(connErr.Error(), "not the password") || strings.Contains(connErr.Error(), password) || strings.Contains(connErr.Error(), admin.Password) {
		t.Errorf("readiness shows a password: %v", connErr)
	}
	if _, err := os.Stat(filepath.Join(dir2, "affiliation-2026-01.csv")); err != nil {
		t.Errorf("cnas-dc02's file: %v, want it still waiting", err)
	}

	// The employment topic holds cnas-dc01's record only.
	rc, err := registry.NewClient(wiring.RegistryClient(cfg.Registry))
	testenv.Must(t, err, "registry")
	conn, err := wiring.OpenBus(ctx, &cfg, rc.Bus(), log)
	testenv.Must(t, err, "bus as %s", admin.Username)
	defer conn.Client.Close()
	topic := conn.Client.Topics().Employment
	r := conn.Client.Reader(kafka.ReaderConfig{GroupID: "test-own-principals", GroupTopics: []string{topic}, StartOffset: kafka.FirstOffset, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	var got []string
	for {
		mctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		m, err := r.FetchMessage(mctx)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			break
		}
		testenv.Must(t, err, "read %s", topic)
		if bus.IsWatermark(m) {
			continue
		}
		var rec schemas.EmploymentRecord
		_, err = conn.Codec.Decode(ctx, topic, m.Value, &rec)
		testenv.Must(t, err, "decode")
		got = append(got, rec.Provenance.DataCenter+" "+rec.NIN)
	}
	if len(got) != 1 || got[0] != "cnas-dc01 "+nin(42) {
		t.Errorf("records on %s: %v, want cnas-dc01's only", topic, got)
	}
}

// TestConfigCarriesEveryKey fills connect.* with non-zero values and checks
// that the connectors' Config has no zero field and as many fields as the
// section, less the keys Run reads itself, plus rules.* (as
// wiring.TestTranslationsCarryEveryField does for the other sections): a
// key added to one side only fails here.
func TestConfigCarriesEveryKey(t *testing.T) {
	cfg := config.Default()
	cfg.Rules = config.Rules{AllowSynthetic: true, AllowPendingWilayas: true}
	cfg.Connect = config.Connect{SourcesURL: "postgres://x/y", SourcesURLFile: "/f", BatchSize: 1, PollInterval: time.Second,
		MaxBackoff: time.Second, PruneAfter: time.Second, SASLPasswordDir: "/d",
		PGOutbox: []config.PGOutbox{{Agency: "cnas", DataCenter: "cnas-dc01", URL: "postgres://a/b", Schema: "s"},
			{Agency: "cnas", DataCenter: "cnas-dc02"}}, // url from connect.sources_url
		CSVDrop: []config.CSVDrop{{Agency: "cnas", DataCenter: "cnas-dc03", Dir: "/x"}}}
	out, err := Config(context.Background(), &cfg)
	testenv.Must(t, err, "config")
	var zero []string
	isZero := func(p string) {
		if p != ".Rules.Now" { // the rules' clock, not configuration
			zero = append(zero, p)
		}
	}
	nOut := leaves(reflect.ValueOf(out.PGOutbox[0]), "pgoutbox", isZero) + leaves(reflect.ValueOf(out.CSVDrop[0]), "csvdrop", isZero) +
		leaves(reflect.ValueOf(out), "", isZero) - 1 // Rules.Now
	if len(zero) > 0 {
		t.Errorf("not translated: %v", zero)
	}
	const ignored = 2 // sources_url_file (read into sources_url by config.Load), sasl_password_dir (Run's)
	const rules = 2   // rules.allow_synthetic, rules.allow_pending_wilayas
	nIn := leaves(reflect.ValueOf(cfg.Connect.PGOutbox[0]), "", nil) + leaves(reflect.ValueOf(cfg.Connect.CSVDrop[0]), "", nil) +
		leaves(reflect.ValueOf(cfg.Connect), "", nil)
	if nIn-ignored+rules != nOut {
		t.Errorf("%d keys (%d not carried) and %d rules but %d fields: a field is missing on one side", nIn, ignored, rules, nOut)
	}
}

// leaves counts the non-struct fields under v (a list and a time.Time
// count as one), calling zero with the path of each that holds its zero
// value.
func leaves(v reflect.Value, path string, zero func(string)) int {
	if v.Kind() != reflect.Struct || v.Type() == reflect.TypeFor[time.Time]() {
		if zero != nil && v.IsZero() {
			zero(path)
		}
		return 1
	}
	n := 0
	for i := range v.NumField() {
		n += leaves(v.Field(i), path+"."+v.Type().Field(i).Name, zero)
	}
	return n
}
