package registry_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	hreg "github.com/hamba/avro/v2/registry"

	"github.com/askonce/askonce/internal/dbroles"
	"github.com/askonce/askonce/internal/ops"
	"github.com/askonce/askonce/internal/registry"
	"github.com/askonce/askonce/internal/testenv"
)

const (
	v1 = `{"type":"record","name":"Person","namespace":"org.test","fields":[{"name":"nin","type":"string"}]}`
	// v2 adds a field with a default: compatible both ways.
	v2 = `{"type":"record","name":"Person","namespace":"org.test","fields":[{"name":"nin","type":"string"},{"name":"sex","type":"string","default":"M"}]}`
	// v3 adds a field without a default: new readers cannot read old data.
	v3 = `{"type":"record","name":"Person","namespace":"org.test","fields":[{"name":"nin","type":"string"},{"name":"sex","type":"string","default":"M"},{"name":"age","type":"int"}]}`
	// v4 removes a field without a default: old readers cannot read new data.
	v4 = `{"type":"record","name":"Person","namespace":"org.test","fields":[{"name":"sex","type":"string","default":"M"}]}`
)

// startRegistry serves the registry over a fresh database.
func startRegistry(t *testing.T, opt registry.ServerOptions) (*httptest.Server, *registry.Backend) {
	t.Helper()
	// Migrated as `askonce migrate` does; the component logs in with its role.
	pool := testenv.Database(t, registry.Migrate).Pool(t, dbroles.Registry)
	b := registry.NewBackend(pool, "BACKWARD")
	reg := ops.NewRegistry()
	opsSrv := ops.NewServer(reg, testLog())
	opsSrv.AddCheck("postgres", b.Ping)
	srv := httptest.NewServer(registry.NewServer(b, testLog(), reg, opt, opsSrv.Handler()))
	t.Cleanup(srv.Close)
	return srv, b
}

func testLog() *slog.Logger { return ops.NewLogger(io.Discard, "error", "json") }

