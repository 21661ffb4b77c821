package config

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// EnvPrefix is the prefix of the environment variables that set configuration keys.
const EnvPrefix = "ASKONCE_"

// Layers are the configuration layers above the defaults, in rising
// precedence: a file, the environment, the command-line flags.
type Layers struct {
	// File is a YAML file; empty means none.
	File string
	// Environ is the process environment as os.Environ returns it; only the
	// ASKONCE_* variables are read. Nil means none.
	Environ []string
	// Flags are the command-line flags; FlagKeys maps a flag name to the
	// configuration key it sets. Only flags the user set take effect.
	Flags    *pflag.FlagSet
	FlagKeys map[string]string
}

// Load builds the effective configuration with the precedence
// defaults < file < ASKONCE_* environment < flags, rejects unknown keys and
// invalid values, and returns every problem found at once.
func Load(src Layers) (*Config, error) {
	v := viper.New()
	def := Default()
	known := map[string]field{}
	walk("", reflect.ValueOf(def), func(f field) {
		known[f.key] = f
		v.SetDefault(f.key, f.value.Interface())
	})

	if src.File != "" {
		v.SetConfigFile(src.File)
		v.SetConfigType("yaml")
		if err := v.ReadInConfig(); err != nil {
			return nil, fmt.Errorf("config: read %s: %w", src.File, err)
		}
	}

	env, err := envLayer(src.Environ, known)
	if err != nil {
		return nil, err
	}
	if err := v.MergeConfigMap(env); err != nil {
		return nil, fmt.Errorf("config: environment: %w", err)
	}

	if src.Flags != nil {
		names := make([]string, 0, len(src.FlagKeys))
		for name := range src.FlagKeys {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			key := src.FlagKeys[name]
			if _, ok := known[key]; !ok {
				return nil, fmt.Errorf("config: flag --%s is bound to unknown key %q", name, key)
			}
			fl := src.Flags.Lookup(name)
			if fl == nil {
				continue
			}
			if err := v.BindPFlag(key, fl); err != nil {
				return nil, fmt.Errorf("config: bind flag --%s: %w", name, err)
			}
		}
	}

	var cfg Config
	err = v.UnmarshalExact(&cfg, func(dc *mapstructure.DecoderConfig) {
		dc.DecodeHook = mapstructure.ComposeDecodeHookFunc(
			mapstructure.StringToTimeDurationHookFunc(),
			mapstructure.StringToSliceHookFunc(","),
		)
		dc.WeaklyTypedInput = true
	})
	if err != nil {
		return nil, fmt.Errorf("config: %s", cleanDecodeError(v, err))
	}
	if err := readSecretFiles(&cfg); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// envLayer turns ASKONCE_* variables into a nested map, and refuses
// variables that name no known key (a typo would otherwise be silently
// ignored), except the service links Kubernetes injects and the variables
// of single subcommands (NotConfig).
func envLayer(environ []string, known map[string]field) (map[string]any, error) {
	byEnv := make(map[string]string, len(known))
	for key := range known {
		byEnv[EnvName(key)] = key
	}
	out := map[string]any{}
	var unknown []string
	for _, kv := range environ {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix) {
			continue
		}
		key, ok := byEnv[name]
		if !ok {
			if !NotConfig[name] && !IsServiceLink(name, val) {
				unknown = append(unknown, name)
			}
			continue
		}
		setNested(out, key, val)
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fmt.Errorf("config: unknown environment variables %s (see deploy/askonce.example.yaml for the keys)", strings.Join(unknown, ", "))
	}
	return out, nil
}

// NotConfig are ASKONCE_* variables that are not configuration keys but
// are read by one subcommand; the loader leaves them alone so that they can
// stay exported in a shell that also runs other subcommands.
var NotConfig = map[string]bool{
	// The API key of `askonce request`: a secret kept off the command line.
	"ASKONCE_REQUEST_KEY": true,
}

// EnvName is the environment variable that sets key.
func EnvName(key string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

func setNested(m map[string]any, key string, val any) {
	parts := strings.Split(key, ".")
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[parts[len(parts)-1]] = val
}

// cleanDecodeError makes mapstructure's messages name the keys as users
// write them, with the value that was refused.
func cleanDecodeError(v *viper.Viper, err error) string {
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		var msgs []string
		for _, e := range joined.Unwrap() {
			msgs = append(msgs, cleanDecodeError(v, e))
		}
		return strings.Join(msgs, "; ")
	}
	var de *mapstructure.DecodeError
	if errors.As(err, &de) {
		inner := de.Unwrap()
		if prefix, keys, ok := strings.Cut(inner.Error(), "has invalid keys: "); ok || strings.Contains(prefix, "invalid keys") {
			var full []string
			for _, k := range strings.Split(keys, ", ") {
				k = strings.TrimSpace(k)
				if de.Name() != "" {
					k = de.Name() + "." + k
				}
				full = append(full, k)
			}
			return "unknown keys " + strings.Join(full, ", ") + " (see deploy/askonce.example.yaml)"
		}
		return fmt.Sprintf("%s (%s): invalid value %q: %v", de.Name(), EnvName(de.Name()), fmt.Sprint(v.Get(de.Name())), inner)
	}
	s := err.Error()
	s = strings.TrimPrefix(s, "decoding failed due to the following error(s):\n\n")
	return strings.ReplaceAll(s, "\n", "; ")
}

// field is one leaf of the configuration tree.
type field struct {
	key    string
	value  reflect.Value
	secret string // "", "true", "url" or "path"
}

// walk visits every leaf of a configuration struct in declaration order.
func walk(prefix string, v reflect.Value, fn func(field)) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		name := sf.Tag.Get("mapstructure")
		if name == "" || name == "-" {
			continue
		}
		key := name
		if prefix != "" {
			key = prefix + "." + name
		}
		fv := v.Field(i)
		if fv.Kind() == reflect.Struct {
			walk(key, fv, fn)
			continue
		}
		fn(field{key: key, value: fv, secret: sf.Tag.Get("secret")})
	}
}

// Keys lists every configuration key, in declaration order.
func Keys() []string {
	var keys []string
	walk("", reflect.ValueOf(Default()), func(f field) { keys = append(keys, f.key) })
	return keys
}
