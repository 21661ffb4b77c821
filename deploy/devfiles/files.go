// Package devfiles embeds the development configuration files, so that
// `askonce dev` works from any directory: the dev policy of the lookup API
// and the connector configuration of the synthetic data centers. They are
// for development only; the dev policy is refused outside dev mode.
package devfiles

import _ "embed"

// Policy is deploy/devfiles/policy.yaml: the dev clients and their well-known keys.
//
//go:embed policy.yaml
var Policy []byte

// Connect is deploy/devfiles/connect.yaml: the 33 synthetic data centers.
//
//go:embed connect.yaml
var Connect []byte