// TestWithHambaClient is the acceptance test: hamba's registry client
// registers, fetches by id and latest, evolves compatibly and
// incompatibly, and re-registers idempotently.
func TestWithHambaClient(t *testing.T) {
	srv, _ := startRegistry(t, registry.ServerOptions{})
	ctx := testenv.Ctx(t, time.Minute)
	c, err := hreg.NewClient(srv.URL)
	testenv.Must(t, err, "client")
	const subj = "askonce.test-value"

	id1, _, err := c.CreateSchema(ctx, subj, v1)
	testenv.Must(t, err, "register v1")
	again, _, err := c.CreateSchema(ctx, subj, v1)
	testenv.Must(t, err, "register v1 again")
	if again != id1 {
		t.Fatalf("re-registration gave id %d, want %d", again, id1)
	}
	// The same schema with other whitespace is the same schema.
	spaced := strings.ReplaceAll(v1, ",", " , ")
	if id, _, err := c.CreateSchema(ctx, subj, spaced); err != nil || id != id1 {
		t.Fatalf("reformatted v1: id %d err %v, want %d", id, err, id1)
	}
	// The same schema under another subject keeps its id.
	if id, _, err := c.CreateSchema(ctx, "other-value", v1); err != nil || id != id1 {
		t.Fatalf("v1 under another subject: id %d err %v, want %d", id, err, id1)
	}

	sch, err := c.GetSchema(ctx, id1)
	testenv.Must(t, err, "get by id")
	if sch.(interface{ FullName() string }).FullName() != "org.test.Person" {
		t.Fatalf("schema by id: %s", sch.String())
	}

	ok, err := c.IsCompatible(ctx, subj, v2)
	testenv.Must(t, err, "compatible v2")
	if !ok {
		t.Fatal("v2 (field with default) reported incompatible")
	}
	id2, _, err := c.CreateSchema(ctx, subj, v2)
	testenv.Must(t, err, "register v2")
	if id2 == id1 {
		t.Fatal("v2 got v1's id")
	}
	info, err := c.GetLatestSchemaInfo(ctx, subj)
	testenv.Must(t, err, "latest")
	if info.ID != id2 || info.Version != 2 {
		t.Fatalf("latest = id %d v%d, want id %d v2", info.ID, info.Version, id2)
	}
	if info, err := c.GetSchemaInfo(ctx, subj, 1); err != nil || info.ID != id1 {
		t.Fatalf("version 1 = %+v %v", info, err)
	}
	if vs, err := c.GetVersions(ctx, subj); err != nil || len(vs) != 2 {
		t.Fatalf("versions = %v %v", vs, err)
	}
	subs, err := c.GetSubjects(ctx)
	testenv.Must(t, err, "subjects")
	if strings.Join(subs, ",") != "askonce.test-value,other-value" {
		t.Fatalf("subjects = %v", subs)
	}

	// Incompatible under BACKWARD: 409 with Confluent's body.
	ok, err = c.IsCompatible(ctx, subj, v3)
	if err != nil || ok {
		t.Fatalf("v3 compatible = %v, %v; want false", ok, err)
	}
	_, _, err = c.CreateSchema(ctx, subj, v3)
	var herr hreg.Error
	if !errors.As(err, &herr) || herr.StatusCode != 409 || herr.Code != 409 || !strings.Contains(herr.Message, "incompatible with an earlier schema") {
		t.Fatalf("register v3: %#v", err)
	}

	// Levels: hamba sets and reads them.
	testenv.Must(t, c.SetCompatibilityLevel(ctx, subj, "FORWARD"), "set FORWARD")
	if lvl, err := c.GetCompatibilityLevel(ctx, subj); err != nil || lvl != "FORWARD" {
		t.Fatalf("subject level = %q %v", lvl, err)
	}
	// Under FORWARD, v3 (adds a required field) is fine for old readers...
	if ok, err := c.IsCompatible(ctx, subj, v3); err != nil || !ok {
		t.Fatalf("v3 under FORWARD = %v %v", ok, err)
	}
	// ...but v4 (drops a field old readers need, with no default) is not.
	if ok, _ := c.IsCompatible(ctx, subj, v4); ok {
		t.Fatal("v4 under FORWARD reported compatible")
	}
	testenv.Must(t, c.SetGlobalCompatibilityLevel(ctx, "FULL"), "set global")
	if lvl, err := c.GetGlobalCompatibilityLevel(ctx); err != nil || lvl != "FULL" {
		t.Fatalf("global level = %q %v", lvl, err)
	}

	// IsRegistered (lookup).
	if id, _, err := c.IsRegistered(ctx, subj, v2); err != nil || id != id2 {
		t.Fatalf("lookup v2 = %d %v", id, err)
	}
	_, _, err = c.IsRegistered(ctx, subj, v4)
	if !errors.As(err, &herr) || herr.Code != registry.CodeSchemaNotFound {
		t.Fatalf("lookup of unregistered schema: %v", err)
	}
	_, err = c.GetSchema(ctx, 99999)
	if !errors.As(err, &herr) || herr.Code != registry.CodeSchemaNotFound || herr.StatusCode != 404 {
		t.Fatalf("unknown id: %v", err)
	}
	_, err = c.GetLatestSchemaInfo(ctx, "nobody-value")
	if !errors.As(err, &herr) || herr.Code != registry.CodeSubjectNotFound {
		t.Fatalf("unknown subject: %v", err)
	}

	// Soft delete hides the subject; hamba's DeleteSubject returns versions.
	vs, err := c.DeleteSubject(ctx, "other-value")
	if err != nil || len(vs) != 1 || vs[0] != 1 {
		t.Fatalf("delete subject = %v %v", vs, err)
	}
	subs, _ = c.GetSubjects(ctx)
	if strings.Join(subs, ",") != "askonce.test-value" {
		t.Fatalf("subjects after delete = %v", subs)
	}
	// The schema id stays resolvable: data written with it must stay readable.
	if _, err := c.GetSchema(ctx, id1); err != nil {
		t.Fatalf("schema of a deleted subject: %v", err)
	}
}

