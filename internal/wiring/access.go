package wiring

import (
	"github.com/askonce/askonce/internal/access"
	"github.com/askonce/askonce/internal/config"
)

// Access builds the Kafka identity model of a configuration: its topics
// (prefix and agencies), the consumer groups of the materializer and the
// router, and one connector principal per data center of
// connect.pgoutbox and connect.csvdrop (a data center with both kinds of
// sources is one principal).
func Access(cfg *config.Config) (access.Model, error) {
	return access.Build(AccessInput(cfg))
}

// AccessInput is the input of access.Build for a configuration.
func AccessInput(cfg *config.Config) access.Input {
	in := access.Input{
		Topics:           Topics(cfg.Kafka.Topics),
		MaterializeGroup: cfg.Materialize.GroupID,
		NotifyGroup:      cfg.Notify.GroupID,
	}
	seen := map[access.DataCenter]bool{}
	add := func(agency, dc string) {
		d := access.DataCenter{Agency: agency, Name: dc}
		if !seen[d] {
			seen[d] = true
			in.DataCenters = append(in.DataCenters, d)
		}
	}
	for _, s := range cfg.Connect.PGOutbox {
		add(s.Agency, s.DataCenter)
	}
	for _, s := range cfg.Connect.CSVDrop {
		add(s.Agency, s.DataCenter)
	}
	return in
}
