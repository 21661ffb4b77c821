package deploytest

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/askonce/askonce/deploy/deploygen"
	"github.com/askonce/askonce/internal/access"
)

// componentKinds is the Kafka principal kind of each askonce command that
// runs in a workload with a Kafka identity; every other command (registry,
// schemas, audit, migrate, ...) runs without one.
var componentKinds = map[string]access.Kind{
	"connect":     access.Connector,
	"materialize": access.Materializer,
	"notify":      access.Router,
	"serve":       access.API,
}

// grantKeys expands grants to one "type name pattern op" key per operation.
func grantKeys(gs []access.Grant) []string {
	var out []string
	for _, g := range gs {
		pattern := "literal"
		if g.Pattern == access.Prefixed {
			pattern = "prefix"
		}
		for _, o := range g.Ops {
			out = append(out, fmt.Sprintf("%s %s %s %s", g.Resource, g.Name, pattern, o))
		}
	}
	sort.Strings(out)
	return out
}

// TestKafkaIdentities checks the shipped Kubernetes deploy (base and every
// overlay) against the identity model of internal/access: one KafkaUser per
// principal with exactly the model's ACLs and nothing that deletes or
// alters; every workload that uses Kafka runs as the principal of its kind
// (a connector as its own data center's), with the password of that
// KafkaUser's Secret; every other workload has no Kafka identity.
func TestKafkaIdentities(t *testing.T) {
	model, err := deploygen.AccessModel()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]access.Principal{}
	for _, p := range model.Principals {
		if deploygen.KubePrincipal(p) {
			want[p.Name] = p
		}
	}
	for set, docs := range kubeSets(t) {
		users := map[string]bool{}
		for _, d := range docs {
			if d["kind"] != "KafkaUser" {
				continue
			}
			name := toString(dig(d, "metadata", "name"))
			users[name] = true
			p, ok := want[name]
			if !ok {
				t.Errorf("%s: KafkaUser %s is not a principal of the model", set, name)
				continue
			}
			if a := toString(dig(d, "spec", "authentication", "type")); a != "scram-sha-512" {
				t.Errorf("%s: KafkaUser %s authenticates with %q", set, name, a)
			}
			var got []string
			for _, acl := range list(dig(d, "spec", "authorization", "acls")) {
				pattern := toString(dig(acl, "resource", "patternType"))
				if pattern == "" {
					pattern = "literal"
				}
				if h := toString(dig(acl, "host")); h != "" && h != "*" {
					pattern += " host " + h
				}
				if ty := toString(dig(acl, "type")); ty != "" && ty != "allow" {
					t.Errorf("%s: KafkaUser %s: an ACL of type %s", set, name, ty)
				}
				for _, op := range list(dig(acl, "operations")) {
					switch o := toString(op); o {
					case "Delete", "Alter", "AlterConfigs", "All", "ClusterAction", "IdempotentWrite":
						t.Errorf("%s: KafkaUser %s may %s %v", set, name, o, dig(acl, "resource"))
					}
					got = append(got, fmt.Sprintf("%s %s %s %s", toString(dig(acl, "resource", "type")), toString(dig(acl, "resource", "name")), pattern, toString(op)))
				}
			}
			sort.Strings(got)
			if w := grantKeys(p.Grants); strings.Join(got, "\n") != strings.Join(w, "\n") {
				t.Errorf("%s: KafkaUser %s ACLs\n%s\nwant (internal/access)\n%s", set, name, strings.Join(got, "\n"), strings.Join(w, "\n"))
			}
		}
		for name := range want {
			if !users[name] {
				t.Errorf("%s: no KafkaUser for principal %s", set, name)
			}
		}

		configMaps := configMapData(docs)
		seen := map[access.Kind]int{}
		for _, p := range podSpecs(docs) {
			for _, c := range list(dig(p.spec, "containers")) {
				if !isAskonceImage(toString(dig(c, "image"))) {
					continue
				}
				what := fmt.Sprintf("%s: %s container %s", set, p.what, toString(dig(c, "name")))
				env := map[string]string{}
				for _, ef := range list(dig(c, "envFrom")) {
					for k, v := range configMaps[toString(dig(ef, "configMapRef", "name"))] {
						env[toString(dig(ef, "prefix"))+k] = v
					}
				}
				for _, e := range list(dig(c, "env")) {
					if v, ok := dig(e, "value").(string); ok {
						env[toString(dig(e, "name"))] = v
					}
				}
				user, mech := env["ASKONCE_KAFKA_SASL_USERNAME"], env["ASKONCE_KAFKA_SASL_MECHANISM"]
				cmd := ""
				if args := list(dig(c, "args")); len(args) > 0 {
					cmd = toString(args[0])
				}
				kind, usesKafka := componentKinds[cmd]
				if !usesKafka {
					if user != "" || env["ASKONCE_KAFKA_SASL_PASSWORD_FILE"] != "" {
						t.Errorf("%s: `askonce %s` does not use Kafka but has a Kafka identity (%s)", what, cmd, user)
					}
					continue
				}
				pr, ok := want[user]
				switch {
				case mech != "scram-sha-512":
					t.Errorf("%s: kafka.sasl.mechanism %q, want scram-sha-512", what, mech)
				case !ok:
					t.Errorf("%s: runs as Kafka user %q, not a principal with a KafkaUser", what, user)
				case pr.Kind != kind:
					t.Errorf("%s: `askonce %s` runs as %s, a %s principal, want a %s", what, cmd, user, pr.Kind, kind)
				case kind == access.Connector && pr.DataCenter != podLabel(docs, p, "askonce.org/data-center"):
					t.Errorf("%s: the connector of %s runs as %s", what, podLabel(docs, p, "askonce.org/data-center"), user)
				}
				if s := secretOf(p.spec, c, env["ASKONCE_KAFKA_SASL_PASSWORD_FILE"]); s != user {
					t.Errorf("%s: Kafka password from Secret %q, want the KafkaUser's Secret %q", what, s, user)
				}
				seen[kind]++
			}
		}
		for _, k := range []access.Kind{access.Connector, access.Materializer, access.Router, access.API} {
			if seen[k] == 0 {
				t.Errorf("%s: no workload runs as a %s: the test proves nothing for it", set, k)
			}
		}
		if seen[access.Connector] != 33 {
			t.Errorf("%s: %d connector workloads, want 33", set, seen[access.Connector])
		}
	}
}