// TestAPIDetails checks what hamba's client does not reach: raw bodies,
// error codes, deletes, config endpoints, content type, auth, ops endpoints.
func TestAPIDetails(t *testing.T) {
	srv, _ := startRegistry(t, registry.ServerOptions{})
	call := func(method, path, body string) (int, string, http.Header) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", registry.ContentType)
		resp, err := http.DefaultClient.Do(req)
		testenv.Must(t, err, "%s %s", method, path)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	sb := func(s string) string { b, _ := json.Marshal(map[string]string{"schema": s}); return string(b) }
	const subj = "/subjects/s-value"

	code, body, hdr := call("POST", subj+"/versions", sb(v1))
	if code != 200 || body != `{"id":1}` || hdr.Get("Content-Type") != registry.ContentType {
		t.Fatalf("register: %d %s %s", code, body, hdr.Get("Content-Type"))
	}
	tests := []struct {
		method, path, body string
		code               int
		contains           string
	}{
		{"GET", subj + "/versions/1", "", 200, `"subject":"s-value","id":1,"version":1`},
		{"GET", subj + "/versions/latest/schema", "", 200, `{"name":"org.test.Person","type":"record"`},
		{"GET", "/schemas/ids/1/schema", "", 200, `"fields":[{"name":"nin","type":"string"}]`},
		{"GET", "/schemas/ids/1/versions", "", 200, `[{"subject":"s-value","version":1}]`},
		{"GET", "/schemas/types", "", 200, `["AVRO"]`},
		{"GET", subj + "/versions/0", "", 422, `"error_code":42202`},
		{"GET", subj + "/versions/abc", "", 422, `"error_code":42202`},
		{"GET", subj + "/versions/7", "", 404, `"error_code":40402`},
		{"GET", "/subjects/none/versions", "", 404, `"error_code":40401`},
		{"GET", "/schemas/ids/42", "", 404, `"error_code":40403`},
		{"POST", subj + "/versions", `{"schema":"{\"type\":\"recrod\"}"}`, 422, `"error_code":42201`},
		{"POST", subj + "/versions", `not json`, 422, `"error_code":42201`},
		{"POST", subj + "/versions", `{"schema":"\"string\"","schemaType":"PROTOBUF"}`, 422, `not supported`},
		{"POST", subj + "/versions", `{"schema":"\"string\"","references":[{"name":"a","subject":"b","version":1}]}`, 422, `references are not supported`},
		{"POST", subj + "/versions", `{"schema":"` + strings.Repeat("x", 2<<20) + `"}`, 413, `exceeds`},
		{"POST", "/compatibility/subjects/s-value/versions/latest?verbose=true", sb(v3), 200, `"is_compatible":false,"messages":["the new schema cannot read data written with version 1`},
		{"POST", "/compatibility/subjects/s-value/versions/1", sb(v2), 200, `"is_compatible":true`},
		{"POST", "/compatibility/subjects/none/versions/latest", sb(v2), 200, `{"is_compatible":true}`},
		{"GET", "/config", "", 200, `"compatibilityLevel":"BACKWARD"`},
		{"GET", "/config/s-value", "", 404, `"error_code":40408`},
		{"GET", "/config/s-value?defaultToGlobal=true", "", 200, `"compatibilityLevel":"BACKWARD"`},
		{"PUT", "/config/s-value", `{"compatibility":"full_transitive"}`, 200, `{"compatibility":"FULL_TRANSITIVE"}`},
		{"GET", "/config/s-value", "", 200, `"compatibilityLevel":"FULL_TRANSITIVE"`},
		{"PUT", "/config", `{"compatibility":"SIDEWAYS"}`, 422, `"error_code":42203`},
		{"DELETE", "/config/s-value", "", 200, `"compatibilityLevel":"FULL_TRANSITIVE"`},
		{"DELETE", subj + "/versions/1?permanent=true", "", 404, `"error_code":40407`},
		{"DELETE", subj + "/versions/1", "", 200, `1`},
		{"DELETE", subj + "/versions/1", "", 404, `"error_code":40406`},
		{"GET", subj + "/versions/1", "", 404, `"error_code":40401`},
		{"GET", subj + "/versions/1?deleted=true", "", 200, `"version":1`},
		{"GET", "/subjects?deleted=true", "", 200, `["s-value"]`},
		{"GET", "/subjects", "", 200, `[]`},
		{"DELETE", subj, "", 404, `"error_code":40404`},
		{"DELETE", subj + "?permanent=true", "", 200, `[1]`},
		{"GET", "/subjects?deleted=true", "", 200, `[]`},
		{"GET", "/nowhere", "", 404, `"error_code":404`},
		{"GET", "/healthz", "", 200, "ok"},
		{"GET", "/readyz", "", 200, `"postgres":"ok"`},
		{"GET", "/metrics", "", 200, `askonce_registry_requests_total{code="200",route="/subjects/{subject}/versions"}`},
	}
	for _, tc := range tests {
		code, body, _ := call(tc.method, tc.path, tc.body)
		if code != tc.code || !strings.Contains(body, tc.contains) {
			t.Errorf("%s %s = %d %.300s; want %d containing %s", tc.method, tc.path, code, body, tc.code, tc.contains)
		}
	}
	// After a permanent delete, re-registration starts a new subject and
	// keeps the schema's id.
	if code, body, _ := call("POST", subj+"/versions", sb(v1)); code != 200 || body != `{"id":1}` {
		t.Errorf("re-register after permanent delete: %d %s", code, body)
	}
}

