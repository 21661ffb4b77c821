package notify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/segmentio/kafka-go"

	"github.com/askonce/askonce/internal/audit"
	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/internal/config"
	"github.com/askonce/askonce/internal/dbroles"
	"github.com/askonce/askonce/internal/lookup"
	"github.com/askonce/askonce/internal/notify"
	"github.com/askonce/askonce/internal/ops"
	"github.com/askonce/askonce/internal/policy"
	"github.com/askonce/askonce/internal/portfolio"
	"github.com/askonce/askonce/internal/registry"
	"github.com/askonce/askonce/internal/testenv"
	"github.com/askonce/askonce/internal/wiring"
	"github.com/askonce/askonce/internal/wiring/migratewire"
	"github.com/askonce/askonce/schemas"
	"github.com/askonce/askonce/schemas/schematest"
)

// nin builds a synthetic NIN (commune block 99).
func nin(i int) string { return fmt.Sprintf("10%03d9916%05d0137", 950%1000, i) }

type harness struct {
	t      *testing.T
	ctx    context.Context
	cfg    config.Config
	conn   *bus.Conn
	pool   *pgxpool.Pool
	broker *testenv.Broker
	api    string
	policy *policy.Policy
	alog   *audit.Log
}

func setup(t *testing.T) *harness {
	ctx := testenv.Ctx(t, 3*time.Minute)
	h := &harness{t: t, ctx: ctx, broker: testenv.StartBroker(t, nil)}
	cfg := config.Default()
	cfg.Kafka = h.broker.Kafka()
	// The database as `askonce migrate` leaves it: the API runs as its
	// role, the router as its own.
	db := testenv.Database(t, migratewire.Migrations...)
	cfg.Postgres.URL = db.URL(dbroles.API)
	cfg.Registry.URL = testenv.StartRegistry(t)
	cfg.Rules.AllowSynthetic = true
	cfg.Notify.BatchSize = 5
	cfg.Notify.BatchWait = 20 * time.Millisecond
	cfg.Lookup.Listen = "127.0.0.1:0"
	cfg.Lookup.PolicyFile = filepath.Join(testenv.RepoRoot(t), "deploy", "devfiles", "policy.yaml")
	cfg.Lookup.DevMode = true
	cfg.Lookup.CreateSigningKey = true
	cfg.Lookup.SigningKeysDir = t.TempDir()
	h.cfg = cfg
	log := ops.NewLogger(io.Discard, "error", "json")
	rc, err := registry.NewClient(wiring.RegistryClient(cfg.Registry))
	testenv.Must(t, err, "registry")
	h.conn, err = wiring.OpenBus(ctx, &cfg, rc.Bus(), log)
	testenv.Must(t, err, "bus")
	t.Cleanup(h.conn.Client.Close)
	testenv.Must(t, notify.UseNotificationSchemas(ctx, h.conn, cfg.Kafka.Topics.Agencies), "notification schemas")
	testenv.Must(t, notify.UsePortfolioSchemas(ctx, h.conn, cfg.Kafka.Topics.Agencies), "portfolio schemas")
	h.pool = db.Pool(t, dbroles.Notify)
	h.policy, err = policy.Load(cfg.Lookup.PolicyFile, true, lookup.PolicyCatalog)
	testenv.Must(t, err, "policy")

	h.alog = audit.New(h.pool, audit.Options{}, nil, log)
	actx, stopAudit := context.WithCancel(context.Background())
	auditDone := make(chan error, 1)
	go func() { auditDone <- h.alog.Run(actx) }()

	runCtx, stop := context.WithCancel(ctx)
	apiDone := make(chan error, 1)
	addr := make(chan string, 1)
	go func() {
		reg := ops.NewRegistry()
		apiDone <- wiring.Serve(runCtx, &cfg, reg, ops.NewServer(reg, log), log, nil, nil, func(a string) { addr <- a })
	}()
	t.Cleanup(func() {
		stop()
		if err := <-apiDone; err != nil {
			t.Errorf("wiring.Serve: %v", err)
		}
		stopAudit()
		<-auditDone
	})
	select {
	case a := <-addr:
		h.api = "http://" + a
	case err := <-apiDone:
		t.Fatalf("wiring.Serve: %v", err)
	}
	return h
}

