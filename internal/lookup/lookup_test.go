package lookup_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/segmentio/kafka-go"

	"github.com/askonce/askonce/internal/attest"
	"github.com/askonce/askonce/internal/audit"
	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/internal/config"
	"github.com/askonce/askonce/internal/dbroles"
	"github.com/askonce/askonce/internal/lookup"
	"github.com/askonce/askonce/internal/ops"
	"github.com/askonce/askonce/internal/registry"
	"github.com/askonce/askonce/internal/store"
	"github.com/askonce/askonce/internal/testenv"
	"github.com/askonce/askonce/internal/wiring"
	"github.com/askonce/askonce/internal/wiring/migratewire"
	"github.com/askonce/askonce/schemas"
	"github.com/askonce/askonce/schemas/schematest"
)

// nin builds a synthetic NIN consistent with a birth act of 1960+year in
// synthetic commune 9916.
func nin(sex byte, year, act int) string {
	return fmt.Sprintf("%c0%03d9916%05d0137", sex, year%1000, act)
}

func birth(n string, year, act int, first string) *schemas.CivilStatusRecord {
	b := schematest.Birth()
	b.NIN = n
	b.Provenance.SourceKey = "birth/" + n
	b.Provenance.SourceVersion = 1
	p := *b.Person
	p.FirstNamesLatin = first
	p.BirthDate = time.Date(year, time.March, 14, 0, 0, 0, 0, time.UTC)
	b.Person = &p
	a := *b.Birth
	a.ActNumber, a.ActYear = act, year
	a.RegisteredOn = p.BirthDate.AddDate(0, 0, 2)
	b.Birth = &a
	return b
}

type harness struct {
	t      *testing.T
	ctx    context.Context
	base   string
	conn   *bus.Conn
	pool   *pgxpool.Pool
	broker *testenv.Broker
	keys   string
}

func setup(t *testing.T) *harness {
	ctx := testenv.Ctx(t, 4*time.Minute)
	h := &harness{t: t, ctx: ctx, broker: testenv.StartBroker(t, nil)}
	cfg := config.Default()
	cfg.Kafka = h.broker.Kafka()
	// The database as `askonce migrate` leaves it; the API and the
	// materializer each log in with their role.
	db := testenv.Database(t, migratewire.Migrations...)
	cfg.Postgres.URL = db.URL(dbroles.API)
	cfg.Registry.URL = testenv.StartRegistry(t)
	cfg.Rules.AllowSynthetic = true
	cfg.Materialize.BatchWait = 20 * time.Millisecond
	// The materializer that fills the store is not under test here: its
	// stall watchdog's lag checks (after a minute idle) open pooled admin
	// connections that TestLoad would count against the API's goroutines.
	cfg.Materialize.StallTimeout = time.Hour
	cfg.Lookup.Listen = "127.0.0.1:0"
	cfg.Lookup.PolicyFile = filepath.Join(testenv.RepoRoot(t), "deploy", "devfiles", "policy.yaml")
	cfg.Lookup.DevMode = true
	cfg.Lookup.CreateSigningKey = true
	h.keys = t.TempDir()
	cfg.Lookup.SigningKeysDir = h.keys
	log := ops.NewLogger(io.Discard, "error", "json")
	rc, err := registry.NewClient(wiring.RegistryClient(cfg.Registry))
	testenv.Must(t, err, "registry")
	h.conn, err = wiring.OpenBus(ctx, &cfg, rc.Bus(), log)
	testenv.Must(t, err, "bus")
	t.Cleanup(h.conn.Client.Close)
	h.pool, err = store.OpenURL(ctx, db.Admin, 4)
	testenv.Must(t, err, "store")
	t.Cleanup(h.pool.Close)

	runCtx, stop := context.WithCancel(ctx)
	matDone, apiDone := make(chan error, 1), make(chan error, 1)
	matCfg := cfg
	matCfg.Postgres.URL = db.URL(dbroles.Materialize)
	go func() {
		reg := ops.NewRegistry()
		matDone <- wiring.RunMaterializer(runCtx, &matCfg, reg, ops.NewServer(reg, log), log)
	}()
	addr := make(chan string, 1)
	go func() {
		reg := ops.NewRegistry()
		apiDone <- wiring.Serve(runCtx, &cfg, reg, ops.NewServer(reg, log), log, nil, nil, func(a string) { addr <- a })
	}()
	t.Cleanup(func() {
		stop()
		for _, ch := range []chan error{matDone, apiDone} {
			if err := <-ch; err != nil {
				t.Errorf("run: %v", err)
			}
		}
	})
	select {
	case a := <-addr:
		h.base = "http://" + a
	case err := <-apiDone:
		t.Fatalf("wiring.Serve: %v", err)
	}
	return h
}