func TestBasicAuth(t *testing.T) {
	srv, _ := startRegistry(t, registry.ServerOptions{RequireAuth: true, Username: "bus", Password: "s3cret"})
	ctx := context.Background()
	anon, _ := registry.NewClient(registry.ClientConfig{URL: srv.URL, Timeout: 5 * time.Second})
	err := anon.Ping(ctx)
	var e *registry.Error
	if !errors.As(err, &e) || e.Status != 401 {
		t.Fatalf("anonymous: %v", err)
	}
	wrong, _ := registry.NewClient(registry.ClientConfig{URL: srv.URL, Username: "bus", Password: "guess", Timeout: 5 * time.Second})
	if err := wrong.Ping(ctx); !errors.As(err, &e) || e.Status != 401 {
		t.Fatalf("wrong password: %v", err)
	}
	good, _ := registry.NewClient(registry.ClientConfig{URL: srv.URL, Username: "bus", Password: "s3cret", Timeout: 5 * time.Second})
	testenv.Must(t, good.Ping(ctx), "good credentials")
	id, err := good.Register(ctx, "a-value", v1)
	testenv.Must(t, err, "register")
	if text, err := good.SchemaByID(ctx, id); err != nil || !strings.Contains(text, "org.test.Person") {
		t.Fatalf("schema by id: %s %v", text, err)
	}
	// Probes stay open for the orchestrator.
	resp, err := http.Get(srv.URL + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz behind auth: %v %v", resp, err)
	}
	resp.Body.Close()
}

// TestConcurrentRegistration: many clients registering the same new
// schema at once get one id and one version.
func TestConcurrentRegistration(t *testing.T) {
	srv, _ := startRegistry(t, registry.ServerOptions{})
	ctx := context.Background()
	c, _ := registry.NewClient(registry.ClientConfig{URL: srv.URL, Timeout: 10 * time.Second})
	ids := make(chan int, 16)
	errs := make(chan error, 16)
	for i := 0; i < 16; i++ {
		go func() {
			id, err := c.Register(ctx, "race-value", v2)
			ids <- id
			errs <- err
		}()
	}
	first := -1
	for i := 0; i < 16; i++ {
		testenv.Must(t, <-errs, "register")
		id := <-ids
		if first == -1 {
			first = id
		} else if id != first {
			t.Fatalf("ids %d and %d for one schema", first, id)
		}
	}
	var vs []int
	_ = json.Unmarshal([]byte(mustGet(t, srv.URL+"/subjects/race-value/versions")), &vs)
	if len(vs) != 1 {
		t.Fatalf("versions = %v, want one", vs)
	}
}

