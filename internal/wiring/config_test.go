package wiring

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/askonce/askonce/internal/config"
)

// TestTranslationsCarryEveryField fills each configuration section with
// non-zero values and checks that its translation has no zero field and as
// many fields as the section, less the keys the component does not read:
// a key added to one side only fails here.
func TestTranslationsCarryEveryField(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      any
		out     func(in any) any
		ignored int // keys of the section the component's config does not hold
		// fields of the component's config that no key sets (a flag or
		// the caller sets them)
		notKeys []string
	}{
		{"postgres.dev", &config.DevPG{}, func(in any) any { return DevPG(*in.(*config.DevPG)) }, 0, nil},
		// A secret's <key>_file is read by config.Load into the secret itself.
		{"broker", &config.Broker{}, func(in any) any { return Broker(*in.(*config.Broker)) },
			1,                  // sasl.password_file
			[]string{".ACLs"}}, // `askonce broker --acls`; `askonce dev` always
		{"registry", &config.Registry{}, func(in any) any { return RegistryClient(*in.(*config.Registry)) },
			7, nil}, // auto_register (OpenBus), listen, compatibility, require_auth, tls_cert_file, tls_key_file (the server), password_file
		{"kafka", &config.Kafka{}, func(in any) any { return Kafka(*in.(*config.Kafka)) },
			1, nil}, // sasl.password_file
		{"materialize", &config.Materialize{}, func(in any) any { return Materialize(*in.(*config.Materialize)) },
			1, nil}, // frozen_after (RunMaterializer's readiness check)
	} {
		t.Run(tc.name, func(t *testing.T) {
			fill(reflect.ValueOf(tc.in).Elem())
			out := reflect.ValueOf(tc.out(tc.in))
			var zero []string
			nOut := leaves(out, "", func(path string) {
				if !slices.Contains(tc.notKeys, path) {
					zero = append(zero, path)
				}
			}) - len(tc.notKeys)
			if len(zero) > 0 {
				t.Errorf("not translated: %v", zero)
			}
			if nIn := leaves(reflect.ValueOf(tc.in).Elem(), "", nil); nIn-tc.ignored != nOut {
				t.Errorf("%d keys (%d not read) but %d fields: a field is missing on one side", nIn, tc.ignored, nOut)
			}
		})
	}
}

func fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			fill(v.Field(i))
		}
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64:
		v.SetInt(int64(time.Second))
	case reflect.Float64:
		v.SetFloat(1)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0))
	}
}

// leaves counts the non-struct fields under v, calling zero with the path
// of each that holds its zero value.
func leaves(v reflect.Value, path string, zero func(string)) int {
	if v.Kind() != reflect.Struct {
		if zero != nil && v.IsZero() {
			zero(path)
		}
		return 1
	}
	n := 0
	for i := range v.NumField() {
		n += leaves(v.Field(i), path+"."+v.Type().Field(i).Name, zero)
	}
	return n
}
