package deploytest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/askonce/askonce/deploy/deploygen"
	"github.com/askonce/askonce/internal/config"
	"github.com/askonce/askonce/internal/synth"
)

func deployPath(p ...string) string {
	return filepath.Join(append([]string{RepoRoot(), "deploy"}, p...)...)
}

// TestGeneratedInSync: the generated files (connectors per data center,
// KafkaTopics, PrometheusRule, dashboards) are what deploygen writes today.
func TestGeneratedInSync(t *testing.T) {
	files, err := deploygen.Files()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range deploygen.Paths(files) {
		got, err := os.ReadFile(deployPath(p))
		if err != nil {
			t.Errorf("%s: %v (run go run ./deploy/deploygen/cmd)", p, err)
			continue
		}
		if !bytes.Equal(got, files[p]) {
			t.Errorf("deploy/%s is out of date: run go run ./deploy/deploygen/cmd", p)
		}
	}
}

// yamlDocs decodes every document of a YAML file.
func yamlDocs(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	var docs []map[string]any
	for {
		var d map[string]any
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if d != nil {
			docs = append(docs, d)
		}
	}
	return docs
}

// TestManifestsParse: every YAML file under deploy/ parses (every document),
// Kubernetes documents have apiVersion, kind and metadata.name, and every
// dashboard is JSON.
func TestManifestsParse(t *testing.T) {
	n := 0
	err := filepath.WalkDir(deployPath(), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(deployPath(), path)
		switch filepath.Ext(path) {
		case ".yaml", ".yml":
			docs := yamlDocs(t, path)
			if len(docs) == 0 {
				t.Errorf("%s: no YAML document", rel)
			}
			if strings.HasPrefix(rel, "kubernetes"+string(filepath.Separator)) && filepath.Base(path) != "kustomization.yaml" {
				for i, d := range docs {
					name, _ := dig(d, "metadata", "name").(string)
					if d["apiVersion"] == nil || d["kind"] == nil || name == "" {
						t.Errorf("%s document %d: no apiVersion, kind or metadata.name", rel, i)
					}
				}
			}
			n += len(docs)
		case ".json":
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			var v map[string]any
			if err := json.Unmarshal(b, &v); err != nil {
				t.Errorf("%s: %v", rel, err)
			}
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 150 {
		t.Errorf("only %d documents parsed", n)
	}
}

func dig(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

func list(v any) []any { l, _ := v.([]any); return l }

// envKeys is every configuration key's environment variable.
func envKeys() map[string]bool {
	m := map[string]bool{}
	for _, k := range config.Keys() {
		m[config.EnvName(k)] = true
	}
	return m
}

// loadEnv loads askonce's configuration from an environment (plus an
// optional file), as a component started with it would.
func loadEnv(t *testing.T, what string, env map[string]string, file string) {
	t.Helper()
	known := envKeys()
	var environ []string
	for k, v := range env {
		if !strings.HasPrefix(k, config.EnvPrefix) {
			continue
		}
		if !known[k] {
			t.Errorf("%s: %s is not an askonce configuration key", what, k)
			continue
		}
		environ = append(environ, k+"="+v)
	}
	sort.Strings(environ)
	if _, err := config.Load(config.Layers{File: file, Environ: environ}); err != nil {
		t.Errorf("%s: %v", what, err)
	}
}

// readEnvFile reads KEY=VALUE lines (comments and blanks skipped).
func readEnvFile(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Errorf("%s: not KEY=VALUE: %q", path, line)
			continue
		}
		out[k] = v
	}
	return out
}

// secretish are environment variables that must never have an inline value.
var secretish = regexp.MustCompile(`PASSWORD|POSTGRES_URL|SOURCES_URL`)

// TestComposeConfig: the compose services run real askonce commands with
// existing ASKONCE_* keys whose values load, with the mounted connector
// configurations; secrets are only in env files and Docker secrets.
func TestComposeConfig(t *testing.T) {
	path := deployPath("compose", "docker-compose.yaml")
	docs := yamlDocs(t, path) // yaml.v3 resolves anchors and << merges
	services, _ := docs[0]["services"].(map[string]any)
	secretsEnv := readEnvFile(t, deployPath("compose", "secrets", "askonce.env.example"))
	want := map[string]int{"registry": 1, "connect": 3, "materialize": 2, "notify": 1, "serve": 2, "topics": 1, "schemas": 1}
	got := map[string]int{}
	for _, k := range []string{"kafka-1", "kafka-2", "kafka-3", "postgres", "proxy", "prometheus", "grafana"} {
		if services[k] == nil {
			t.Errorf("compose: no service %s", k)
		}
	}
	for name, s := range services {
		svc := s.(map[string]any)
		img, _ := svc["image"].(string)
		if strings.HasPrefix(img, "apache/kafka:") && strings.HasSuffix(img, ":latest") {
			t.Errorf("%s: image not pinned", name)
		}
		if !strings.Contains(img, ":") {
			t.Errorf("%s: image %q not pinned", name, img)
		}
		env := map[string]string{}
		envMap, _ := dig(svc, "environment").(map[string]any)
		for k, v := range envMap {
			env[k] = toString(v)
			// A *_DIR is a directory of secret files, not a secret.
			if secretish.MatchString(k) && strings.HasPrefix(k, "ASKONCE_") && !strings.HasSuffix(k, "_FILE") && !strings.HasSuffix(k, "_DIR") {
				t.Errorf("%s: secret %s set inline (use a Docker secret and *_FILE)", name, k)
			}
			if strings.Contains(k, "PASSWORD") && !strings.HasSuffix(k, "_FILE") && !strings.HasSuffix(k, "_DIR") {
				t.Errorf("%s: %s set inline (use a Docker secret and *_FILE)", name, k)
			}
		}
		if img != "askonce:pilot" {
			continue
		}
		cmd := list(svc["command"])
		if len(cmd) == 0 {
			t.Errorf("%s: no command", name)
			continue
		}
		sub := toString(cmd[0])
		got[sub]++
		// Only the release step writes schemas (askonce schemas register).
		if env["ASKONCE_REGISTRY_AUTO_REGISTER"] != "false" {
			t.Errorf("%s: registry.auto_register is not off (ASKONCE_REGISTRY_AUTO_REGISTER=%q)", name, env["ASKONCE_REGISTRY_AUTO_REGISTER"])
		}
		if sub == "schemas" && (len(cmd) != 2 || toString(cmd[1]) != "register") {
			t.Errorf("%s: runs %v, want schemas register", name, cmd)
		}
		holds := slices.ContainsFunc(list(svc["secrets"]), func(v any) bool { return v == "registry_password" }) ||
			env["ASKONCE_REGISTRY_USERNAME"] != "" || env["ASKONCE_REGISTRY_PASSWORD_FILE"] != ""
		if writer := sub == "registry" || sub == "schemas"; holds != writer {
			t.Errorf("%s: holds the registry's write credential: %v, want %v (only the registry and the schemas release step)", name, holds, writer)
		}
		if !slices.ContainsFunc(list(svc["env_file"]), func(v any) bool { return v == "./secrets/askonce.env" }) {
			t.Errorf("%s: does not read secrets/askonce.env", name)
		}
		maps := map[string]string{}
		for k, v := range secretsEnv {
			maps[k] = v
		}
		for k, v := range env {
			maps[k] = v
		}
		file := ""
		for i, a := range cmd {
			if toString(a) == "--config" && i+1 < len(cmd) {
				// the mounted file: find its source in volumes
				target := toString(cmd[i+1])
				for _, v := range list(svc["volumes"]) {
					src, dst, _ := strings.Cut(strings.TrimSuffix(toString(v), ":ro"), ":")
					if dst == target {
						file = filepath.Join(deployPath("compose"), src)
					}
				}
				if file == "" {
					t.Errorf("%s: --config %s is not mounted", name, target)
				}
			}
		}
		for k := range secretsEnv {
			if secretish.MatchString(k) && !strings.HasSuffix(k, "_FILE") {
				t.Errorf("secrets/askonce.env.example: %s: secrets are Docker secrets read through *_FILE", k)
			}
		}
		secretFiles(t, "compose service "+name, maps, composeSecret(svc))
		loadEnv(t, "compose service "+name, maps, file)
		// The ops address matches what prometheus.yml scrapes.
		wantOps := map[string]string{"connect": "0.0.0.0:9102", "materialize": "0.0.0.0:9103", "notify": "0.0.0.0:9104"}
		if w, ok := wantOps[sub]; ok && env["ASKONCE_OPS_LISTEN"] != w {
			t.Errorf("%s: ASKONCE_OPS_LISTEN = %q, want %s", name, env["ASKONCE_OPS_LISTEN"], w)
		}
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("compose runs askonce %s %d times, want %d", k, got[k], n)
		}
	}
	// Every connector configuration loads, and together they cover every
	// data center exactly once.
	seen := map[string]int{}
	for _, g := range deploygen.ComposeGroups {
		p := deployPath("compose", "connect", g.Name+".yaml")
		cfg, err := config.Load(config.Layers{File: p})
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		for _, s := range cfg.Connect.PGOutbox {
			seen[s.DataCenter]++
		}
	}
	for _, dc := range synth.DataCenters(deploygen.DataCenters) {
		if seen[dc.Name] != 1 {
			t.Errorf("compose: data center %s is connected %d times", dc.Name, seen[dc.Name])
		}
	}
}

