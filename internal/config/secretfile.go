package config

import (
	"fmt"
	"os"
	"reflect"
	"strings"
)

// FileSuffix ends the key of a file that holds a secret value: the value
// of kafka.sasl.password can come from the file named by
// kafka.sasl.password_file (ASKONCE_KAFKA_SASL_PASSWORD_FILE), the way
// Kubernetes Secret volumes and compose secrets (/run/secrets/...) hand
// secrets to a process without putting them in its environment.
const FileSuffix = "_file"

// SecretKeys lists the keys whose value is a secret and that have a
// FileSuffix form, in declaration order.
func SecretKeys() []string {
	var keys []string
	for _, p := range secretPairs(reflect.ValueOf(Default())) {
		keys = append(keys, p.value.key)
	}
	return keys
}

type secretPair struct{ value, file field }

// secretPairs finds every secret value (tagged secret "true" or "url")
// with its sibling <key>_file.
func secretPairs(v reflect.Value) []secretPair {
	byKey := map[string]field{}
	var order []string
	walk("", v, func(f field) {
		byKey[f.key] = f
		order = append(order, f.key)
	})
	var pairs []secretPair
	for _, k := range order {
		f := byKey[k]
		if f.secret != "true" && f.secret != "url" {
			continue
		}
		if ff, ok := byKey[k+FileSuffix]; ok {
			pairs = append(pairs, secretPair{value: f, file: ff})
		}
	}
	return pairs
}

// readSecretFiles fills every secret whose _file is set from that file,
// without its trailing newline. Setting both the value and its file is an
// error, as is a file that cannot be read; the errors name the keys, their
// environment variables and the path, never what the file holds.
func readSecretFiles(c *Config) error {
	var errs []error
	for _, p := range secretPairs(reflect.ValueOf(c).Elem()) {
		path := p.file.value.String()
		if path == "" {
			continue
		}
		if p.value.value.String() != "" {
			errs = append(errs, fmt.Errorf("%s (%s) and %s (%s) are both set: set one",
				p.value.key, EnvName(p.value.key), p.file.key, EnvName(p.file.key)))
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			// os errors name the path and the reason (not found, permission).
			errs = append(errs, fmt.Errorf("%s (%s): %v", p.file.key, EnvName(p.file.key), err))
			continue
		}
		p.value.value.SetString(strings.TrimRight(string(b), "\r\n"))
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("invalid configuration:\n  %w", joinLines(errs))
}