// slowAudit delays each append, so that a router stopped mid-stream is
// stopped in the middle of a batch.
type slowAudit struct {
	l     *audit.Log
	delay time.Duration
}

func (s slowAudit) Append(ctx context.Context, e audit.Entry) (audit.Entry, error) {
	select {
	case <-time.After(s.delay):
	case <-ctx.Done():
		return audit.Entry{}, ctx.Err()
	}
	return s.l.Append(ctx, e)
}

type running struct {
	rt   *notify.Router
	stop func()
}

func (h *harness) startRouter(group string, delay time.Duration) running {
	cfg := h.cfg.Notify
	cfg.GroupID = group
	log := ops.NewLogger(io.Discard, "error", "json")
	rt := notify.New(notify.Config(cfg), h.conn, h.pool, h.cfg.Kafka.Topics.Agencies, notify.Options{Policy: func() *policy.Policy { return h.policy },
		Audit: slowAudit{h.alog, delay}, Rules: schemas.Rules{AllowSynthetic: true}}, ops.NewRegistry(), log)
	ctx, cancel := context.WithCancel(h.ctx)
	done := make(chan error, 1)
	go func() { done <- rt.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				h.t.Errorf("router: %v", err)
			}
			rt.Close()
		})
	}
	h.t.Cleanup(stop)
	return running{rt, stop}
}