// podLabel is a label of a workload's pod template.
func podLabel(docs []map[string]any, p podSpec, key string) string {
	for _, d := range docs {
		if toString(d["kind"])+" "+toString(dig(d, "metadata", "name")) != p.what {
			continue
		}
		for _, path := range [][]string{{"spec", "template", "metadata", "labels", key}, {"spec", "jobTemplate", "spec", "template", "metadata", "labels", key}} {
			if v := toString(dig(d, path...)); v != "" {
				return v
			}
		}
	}
	return ""
}

// secretOf is the name of the Secret that provides the file path in a
// container of a pod ("" when no Secret does).
func secretOf(spec, container any, path string) string {
	for _, m := range list(dig(container, "volumeMounts")) {
		rel, ok := strings.CutPrefix(path, strings.TrimSuffix(toString(dig(m, "mountPath")), "/")+"/")
		if !ok {
			continue
		}
		for _, v := range list(dig(spec, "volumes")) {
			if toString(dig(v, "name")) != toString(dig(m, "name")) {
				continue
			}
			if s := dig(v, "secret"); s != nil {
				return toString(dig(s, "secretName"))
			}
			for _, src := range list(dig(v, "projected", "sources")) {
				s := dig(src, "secret")
				for _, it := range list(dig(s, "items")) {
					if toString(dig(it, "path")) == rel {
						return toString(dig(s, "name"))
					}
				}
			}
		}
	}
	return ""
}

