package deploytest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/askonce/askonce/internal/config"
)

// A pod's environment on a real cluster is not only its manifest's env:
// unless the pod spec sets enableServiceLinks: false, the kubelet adds
// Docker-link variables for every Service of the namespace, and with
// Services named askonce-* those are ASKONCE_* variables. The tests below
// build each shipped pod's environment as the kubelet does and load the
// configuration with it.

// kubeSets are the rendered manifests to check: the base, and every overlay
// rendered with kubectl's kustomize when kubectl is installed.
func kubeSets(t *testing.T) map[string][]map[string]any {
	t.Helper()
	sets := map[string][]map[string]any{"base": kubeDocs(t)}
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Log("kubectl not installed: overlays not rendered, the base only")
		return sets
	}
	overlays, _ := filepath.Glob(deployPath("kubernetes", "overlays", "*"))
	for _, o := range overlays {
		out, err := exec.Command(kubectl, "kustomize", o).CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl kustomize %s: %v\n%s", o, err, out)
		}
		dec := yaml.NewDecoder(bytes.NewReader(out))
		var docs []map[string]any
		for {
			var d map[string]any
			if err := dec.Decode(&d); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", o, err)
			}
			if d != nil {
				docs = append(docs, d)
			}
		}
		sets["overlay "+filepath.Base(o)] = docs
	}
	return sets
}

// podSpec is one pod template of a workload.
type podSpec struct {
	what string // "Deployment askonce-serve"
	spec any
}

// podSpecs finds the pod template of every workload kind.
func podSpecs(docs []map[string]any) []podSpec {
	var out []podSpec
	for _, d := range docs {
		kind := toString(d["kind"])
		var spec any
		switch kind {
		case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job":
			spec = dig(d, "spec", "template", "spec")
		case "CronJob":
			spec = dig(d, "spec", "jobTemplate", "spec", "template", "spec")
		case "Pod":
			spec = dig(d, "spec")
		default:
			continue
		}
		out = append(out, podSpec{what: kind + " " + toString(dig(d, "metadata", "name")), spec: spec})
	}
	return out
}

// TestPodsDisableServiceLinks: every shipped pod template sets
// enableServiceLinks: false (the service-link variables are noise at best,
// and each pod finds its Services by DNS).
func TestPodsDisableServiceLinks(t *testing.T) {
	for set, docs := range kubeSets(t) {
		pods := podSpecs(docs)
		if len(pods) < 5 {
			t.Errorf("%s: only %d pod templates", set, len(pods))
		}
		for _, p := range pods {
			if v, ok := dig(p.spec, "enableServiceLinks").(bool); !ok || v {
				t.Errorf("%s: %s does not set enableServiceLinks: false", set, p.what)
			}
		}
	}
}

// service is what the kubelet reads of a Service.
type service struct {
	name      string
	clusterIP string // "" for headless and ExternalName Services: no variables
	ports     []servicePort
}

type servicePort struct {
	name, protocol string
	port           int
}

// services lists the Services of a rendered set, with those the operators
// create from it (Strimzi for a Kafka, CloudNativePG for a Cluster), each
// given a cluster IP as the API server would.
func services(docs []map[string]any) []service {
	var out []service
	next := 0
	ip := func() string { next++; return fmt.Sprintf("10.96.%d.%d", next/250, next%250+1) }
	for _, d := range docs {
		name := toString(dig(d, "metadata", "name"))
		switch toString(d["kind"]) {
		case "Service":
			s := service{name: name}
			if dig(d, "spec", "clusterIP") != "None" && dig(d, "spec", "type") != "ExternalName" {
				s.clusterIP = ip()
			}
			for _, p := range list(dig(d, "spec", "ports")) {
				port, _ := dig(p, "port").(int)
				s.ports = append(s.ports, servicePort{name: toString(dig(p, "name")), protocol: toString(dig(p, "protocol")), port: port})
			}
			out = append(out, s)
		case "Kafka":
			// Strimzi: <name>-kafka-bootstrap with the replication port and one
			// port per listener (tcp-<listener>); <name>-kafka-brokers is headless.
			s := service{name: name + "-kafka-bootstrap", clusterIP: ip(), ports: []servicePort{{name: "tcp-replication", port: 9091}}}
			for _, l := range list(dig(d, "spec", "kafka", "listeners")) {
				port, _ := dig(l, "port").(int)
				s.ports = append(s.ports, servicePort{name: "tcp-" + toString(dig(l, "name")), port: port})
			}
			out = append(out, s, service{name: name + "-kafka-brokers"})
		case "Cluster":
			// CloudNativePG: <name>-rw, -ro and -r on port postgres (5432).
			for _, suffix := range []string{"-rw", "-ro", "-r"} {
				out = append(out, service{name: name + suffix, clusterIP: ip(), ports: []servicePort{{name: "postgres", port: 5432}}})
			}
		}
	}
	return out
}

