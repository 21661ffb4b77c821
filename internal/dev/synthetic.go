package dev

import (
	"github.com/askonce/askonce/internal/config"
	"github.com/askonce/askonce/internal/synth"
)

// AddSynthetic adds a pgoutbox source for every data center of the
// synthetic agencies (askonce seed) that has none configured, and accepts
// synthetic persons: what --synthetic means to `askonce connect` and
// `askonce reconcile`.
func AddSynthetic(cfg *config.Config) {
	have := map[string]bool{}
	for _, s := range cfg.Connect.PGOutbox {
		have[s.DataCenter] = true
	}
	for _, dc := range synth.DataCenters(cfg.Seed.DataCenters) {
		if !have[dc.Name] {
			cfg.Connect.PGOutbox = append(cfg.Connect.PGOutbox, config.PGOutbox{Agency: dc.Agency, DataCenter: dc.Name, Schema: dc.Schema})
		}
	}
	cfg.Rules.AllowSynthetic = true
}