// TestComposeKafkaIdentities checks the compose pilot against the identity
// model: each askonce service that uses Kafka runs as the principal of its
// kind and mounts that principal's password only (a connect service: its
// group's data centers' connectors, one password each); the one-shot
// kafka-access alone holds every password and reaches the brokers'
// internal listener; the brokers authorize with ACLs and deny by default.
func TestComposeKafkaIdentities(t *testing.T) {
	model, err := deploygen.AccessModel()
	if err != nil {
		t.Fatal(err)
	}
	doc := yamlDocs(t, deployPath("compose", "docker-compose.yaml"))[0]
	services, _ := doc["services"].(map[string]any)
	kinds := map[string]access.Kind{"topics": access.Release}
	for k, v := range componentKinds {
		kinds[k] = v
	}
	groupDCs := map[string][]string{}
	for _, g := range deploygen.ComposeGroups {
		cfgPath := deployPath("compose", "connect", g.Name+".yaml")
		for _, d := range yamlDocs(t, cfgPath) {
			for _, s := range list(dig(d, "connect", "pgoutbox")) {
				groupDCs["connect-"+g.Name] = append(groupDCs["connect-"+g.Name], access.ConnectorName(toString(dig(s, "agency")), toString(dig(s, "data_center"))))
			}
		}
	}
	seen := map[access.Kind]int{}
	for name, s := range services {
		svc := s.(map[string]any)
		img := toString(svc["image"])
		nets := fmt.Sprint(svc["networks"])
		if strings.HasPrefix(img, "apache/kafka:") {
			env, _ := dig(svc, "environment").(map[string]any)
			if toString(env["KAFKA_AUTHORIZER_CLASS_NAME"]) == "" || toString(env["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"]) != "false" {
				t.Errorf("%s: the broker does not authorize by ACLs with deny by default", name)
			}
			if !strings.Contains(toString(env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"]), "CLIENT:SASL_") {
				t.Errorf("%s: the clients' listener does not authenticate", name)
			}
			continue
		}
		if img != "askonce:pilot" {
			if strings.Contains(nets, "kafka-internal") {
				t.Errorf("%s: on the network kafka-internal", name)
			}
			continue
		}
		var secrets []string
		for _, sc := range list(svc["secrets"]) {
			if m, ok := sc.(map[string]any); ok {
				secrets = append(secrets, toString(m["source"]))
			} else {
				secrets = append(secrets, toString(sc))
			}
		}
		var kafkaSecrets []string
		for _, s := range secrets {
			if strings.HasPrefix(s, "kafka_") {
				kafkaSecrets = append(kafkaSecrets, strings.TrimPrefix(s, "kafka_"))
			}
		}
		sort.Strings(kafkaSecrets)
		cmd := list(svc["command"])
		sub := ""
		if len(cmd) > 0 {
			sub = toString(cmd[0])
		}
		env := map[string]string{}
		if m, ok := dig(svc, "environment").(map[string]any); ok {
			for k, v := range m {
				env[k] = toString(v)
			}
		}
		if name == "kafka-access" {
			if fmt.Sprint(cmd) != "[access apply --passwords-dir /run/secrets/kafka]" || fmt.Sprint(kafkaSecrets) != "[passwords]" {
				t.Errorf("kafka-access: runs %v with Kafka secrets %v", cmd, kafkaSecrets)
			}
			continue
		}
		if strings.Contains(nets, "kafka-internal") {
			t.Errorf("%s: on the network kafka-internal (the brokers' unauthenticated listener)", name)
		}
		kind, usesKafka := kinds[sub]
		if !usesKafka {
			if len(kafkaSecrets) > 0 || env["ASKONCE_KAFKA_SASL_USERNAME"] != "" {
				t.Errorf("%s: `askonce %s` does not use Kafka but holds Kafka credentials %v", name, sub, kafkaSecrets)
			}
			continue
		}
		seen[kind]++
		if kind == access.Connector {
			want := slices.Clone(groupDCs[name])
			sort.Strings(want)
			if len(want) == 0 || fmt.Sprint(kafkaSecrets) != fmt.Sprint(want) {
				t.Errorf("%s: Kafka secrets %v, want its data centers' %v", name, kafkaSecrets, want)
			}
			if env["ASKONCE_CONNECT_SASL_PASSWORD_DIR"] != "/run/secrets/kafka" || env["ASKONCE_KAFKA_SASL_USERNAME"] != "" {
				t.Errorf("%s: connectors do not each authenticate as their own principal", name)
			}
			continue
		}
		user := env["ASKONCE_KAFKA_SASL_USERNAME"]
		p, ok := model.Find(user)
		if !ok || p.Kind != kind {
			t.Errorf("%s: `askonce %s` runs as %q, want a %s principal", name, sub, user, kind)
		}
		if fmt.Sprint(kafkaSecrets) != fmt.Sprint([]string{user}) || env["ASKONCE_KAFKA_SASL_PASSWORD_FILE"] != "/run/secrets/kafka/"+user {
			t.Errorf("%s: Kafka secrets %v, password file %s; want its own only", name, kafkaSecrets, env["ASKONCE_KAFKA_SASL_PASSWORD_FILE"])
		}
	}
	for _, k := range []access.Kind{access.Release, access.Connector, access.Materializer, access.Router, access.API} {
		if seen[k] == 0 {
			t.Errorf("compose: no service runs as a %s", k)
		}
	}
}

// TestAPIExpectsEveryConnector: the lookup API of the Kubernetes deploy
// expects (lookup.data_centers) exactly the data centers it runs a
// connector for, so that no document claims an as_of before each of them
// has been heard from, and none waits for a data center nobody connects.
func TestAPIExpectsEveryConnector(t *testing.T) {
	for set, docs := range kubeSets(t) {
		var connected []string
		expected := ""
		for _, p := range podSpecs(docs) {
			for _, c := range list(dig(p.spec, "containers")) {
				args := list(dig(c, "args"))
				if len(args) == 0 {
					continue
				}
				switch toString(args[0]) {
				case "connect":
					connected = append(connected, podLabel(docs, p, "askonce.org/agency")+"/"+podLabel(docs, p, "askonce.org/data-center"))
				case "serve":
					for _, e := range list(dig(c, "env")) {
						if toString(dig(e, "name")) == "ASKONCE_LOOKUP_DATA_CENTERS" {
							expected = toString(dig(e, "value"))
						}
					}
				}
			}
		}
		got := strings.Split(expected, ",")
		sort.Strings(got)
		sort.Strings(connected)
		if len(connected) == 0 || strings.Join(got, ",") != strings.Join(connected, ",") {
			t.Errorf("%s: the API expects %v, the connectors are %v", set, got, connected)
		}
	}
}