// composeSecret reports whether a compose service sees path as one of its
// Docker secrets (/run/secrets/<target>).
func composeSecret(svc map[string]any) func(string) bool {
	return func(path string) bool {
		for _, sc := range list(svc["secrets"]) {
			target := toString(sc)
			if m, ok := sc.(map[string]any); ok {
				target = toString(m["target"])
				if target == "" {
					target = toString(m["source"])
				}
			}
			if path == "/run/secrets/"+target {
				return true
			}
		}
		return false
	}
}

func toString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

// kubeDocs is every document of the Kubernetes base.
func kubeDocs(t *testing.T) []map[string]any {
	t.Helper()
	paths, _ := filepath.Glob(deployPath("kubernetes", "base", "*.yaml"))
	var docs []map[string]any
	for _, p := range paths {
		if filepath.Base(p) == "kustomization.yaml" {
			continue
		}
		docs = append(docs, yamlDocs(t, p)...)
	}
	return docs
}

// TestKubernetes: Deployments probe /healthz and /readyz on the component's
// ops port, set resources, take secrets only by reference, set only existing
// configuration keys (which load); one connector per data center; a
// KafkaTopic for every topic of the code.
func TestKubernetes(t *testing.T) {
	docs := kubeDocs(t)
	byKind := map[string][]map[string]any{}
	for _, d := range docs {
		k := d["kind"].(string)
		byKind[k] = append(byKind[k], d)
	}
	var sharedEnv map[string]string
	for _, cm := range byKind["ConfigMap"] {
		if dig(cm, "metadata", "name") == "askonce-env" {
			sharedEnv = map[string]string{}
			for k, v := range dig(cm, "data").(map[string]any) {
				sharedEnv[k] = toString(v)
				if secretish.MatchString(k) {
					t.Errorf("ConfigMap askonce-env holds %s: secrets go in Secrets", k)
				}
			}
		}
	}
	if sharedEnv == nil {
		t.Fatal("no ConfigMap askonce-env")
	}
	connectCM := map[string]string{}
	for _, cm := range byKind["ConfigMap"] {
		name := dig(cm, "metadata", "name").(string)
		if strings.HasPrefix(name, "askonce-connect-") {
			connectCM[name] = toString(dig(cm, "data", "connect.yaml"))
		}
	}
	ports := map[string]int{"connect": 9102, "materialize": 9103, "notify": 9104, "serve": 8080, "registry": 8081}
	replicas := map[string]int{}
	connectors := map[string]bool{}
	for _, d := range byKind["Deployment"] {
		name := dig(d, "metadata", "name").(string)
		comp := toString(dig(d, "metadata", "labels", "app.kubernetes.io/component"))
		replicas[comp] += int(dig(d, "spec", "replicas").(int))
		pod := dig(d, "spec", "template", "spec")
		if dig(pod, "securityContext", "runAsNonRoot") != true {
			t.Errorf("%s: not runAsNonRoot", name)
		}
		for _, c := range list(dig(pod, "containers")) {
			args := list(dig(c, "args"))
			if len(args) == 0 || toString(args[0]) != comp {
				t.Errorf("%s: args %v do not run askonce %s", name, args, comp)
			}
			port := 0
			portName := ""
			for _, p := range list(dig(c, "ports")) {
				port, _ = dig(p, "containerPort").(int)
				portName = toString(dig(p, "name"))
			}
			if port != ports[comp] {
				t.Errorf("%s: container port %d, want %d", name, port, ports[comp])
			}
			for probe, path := range map[string]string{"livenessProbe": "/healthz", "readinessProbe": "/readyz"} {
				if dig(c, probe, "httpGet", "path") != path || toString(dig(c, probe, "httpGet", "port")) != portName {
					t.Errorf("%s: %s is not GET %s on port %s", name, probe, path, portName)
				}
			}
			if dig(c, "resources", "requests", "memory") == nil || dig(c, "resources", "limits", "memory") == nil {
				t.Errorf("%s: no memory request and limit", name)
			}
			env := map[string]string{}
			for k, v := range sharedEnv {
				env[k] = v
			}
			for _, e := range list(dig(c, "env")) {
				k := toString(dig(e, "name"))
				if v, ok := dig(e, "value").(string); ok {
					if secretish.MatchString(k) && !strings.HasSuffix(k, "_FILE") {
						t.Errorf("%s: %s has an inline value: use a Secret volume and *_FILE", name, k)
					}
					env[k] = v
				} else if dig(e, "valueFrom", "secretKeyRef", "name") != nil {
					env[k] = "postgres://u:p@db:5432/askonce" // a placeholder for the secret
					if strings.Contains(k, "PASSWORD") {
						env[k] = "placeholder"
					}
				} else {
					t.Errorf("%s: %s has neither value nor secretKeyRef", name, k)
				}
			}
			secretFiles(t, "Deployment "+name, env, mountedSecret(pod, c))
			if env["ASKONCE_OPS_LISTEN"] == "" && comp != "serve" && comp != "registry" {
				t.Errorf("%s: no ASKONCE_OPS_LISTEN", name)
			}
			file := ""
			if comp == "connect" {
				body, ok := connectCM[name]
				if !ok {
					t.Errorf("%s: no ConfigMap %s", name, name)
					continue
				}
				file = filepath.Join(t.TempDir(), "connect.yaml")
				if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
					t.Fatal(err)
				}
				cfg, err := config.Load(config.Layers{File: file})
				if err != nil {
					t.Errorf("%s: %v", name, err)
					continue
				}
				for _, s := range cfg.Connect.PGOutbox {
					if "askonce-connect-"+s.DataCenter != name {
						t.Errorf("%s connects %s", name, s.DataCenter)
					}
					connectors[s.DataCenter] = true
				}
			}
			loadEnv(t, "Deployment "+name, env, file)
		}
	}
	for comp, n := range map[string]int{"registry": 2, "materialize": 2, "notify": 1, "serve": 2} {
		if replicas[comp] != n {
			t.Errorf("%s: %d replicas in the base, want %d", comp, replicas[comp], n)
		}
	}
	dcs := synth.DataCenters(deploygen.DataCenters)
	if replicas["connect"] != len(dcs) || len(connectors) != len(dcs) {
		t.Errorf("%d connector replicas for %d data centers (want %d)", replicas["connect"], len(connectors), len(dcs))
	}
	nps := map[string]bool{}
	for _, np := range byKind["NetworkPolicy"] {
		nps[dig(np, "metadata", "name").(string)] = true
	}
	for _, dc := range dcs {
		if !connectors[dc.Name] {
			t.Errorf("no connector Deployment for %s", dc.Name)
		}
		if !nps["askonce-connect-"+dc.Name] {
			t.Errorf("no NetworkPolicy for the connector of %s", dc.Name)
		}
	}
	// Topics: one KafkaTopic per bus spec, min.insync.replicas 2.
	topics := map[string]bool{}
	for _, kt := range byKind["KafkaTopic"] {
		topics[toString(dig(kt, "spec", "topicName"))] = true
		if toString(dig(kt, "spec", "config", "min.insync.replicas")) != "2" {
			t.Errorf("KafkaTopic %s: min.insync.replicas is not 2", dig(kt, "metadata", "name"))
		}
	}
	for _, a := range config.Default().Kafka.Topics.Agencies {
		if !topics["askonce.notify."+a] {
			t.Errorf("no KafkaTopic askonce.notify.%s", a)
		}
	}
	for _, k := range []string{"Kafka", "KafkaNodePool", "KafkaUser", "Cluster", "ServiceMonitor", "PodDisruptionBudget", "CronJob", "PrometheusRule", "Ingress"} {
		if len(byKind[k]) == 0 {
			t.Errorf("no %s in the base", k)
		}
	}
	if sharedEnv["ASKONCE_KAFKA_TOPICS_CREATE_ON_START"] != "false" {
		t.Error("the platform owns the topics: ASKONCE_KAFKA_TOPICS_CREATE_ON_START must be false")
	}
	for _, cj := range byKind["CronJob"] {
		c := list(dig(cj, "spec", "jobTemplate", "spec", "template", "spec", "containers"))[0]
		args := list(dig(c, "args"))
		if len(args) != 2 || args[0] != "audit" || args[1] != "verify" {
			t.Errorf("CronJob %s runs %v, want audit verify", dig(cj, "metadata", "name"), args)
		}
		env := map[string]string{}
		for k, v := range sharedEnv {
			env[k] = v
		}
		for _, e := range list(dig(c, "env")) {
			k := toString(dig(e, "name"))
			if !strings.HasSuffix(k, "_FILE") || dig(e, "value") == nil {
				t.Errorf("CronJob: %s is not a secret file (*_FILE)", k)
			}
			env[k] = toString(dig(e, "value"))
		}
		secretFiles(t, "CronJob "+toString(dig(cj, "metadata", "name")), env,
			mountedSecret(dig(cj, "spec", "jobTemplate", "spec", "template", "spec"), c))
		loadEnv(t, "CronJob "+toString(dig(cj, "metadata", "name")), env, "")
	}
}