func (h *harness) produce(recs ...any) {
	h.t.Helper()
	topics := h.conn.Client.Topics()
	var msgs []kafka.Message
	dcs := map[string]string{} // data center -> agency
	at := time.Now()
	for _, r := range recs {
		var topic, key string
		var p schemas.Provenance
		switch v := r.(type) {
		case *schemas.CivilStatusRecord:
			topic, key, p = topics.CivilStatus, v.NIN, v.Provenance
		case *schemas.EmploymentRecord:
			topic, key, p = topics.Employment, v.NIN, v.Provenance
		case *schemas.ContributionRecord:
			topic, key, p = topics.Contribution, v.Key(), v.Provenance
		}
		dcs[p.DataCenter] = p.Agency
		b, err := h.conn.Codec.Encode(topic, r)
		testenv.Must(h.t, err, "encode")
		msgs = append(msgs, kafka.Message{Topic: topic, Key: []byte(key), Value: b})
	}
	w := h.conn.Client.Writer("")
	defer w.Close()
	testenv.Must(h.t, w.WriteMessages(h.ctx, msgs...), "produce")
	// As a connector does: once the records are acknowledged, a watermark
	// round of each data center that wrote them.
	for dc, agency := range dcs {
		h.mark(w, agency, dc, at)
	}
}

// mark writes a watermark round of dc at on every partition of its
// agency's record topics.
func (h *harness) mark(w *kafka.Writer, agency, dc string, at time.Time) {
	h.t.Helper()
	parts, err := h.conn.Client.ListTopics(h.ctx)
	testenv.Must(h.t, err, "topics")
	var msgs []kafka.Message
	for _, t := range h.conn.Client.Topics().RecordTopicsOf(agency) {
		msgs = append(msgs, bus.WatermarkMessages(t, parts[t], agency, dc, at)...)
	}
	testenv.Must(h.t, w.WriteMessages(h.ctx, msgs...), "watermarks of %s", dc)
}

func (h *harness) waitStored(query string, args ...any) {
	h.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var ok bool
		if err := h.pool.QueryRow(h.ctx, query, args...).Scan(&ok); err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("not materialized: %s %v", query, args)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

func (h *harness) do(method, path, key string, body any) answer {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(h.ctx, method, h.base+path, rd)
	testenv.Must(h.t, err, "request")
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	testenv.Must(h.t, err, "%s %s", method, path)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, raw: raw}
	_ = json.Unmarshal(raw, &a.body)
	validateResponse(h.t, req, resp, raw)
	return a
}

func (h *harness) ask(key, doc, n, purpose string) answer {
	h.t.Helper()
	return h.do("POST", "/v1/document-requests", key, map[string]string{"document_type": doc, "nin": n, "purpose": purpose, "clerk_id": "clerk-007"})
}

