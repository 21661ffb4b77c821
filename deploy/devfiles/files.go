// Package devfiles embeds the development configuration files, so that
// `askonce dev` works from any directory.
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
