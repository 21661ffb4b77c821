package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/askonce/askonce/internal/testenv"
)

// copySchemas copies the shipped .avsc files into a fresh directory.
func copySchemas(t *testing.T) string {
	t.Helper()
	src := filepath.Join(testenv.RepoRoot(t), "schemas", "avro")
	dst := t.TempDir()
	ents, err := os.ReadDir(src)
	testenv.Must(t, err, "schema file")
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		testenv.Must(t, err, "schema file")
		testenv.Must(t, os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644), "schema file")
	}
	return dst
}

// evolve writes base.v2.avsc: base.v1.avsc with one more top-level field.
func evolve(t *testing.T, dir, base string, field map[string]any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, base+".v1.avsc"))
	testenv.Must(t, err, "schema file")
	var sch map[string]any
	testenv.Must(t, json.Unmarshal(b, &sch), "schema file")
	sch["fields"] = append(sch["fields"].([]any), field)
	out, err := json.MarshalIndent(sch, "", "  ")
	testenv.Must(t, err, "schema file")
	testenv.Must(t, os.WriteFile(filepath.Join(dir, base+".v2.avsc"), out, 0o644), "schema file")
}

func TestSchemasCheck(t *testing.T) {
	out, _, err := run(t, nil, "schemas", "check")
	if err != nil || strings.Count(out, ": ok") != 6 {
		t.Fatalf("embedded schemas: %v\n%s", err, out)
	}

	// An optional field with a default is a FULL_TRANSITIVE evolution.
	dir := copySchemas(t)
	evolve(t, dir, "employment", map[string]any{"name": "contract_kind", "type": []any{"null", "string"}, "default": nil, "doc": "test"})
	out, _, err = run(t, nil, "schemas", "check", "--dir", dir)
	if err != nil || !strings.Contains(out, "askonce.employment.v1-value") || !strings.Contains(out, "2 version(s), FULL_TRANSITIVE: ok") {
		t.Fatalf("compatible v2 refused: %v\n%s", err, out)
	}

	// A required field without a default cannot read v1 records.
	dir = copySchemas(t)
	evolve(t, dir, "contribution", map[string]any{"name": "penalty", "type": "long", "doc": "test"})
	out, _, err = run(t, nil, "schemas", "check", "--dir", dir)
	if err == nil || !strings.Contains(out, "contribution.v2: INCOMPATIBLE (FULL_TRANSITIVE)") || !strings.Contains(out, "penalty") {
		t.Fatalf("incompatible v2 accepted: %v\n%s", err, out)
	}
	if !strings.Contains(err.Error(), "problem(s)") {
		t.Fatalf("err = %v", err)
	}

	// A directory without the files is an error, not a silent pass.
	_, _, err = run(t, nil, "schemas", "check", "--dir", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "no civil-status.v*.avsc") {
		t.Fatalf("empty dir: %v", err)
	}
}
