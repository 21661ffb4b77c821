package access_test

import (
	"strings"
	"testing"

	"github.com/askonce/askonce/internal/access"
	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/internal/config"
	"github.com/askonce/askonce/internal/synth"
	"github.com/askonce/askonce/internal/wiring"
)

func model(t *testing.T, prefix string) access.Model {
	t.Helper()
	cfg := config.Default()
	tc := wiring.Topics(cfg.Kafka.Topics)
	tc.Prefix = prefix
	var dcs []access.DataCenter
	for _, dc := range synth.DataCenters(11) {
		dcs = append(dcs, access.DataCenter{Agency: dc.Agency, Name: dc.Name})
	}
	m, err := access.Build(access.Input{Topics: tc, DataCenters: dcs, MaterializeGroup: cfg.Materialize.GroupID, NotifyGroup: cfg.Notify.GroupID})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func find(t *testing.T, m access.Model, name string) access.Principal {
	t.Helper()
	p, ok := m.Find(name)
	if !ok {
		t.Fatalf("no principal %s", name)
	}
	return p
}

// TestModel checks the rights the issue names, one by one, on the model of
// the seeded pilot, with and without a topic prefix.
func TestModel(t *testing.T) {
	for _, prefix := range []string{"", "staging."} {
		m := model(t, prefix)
		tp := bus.NewTopics(bus.TopicsConfig{Prefix: prefix})
		// 33 connectors, 5 component principals, 7 back offices.
		if got, want := len(m.Principals), 33+5+7; got != want {
			t.Fatalf("%d principals, want %d", got, want)
		}
		type check struct {
			who  string
			r    access.Resource
			name string
			op   access.Op
			want bool
		}
		checks := []check{
			{"askonce-connect-etatcivil-dc01", access.Topic, tp.CivilStatus, access.Write, true},
			{"askonce-connect-etatcivil-dc01", access.Topic, tp.DLQ, access.Write, true},
			{"askonce-connect-etatcivil-dc01", access.Topic, tp.Employment, access.Write, false},
			{"askonce-connect-etatcivil-dc01", access.Topic, tp.CivilStatus, access.Read, false},
			{"askonce-connect-etatcivil-dc01", access.Topic, tp.Audit, access.Write, false},
			{"askonce-connect-etatcivil-dc01", access.Topic, tp.AgencyPortfolio("cnr"), access.Write, false},
			{"askonce-connect-cnas-dc07", access.Topic, tp.Contribution, access.Write, true},
			{"askonce-connect-cnas-dc07", access.Topic, tp.CivilStatus, access.Write, false},
			{"askonce-connect-cnas-dc07", access.Topic, tp.Notify("cnas"), access.Read, false},
			{"askonce-materializer", access.Topic, tp.Employment, access.Read, true},
			{"askonce-materializer", access.Topic, tp.Employment, access.Write, false},
			{"askonce-materializer", access.Topic, tp.DLQ, access.Write, true},
			{"askonce-materializer", access.Group, "askonce-materialize", access.Read, true},
			{"askonce-materializer", access.Group, "askonce-notify", access.Read, false},
			{"askonce-materializer", access.Topic, tp.Audit, access.Read, false},
			{"askonce-router", access.Topic, tp.Notify("cnr"), access.Write, true},
			{"askonce-router", access.Topic, tp.AgencyPortfolio("cnr"), access.Read, true},
			{"askonce-router", access.Topic, tp.AgencyPortfolio("cnr"), access.Write, false},
			{"askonce-router", access.Topic, tp.CivilStatus, access.Write, false},
			{"askonce-router", access.Topic, tp.Audit, access.Read, false},
			{"askonce-api", access.Topic, tp.Audit, access.Write, true},
			{"askonce-api", access.Topic, tp.CivilStatus, access.Read, false},
			{"askonce-backoffice-cnr", access.Topic, tp.Notify("cnr"), access.Read, true},
			{"askonce-backoffice-cnr", access.Topic, tp.Notify("cnas"), access.Read, false},
			{"askonce-backoffice-cnr", access.Topic, tp.AgencyPortfolio("cnr"), access.Write, true},
			{"askonce-backoffice-cnr", access.Topic, tp.AgencyPortfolio("cnas"), access.Write, false},
			{"askonce-backoffice-cnr", access.Topic, tp.CivilStatus, access.Write, false},
			{"askonce-backoffice-cnr", access.Group, "askonce-consume-cnr", access.Read, true},
			{"askonce-backoffice-cnr", access.Group, "askonce-consume-cnr.pensions", access.Read, true},
			{"askonce-backoffice-cnr", access.Group, "askonce-consume-cnas", access.Read, false},
			{"askonce-backoffice-cnr", access.Group, "askonce-materialize", access.Read, false},
			{"askonce-release", access.Topic, tp.Audit, access.Create, true},
			{"askonce-release", access.Topic, tp.Audit, access.Write, false},
			{"askonce-operator", access.Topic, tp.DLQ, access.Read, true},
			{"askonce-operator", access.Topic, tp.CivilStatus, access.Read, false},
			{"askonce-operator", access.Topic, tp.CivilStatus, access.Describe, true},
		}
		for _, c := range checks {
			if got := find(t, m, c.who).Allows(c.r, c.name, c.op); got != c.want {
				t.Errorf("prefix %q: %s %s %s %s = %v, want %v", prefix, c.who, c.op, c.r, c.name, got, c.want)
			}
		}
		// Nobody deletes, alters or has every right.
		for _, p := range m.Principals {
			for _, g := range p.Grants {
				for _, o := range g.Ops {
					switch o {
					case access.Read, access.Write, access.Create, access.Describe, access.DescribeConfigs:
					default:
						t.Errorf("%s: %s", p.Name, g)
					}
				}
				if g.Resource == access.Topic && !strings.HasPrefix(g.Name, tp.Prefix()) {
					t.Errorf("%s: a grant outside askonce's topics: %s", p.Name, g)
				}
				if g.Resource == access.Cluster {
					t.Errorf("%s: a cluster grant: %s", p.Name, g)
				}
			}
		}
	}
}

func TestBuildRefuses(t *testing.T) {
	in := access.Input{MaterializeGroup: "m", NotifyGroup: "n"}
	for name, mod := range map[string]func(*access.Input){
		"agency that publishes nothing": func(in *access.Input) { in.DataCenters = []access.DataCenter{{Agency: "cnr", Name: "cnr-dc01"}} },
		"duplicate data center": func(in *access.Input) {
			in.DataCenters = []access.DataCenter{{Agency: "cnas", Name: "dc01"}, {Agency: "cnas", Name: "cnas-dc01"}}
		},
		"bad name":    func(in *access.Input) { in.Topics.Agencies = []string{"CNR"} },
		"agency v1":   func(in *access.Input) { in.Topics.Agencies = []string{"v1"} },
		"no group":    func(in *access.Input) { in.NotifyGroup = "" },
		"bad dc name": func(in *access.Input) { in.DataCenters = []access.DataCenter{{Agency: "cnas", Name: "dc 01"}} },
	} {
		in := in
		mod(&in)
		if _, err := access.Build(in); err == nil {
			t.Errorf("%s: built", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}
