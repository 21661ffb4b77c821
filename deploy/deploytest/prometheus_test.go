package deploytest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/askonce/askonce/internal/config"
	"github.com/askonce/askonce/internal/dev"
	"github.com/askonce/askonce/internal/lookup"
	"github.com/askonce/askonce/internal/ops"
	"github.com/askonce/askonce/internal/testenv"
)

// tool finds a Prometheus binary; make test installs Debian's prometheus
// package (deploy/devfiles/deps.sh) when it is missing.
func tool(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if p := "/usr/bin/" + name; fileExists(p) {
		return p
	}
	t.Skipf("%s not installed and not installable from here: run make deps (deploy/devfiles/deps.sh installs Debian's prometheus package)", name)
	return ""
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// TestPromtool: promtool accepts the rules, and the compose Prometheus
// configuration with those rules at the path it mounts them.
func TestPromtool(t *testing.T) {
	promtool := tool(t, "promtool")
	rules, _ := filepath.Glob(deployPath("promrules", "*.rules.yml"))
	if len(rules) == 0 {
		t.Fatal("no deploy/promrules/*.rules.yml")
	}
	out, err := exec.Command(promtool, append([]string{"check", "rules"}, rules...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	// The compose file mounts deploy/promrules at /etc/prometheus/rules:
	// check the config with that path pointing at the real rules.
	b, err := os.ReadFile(deployPath("compose", "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	const mounted = "/etc/prometheus/rules/"
	if !bytes.Contains(b, []byte(mounted)) {
		t.Fatalf("compose prometheus.yml does not load rules from %s", mounted)
	}
	cfg := filepath.Join(t.TempDir(), "prometheus.yml")
	b = bytes.ReplaceAll(b, []byte(mounted), []byte(deployPath("promrules")+"/"))
	if err := os.WriteFile(cfg, b, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command(promtool, "check", "config", cfg).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check config: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("SUCCESS")) || !bytes.Contains(out, []byte("rules found")) {
		t.Fatalf("promtool check config did not check the rules:\n%s", out)
	}
	// The rules' unit tests: the freshness alerts fire when and only when
	// they should (a frozen store, a lagging data center, clerks refused
	// as source_stale, a connector without watermarks).
	tests, _ := filepath.Glob(deployPath("promrules", "*.rules.test.yml"))
	if len(tests) == 0 {
		t.Fatal("no deploy/promrules/*.rules.test.yml")
	}
	cmd := exec.Command(promtool, append([]string{"test", "rules"}, tests...)...)
	cmd.Dir = deployPath("promrules")
	out, err = cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("SUCCESS")) {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestPrometheusScrapesDev runs `askonce dev` in process with a small
// population, asks a few documents, and starts a real Prometheus (Debian's
// binary, its own port and storage) that scrapes it with askonce's rules:
// the metrics are found through Prometheus' HTTP API, the rules are loaded
// and healthy, the freshness alerts' metrics are live (one answer is made
// source_stale for that) and their conditions hold as they should on a
// healthy store, every dashboard query is valid PromQL, and every askonce_*
// series scraped is one the code scan knows.
func TestPrometheusScrapesDev(t *testing.T) {
	promBin := tool(t, "prometheus")
	ctx := testenv.Ctx(t, 3*time.Minute)
	cfg := config.Default()
	cfg.Postgres.URL = testenv.Postgres(t)
	cfg.Connect.SourcesURL = testenv.Postgres(t)
	cfg.Broker.Listen = "127.0.0.1:0"
	cfg.Broker.DataDir = t.TempDir()
	cfg.Registry.Listen = "127.0.0.1:0"
	cfg.Lookup.Listen = "127.0.0.1:0"
	cfg.Lookup.SigningKeysDir = filepath.Join(t.TempDir(), "keys")
	cfg.Seed.Persons = 400
	cfg.Seed.LiveRate = 10
	log := ops.NewLogger(io.Discard, "error", "json")

	type ready struct {
		api     string
		samples []dev.Sample
	}
	readyc := make(chan ready, 1)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- dev.Run(runCtx, &cfg, dev.Options{Dir: t.TempDir(), Out: io.Discard, Progress: io.Discard,
			Ready: func(api string, s []dev.Sample) { readyc <- ready{api, s} }}, log)
	}()
	defer func() {
		stop()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("dev.Run: %v", err)
			}
		case <-time.After(45 * time.Second):
			t.Error("dev did not stop within 45s")
		}
	}()
	var r ready
	select {
	case r = <-readyc:
	case err := <-done:
		t.Fatalf("dev.Run ended before ready: %v", err)
	case <-ctx.Done():
		t.Fatal("dev never got ready")
	}

	// A few lookups: issued ones count in askonce_asks_avoided_total.
	issued := 0
	for _, s := range r.samples {
		for _, a := range dev.Asks {
			body, _ := json.Marshal(map[string]string{"document_type": a.DocumentType, "nin": s.NIN, "purpose": a.Purpose, "clerk_id": "deploytest"})
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, r.api+"/v1/document-requests", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+a.Key)
			resp, err := http.DefaultClient.Do(req)
			testenv.Must(t, err, "request")
			io.Copy(io.Discard, resp.Body) //nolint:errcheck // drained
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				issued++
			}
		}
	}
	if issued == 0 {
		t.Fatal("no document issued")
	}
	// One answer refused as source_stale, so that the counter the
	// AskonceLookupSourceStale alert reads exists (it is born with its
	// first refusal): a made-up data center of the document's agency with
	// a watermark three hours old (past every freshness bound), removed
	// right after, before Prometheus starts.
	ask := dev.Asks[0]
	stalePool, err := pgxpool.New(ctx, cfg.Postgres.URL)
	testenv.Must(t, err, "store")
	defer stalePool.Close()
	var staleDCs []string
	for _, d := range lookup.Catalog {
		if d.Type == ask.DocumentType {
			for _, a := range d.Agencies {
				staleDCs = append(staleDCs, a+"-dc99")
				_, err := stalePool.Exec(ctx, `INSERT INTO store_watermarks (agency, data_center, watermark, updated_at)
					VALUES ($1, $2, now() - interval '3 hours', now() - interval '3 hours')`, a, a+"-dc99")
				testenv.Must(t, err, "stale watermark")
			}
		}
	}
	time.Sleep(1100 * time.Millisecond) // the API's watermarks are cached a second
	body, _ := json.Marshal(map[string]string{"document_type": ask.DocumentType, "nin": r.samples[0].NIN, "purpose": ask.Purpose, "clerk_id": "deploytest"})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, r.api+"/v1/document-requests", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+ask.Key)
	resp, err := http.DefaultClient.Do(req)
	testenv.Must(t, err, "request")
	staleBody, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	_, err = stalePool.Exec(ctx, `DELETE FROM store_watermarks WHERE data_center = ANY($1)`, staleDCs)
	testenv.Must(t, err, "remove the stale watermarks")
	if resp.StatusCode != http.StatusServiceUnavailable || !bytes.Contains(staleBody, []byte(`"reason":"source_stale"`)) {
		t.Fatalf("with %v three hours old: %s\n%s, want 503 source_stale", staleDCs, resp.Status, staleBody)
	}

	// Prometheus: its own port, storage and configuration.
	dir := t.TempDir()
	listen := freePort(t)
	target := strings.TrimPrefix(r.api, "http://")
	// The rules as they are, but evaluated every second (a group's own
	// interval, 30s, would keep the test waiting).
	rulesBody, err := os.ReadFile(deployPath("promrules", "askonce.rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	rules := []string{filepath.Join(dir, "askonce.rules.yml")}
	rulesBody = regexp.MustCompile(`(?m)^(\s+interval:) \S+$`).ReplaceAll(rulesBody, []byte("$1 1s"))
	if err := os.WriteFile(rules[0], rulesBody, 0o600); err != nil {
		t.Fatal(err)
	}
	promCfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
  - job_name: askonce-dev
    static_configs:
      - targets: [%q]
`, rules[0], target)
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(promCfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var promLog bytes.Buffer
	cmd := exec.Command(promBin, "--config.file="+cfgPath, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+listen, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = &promLog, &promLog
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(os.Interrupt) //nolint:errcheck // stopping
		waited := make(chan struct{})
		go func() { cmd.Wait(); close(waited) }() //nolint:errcheck // stopping
		select {
		case <-waited:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill() //nolint:errcheck // stopping
		}
		if t.Failed() {
			t.Logf("prometheus log:\n%s", promLog.String())
		}
	}()
	api := "http://" + listen + "/api/v1/"
	get := func(path string, out any) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, api+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %s: %s", path, resp.Status, b)
		}
		return json.Unmarshal(b, out)
	}
	type vector struct {
		Status string
		Data   struct {
			Result []struct {
				Metric map[string]string
				Value  []any
			}
		}
	}
	query := func(q string) (vector, error) {
		var v vector
		err := get("query?query="+url.QueryEscape(q), &v)
		return v, err
	}

	// Our metrics, through Prometheus.
	deadline := time.Now().Add(60 * time.Second)
	for {
		v, err := query(`askonce_asks_avoided_total`)
		if err == nil && len(v.Data.Result) > 0 {
			sum := 0.0
			for _, s := range v.Data.Result {
				if s.Metric["job"] != "askonce-dev" || s.Metric["document_type"] == "" || s.Metric["client"] == "" {
					t.Errorf("unexpected series %v", s.Metric)
				}
				var f float64
				fmt.Sscan(fmt.Sprint(s.Value[1]), &f) //nolint:errcheck // checked by the sum
				sum += f
			}
			if int(sum) != issued {
				t.Errorf("askonce_asks_avoided_total = %v, want %d issued", sum, issued)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus never found askonce_asks_avoided_total (last error %v)", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	for _, q := range []string{`up{job="askonce-dev"} == 1`, `askonce_lookup_requests_total{outcome="issued"}`,
		`askonce_materialize_freshness_age_seconds`, `askonce_connect_up`, `askonce_lookup_request_duration_seconds_bucket`,
		// The freshness alerts' metrics, live: documents were issued, so
		// every data center has a watermark, moving (connectors write one
		// every 5 s), and the connectors report theirs.
		`askonce_store_watermark_lag_seconds{agency!="",data_center!=""} < 120`,
		`askonce_store_watermark_advanced_seconds{agency!="",data_center!=""} < 120`,
		`time() - askonce_connect_watermark_timestamp_seconds{connector!=""} < 120`,
		`askonce_lookup_source_stale_total{document_type="` + ask.DocumentType + `"} == 1`} {
		v, err := query(q)
		if err != nil || len(v.Data.Result) == 0 {
			t.Errorf("query %s: no result (%v)", q, err)
		}
	}
	// Every data center of the dev population (one connector each) gets a
	// watermark in the store.
	deadline = time.Now().Add(30 * time.Second)
	for {
		v, err := query(`count(askonce_store_watermark_lag_seconds)`)
		if err == nil && len(v.Data.Result) == 1 && fmt.Sprint(v.Data.Result[0].Value[1]) == "33" {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("data centers with a store watermark: %v (%v), want the 33 of dev", v.Data.Result, err)
			break
		}
		time.Sleep(500 * time.Millisecond)
	}

	// The rules are loaded, and evaluate without error.
	fileRules := loadRules(t)
	var rulesResp struct {
		Data struct {
			Groups []struct {
				Name  string
				Rules []struct {
					Name, Health, LastError, Type string
				}
			}
		}
	}
	deadline = time.Now().Add(45 * time.Second)
	for {
		if err := get("rules", &rulesResp); err != nil {
			t.Fatal(err)
		}
		n, evaluated := 0, 0
		var bad []string
		for _, g := range rulesResp.Data.Groups {
			for _, rl := range g.Rules {
				n++
				if rl.Health == "ok" {
					evaluated++
				}
				if rl.Health == "err" {
					bad = append(bad, rl.Name+": "+rl.LastError)
				}
			}
		}
		if len(bad) > 0 {
			t.Fatalf("rules in error: %v", bad)
		}
		if n != len(fileRules) {
			t.Fatalf("Prometheus loaded %d rules, the files have %d", n, len(fileRules))
		}
		if evaluated == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d rules evaluated", evaluated, n)
		}
		time.Sleep(time.Second)
	}
	// A recording rule has produced series from the scraped metrics (one
	// that needs a single sample, so the first evaluation has it), with the
	// data_center label the stale-data-center alert joins on.
	deadline = time.Now().Add(20 * time.Second)
	v, err := query(`askonce:connect_last_success_age_seconds`)
	for (err != nil || len(v.Data.Result) == 0) && time.Now().Before(deadline) {
		time.Sleep(500 * time.Millisecond)
		v, err = query(`askonce:connect_last_success_age_seconds`)
	}
	if err != nil || len(v.Data.Result) == 0 {
		t.Errorf("recording rule askonce:connect_last_success_age_seconds has no series (%v)", err)
	} else {
		for _, s := range v.Data.Result {
			if !strings.HasSuffix(s.Metric["connector"], ":"+s.Metric["data_center"]) || s.Metric["data_center"] == "" {
				t.Errorf("askonce:connect_last_success_age_seconds: data_center %q for connector %q", s.Metric["data_center"], s.Metric["connector"])
			}
		}
	}

	// A healthy dev store: none of the freshness alerts' conditions holds
	// (each expression, evaluated now, is empty), but the refusal above is
	// seen: AskonceLookupSourceStale's condition holds for its document type.
	for _, r := range fileRules {
		switch r.Alert {
		case "AskonceStoreFrozen", "AskonceStoreWatermarksAbsent", "AskonceDataCenterWatermarkLag", "AskonceDataCenterStale", "AskonceConnectorWatermarkStalled":
			v, err := query(r.Expr)
			if err != nil || len(v.Data.Result) != 0 {
				t.Errorf("alert %s's condition holds on a healthy dev (%v): %v", r.Alert, err, v.Data.Result)
			}
		case "AskonceLookupSourceStale":
			v, err := query(r.Expr)
			if err != nil || len(v.Data.Result) != 1 || v.Data.Result[0].Metric["document_type"] != ask.DocumentType {
				t.Errorf("alert %s's condition after one %s refused: %v (%v)", r.Alert, ask.DocumentType, v.Data.Result, err)
			}
		}
	}

	// Every dashboard query is valid PromQL for this Prometheus.
	for _, e := range dashboardExprs(t) {
		if _, err := query(GrafanaToPromQL(e.expr)); err != nil {
			t.Errorf("%s / %q: %v", e.file, e.panel, err)
		}
	}

	// Every askonce_* series scraped is known to the code scan that checks
	// the dashboards and rules (so the scan misses nothing dev exposes).
	var names struct{ Data []string }
	if err := get("label/__name__/values", &names); err != nil {
		t.Fatal(err)
	}
	fams, err := CodeMetrics(RepoRoot())
	if err != nil {
		t.Fatal(err)
	}
	known := Series(fams)
	seen := 0
	for _, n := range names.Data {
		if strings.HasPrefix(n, "askonce_") {
			seen++
			if !known[n] {
				t.Errorf("scraped %s, which the code scan (CodeMetrics) does not find", n)
			}
		}
	}
	if seen < 30 {
		t.Errorf("only %d askonce_* series names scraped", seen)
	}
}