// TestKustomizeBuild renders every overlay with kubectl's kustomize, when
// kubectl is installed (it is not a Debian package of this machine's kind:
// without it, TestKubernetes still checks the base document by document).
func TestKustomizeBuild(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl not installed: overlays not rendered (TestKubernetes checks the base)")
	}
	overlays, _ := filepath.Glob(deployPath("kubernetes", "overlays", "*"))
	if len(overlays) < 2 {
		t.Fatalf("overlays: %v", overlays)
	}
	for _, o := range overlays {
		out, err := exec.Command(kubectl, "kustomize", o).CombinedOutput()
		if err != nil {
			t.Errorf("kubectl kustomize %s: %v\n%s", o, err, out)
			continue
		}
		dec := yaml.NewDecoder(bytes.NewReader(out))
		n := 0
		for {
			var d map[string]any
			if err := dec.Decode(&d); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", o, err)
			}
			n++
			if ns := toString(dig(d, "metadata", "namespace")); ns == "" {
				t.Errorf("%s: %s/%s has no namespace", filepath.Base(o), d["kind"], dig(d, "metadata", "name"))
			}
		}
		if n < 100 {
			t.Errorf("%s: only %d objects", o, n)
		}
	}
}

// TestMetricNamesExist: every metric the rules and dashboards select is
// defined in the code (or is a recording rule, Prometheus' up, the Go and
// process collectors', or kube-state-metrics' Job metrics).
func TestMetricNamesExist(t *testing.T) {
	fams, err := CodeMetrics(RepoRoot())
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"askonce_asks_avoided_total", "askonce_lookup_request_duration_seconds", "askonce_materialize_freshness_age_seconds", "askonce_notify_consumer_lag_messages", "askonce_audit_append_failures_total", "askonce_connect_up"} {
		if _, ok := fams[m]; !ok {
			t.Fatalf("the code scan misses %s: fix CodeMetrics", m)
		}
	}
	known := Series(fams)
	rules := loadRules(t)
	for _, r := range rules {
		if r.Record != "" {
			known[r.Record] = true
		}
	}
	ok := func(n string) bool {
		return known[n] || n == "up" || strings.HasPrefix(n, "process_") || strings.HasPrefix(n, "go_") ||
			n == "kube_job_status_failed" || n == "kube_cronjob_status_last_successful_time"
	}
	for _, r := range rules {
		for _, n := range PromQLMetricNames(r.Expr) {
			if !ok(n) {
				t.Errorf("rule %s%s uses %s, which no code defines", r.Record, r.Alert, n)
			}
		}
	}
	exprs := dashboardExprs(t)
	for _, e := range exprs {
		for _, n := range PromQLMetricNames(e.expr) {
			if !ok(n) {
				t.Errorf("%s / %q uses %s, which no code defines", e.file, e.panel, n)
			}
		}
	}
	// The dashboards cover every component.
	for _, f := range []string{"overview", "connect", "materialize", "lookup", "audit", "notify", "registry"} {
		if _, err := os.Stat(deployPath("grafana", "dashboards", "askonce-"+f+".json")); err != nil {
			t.Error(err)
		}
	}
}

