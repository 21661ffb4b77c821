package dev_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl/scram"

	"github.com/askonce/askonce/internal/access"
	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/internal/config"
	"github.com/askonce/askonce/internal/dev"
	"github.com/askonce/askonce/internal/ops"
	"github.com/askonce/askonce/internal/registry"
	"github.com/askonce/askonce/internal/store"
	"github.com/askonce/askonce/internal/testenv"
	"github.com/askonce/askonce/internal/wiring"
	"github.com/askonce/askonce/schemas"
)

// TestDev runs `askonce dev` with a small population and asks every
// document type for every sample citizen: each answer must be the one the
// SQL oracle expects.
func TestDev(t *testing.T) {
	ctx := testenv.Ctx(t, 4*time.Minute)
	cfg := devConfig(testenv.Postgres(t), testenv.Postgres(t), t.TempDir(), filepath.Join(t.TempDir(), "keys"))
	cfg.Seed.Persons = 2500
	cfg.Seed.LiveRate = 20
	dir := t.TempDir()
	logs := &lockedBuffer{}
	log := ops.NewLogger(logs, "info", "json")

	type ready struct {
		api     string
		samples []dev.Sample
	}
	readyc := make(chan ready, 1)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	var out bytes.Buffer
	go func() {
		done <- dev.Run(runCtx, &cfg, dev.Options{Dir: dir, Out: &out, Progress: io.Discard,
			Ready: func(api string, s []dev.Sample) { readyc <- ready{api, s} }}, log)
	}()
	var r ready
	select {
	case r = <-readyc:
	case err := <-done:
		t.Fatalf("dev.Run ended before ready: %v", err)
	case <-ctx.Done():
		t.Fatal("dev never got ready")
	}
	if len(r.samples) < 4 {
		t.Fatalf("only %d sample citizens: %+v", len(r.samples), r.samples)
	}
	if _, err := os.Stat(filepath.Join(dir, "sample-citizens.json")); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out.Bytes(), []byte("curl -s "+r.api+"/v1/document-requests")) {
		t.Errorf("banner lacks a curl example:\n%s", out.String())
	}
	if !bytes.Contains(out.Bytes(), []byte("bin/askonce consume --agency cnr")) || !bytes.Contains(out.Bytes(), []byte("pensioners are in CNR's portfolio")) {
		t.Errorf("banner lacks the notifications line:\n%s", out.String())
	}
	for _, s := range r.samples {
		for _, a := range dev.Asks {
			body, _ := json.Marshal(map[string]string{"document_type": a.DocumentType, "nin": s.NIN, "purpose": a.Purpose, "clerk_id": "dev-test"})
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, r.api+"/v1/document-requests", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+a.Key)
			resp, err := http.DefaultClient.Do(req)
			testenv.Must(t, err, "request")
			var ans struct{ Outcome, Reason string }
			json.NewDecoder(resp.Body).Decode(&ans) //nolint:errcheck // checked below
			resp.Body.Close()
			got := ans.Outcome
			if ans.Outcome == "not_held" {
				got += "/" + ans.Reason
			}
			if want := s.Expected[a.DocumentType]; got != want {
				t.Errorf("%s %s: %s, want %s", s.Kind, a.DocumentType, got, want)
			}
		}
	}
	// The sources keep changing while the bus runs.
	time.Sleep(1500 * time.Millisecond)
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("dev.Run: %v", err)
		}
	case <-time.After(45 * time.Second):
		t.Fatal("dev did not stop within 45s of cancel")
	}

	// The whole run's logs at info level (seed, connectors with their
	// rejects, materializer, API, notifications) hold no NIN and no API key.
	text := logs.String()
	if !strings.Contains(text, `"level":"INFO"`) {
		t.Fatalf("no info-level log captured")
	}
	for _, s := range r.samples {
		if strings.Contains(text, s.NIN) {
			t.Errorf("sample citizen's NIN %s is in the logs", s.NIN)
		}
	}
	for _, a := range dev.Asks {
		if strings.Contains(text, a.Key) {
			t.Errorf("API key %s is in the logs", a.Key)
		}
	}
	for _, u := range []string{cfg.Postgres.URL, cfg.Connect.SourcesURL} {
		if pu, err := url.Parse(u); err == nil {
			if pw, ok := pu.User.Password(); ok && pw != "" && strings.Contains(text, pw) {
				t.Errorf("a PostgreSQL password is in the logs")
			}
		}
	}
	// The Kafka passwords: one file per principal, 0600, never logged.
	pwFiles, err := os.ReadDir(dev.PasswordsDir(dir))
	testenv.Must(t, err, "Kafka passwords")
	if len(pwFiles) != 33+5+7+1 {
		t.Errorf("%d Kafka password files, want 46 (45 principals and the broker's superuser)", len(pwFiles))
	}
	for _, f := range pwFiles {
		st, err := os.Stat(filepath.Join(dev.PasswordsDir(dir), f.Name()))
		testenv.Must(t, err, "password file")
		if st.Mode().Perm() != 0o600 {
			t.Errorf("password file %s has mode %v, want 0600", f.Name(), st.Mode().Perm())
		}
		pw, err := access.ReadPassword(dev.PasswordsDir(dir), f.Name())
		testenv.Must(t, err, "password")
		if strings.Contains(text, pw) || strings.Contains(out.String(), pw) {
			t.Errorf("the Kafka password of %s is in the logs or the banner", f.Name())
		}
	}
	if m := regexp.MustCompile(`(^|[^0-9A-Za-z])[0-9]{18}([^0-9A-Za-z]|$)`).FindString(text); m != "" {
		t.Errorf("an 18-digit number (a NIN?) is in the logs: %q", m)
	}
}

