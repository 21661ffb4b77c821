// Package promrules embeds askonce's Prometheus rules, so that the
// Kubernetes PrometheusRule (deploy/deploygen) and the tests use the same file.
// The rules watch every stage of the data flow through its metrics.
package promrules

import _ "embed"

// Rules is deploy/promrules/askonce.rules.yml.
//
//go:embed askonce.rules.yml
var Rules []byte