func (h *harness) do(method, path, key, contentType, body string) (int, map[string]any) {
	h.t.Helper()
	req, err := http.NewRequestWithContext(h.ctx, method, h.api+path, strings.NewReader(body))
	testenv.Must(h.t, err, "request")
	if body != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	testenv.Must(h.t, err, "%s %s", method, path)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

func death(n string, version int64, date time.Time) *schemas.CivilStatusRecord {
	d := schematest.Death()
	d.NIN = n
	d.Provenance.SourceKey = "death/" + n
	d.Provenance.SourceVersion = version
	if version > 1 {
		d.Provenance.Operation = schemas.OpCorrection
	}
	a := *d.Death
	a.DateOfDeath = date
	d.Death = &a
	return d
}

// produce writes civil-status records in one call, keyed by NIN.
func (h *harness) produce(recs ...*schemas.CivilStatusRecord) {
	h.t.Helper()
	topic := h.conn.Client.Topics().CivilStatus
	var msgs []kafka.Message
	for _, r := range recs {
		b, err := h.conn.Codec.Encode(topic, r)
		testenv.Must(h.t, err, "encode")
		msgs = append(msgs, kafka.Message{Topic: topic, Key: []byte(r.NIN), Value: b})
	}
	w := h.conn.Client.Writer("")
	defer w.Close()
	testenv.Must(h.t, w.WriteMessages(h.ctx, msgs...), "produce")
}

func (h *harness) notifications(agency string) []schemas.Notification {
	h.t.Helper()
	topic := h.conn.Client.Topics().Notify(agency)
	var out []schemas.Notification
	for _, m := range testenv.ReadTopic(h.t, h.ctx, h.broker.Addr, topic) {
		var n schemas.Notification
		_, err := h.conn.Codec.Decode(h.ctx, topic, m.Value, &n)
		testenv.Must(h.t, err, "decode notification")
		if string(m.Key) != n.NIN {
			h.t.Errorf("notification %s keyed %q, want its NIN", n.ID, m.Key)
		}
		out = append(out, n)
	}
	return out
}

// byID groups notifications by id; it fails when one id carries two
// different notifications.
func byID(t *testing.T, ns []schemas.Notification) map[string]schemas.Notification {
	t.Helper()
	out := map[string]schemas.Notification{}
	for _, n := range ns {
		if prev, ok := out[n.ID]; ok && (prev.NIN != n.NIN || prev.Kind != n.Kind || prev.Provenance.SourceVersion != n.Provenance.SourceVersion) {
			t.Errorf("id %s names two notifications: %+v and %+v", n.ID, prev, n)
		}
		out[n.ID] = n
	}
	return out
}

func (h *harness) waitDistinct(agency string, want int, timeout time.Duration) map[string]schemas.Notification {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ids := byID(h.t, h.notifications(agency))
		if len(ids) >= want {
			return ids
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%s: %d distinct notifications, want %d", agency, len(ids), want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestDeathNotifiesPortfolio is the acceptance test: pensioners in CNR's
// portfolio (through the API); deaths registered in civil status yield
// exactly one DEATH notification each on askonce.notify.cnr, none for
// agencies that do not hold the citizen, also across a router restart in
// the middle of a batch; a replay from offset 0 emits nothing new; a
// corrected death date notifies once, as a correction; the reference
// consumer prints each notification once and commits.
func TestDeathNotifiesPortfolio(t *testing.T) {
	h := setup(t)
	const pensioners = 40
	var lines []string
	for i := 1; i <= pensioners; i++ {
		lines = append(lines, fmt.Sprintf(`{"nin":%q,"kinds":["DEATH"],"purpose":"pension-death-watch"}`, nin(i)))
	}
	status, body := h.do("POST", "/v1/portfolios/cnr/members:bulk", "dev-cnr-key", "application/x-ndjson", strings.Join(lines, "\n"))
	if status != 200 || body["accepted"] != float64(pensioners) {
		t.Fatalf("bulk upload: %d %v", status, body)
	}
	// CNAS holds one other citizen; nobody holds the last one.
	insured, nobody := nin(500), nin(501)
	if status, body := h.do("PUT", "/v1/portfolios/cnas/members/"+insured, "dev-cnas-key", "application/json",
		`{"kinds":["DEATH","MARRIAGE"],"purpose":"insured-events"}`); status != 200 {
		t.Fatalf("put cnas member: %d %v", status, body)
	}

	dod := time.Date(2026, time.November, 2, 0, 0, 0, 0, time.UTC)
	deaths := []*schemas.CivilStatusRecord{death(insured, 1, dod), death(nobody, 1, dod)}
	for i := 1; i <= pensioners; i++ {
		deaths = append(deaths, death(nin(i), 1, dod))
	}
	h.produce(deaths...)
	// Batches of 5, each audited slowly: the router is stopped in the
	// middle of the deaths, most likely in the middle of a batch (after
	// its notifications were sent, before its offsets were committed).
	first := h.startRouter("askonce-notify-test", 150*time.Millisecond)

	// Stop the router part way through the deaths, then start it again.
	h.waitDistinct("cnr", 8, 30*time.Second)
	first.stop()
	before := len(byID(t, h.notifications("cnr")))
	if before >= pensioners {
		t.Fatalf("the router had routed every death before it was stopped (%d)", before)
	}
	t.Logf("stopped after %d of %d notifications", before, pensioners)
	second := h.startRouter("askonce-notify-test", 0)
	h.waitDistinct("cnr", pensioners, 30*time.Second)
	time.Sleep(500 * time.Millisecond) // anything extra would show now
	got := byID(t, h.notifications("cnr"))
	if len(got) != pensioners {
		t.Fatalf("cnr: %d distinct notifications, want %d", len(got), pensioners)
	}
	perNIN := map[string]int{}
	for id, n := range got {
		perNIN[n.NIN]++
		if n.Kind != schemas.ChangeDeath || n.Agency != "cnr" || n.Purpose != "pension-death-watch" || n.Correction ||
			!n.OccurredOn.Equal(dod) || n.Provenance.SourceKey != "death/"+n.NIN || n.Details != nil {
			t.Errorf("notification %s: %+v", id, n)
		}
		if want := notify.NotificationID("cnr", n.Provenance.DataCenter, n.Provenance.SourceKey, 1, schemas.ChangeDeath, n.NIN); id != want {
			t.Errorf("id %s, want %s", id, want)
		}
	}
	for i := 1; i <= pensioners; i++ {
		if perNIN[nin(i)] != 1 {
			t.Errorf("pensioner %d: %d notifications, want 1", i, perNIN[nin(i)])
		}
	}
	cnas := h.waitDistinct("cnas", 1, 10*time.Second)
	for _, n := range cnas {
		if n.NIN != insured {
			t.Errorf("cnas was told of %s, which it does not hold", n.NIN)
		}
	}
	if len(cnas) != 1 {
		t.Errorf("cnas: %d notifications, want 1", len(cnas))
	}
	for _, a := range []string{"casnos", "anem", "cnac", "cacobatph", "etatcivil"} {
		if ns := h.notifications(a); len(ns) != 0 {
			t.Errorf("%s was notified %d times, holds nobody", a, len(ns))
		}
	}
	var audited int
	testenv.Must(t, h.pool.QueryRow(h.ctx, `SELECT count(DISTINCT document_id) FROM audit_log
		WHERE document_type = 'notification' AND outcome = 'notified' AND client = 'cnr' AND purpose = 'pension-death-watch'`).Scan(&audited), "audit")
	if audited != pensioners {
		t.Errorf("%d notifications audited, want %d", audited, pensioners)
	}
	onTopic := len(h.notifications("cnr"))
	t.Logf("%d notifications on the topic for %d distinct ids (replays after the stop)", onTopic, pensioners)
	second.stop()

	// A replay from offset 0 (a new group) with the same notify_sent state
	// emits nothing new.
	replay := h.startRouter("askonce-notify-replay", 0)
	deadline := time.Now().Add(30 * time.Second)
	for replay.rt.Stats().Records < pensioners+2 {
		if time.Now().After(deadline) {
			t.Fatalf("replay read %d records", replay.rt.Stats().Records)
		}
		time.Sleep(50 * time.Millisecond)
	}
	st := replay.rt.Stats()
	if st.Notified != 0 || st.Suppressed != pensioners+1 {
		t.Errorf("replay: %+v, want nothing notified and %d suppressed", st, pensioners+1)
	}
	if n := len(h.notifications("cnr")); n != onTopic {
		t.Errorf("replay added %d notifications", n-onTopic)
	}

	// A correction of the date of death notifies once, as a correction; the
	// same facts in a newer version notify nothing.
	h.produce(death(nin(1), 2, dod.AddDate(0, 0, -1)), death(nin(1), 3, dod.AddDate(0, 0, -1)))
	h.waitDistinct("cnr", pensioners+1, 20*time.Second)
	time.Sleep(300 * time.Millisecond)
	got = byID(t, h.notifications("cnr"))
	if len(got) != pensioners+1 {
		t.Fatalf("after a correction: %d distinct notifications, want %d", len(got), pensioners+1)
	}
	corr := got[notify.NotificationID("cnr", "etatcivil-dc02", "death/"+nin(1), 2, schemas.ChangeDeath, nin(1))]
	if !corr.Correction || !corr.OccurredOn.Equal(dod.AddDate(0, 0, -1)) {
		t.Errorf("correction: %+v", corr)
	}
	replay.stop()

	// The reference consumer prints each notification once and commits:
	// a second run of the same group prints nothing.
	var out bytes.Buffer
	log := ops.NewLogger(io.Discard, "error", "json")
	n, err := notify.Consume(h.ctx, h.conn, notify.ConsumeOptions{Agency: "cnr", Group: "backoffice", FromBeginning: true, ExitWhenIdle: 3 * time.Second}, &out, log)
	testenv.Must(t, err, "consume")
	if n != pensioners+1 {
		t.Errorf("consume printed %d, want %d", n, pensioners+1)
	}
	ids := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var p struct {
			ID, NIN, Kind string
			OccurredOn    string `json:"occurred_on"`
		}
		testenv.Must(t, json.Unmarshal([]byte(line), &p), "consume line %q", line)
		if ids[p.ID] || p.Kind != "DEATH" || p.OccurredOn == "" {
			t.Errorf("consume line %s", line)
		}
		ids[p.ID] = true
	}
	out.Reset()
	n, err = notify.Consume(h.ctx, h.conn, notify.ConsumeOptions{Agency: "cnr", Group: "backoffice", FromBeginning: true, ExitWhenIdle: 2 * time.Second}, &out, log)
	testenv.Must(t, err, "consume again")
	if n != 0 || out.Len() != 0 {
		t.Errorf("second run printed %d:\n%s", n, out.String())
	}
}

// portfolioChange encodes a back office's change, naming agency, for the
// portfolio topic topic.
func (h *harness) portfolioChange(topic, agency, n, op, purpose string, at time.Time, kinds ...string) kafka.Message {
	h.t.Helper()
	if kinds == nil {
		kinds = []string{}
	}
	b, err := h.conn.Codec.Encode(topic, schemas.PortfolioChange{Agency: agency, NIN: n, Op: op, Kinds: kinds, Purpose: purpose, RequestedAt: at, RequestID: "bo-1"})
	testenv.Must(h.t, err, "encode")
	return kafka.Message{Topic: topic, Key: []byte(n), Value: b}
}

// waitMember waits until agency's portfolio holds n.
func (h *harness) waitMember(agency, n string, timeout time.Duration) portfolio.Member {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		m, ok, err := portfolio.NewStore(h.pool).Get(h.ctx, agency, n)
		testenv.Must(h.t, err, "get")
		if ok {
			return m
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%s's portfolio change for %s was not applied", agency, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestPortfolioTopic: back offices' changes on their agency's
// askonce.portfolio.<agency> are applied in requested_at order and checked
// against the policy (rejects to the DLQ); an employment of a job seeker
// then notifies ANEM.
func TestPortfolioTopic(t *testing.T) {
	h := setup(t)
	topics := h.conn.Client.Topics()
	seeker, other := nin(700), nin(701)
	at := time.Now().UTC().Truncate(time.Microsecond)
	change := func(agency, n, op, purpose string, at time.Time, kinds ...string) kafka.Message {
		return h.portfolioChange(topics.AgencyPortfolio(agency), agency, n, op, purpose, at, kinds...)
	}
	w := h.conn.Client.Writer("")
	defer w.Close()
	testenv.Must(t, w.WriteMessages(h.ctx,
		change("anem", seeker, "PUT", "unemployment-events", at, "EMPLOYMENT_START"),
		change("anem", seeker, "DELETE", "", at.Add(-time.Minute)), // older: ignored
		change("cnas", other, "PUT", "pension-death-watch", at, "DEATH"),
		// cnac has a portfolio topic but is no client of the policy.
		change("cnac", other, "PUT", "insured-events", at, "DEATH"),
	), "produce portfolio changes")
	h.startRouter("askonce-notify-topic", 0)

	if m := h.waitMember("anem", seeker, 30*time.Second); m.Purpose != "unemployment-events" || len(m.Kinds) != 1 {
		t.Errorf("member: %+v", m)
	}
	dlq := testenv.WaitTopic(t, h.ctx, h.broker.Addr, topics.DLQ, 2, 20*time.Second)
	codes := map[string]bool{}
	for _, m := range dlq {
		codes[bus.Header(m, bus.HeaderDLQCode)] = true
	}
	if !codes["portfolio.purpose"] || !codes["portfolio.agency"] || len(dlq) != 2 {
		t.Errorf("DLQ codes %v (%d messages)", codes, len(dlq))
	}
	if _, ok, _ := portfolio.NewStore(h.pool).Get(h.ctx, "cnas", other); ok {
		t.Error("a purpose not granted was applied")
	}

	job := schematest.Employment()
	job.NIN = seeker
	job.Employment.EndDate, job.Employment.Status = nil, "OPEN"
	b, err := h.conn.Codec.Encode(topics.Employment, job)
	testenv.Must(t, err, "encode")
	testenv.Must(t, w.WriteMessages(h.ctx, kafka.Message{Topic: topics.Employment, Key: []byte(seeker), Value: b}), "produce employment")
	got := h.waitDistinct("anem", 1, 20*time.Second)
	for _, n := range got {
		if n.Kind != schemas.ChangeEmploymentStart || n.NIN != seeker || n.Details == nil || n.Details.EmployerID == nil || *n.Details.EmployerID != job.Employment.EmployerID {
			t.Errorf("notification: %+v", n)
		}
	}
}

// TestPortfolioAgencyFromTopic: the router takes a portfolio change's
// agency from its topic. A change on askonce.portfolio.cnr naming cnr is
// applied; one on askonce.portfolio.cnr naming cnas (cnr's back office
// editing cnas's portfolio) goes to the DLQ with the code
// portfolio.agency_mismatch and is applied to no portfolio, and the router
// goes on: the change after it, in the same partition, is applied.
func TestPortfolioAgencyFromTopic(t *testing.T) {
	h := setup(t)
	topics := h.conn.Client.Topics()
	cnrTopic := topics.AgencyPortfolio("cnr")
	first, victim := nin(710), nin(711)
	at := time.Now().UTC().Truncate(time.Microsecond)
	w := h.conn.Client.Writer("")
	defer w.Close()
	testenv.Must(t, w.WriteMessages(h.ctx,
		h.portfolioChange(cnrTopic, "cnr", first, "PUT", "pension-death-watch", at, "DEATH"),
		// Same key as the next change: same partition, read before it.
		h.portfolioChange(cnrTopic, "cnas", victim, "PUT", "insured-events", at.Add(time.Minute), "DEATH"),
		h.portfolioChange(cnrTopic, "cnr", victim, "PUT", "pension-death-watch", at, "DEATH", "MARRIAGE"),
	), "produce portfolio changes")
	r := h.startRouter("askonce-notify-agency-topic", 0)

	if m := h.waitMember("cnr", first, 30*time.Second); m.Purpose != "pension-death-watch" {
		t.Errorf("cnr member: %+v", m)
	}
	if m := h.waitMember("cnr", victim, 30*time.Second); m.Purpose != "pension-death-watch" || len(m.Kinds) != 2 {
		t.Errorf("the change after the mismatch: %+v", m)
	}
	if _, ok, err := portfolio.NewStore(h.pool).Get(h.ctx, "cnas", victim); err != nil || ok {
		t.Errorf("cnas's portfolio was changed from cnr's topic (found %v, err %v)", ok, err)
	}
	dlq := testenv.WaitTopic(t, h.ctx, h.broker.Addr, topics.DLQ, 1, 20*time.Second)
	if len(dlq) != 1 {
		t.Fatalf("DLQ holds %d messages, want 1", len(dlq))
	}
	d := dlq[0]
	if got := bus.Header(d, bus.HeaderDLQCode); got != "portfolio.agency_mismatch" {
		t.Errorf("DLQ code %q", got)
	}
	if bus.Header(d, bus.HeaderDLQTopic) != cnrTopic || bus.Header(d, bus.HeaderDLQAgency) != "cnr" || bus.Header(d, bus.HeaderDLQSource) != notify.Component {
		t.Errorf("DLQ headers: topic %q agency %q source %q", bus.Header(d, bus.HeaderDLQTopic), bus.Header(d, bus.HeaderDLQAgency), bus.Header(d, bus.HeaderDLQSource))
	}
	if msg := bus.Header(d, bus.HeaderDLQMessage); !strings.Contains(msg, `"cnas"`) || !strings.Contains(msg, cnrTopic) {
		t.Errorf("DLQ message %q names neither the agency claimed nor the topic", msg)
	}
	if string(d.Key) != victim {
		t.Errorf("DLQ key %q, want the original key %s", d.Key, victim)
	}
	if err := r.rt.Healthy(h.ctx); err != nil {
		t.Errorf("router not healthy after the mismatch: %v", err)
	}
}