// serviceLinks are the variables the kubelet adds for svcs (Kubernetes'
// pkg/kubelet/envvars FromServices), plus the API server's own.
func serviceLinks(svcs []service) map[string]string {
	env := map[string]string{
		"KUBERNETES_SERVICE_HOST": "10.96.0.1",
		"KUBERNETES_SERVICE_PORT": "443",
	}
	envName := func(s string) string { return strings.ToUpper(strings.ReplaceAll(s, "-", "_")) }
	for _, s := range svcs {
		if s.clusterIP == "" || len(s.ports) == 0 {
			continue
		}
		prefix := envName(s.name)
		env[prefix+"_SERVICE_HOST"] = s.clusterIP
		env[prefix+"_SERVICE_PORT"] = strconv.Itoa(s.ports[0].port)
		for _, p := range s.ports {
			if p.name != "" {
				env[prefix+"_SERVICE_PORT_"+envName(p.name)] = strconv.Itoa(p.port)
			}
		}
		for i, p := range s.ports {
			proto := p.protocol
			if proto == "" {
				proto = "TCP"
			}
			url := strings.ToLower(proto) + "://" + net.JoinHostPort(s.clusterIP, strconv.Itoa(p.port))
			if i == 0 {
				env[prefix+"_PORT"] = url
			}
			pp := fmt.Sprintf("%s_PORT_%d_%s", prefix, p.port, strings.ToUpper(proto))
			env[pp] = url
			env[pp+"_PROTO"] = strings.ToLower(proto)
			env[pp+"_PORT"] = strconv.Itoa(p.port)
			env[pp+"_ADDR"] = s.clusterIP
		}
	}
	return env
}

// TestKubeletEnvironment: every askonce container of every rendered set
// loads its configuration from the environment the kubelet gives it: the
// ConfigMaps of envFrom, its env (secret files written with placeholders),
// and, as if someone turned them back on, the service links of every
// Service of the namespace.
func TestKubeletEnvironment(t *testing.T) {
	for set, docs := range kubeSets(t) {
		configMaps := configMapData(docs)
		links := serviceLinks(services(docs))
		askonceLinks := 0
		for k := range links {
			if strings.HasPrefix(k, config.EnvPrefix) {
				askonceLinks++
			}
		}
		if askonceLinks == 0 {
			t.Errorf("%s: no askonce-* Service gives ASKONCE_* links: the test proves nothing", set)
		}
		checked := 0
		for _, p := range podSpecs(docs) {
			for _, c := range list(dig(p.spec, "containers")) {
				if !isAskonceImage(toString(dig(c, "image"))) {
					continue
				}
				what := fmt.Sprintf("%s: %s container %s", set, p.what, toString(dig(c, "name")))
				env := map[string]string{}
				for k, v := range links {
					env[k] = v
				}
				// envFrom, then env: later sources win, as in the kubelet.
				for _, ef := range list(dig(c, "envFrom")) {
					name := toString(dig(ef, "configMapRef", "name"))
					data, ok := configMaps[name]
					if !ok {
						if dig(ef, "configMapRef") != nil {
							t.Errorf("%s: envFrom ConfigMap %s is not shipped", what, name)
						}
						continue
					}
					for k, v := range data {
						env[toString(dig(ef, "prefix"))+k] = v
					}
				}
				for _, e := range list(dig(c, "env")) {
					k := toString(dig(e, "name"))
					if v, ok := dig(e, "value").(string); ok {
						env[k] = v
					} else if dig(e, "valueFrom", "secretKeyRef") != nil {
						env[k] = placeholder(k)
					} else if ref := dig(e, "valueFrom", "configMapKeyRef"); ref != nil {
						env[k] = configMaps[toString(dig(ref, "name"))][toString(dig(ref, "key"))]
					}
				}
				secretFiles(t, what, env, mountedSecret(p.spec, c))
				environ := make([]string, 0, len(env))
				for k, v := range env {
					environ = append(environ, k+"="+v)
				}
				sort.Strings(environ)
				file := ""
				if args := list(dig(c, "args")); len(args) > 0 && toString(args[0]) == "connect" {
					file = connectFile(t, docs, p.spec)
				}
				if _, err := config.Load(config.Layers{File: file, Environ: environ}); err != nil {
					t.Errorf("%s: %v", what, err)
				}
				checked++
			}
		}
		if checked < 5 {
			t.Errorf("%s: only %d askonce containers", set, checked)
		}
	}
}

