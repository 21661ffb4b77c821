// Package promrules embeds askonce's Prometheus rules, so that the
// Kubernetes PrometheusRule (deploy/deploygen) and the tests use the same file.
package promrules

import _ "embed"

// Rules is deploy/promrules/askonce.rules.yml.
//
//go:embed askonce.rules.yml
var Rules []byte