type rule struct{ Record, Alert, Expr string }

func loadRules(t *testing.T) []rule {
	t.Helper()
	paths, _ := filepath.Glob(deployPath("promrules", "*.rules.yml"))
	var out []rule
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var f struct {
			Groups []struct {
				Rules []rule `yaml:"rules"`
			} `yaml:"groups"`
		}
		if err := yaml.Unmarshal(b, &f); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		for _, g := range f.Groups {
			out = append(out, g.Rules...)
		}
	}
	if len(out) < 20 {
		t.Fatalf("only %d rules", len(out))
	}
	return out
}

type dashExpr struct{ file, panel, expr string }

func dashboardExprs(t *testing.T) []dashExpr {
	t.Helper()
	paths, _ := filepath.Glob(deployPath("grafana", "dashboards", "*.json"))
	var out []dashExpr
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			Panels []struct {
				Title   string
				Targets []struct{ Expr string }
			}
		}
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		for _, pn := range d.Panels {
			for _, tg := range pn.Targets {
				out = append(out, dashExpr{filepath.Base(p), pn.Title, tg.Expr})
			}
		}
	}
	if len(out) < 30 {
		t.Fatalf("only %d dashboard queries", len(out))
	}
	return out
}

// TestRunbooks: deploy/README.md has every runbook, and every alert's
// runbook annotation points at one of its headings.
func TestRunbooks(t *testing.T) {
	b, err := os.ReadFile(deployPath("README.md"))
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		if h, ok := strings.CutPrefix(line, "### "); ok {
			a := strings.ToLower(h)
			a = regexp.MustCompile(`[^a-z0-9 -]`).ReplaceAllString(a, "")
			anchors[strings.ReplaceAll(a, " ", "-")] = true
		}
	}
	for _, h := range []string{"scale-out", "add-a-data-center", "rotate-signing-keys", "replay-a-topic", "drain-the-dlq-after-a-fix", "restore-postgresql"} {
		if !anchors[h] {
			t.Errorf("deploy/README.md has no runbook %q", h)
		}
	}
	rb, err := os.ReadFile(deployPath("promrules", "askonce.rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`runbook: deploy/README\.md#([a-z0-9-]+)`).FindAllStringSubmatch(string(rb), -1) {
		if !anchors[m[1]] {
			t.Errorf("a rule's runbook points at #%s, which deploy/README.md lacks", m[1])
		}
	}
	readme, err := os.ReadFile(filepath.Join(RepoRoot(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if i, j := bytes.Index(readme, []byte("\n## Deploy\n")), bytes.Index(readme, []byte("\n## Development\n")); i < 0 || j < i || !bytes.Contains(readme[i:j], []byte("deploy/README.md")) {
		t.Error("README.md has no \"## Deploy\" section linking deploy/README.md before \"## Development\"")
	}
}

// TestComposeReferences: what the compose file refers to exists — files and
// directories it mounts (but the secrets that init.sh creates), services in
// depends_on, declared secrets and named volumes.
func TestComposeReferences(t *testing.T) {
	dir := deployPath("compose")
	doc := yamlDocs(t, filepath.Join(dir, "docker-compose.yaml"))[0]
	services, _ := doc["services"].(map[string]any)
	secrets, _ := doc["secrets"].(map[string]any)
	volumes, _ := doc["volumes"].(map[string]any)
	created := map[string]bool{} // by secrets/init.sh
	for _, f := range []string{"askonce.env", "postgres_password", "postgres_url", "sources_url", "registry_password", "grafana_admin_password", "policy.yaml"} {
		created[filepath.Join(dir, "secrets", f)] = true
	}
	for _, role := range []string{"api", "materialize", "notify", "connect", "registry", "reader"} {
		created[filepath.Join(dir, "secrets", "pg_password_"+role)] = true
		created[filepath.Join(dir, "secrets", "pg_url_"+role)] = true
	}
	initSh, err := os.ReadFile(filepath.Join(dir, "secrets", "init.sh"))
	if err != nil {
		t.Fatal(err)
	}
	for f := range created {
		if !bytes.Contains(initSh, []byte(filepath.Base(f))) {
			t.Errorf("secrets/init.sh does not create %s", filepath.Base(f))
		}
	}
	// init.sh creates a password for every Kafka principal the compose
	// file names (secrets/kafka/<principal>).
	kafkaDir := filepath.Join(dir, "secrets", "kafka")
	if !bytes.Contains(initSh, []byte("secrets/kafka/")) {
		t.Errorf("secrets/init.sh does not create the Kafka passwords (secrets/kafka/<principal>)")
	}
	exists := func(what, p string) {
		abs := filepath.Join(dir, p)
		if created[abs] || abs == kafkaDir || filepath.Dir(abs) == kafkaDir {
			return
		}
		if _, err := os.Stat(abs); err != nil {
			t.Errorf("%s: %s does not exist", what, p)
		}
	}
	for name, s := range secrets {
		exists("secret "+name, toString(dig(s, "file")))
	}
	for name, s := range services {
		svc := s.(map[string]any)
		for _, f := range list(svc["env_file"]) {
			exists(name+" env_file", toString(f))
		}
		for _, v := range list(svc["volumes"]) {
			src, _, _ := strings.Cut(toString(v), ":")
			if strings.HasPrefix(src, ".") {
				exists(name+" volume", src)
			} else if _, ok := volumes[src]; !ok {
				t.Errorf("%s: named volume %s is not declared", name, src)
			}
		}
		for _, sc := range list(svc["secrets"]) {
			src := toString(sc)
			if m, ok := sc.(map[string]any); ok {
				src = toString(m["source"])
			}
			if _, ok := secrets[src]; !ok {
				t.Errorf("%s: secret %s is not declared", name, src)
			}
		}
		deps := svc["depends_on"]
		var names []string
		switch d := deps.(type) {
		case []any:
			for _, x := range d {
				names = append(names, toString(x))
			}
		case map[string]any:
			for k := range d {
				names = append(names, k)
			}
		}
		for _, d := range names {
			if services[d] == nil {
				t.Errorf("%s depends on %s, which is not a service", name, d)
			}
		}
	}
	// Prometheus scrapes every long-running askonce service on its ops
	// address, and only services that exist.
	prom := yamlDocs(t, filepath.Join(dir, "prometheus.yml"))[0]
	scraped := map[string]string{}
	for _, sc := range list(prom["scrape_configs"]) {
		job := toString(dig(sc, "job_name"))
		for _, stc := range list(dig(sc, "static_configs")) {
			for _, tg := range list(dig(stc, "targets")) {
				host, port, _ := strings.Cut(toString(tg), ":")
				if host != "localhost" && services[host] == nil {
					t.Errorf("prometheus.yml job %s scrapes %s, which is not a service", job, host)
				}
				scraped[host] = port
			}
		}
	}
	ops := map[string]string{"registry": "8081", "connect": "9102", "materialize": "9103", "notify": "9104", "serve": "8080"}
	for name, s := range services {
		cmd := list(dig(s, "command"))
		if toString(dig(s, "image")) != "askonce:pilot" || len(cmd) == 0 {
			continue
		}
		want, ok := ops[toString(cmd[0])]
		if !ok {
			continue
		}
		if scraped[name] != want {
			t.Errorf("prometheus.yml does not scrape %s on its ops port %s", name, want)
		}
	}
}

// TestIngressPublishesOnlyTheAPI: the lookup API's operations endpoints
// (same port as the API) are not reachable through the Ingress.
func TestIngressPublishesOnlyTheAPI(t *testing.T) {
	n := 0
	for _, d := range kubeDocs(t) {
		if d["kind"] != "Ingress" {
			continue
		}
		for _, r := range list(dig(d, "spec", "rules")) {
			for _, p := range list(dig(r, "http", "paths")) {
				n++
				path := toString(dig(p, "path"))
				if path == "/" || path == "" || strings.HasPrefix("/metrics", path) || strings.HasPrefix("/healthz", path) || strings.HasPrefix("/readyz", path) {
					t.Errorf("Ingress %s publishes %s, which exposes the ops endpoints", dig(d, "metadata", "name"), path)
				}
			}
		}
	}
	if n == 0 {
		t.Error("no Ingress path")
	}
}

// TestDockerfile: a multi-stage build of a static binary into an image
// without a shell, run as a non-root user, with the Go of go.mod.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(RepoRoot(), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	gomod, err := os.ReadFile(filepath.Join(RepoRoot(), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(gomod)
	froms := regexp.MustCompile(`(?m)^FROM (\S+)`).FindAllStringSubmatch(s, -1)
	if len(froms) < 2 {
		t.Fatalf("not a multi-stage build: %v", froms)
	}
	if goVersion == nil || !strings.HasPrefix(froms[0][1], "golang:"+string(goVersion[1])) {
		t.Errorf("builder %s is not the Go of go.mod (%s)", froms[0][1], goVersion)
	}
	final := froms[len(froms)-1][1]
	if !strings.HasPrefix(final, "gcr.io/distroless/static") && final != "scratch" {
		t.Errorf("final image %s is not distroless static or scratch", final)
	}
	for _, want := range []string{"CGO_ENABLED=0", "./cmd/askonce", `ENTRYPOINT ["/usr/local/bin/askonce"]`} {
		if !strings.Contains(s, want) {
			t.Errorf("Dockerfile lacks %s", want)
		}
	}
	users := regexp.MustCompile(`(?m)^USER (\S+)`).FindAllStringSubmatch(s, -1)
	if len(users) == 0 || strings.HasPrefix(users[len(users)-1][1], "0") || strings.HasPrefix(users[len(users)-1][1], "root") {
		t.Errorf("the image does not run as a non-root user: %v", users)
	}
	if regexp.MustCompile(`(?m)^ENTRYPOINT \S*sh`).MatchString(s) {
		t.Error("the entrypoint uses a shell")
	}
	di, err := os.ReadFile(filepath.Join(RepoRoot(), ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{".git", ".var", "deploy/compose/secrets"} {
		if !bytes.Contains(di, []byte(want)) {
			t.Errorf(".dockerignore does not exclude %s", want)
		}
	}
}
