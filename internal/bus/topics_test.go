package bus

import (
	"testing"
	"time"
)

func TestSpecs(t *testing.T) {
	cfg := TopicsConfig{RecordPartitions: 12, DLQPartitions: 3, AuditPartitions: 3, NotifyPartitions: 3, NotifyRetention: 14 * 24 * time.Hour}
	cfg.Prefix = "pilot."
	cfg.ReplicationFactor = 3
	cfg.DLQRetention = 48 * time.Hour
	cfg.Agencies = []string{"cnr", "cnas"}
	specs := NewTopics(cfg).Specs()
	want := []struct {
		name      string
		parts     int
		retention string
	}{
		{"pilot.askonce.civil-status.v1", 12, "-1"},
		{"pilot.askonce.employment.v1", 12, "-1"},
		{"pilot.askonce.contribution.v1", 12, "-1"},
		{"pilot.askonce.dlq.v1", 3, "172800000"},
		{"pilot.askonce.audit.v1", 3, "-1"},
		{"pilot.askonce.notify.cnr", 3, "1209600000"},
		{"pilot.askonce.notify.cnas", 3, "1209600000"},
		{"pilot.askonce.portfolio.cnr", 3, "-1"},
		{"pilot.askonce.portfolio.cnas", 3, "-1"},
	}
	if len(specs) != len(want) {
		t.Fatalf("got %d specs, want %d", len(specs), len(want))
	}
	for i, w := range want {
		s := specs[i]
		if s.Name != w.name || s.Partitions != w.parts || s.Configs["retention.ms"] != w.retention {
			t.Errorf("spec %d = %s/%d/%s, want %s/%d/%s", i, s.Name, s.Partitions, s.Configs["retention.ms"], w.name, w.parts, w.retention)
		}
		if s.ReplicationFactor != 3 || s.Configs["min.insync.replicas"] != "2" {
			t.Errorf("%s: replication %d, min.insync %q; want 3 and 2", s.Name, s.ReplicationFactor, s.Configs["min.insync.replicas"])
		}
	}
}