// devConfig is a dev run's configuration on free ports, with its store,
// sources, broker data and signing keys where given: a second run with the
// same places restarts the first.
func devConfig(storeURL, sourcesURL, brokerDir, keysDir string) config.Config {
	cfg := config.Default()
	cfg.Postgres.URL = storeURL
	cfg.Connect.SourcesURL = sourcesURL
	cfg.Broker.Listen = "127.0.0.1:0"
	cfg.Broker.DataDir = brokerDir
	cfg.Registry.Listen = "127.0.0.1:0"
	cfg.Lookup.Listen = "127.0.0.1:0"
	cfg.Lookup.SigningKeysDir = keysDir
	return cfg
}

// started is a dev run that got ready.
type started struct {
	api     string
	samples []dev.Sample
	out     *bytes.Buffer
	logs    *lockedBuffer
	stop    func()
}

// startDev runs dev.Run until ready, or fails the test. stop cancels the
// run and waits for it to end.
func startDev(t *testing.T, ctx context.Context, cfg *config.Config, dir string, within time.Duration) started {
	t.Helper()
	logs := &lockedBuffer{}
	type ready struct {
		api     string
		samples []dev.Sample
	}
	readyc := make(chan ready, 1)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	out := &bytes.Buffer{}
	go func() {
		done <- dev.Run(runCtx, cfg, dev.Options{Dir: dir, Out: out, Progress: io.Discard,
			Ready: func(api string, s []dev.Sample) { readyc <- ready{api, s} }}, ops.NewLogger(logs, "info", "json"))
	}()
	stop := func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("dev.Run: %v", err)
			}
		case <-time.After(45 * time.Second):
			t.Fatal("dev did not stop within 45s of cancel")
		}
	}
	select {
	case r := <-readyc:
		return started{api: r.api, samples: r.samples, out: out, logs: logs, stop: stop}
	case err := <-done:
		t.Fatalf("dev.Run ended before ready: %v\n%s", err, logs.String())
	case <-time.After(within):
		cancel()
		<-done
		t.Fatalf("dev not ready within %s:\n%s", within, logs.String())
	}
	return started{}
}