func fieldNames(a answer) []string {
	doc, _ := a.body["document"].(map[string]any)
	f, _ := doc["fields"].(map[string]any)
	var out []string
	for k := range f {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestLookupAPI(t *testing.T) {
	h := setup(t)
	alive := nin('1', 1958, 101)
	dead := nin('2', 1940, 102)
	arrears := nin('1', 1985, 103)
	unknown := nin('1', 1990, 999)

	married := schematest.Marriage()
	married.NIN, married.Provenance.SourceKey = alive, "marriage/"+alive
	married.Marriage.SpouseNIN = dead
	aff := schematest.Affiliation()
	aff.NIN = alive
	emp := schematest.Employment()
	emp.NIN = alive
	paid := schematest.Contribution()
	paid.NIN = &alive
	paid.Status, paid.AmountPaid = "PAID", paid.AmountDue
	death := schematest.Death()
	death.NIN, death.Provenance.SourceKey, death.Provenance.DataCenter = dead, "death/"+dead, "etatcivil-dc02"
	unpaid := schematest.Contribution()
	unpaid.NIN, unpaid.Provenance.SourceKey, unpaid.Period = &arrears, "contrib/"+arrears+"/2025-01", "2025-01"
	unpaid.Status, unpaid.AmountPaid = "UNPAID", 0
	// Children of alive (civil-status v2: the birth act carries the parents'
	// NINs): the younger one is produced first, one names the mother too,
	// and a third birth act was withdrawn (a tombstone still naming alive).
	kid := func(n string, year, act int, first string, mother *string) *schemas.CivilStatusRecord {
		b := birth(n, year, act, first)
		b.Person.FatherNIN, b.Person.MotherNIN = &alive, mother
		return b
	}
	younger, older, withdrawn := nin('1', 1990, 106), nin('2', 1986, 105), nin('1', 1992, 107)
	kidOlder := kid(older, 1986, 105, "Amel", &dead)
	kidOlder.Person.Sex = "F"
	kidGone := kid(withdrawn, 1992, 107, "Samir", nil)
	kidGoneDel := *kidGone
	kidGoneDel.Provenance.SourceVersion, kidGoneDel.Provenance.Operation = 2, schemas.OpDelete
	h.produce(birth(alive, 1958, 101, "Ahmed"), birth(dead, 1940, 102, "Fatima"), birth(arrears, 1985, 103, "Karim"),
		married, aff, emp, paid, death, unpaid,
		kid(younger, 1990, 106, "Yacine", nil), kidOlder, kidGone, &kidGoneDel)
	h.waitStored(`SELECT count(*) = 6 FROM persons`)
	h.waitStored(`SELECT count(*) = 1 FROM persons WHERE deleted`)
	h.waitStored(`SELECT count(*) = 2 FROM contributions`)
	h.waitStored(`SELECT count(*) = 1 FROM deaths`)
	h.waitStored(`SELECT count(*) = 1 FROM marriages`)
	h.waitStored(`SELECT count(*) = 1 FROM employment_periods`)
	// Records and watermark markers reach the store separately, and a data
	// center with records but no watermark yet makes its agency's answers
	// source_stale: wait for every watermark, then for the API's cache of
	// them (a second) to pass.
	h.waitStored(`SELECT NOT EXISTS (SELECT 1 FROM source_freshness f
		WHERE NOT EXISTS (SELECT 1 FROM store_watermarks w WHERE w.data_center = f.data_center))`)
	time.Sleep(1100 * time.Millisecond)

	const cnr, cnas, anem, apc, portal = "dev-cnr-key", "dev-cnas-key", "dev-anem-key", "dev-apc-alger-key", "dev-citizen-portal-key"
	type tc struct {
		key, doc, nin, purpose string
		status                 int
		outcome, reason        string
	}
	cases := []tc{
		{apc, lookup.DocBirth, alive, "civil-status-issuance", 200, "issued", ""},
		{apc, lookup.DocBirth, unknown, "civil-status-issuance", 404, "not_held", "no_record"},
		{apc, lookup.DocFamily, alive, "civil-status-issuance", 200, "issued", ""},
		{apc, lookup.DocFamily, arrears, "civil-status-issuance", 404, "not_held", "no_record"},
		{apc, lookup.DocMarriage, alive, "civil-status-issuance", 200, "issued", ""},
		{apc, lookup.DocMarriage, unknown, "civil-status-issuance", 404, "not_held", "no_record"},
		{apc, lookup.DocDeath, dead, "civil-status-issuance", 200, "issued", ""},
		{apc, lookup.DocDeath, alive, "civil-status-issuance", 404, "not_held", "no_record"},
		{cnr, lookup.DocLife, alive, "pension-life-proof", 200, "issued", ""},
		{cnr, lookup.DocLife, dead, "pension-life-proof", 404, "not_held", "condition_not_met"},
		{cnr, lookup.DocLife, unknown, "pension-life-proof", 404, "not_held", "no_record"},
		{cnas, lookup.DocAffiliation, alive, "insured-registration", 200, "issued", ""},
		{cnas, lookup.DocAffiliation, unknown, "insured-registration", 404, "not_held", "no_record"},
		{anem, lookup.DocNonAffiliation, unknown, "unemployment-registration", 200, "issued", ""},
		{anem, lookup.DocNonAffiliation, alive, "unemployment-registration", 404, "not_held", "condition_not_met"},
		{anem, lookup.DocEmployment, alive, "unemployment-registration", 200, "issued", ""},
		{anem, lookup.DocEmployment, unknown, "unemployment-registration", 404, "not_held", "no_record"},
		{cnas, lookup.DocContribStatus, alive, "benefit-eligibility", 200, "issued", ""},
		{cnas, lookup.DocContribStatus, arrears, "benefit-eligibility", 404, "not_held", "condition_not_met"},
		{cnas, lookup.DocContribStatus, unknown, "benefit-eligibility", 404, "not_held", "no_record"},
		{cnas, lookup.DocContribStatement, alive, "benefit-eligibility", 200, "issued", ""},
		{cnas, lookup.DocContribStatement, unknown, "benefit-eligibility", 404, "not_held", "no_record"},
		// Denied: wrong client for the document, wrong purpose for the client.
		{anem, lookup.DocLife, alive, "pension-life-proof", 403, "denied", ""},
		{cnr, lookup.DocBirth, alive, "pension-life-proof", 403, "denied", ""},
		{apc, lookup.DocContribStatus, alive, "civil-status-issuance", 403, "denied", ""},
		// Invalid input.
		{apc, lookup.DocBirth, "12345", "civil-status-issuance", 422, "invalid", ""},
		{apc, "passport", alive, "civil-status-issuance", 422, "invalid", ""},
		{apc, lookup.DocBirth, alive, "curiosity", 422, "invalid", ""},
		// Unauthenticated.
		{"", lookup.DocBirth, alive, "civil-status-issuance", 401, "unauthenticated", ""},
		{"dev-intruder-key", lookup.DocBirth, alive, "civil-status-issuance", 401, "unauthenticated", ""},
	}
	issued := map[string]answer{}
	for _, c := range cases {
		a := h.ask(c.key, c.doc, c.nin, c.purpose)
		if a.status != c.status || a.body["outcome"] != c.outcome || (c.reason != "" && a.body["reason"] != c.reason) {
			t.Errorf("%s %s for %s by %q: %d %s", c.doc, c.purpose, c.nin, c.key, a.status, a.raw)
			continue
		}
		if a.header.Get("X-Request-ID") == "" {
			t.Errorf("%s: no X-Request-ID", c.doc)
		}
		if c.status != 200 {
			if ct := a.header.Get("Content-Type"); ct != "application/problem+json" || a.body["request_id"] == nil {
				t.Errorf("%s %d: content type %q body %s", c.doc, c.status, ct, a.raw)
			}
			if c.outcome == "not_held" && a.body["paper"] == nil {
				t.Errorf("%s not_held does not say which paper to bring: %s", c.doc, a.raw)
			}
			continue
		}
		issued[c.doc+"/"+c.purpose] = a
	}

	// Data minimization: the pension life proof sees only its fields.
	life := issued[lookup.DocLife+"/pension-life-proof"]
	want := []string{"alive", "birth_date", "first_names_arabic", "first_names_latin", "nin", "surname_arabic", "surname_latin"}
	if got := fieldNames(life); !slices.Equal(got, want) {
		t.Errorf("life certificate fields = %v, want %v", got, want)
	}
	if got := fieldNames(issued[lookup.DocBirth+"/civil-status-issuance"]); !slices.Contains(got, "mother_name") || !slices.Contains(got, "marginal_notes") {
		t.Errorf("birth certificate for the APC lacks fields: %v", got)
	}
	// The fiche familiale lists the spouse and the children held, by birth
	// date, with the children's birth acts in its provenance.
	family := issued[lookup.DocFamily+"/civil-status-issuance"]
	if got := fieldNames(family); !slices.Contains(got, "spouses") || !slices.Contains(got, "children") {
		t.Errorf("family record fields = %v", got)
	}
	if fdoc, ok := family.body["document"].(map[string]any); ok {
		fields := fdoc["fields"].(map[string]any)
		kids, _ := fields["children"].([]any)
		var got []string
		for _, k := range kids {
			c := k.(map[string]any)
			got = append(got, fmt.Sprintf("%v %v %v %v %v %v", c["nin"], c["first_names_latin"], c["surname_latin"], c["sex"], c["birth_date"], c["first_names_arabic"] != nil))
		}
		want := []string{older + " Amel BENALI F 1986-03-14 true", younger + " Yacine BENALI M 1990-03-14 true"}
		if !slices.Equal(got, want) {
			t.Errorf("family record children:\n got %q\nwant %q", got, want)
		}
		keys := map[string]bool{}
		for _, src := range fdoc["provenance"].([]any) {
			keys[src.(map[string]any)["source_key"].(string)] = true
		}
		for _, k := range []string{"birth/" + alive, "marriage/" + alive, "birth/" + older, "birth/" + younger} {
			if !keys[k] {
				t.Errorf("family record provenance lacks %s: %v", k, keys)
			}
		}
		if keys["birth/"+withdrawn] {
			t.Errorf("family record cites the withdrawn birth act %s", withdrawn)
		}
	} else {
		t.Errorf("family record not issued")
	}
	// The rule stays: the mother of a child, of whom no marriage act is
	// held, gets no fiche familiale.
	if a := h.ask(apc, lookup.DocFamily, dead, "civil-status-issuance"); a.status != 404 || a.body["reason"] != "no_record" {
		t.Errorf("family record of a parent without a marriage act: %d %s", a.status, a.raw)
	}

	doc := life.body["document"].(map[string]any)
	if doc["valid_until"] == nil || doc["as_of"] == nil || len(doc["provenance"].([]any)) == 0 {
		t.Errorf("life certificate: %s", life.raw)
	}

	// The signature verifies offline against /v1/keys; one altered byte fails.
	keysAns := h.do("GET", "/v1/keys", "", nil)
	var ks attest.KeySet
	testenv.Must(t, json.Unmarshal(keysAns.raw, &ks), "keys")
	id := doc["id"].(string)
	got := h.do("GET", "/v1/attestations/"+id, cnr, nil)
	var signed attest.Signed
	testenv.Must(t, json.Unmarshal(got.raw, &signed), "attestation")
	if err := attest.Verify(signed, ks); err != nil {
		t.Fatalf("attestation does not verify: %v", err)
	}
	tampered := signed
	tampered.Document = bytes.Replace(signed.Document, []byte(alive), []byte(alive[:17]+"8"), 1)
	if err := attest.Verify(tampered, ks); err == nil {
		t.Fatal("a document with one altered byte verifies")
	}
	if other := h.do("GET", "/v1/attestations/"+id, cnas, nil); other.status != 404 {
		t.Errorf("another client reads the attestation: %d", other.status)
	}

	// Malformed bodies.
	for _, body := range []string{`{"document_type":`, `{"document_type":"birth-certificate","nin":"1","purpose":"x","clerk_id":"c","extra":1}`, `[]`, `{} {}`} {
		if a := h.do("POST", "/v1/document-requests", apc, body); a.status != 400 {
			t.Errorf("body %q: %d %s", body, a.status, a.raw)
		}
	}
	if a := h.do("POST", "/v1/document-requests", apc, `{"nin":"`+strings.Repeat("1", 20000)+`"}`); a.status != 413 {
		t.Errorf("oversize body: %d %s", a.status, a.raw)
	}

	// A pensioner who dies stops getting a life certificate once the death
	// record is materialized, with no other action.
	d2 := schematest.Death()
	d2.NIN, d2.Provenance.SourceKey = alive, "death/"+alive
	h.produce(d2)
	h.waitStored(`SELECT count(*) = 2 FROM deaths`)
	if a := h.ask(cnr, lookup.DocLife, alive, "pension-life-proof"); a.status != 404 || a.body["reason"] != "condition_not_met" {
		t.Fatalf("life certificate after death: %d %s", a.status, a.raw)
	}

	// A civil-status data center whose watermark is two hours old: every
	// answer that reads civil status is refused as stale (503, Retry-After,
	// which data center, how old), whether a record was found or not;
	// answers that read only the funds are not.
	// The materializer may apply a newer marker of that data center after
	// the UPDATE (a watermark round in flight): age it again until an answer
	// sees it aged, a few times at most.
	for try := 1; ; try++ {
		_, err := h.pool.Exec(h.ctx, `UPDATE store_watermarks SET watermark = now() - interval '2 hours' WHERE data_center = 'etatcivil-dc02'`)
		testenv.Must(t, err, "age a data center")
		time.Sleep(1100 * time.Millisecond) // the watermark snapshot lasts a second
		if a := h.ask(apc, lookup.DocBirth, unknown, "civil-status-issuance"); a.status == 503 || try == 5 {
			break
		}
	}
	for _, c := range []struct{ key, doc, nin, purpose string }{
		{apc, lookup.DocBirth, unknown, "civil-status-issuance"},
		{apc, lookup.DocDeath, dead, "civil-status-issuance"},
		{apc, lookup.DocBirth, arrears, "civil-status-issuance"},
		{cnr, lookup.DocLife, alive, "pension-life-proof"},
	} {
		a := h.ask(c.key, c.doc, c.nin, c.purpose)
		if a.status != 503 || a.body["reason"] != "source_stale" || a.header.Get("Retry-After") == "" {
			t.Fatalf("%s with a stale data center: %d %s", c.doc, a.status, a.raw)
		}
		stale, _ := a.body["stale"].([]any)
		if len(stale) != 1 || stale[0].(map[string]any)["data_center"] != "etatcivil-dc02" || stale[0].(map[string]any)["age_seconds"].(float64) < 7000 {
			t.Errorf("%s: stale sources %v", c.doc, a.body["stale"])
		}
	}
	if a := h.ask(cnas, lookup.DocContribStatus, alive, "benefit-eligibility"); a.status != 200 {
		t.Fatalf("an answer from the funds only, with civil status stale: %d %s", a.status, a.raw)
	}
	// The data center catches up: answers again, as of its new watermark.
	caught := time.Now().Add(-time.Second).Truncate(time.Second)
	w := h.conn.Client.Writer("")
	h.mark(w, "etatcivil", "etatcivil-dc02", caught)
	w.Close()
	h.waitStored(`SELECT watermark >= $1 FROM store_watermarks WHERE data_center = 'etatcivil-dc02'`, caught)
	time.Sleep(1100 * time.Millisecond)
	a := h.ask(apc, lookup.DocBirth, arrears, "civil-status-issuance")
	if a.status != 200 {
		t.Fatalf("birth certificate after the data center caught up: %d %s", a.status, a.raw)
	}
	if asOf := a.body["document"].(map[string]any)["as_of"].(string); asOf > time.Now().UTC().Format(time.RFC3339) || asOf < caught.Add(-time.Hour).UTC().Format(time.RFC3339) {
		t.Errorf("as_of %s: not the oldest watermark of the civil-status data centers", asOf)
	}

	// The citizen reads who looked at their data; others may not.
	logAns := h.do("GET", "/v1/citizens/"+alive+"/access-log", portal, nil)
	accesses, _ := logAns.body["accesses"].([]any)
	if logAns.status != 200 || len(accesses) < 10 {
		t.Fatalf("access log: %d %s", logAns.status, logAns.raw)
	}
	if a := h.do("GET", "/v1/citizens/"+alive+"/access-log", cnr, nil); a.status != 403 {
		t.Errorf("cnr reads an access log: %d", a.status)
	}

	// Every request above is in the audit log, and the chain is intact.
	var n int64
	testenv.Must(t, h.pool.QueryRow(h.ctx, `SELECT count(*) FROM audit_log`).Scan(&n), "audit count")
	if n < int64(len(cases)) {
		t.Errorf("audit log holds %d entries for %d+ requests", n, len(cases))
	}
	res, err := audit.Verify(h.ctx, h.pool)
	testenv.Must(t, err, "audit verify")
	if res.FirstBad != 0 {
		t.Fatalf("audit chain broken at %d: %s", res.FirstBad, res.Reason)
	}
}
