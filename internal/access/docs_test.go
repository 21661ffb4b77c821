package access_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDocsTable: docs/identities.md shows the model of the shipped deploys
// as it is in the code. ASKONCE_UPDATE_DOCS=1 rewrites the table.
func TestDocsTable(t *testing.T) {
	const begin, end = "<!-- access table: begin -->\n", "<!-- access table: end -->\n"
	path := filepath.Join("..", "..", "docs", "identities.md")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i, j := strings.Index(doc, begin), strings.Index(doc, end)
	if i < 0 || j < i {
		t.Fatalf("%s: no %q ... %q block", path, begin, end)
	}
	want := model(t, "").Markdown()
	if got := doc[i+len(begin) : j]; got != want {
		if os.Getenv("ASKONCE_UPDATE_DOCS") == "1" {
			if err := os.WriteFile(path, []byte(doc[:i+len(begin)]+want+doc[j:]), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Errorf("%s: the table of Kafka principals differs from internal/access (ASKONCE_UPDATE_DOCS=1 go test ./internal/access rewrites it):\n%s", path, want)
	}
}