// isAskonceImage: askonce, or registry.example/askonce/askonce:0.1.0 once
// an overlay has set the image.
func isAskonceImage(image string) bool {
	image, _, _ = strings.Cut(image, "@")
	name := image[strings.LastIndex(image, "/")+1:]
	name, _, _ = strings.Cut(name, ":")
	return name == "askonce"
}

// connectFile writes the connector configuration a connect pod mounts
// (its ConfigMap's connect.yaml) to a file, for config.Load.
func connectFile(t *testing.T, docs []map[string]any, spec any) string {
	t.Helper()
	for _, v := range list(dig(spec, "volumes")) {
		name := toString(dig(v, "configMap", "name"))
		if name == "" {
			continue
		}
		for _, d := range docs {
			if d["kind"] == "ConfigMap" && toString(dig(d, "metadata", "name")) == name {
				p := filepath.Join(t.TempDir(), "connect.yaml")
				if err := os.WriteFile(p, []byte(toString(dig(d, "data", "connect.yaml"))), 0o600); err != nil {
					t.Fatal(err)
				}
				return p
			}
		}
	}
	return ""
}

// placeholder is a value of the right form for a secret setting.
func placeholder(envName string) string {
	if strings.Contains(envName, "URL") {
		return "postgres://u:p@db:5432/askonce"
	}
	return "placeholder"
}

// secretFiles checks that every ASKONCE_*_FILE of a secret setting names a
// file that mounted provides, and points it at a placeholder written to a
// temporary file, so that the configuration loads as it would in the pod.
func secretFiles(t *testing.T, what string, env map[string]string, mounted func(path string) bool) {
	t.Helper()
	for _, key := range config.SecretKeys() {
		name := config.EnvName(key + config.FileSuffix)
		path, ok := env[name]
		if !ok {
			continue
		}
		if !mounted(path) {
			t.Errorf("%s: %s=%s is not a mounted secret", what, name, path)
		}
		p := filepath.Join(t.TempDir(), "secret")
		if err := os.WriteFile(p, []byte(placeholder(config.EnvName(key))+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		env[name] = p
	}
}

// mountedSecret reports whether a container of a pod sees path as a file
// of a Secret volume (secret, or a projected volume of secrets).
func mountedSecret(spec, container any) func(string) bool {
	return func(path string) bool {
		for _, m := range list(dig(container, "volumeMounts")) {
			dir := toString(dig(m, "mountPath"))
			rel, ok := strings.CutPrefix(path, strings.TrimSuffix(dir, "/")+"/")
			if !ok {
				continue
			}
			for _, v := range list(dig(spec, "volumes")) {
				if toString(dig(v, "name")) != toString(dig(m, "name")) {
					continue
				}
				var secrets []any
				if s := dig(v, "secret"); s != nil {
					secrets = append(secrets, s)
				}
				for _, src := range list(dig(v, "projected", "sources")) {
					if s := dig(src, "secret"); s != nil {
						secrets = append(secrets, s)
					}
				}
				for _, s := range secrets {
					items := list(dig(s, "items"))
					if len(items) == 0 {
						return true // every key of the Secret is a file
					}
					for _, it := range items {
						if toString(dig(it, "path")) == rel {
							return true
						}
					}
				}
			}
		}
		return false
	}
}

// configMapData is the data of every ConfigMap of docs, by name.
func configMapData(docs []map[string]any) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, d := range docs {
		if d["kind"] == "ConfigMap" {
			data := map[string]string{}
			for k, v := range dig(d, "data").(map[string]any) {
				data[k] = toString(v)
			}
			out[toString(dig(d, "metadata", "name"))] = data
		}
	}
	return out
}
