package lookup_test

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"

	"github.com/askonce/askonce/internal/testenv"
)

var (
	specOnce sync.Once
	specVal  validator.Validator
	specErr  error
)

// validateResponse checks a real response against the OpenAPI description
// served at /openapi.yaml (the spec must describe what the API does).
func validateResponse(t *testing.T, req *http.Request, resp *http.Response, body []byte) {
	t.Helper()
	specOnce.Do(func() {
		spec, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "internal", "lookup", "openapi.yaml"))
		if err != nil {
			specErr = err
			return
		}
		doc, err := libopenapi.NewDocument(spec)
		if err != nil {
			specErr = err
			return
		}
		v, errs := validator.NewValidator(doc)
		if len(errs) > 0 {
			specErr = errs[0]
			return
		}
		if ok, verrs := v.ValidateDocument(); !ok {
			for _, e := range verrs {
				t.Errorf("openapi.yaml: %s: %s", e.Message, e.Reason)
			}
		}
		specVal = v
	})
	if specErr != nil {
		t.Fatalf("openapi.yaml: %v", specErr)
	}
	r2 := *resp
	r2.Body = io.NopCloser(bytes.NewReader(body))
	r2.Request = req
	if ok, errs := specVal.ValidateHttpResponse(req, &r2); !ok {
		for _, e := range errs {
			t.Errorf("%s %s -> %d does not match openapi.yaml: %s (%s)", req.Method, req.URL.Path, resp.StatusCode, e.Message, e.Reason)
			for _, se := range e.SchemaValidationErrors {
				t.Errorf("  %s: %s", se.FieldPath, se.Reason)
			}
		}
	}
}
