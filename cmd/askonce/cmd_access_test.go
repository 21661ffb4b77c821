package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/askonce/askonce/internal/access"
	"github.com/askonce/askonce/internal/testenv"
)

func TestAccessShow(t *testing.T) {
	out, _, err := run(t, nil, "access", "show", "--synthetic")
	testenv.Must(t, err, "access show")
	for _, want := range []string{"45 principals, 135 ACLs", "askonce-connect-etatcivil-dc01", "askonce.civil-status.v1",
		"askonce-backoffice-cnr", "askonce-consume-cnr.*"} {
		if !strings.Contains(out, want) {
			t.Errorf("access show lacks %q:\n%s", want, out)
		}
	}
	out, _, err = run(t, nil, "access", "show", "--format", "json")
	testenv.Must(t, err, "access show --format json")
	var m access.Model
	testenv.Must(t, json.Unmarshal([]byte(out), &m), "the JSON model")
	// Without --synthetic and with no source configured: no connector.
	if len(m.Principals) != 5+7 {
		t.Errorf("%d principals without data centers, want 12", len(m.Principals))
	}
	if p, ok := m.Find(access.APIName); !ok || !p.Allows(access.Topic, "askonce.audit.v1", access.Write) {
		t.Errorf("the JSON model's API principal: %+v", p)
	}
	if _, _, err := run(t, nil, "access", "show", "--format", "yaml"); err == nil {
		t.Error("access show --format yaml accepted")
	}
}

// TestAccessApply runs `askonce access apply` as the superuser of a broker
// with ACLs, twice, then `askonce topics ensure` as the release principal.
func TestAccessApply(t *testing.T) {
	b := testenv.StartSecureBroker(t, nil)
	dir := t.TempDir()
	for _, p := range []string{access.ReleaseName, access.APIName, "askonce-connect-cnas-dc01"} {
		testenv.Must(t, os.WriteFile(filepath.Join(dir, p), []byte(testenv.Random(8)+"\n"), 0o600), "password")
	}
	admin := []string{"ASKONCE_KAFKA_BROKERS=" + b.Addr, "ASKONCE_KAFKA_SASL_MECHANISM=scram-sha-512",
		"ASKONCE_KAFKA_SASL_USERNAME=" + testenv.BrokerAdmin, "ASKONCE_KAFKA_SASL_PASSWORD=" + b.AdminPassword}
	out, _, err := run(t, admin, "access", "apply", "--synthetic", "--passwords-dir", dir)
	testenv.Must(t, err, "access apply")
	if !strings.Contains(out, "principals 45: credentials set 3, without a password file 42") || !strings.Contains(out, "ACLs 135: created 135, already present 0, deleted 0") {
		t.Errorf("first apply:\n%s", out)
	}
	// Without --synthetic the connectors' ACLs are stale.
	out, _, err = run(t, admin, "access", "apply", "--passwords-dir", dir)
	testenv.Must(t, err, "access apply")
	if !strings.Contains(out, "ACLs 47: created 0, already present 47, deleted 88") || !strings.Contains(out, "deleted User:askonce-connect-cnas-dc01 Write topic askonce.employment.v1") {
		t.Errorf("apply without the data centers:\n%s", out)
	}
	release := []string{"ASKONCE_KAFKA_BROKERS=" + b.Addr, "ASKONCE_KAFKA_SASL_MECHANISM=scram-sha-512",
		"ASKONCE_KAFKA_SASL_USERNAME=" + access.ReleaseName, "ASKONCE_KAFKA_SASL_PASSWORD_FILE=" + filepath.Join(dir, access.ReleaseName)}
	out, _, err = run(t, release, "topics", "ensure")
	testenv.Must(t, err, "topics ensure as the release principal")
	if !strings.HasPrefix(out, "created 19,") { // 3 record topics, the DLQ, the audit, 7 notify and 7 portfolio topics
		t.Errorf("topics ensure: %s", out)
	}
	// The API may not create topics.
	api := append(release[:2:2], "ASKONCE_KAFKA_SASL_USERNAME="+access.APIName, "ASKONCE_KAFKA_SASL_PASSWORD_FILE="+filepath.Join(dir, access.APIName),
		"ASKONCE_KAFKA_SASL_MECHANISM=scram-sha-512", "ASKONCE_KAFKA_TOPICS_PREFIX=other.")
	if _, _, err := run(t, api, "topics", "ensure"); err == nil || !strings.Contains(err.Error(), "Topic Authorization Failed") {
		t.Errorf("topics ensure as the API: %v", err)
	}
}
