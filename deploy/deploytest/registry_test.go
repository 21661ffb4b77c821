package deploytest

import (
	"strings"
	"testing"
)

// registryWriters are the only workloads that hold the registry's write
// credential: the registry itself (it checks it) and the release step that
// registers the schemas. Every other component reads schemas only
// (registry.auto_register off).
var registryWriters = map[string]bool{"Deployment askonce-registry": true, "Job askonce-schemas": true}

// TestOnlyTheReleaseStepWritesSchemas: in the base and every overlay,
// askonce-env turns registry.auto_register off, a Job runs `askonce schemas
// register`, and no other workload than the registry and that Job mounts
// the registry's credential (Secret askonce-registry) or names its user.
func TestOnlyTheReleaseStepWritesSchemas(t *testing.T) {
	for set, docs := range kubeSets(t) {
		var autoRegister string
		jobs := 0
		for _, d := range docs {
			if toString(d["kind"]) == "ConfigMap" && toString(dig(d, "metadata", "name")) == "askonce-env" {
				autoRegister = toString(dig(d, "data", "ASKONCE_REGISTRY_AUTO_REGISTER"))
			}
		}
		if autoRegister != "false" {
			t.Errorf("%s: askonce-env sets ASKONCE_REGISTRY_AUTO_REGISTER=%q, want false", set, autoRegister)
		}
		for _, p := range podSpecs(docs) {
			holds := false
			for _, v := range list(dig(p.spec, "volumes")) {
				if toString(dig(v, "secret", "secretName")) == "askonce-registry" {
					holds = true
				}
				for _, src := range list(dig(v, "projected", "sources")) {
					if toString(dig(src, "secret", "name")) == "askonce-registry" {
						holds = true
					}
				}
			}
			for _, c := range list(dig(p.spec, "containers")) {
				for _, e := range list(dig(c, "env")) {
					if n := toString(dig(e, "name")); n == "ASKONCE_REGISTRY_USERNAME" || strings.HasPrefix(n, "ASKONCE_REGISTRY_PASSWORD") {
						holds = true
					}
				}
				args := list(dig(c, "args"))
				if len(args) == 2 && toString(args[0]) == "schemas" && toString(args[1]) == "register" {
					jobs++
				}
			}
			// The overlays may prefix names: compare the suffix.
			writer := false
			for w := range registryWriters {
				kind, name, _ := strings.Cut(w, " ")
				if strings.HasPrefix(p.what, kind+" ") && strings.HasSuffix(p.what, name) {
					writer = true
				}
			}
			if holds && !writer {
				t.Errorf("%s: %s holds the registry's write credential", set, p.what)
			}
			if !holds && writer {
				t.Errorf("%s: %s lacks the registry's credential", set, p.what)
			}
		}
		if jobs != 1 {
			t.Errorf("%s: %d workloads run askonce schemas register, want 1", set, jobs)
		}
	}
}
