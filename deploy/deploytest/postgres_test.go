package deploytest

import (
	"slices"
	"strings"
	"testing"
)

// pgSecrets lists the PostgreSQL Secrets a pod mounts (askonce-postgres-app,
// the owner's, and askonce-pg-<role>), with the keys it takes from each.
func pgSecrets(spec any) map[string][]string {
	out := map[string][]string{}
	note := func(name string, items []any) {
		if name != "askonce-postgres-app" && !strings.HasPrefix(name, "askonce-pg-") {
			return
		}
		var keys []string
		for _, it := range items {
			keys = append(keys, toString(dig(it, "key")))
		}
		if len(items) == 0 {
			keys = []string{"*"}
		}
		out[name] = append(out[name], keys...)
	}
	for _, v := range list(dig(spec, "volumes")) {
		note(toString(dig(v, "secret", "secretName")), list(dig(v, "secret", "items")))
		for _, src := range list(dig(v, "projected", "sources")) {
			note(toString(dig(src, "secret", "name")), list(dig(src, "secret", "items")))
		}
	}
	return out
}

// componentRoles: the PostgreSQL role each workload logs in with (its
// Secret askonce-pg-<role>, key uri). The overlays may prefix names.
var componentRoles = map[string]string{
	"Deployment askonce-serve":       "api",
	"Deployment askonce-materialize": "materialize",
	"Deployment askonce-notify":      "notify",
	"Deployment askonce-registry":    "registry",
	"Deployment askonce-connect-":    "connect", // one per data center
	"CronJob askonce-audit-verify":   "reader",
}

// TestOnlyTheMigrateStepOwnsTheDatabase: in the base and every overlay, one
// Job runs `askonce migrate` and it alone mounts the owner's credential
// (askonce-postgres-app); every component mounts the URL of its own role
// and of no other, and no component mounts a login's password.
func TestOnlyTheMigrateStepOwnsTheDatabase(t *testing.T) {
	for set, docs := range kubeSets(t) {
		migrates := 0
		for _, p := range podSpecs(docs) {
			secrets := pgSecrets(p.spec)
			isMigrate := false
			for _, c := range list(dig(p.spec, "containers")) {
				if args := list(dig(c, "args")); len(args) > 0 && toString(args[0]) == "migrate" {
					isMigrate = true
				}
			}
			if isMigrate {
				migrates++
				if !strings.HasPrefix(p.what, "Job ") {
					t.Errorf("%s: %s runs askonce migrate: a release Job should", set, p.what)
				}
				if !slices.Equal(secrets["askonce-postgres-app"], []string{"uri"}) {
					t.Errorf("%s: %s lacks the owner's uri (askonce-postgres-app): %v", set, p.what, secrets)
				}
				for _, role := range []string{"api", "materialize", "notify", "connect", "registry", "reader"} {
					if !slices.Equal(secrets["askonce-pg-"+role], []string{"password"}) {
						t.Errorf("%s: %s does not set the password of the %s login (askonce-pg-%s, key password): %v", set, p.what, role, role, secrets)
					}
				}
				continue
			}
			if _, ok := secrets["askonce-postgres-app"]; ok {
				t.Errorf("%s: %s holds the database owner's credential (askonce-postgres-app): only the migrate Job may", set, p.what)
			}
			want := ""
			for w, role := range componentRoles {
				kind, name, _ := strings.Cut(w, " ")
				if strings.HasPrefix(p.what, kind+" ") && strings.Contains(p.what, name) {
					want = role
				}
			}
			for name, keys := range secrets {
				if name != "askonce-pg-"+want {
					t.Errorf("%s: %s mounts %s, want only askonce-pg-%s", set, p.what, name, want)
				}
				if !slices.Equal(keys, []string{"uri"}) {
					t.Errorf("%s: %s takes %v of %s, want its uri only", set, p.what, keys, name)
				}
			}
			if want != "" && secrets["askonce-pg-"+want] == nil {
				t.Errorf("%s: %s does not mount its database login askonce-pg-%s", set, p.what, want)
			}
		}
		if migrates != 1 {
			t.Errorf("%s: %d workloads run askonce migrate, want 1", set, migrates)
		}
	}
}

// TestComposeOnlyMigrateOwnsTheDatabase: the compose file's migrate service
// alone has the owner's URL (secret postgres_url) and the logins'
// passwords; every other askonce service mounts the URL of its own role as
// /run/secrets/postgres_url, and the components wait for migrate.
func TestComposeOnlyMigrateOwnsTheDatabase(t *testing.T) {
	docs := yamlDocs(t, deployPath("compose", "docker-compose.yaml"))
	services, _ := docs[0]["services"].(map[string]any)
	roleOf := map[string]string{"serve": "api", "materialize": "materialize", "notify": "notify", "connect": "connect", "registry": "registry"}
	migrates := 0
	for name, s := range services {
		svc := s.(map[string]any)
		if toString(svc["image"]) != "askonce:pilot" {
			continue
		}
		sub := toString(list(svc["command"])[0])
		var sources []string
		target := map[string]string{}
		for _, sec := range list(svc["secrets"]) {
			src, tgt := toString(sec), toString(sec)
			if m, ok := sec.(map[string]any); ok {
				src, tgt = toString(m["source"]), toString(m["target"])
			}
			sources = append(sources, src)
			target[src] = tgt
		}
		if sub == "migrate" {
			migrates++
			if !slices.Contains(sources, "postgres_url") {
				t.Errorf("%s: migrate lacks the owner's URL (postgres_url)", name)
			}
			for _, role := range []string{"api", "materialize", "notify", "connect", "registry", "reader"} {
				if target["pg_password_"+role] != "/run/secrets/logins/askonce_"+role {
					t.Errorf("%s: pg_password_%s is not at /run/secrets/logins/askonce_%s", name, role, role)
				}
			}
			continue
		}
		for _, src := range sources {
			if src == "postgres_url" || strings.HasPrefix(src, "pg_password_") {
				t.Errorf("%s: holds %s: only the migrate step may", name, src)
			}
			if strings.HasPrefix(src, "pg_url_") && src != "pg_url_"+roleOf[sub] {
				t.Errorf("%s: mounts %s, the URL of another role than %s's", name, src, sub)
			}
		}
		if role, ok := roleOf[sub]; ok {
			if target["pg_url_"+role] != "postgres_url" {
				t.Errorf("%s: does not mount pg_url_%s as /run/secrets/postgres_url", name, role)
			}
			if dig(svc, "depends_on", "migrate") == nil {
				t.Errorf("%s: does not wait for migrate", name)
			}
		}
	}
	if migrates != 1 {
		t.Errorf("compose: %d services run askonce migrate, want 1", migrates)
	}
}