func mustGet(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	testenv.Must(t, err, "get")
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestWriteAuth: outside dev mode (RequireWriteAuth, as `askonce registry`
// without --dev) registering, deleting and changing the config need the
// credential; reads stay open. With no credential configured, every write
// is refused.
func TestWriteAuth(t *testing.T) {
	type req struct {
		method, path, body string
		write              bool
	}
	const subj = "/subjects/w-value"
	schema, _ := json.Marshal(map[string]string{"schema": v1})
	reqs := []req{
		{"POST", subj + "/versions", string(schema), true},
		{"GET", subj + "/versions", "", false},
		{"POST", subj, string(schema), false}, // lookup
		{"POST", "/compatibility" + subj + "/versions/latest", string(schema), false},
		{"GET", "/schemas/ids/1", "", false},
		{"GET", "/config", "", false},
		{"PUT", "/config", `{"compatibility":"FULL"}`, true},
		{"PUT", "/config" + "/w-value", `{"compatibility":"NONE"}`, true},
		{"DELETE", "/config/w-value", "", true},
		{"DELETE", subj + "/versions/1", "", true},
		{"DELETE", subj + "?permanent=true", "", true},
	}
	do := func(srv string, r req, user, pass string) int {
		t.Helper()
		var body io.Reader
		if r.body != "" {
			body = strings.NewReader(r.body)
		}
		hr, err := http.NewRequest(r.method, srv+r.path, body)
		testenv.Must(t, err, "request")
		hr.Header.Set("Content-Type", registry.ContentType)
		if user != "" {
			hr.SetBasicAuth(user, pass)
		}
		resp, err := http.DefaultClient.Do(hr)
		testenv.Must(t, err, "%s %s", r.method, r.path)
		io.Copy(io.Discard, resp.Body) //nolint:errcheck // drain
		resp.Body.Close()
		return resp.StatusCode
	}
	srv, _ := startRegistry(t, registry.ServerOptions{RequireWriteAuth: true, Username: "bus", Password: "s3cret"})
	for _, cred := range []struct{ user, pass string }{{"", ""}, {"bus", "guess"}, {"", "s3cret"}, {"bus'--", "' OR 1=1 --"}} {
		for _, r := range reqs {
			code := do(srv.URL, r, cred.user, cred.pass)
			if r.write && code != 401 {
				t.Errorf("%s %s as %q/%q: %d, want 401", r.method, r.path, cred.user, cred.pass, code)
			}
			if !r.write && code == 401 {
				t.Errorf("read %s %s refused without the credential", r.method, r.path)
			}
		}
	}
	// The registry was not changed by any of it; with the credential every
	// call goes through, in order.
	if got := mustGet(t, srv.URL+"/subjects"); got != "[]" {
		t.Fatalf("subjects after refused writes: %s", got)
	}
	for _, r := range reqs {
		if code := do(srv.URL, r, "bus", "s3cret"); code != 200 {
			t.Errorf("%s %s with the credential: %d", r.method, r.path, code)
		}
	}

	// No credential configured outside dev mode: a read-only registry.
	ro, _ := startRegistry(t, registry.ServerOptions{RequireWriteAuth: true})
	if code := do(ro.URL, reqs[0], "", ""); code != 401 {
		t.Errorf("register on a registry without a credential: %d, want 401", code)
	}
	if code := do(ro.URL, reqs[0], "", "x"); code != 401 {
		t.Errorf("register with an empty user on a registry without a credential: %d, want 401", code)
	}
	// Dev mode (the zero options of askonce dev and the tests): open.
	dev, _ := startRegistry(t, registry.ServerOptions{})
	if code := do(dev.URL, reqs[0], "", ""); code != 200 {
		t.Errorf("register in dev mode: %d", code)
	}
}