// A death act written for a demo data center by a producer that is not
// askonce's connector, through the registry, is in the store; the store
// then holds a record the synthetic sources do not. The next start still
// gets ready, and says so: the wait is for the sources' records only.
func TestDevRestartWithOutsideRecord(t *testing.T) {
	ctx := testenv.Ctx(t, 5*time.Minute)
	storeURL, brokerDir, keysDir, dir := testenv.Postgres(t), t.TempDir(), filepath.Join(t.TempDir(), "keys"), t.TempDir()
	cfg := devConfig(storeURL, storeURL, brokerDir, keysDir)
	cfg.Seed.Persons = 600
	cfg.Seed.LiveRate = 0
	first := startDev(t, ctx, &cfg, dir, 3*time.Minute)
	if strings.Contains(first.out.String(), "Outside records") {
		t.Errorf("a fresh start reports outside records:\n%s", first.out.String())
	}
	var nin string
	for _, s := range first.samples {
		if s.Kind == "living pensioner" {
			nin = s.NIN
		}
	}
	if nin == "" {
		t.Fatalf("no living pensioner among %+v", first.samples)
	}

	// The outside producer: its own Kafka writer, the registry's schema.
	rc, err := registry.NewClient(wiring.RegistryClient(cfg.Registry))
	testenv.Must(t, err, "registry client")
	codec := bus.NewCodec(rc, bus.CodecOptions{IsNotFound: registry.IsNotFound})
	topics := bus.NewTopics(wiring.Topics(cfg.Kafka.Topics))
	text, err := schemas.LatestText(strings.TrimPrefix(topics.CivilStatus, cfg.Kafka.Topics.Prefix))
	testenv.Must(t, err, "schema")
	_, err = codec.Use(ctx, topics.CivilStatus, text)
	testenv.Must(t, err, "codec")
	now := time.Now().UTC()
	key := "death/outside/" + strconv.FormatInt(now.UnixMilli(), 10)
	rec := &schemas.CivilStatusRecord{
		Provenance: schemas.Provenance{Agency: "etatcivil", DataCenter: "etatcivil-dc07", SourceKey: key, SourceVersion: 1,
			EventTime: now.Add(-time.Second).Truncate(time.Millisecond), Operation: "UPSERT"},
		NIN: nin, Kind: "DEATH",
		Death: &schemas.DeathAct{ActNumber: 9002, ActYear: now.Year(), ActCommune: nin[5:9],
			DateOfDeath: time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC), PlaceCommune: nin[5:9], MarginalNotes: []string{}},
	}
	value, err := codec.Encode(topics.CivilStatus, rec)
	testenv.Must(t, err, "encode")
	// It authenticates as the data center's connector principal: the
	// broker authorizes by ACLs, and only etatcivil's connectors may write
	// civil-status records.
	principal := access.ConnectorName("etatcivil", "etatcivil-dc07")
	pw, err := access.ReadPassword(dev.PasswordsDir(dir), principal)
	testenv.Must(t, err, "password of %s", principal)
	mech, err := scram.Mechanism(scram.SHA512, principal, pw)
	testenv.Must(t, err, "SCRAM")
	w := &kafka.Writer{Addr: kafka.TCP(cfg.Kafka.Brokers...), Topic: topics.CivilStatus, Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll,
		Transport: &kafka.Transport{SASL: mech}}
	testenv.Must(t, w.WriteMessages(ctx, kafka.Message{Key: []byte(nin), Value: value}), "produce")
	testenv.Must(t, w.Close(), "close writer")
	// Without credentials the broker lets nobody in.
	anon := &kafka.Writer{Addr: kafka.TCP(cfg.Kafka.Brokers...), Topic: topics.CivilStatus, Balancer: &kafka.Hash{}, MaxAttempts: 1}
	if err := anon.WriteMessages(ctx, kafka.Message{Key: []byte(nin), Value: value}); err == nil {
		t.Errorf("a producer without credentials wrote to %s", topics.CivilStatus)
	}
	_ = anon.Close()

	pool, err := store.OpenURL(ctx, storeURL, 2)
	testenv.Must(t, err, "store")
	defer pool.Close()
	deadline := time.Now().Add(time.Minute)
	for {
		var n int
		testenv.Must(t, pool.QueryRow(ctx, `SELECT count(*) FROM deaths WHERE data_center = 'etatcivil-dc07' AND source_key = $1`, key).Scan(&n), "store")
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the outside death act is not in the store after 1 min:\n%s", first.logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	first.stop()

	// The restart: the same store, sources and broker data.
	cfg2 := devConfig(storeURL, storeURL, brokerDir, keysDir)
	cfg2.Seed.Persons = 600
	cfg2.Seed.LiveRate = 0
	second := startDev(t, ctx, &cfg2, dir, 2*time.Minute)
	second.stop()
	text = second.logs.String()
	for _, want := range []string{`"outside_records":1`, "outside records: 1 stored record that the synthetic sources do not hold, written by producers outside the synthetic sources",
		"etatcivil-dc07 " + key} {
		if !strings.Contains(text, want) {
			t.Errorf("the restart's logs lack %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, `"level":"WARN","msg":"the start is waiting`) {
		t.Errorf("the restart warned of a stalled start:\n%s", text)
	}
	if !strings.Contains(second.out.String(), "Outside records: 1 stored record that the synthetic sources do not hold") {
		t.Errorf("the banner does not report the outside record:\n%s", second.out.String())
	}
	if strings.Contains(text, nin) {
		t.Errorf("the NIN is in the logs")
	}
}

// lockedBuffer collects a logger's output from many goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
