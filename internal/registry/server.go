// Package registry is askonce's schema registry: a PostgreSQL-backed
// implementation of the Confluent Schema Registry REST API (enough for the
// Confluent serializers of every language, hamba's registry client and
// Kafka UIs), its compatibility rules, and the small client the product
// uses to reach any registry that speaks that API (askonce's, Confluent SR,
// Apicurio's ccompat, Karapace).
//
// It sits beside the topics: producers register or look up a topic's
// schema before writing, and consumers fetch a writer's schema by the id
// each record carries, so that any Kafka client of any language can read
// the bus.
package registry

import (
	"crypto/subtle"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/askonce/askonce/internal/ops"
)

// ContentType is the registry API's media type.
const ContentType = "application/vnd.schemaregistry.v1+json"

// Reference is a schema reference in a request (not supported: refused
// with a clear error).
type Reference struct {
	Name    string `json:"name"`
	Subject string `json:"subject"`
	Version int    `json:"version"`
}

type schemaRequest struct {
	Schema     string      `json:"schema"`
	SchemaType string      `json:"schemaType,omitempty"`
	References []Reference `json:"references,omitempty"`
}

// Server serves the registry API over a Backend.
type Server struct {
	b        *Backend
	log      *slog.Logger
	mux      *http.ServeMux
	user     string
	pass     string
	auth     bool
	writes   bool
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	created  prometheus.Counter
}

// ServerOptions are the server's settings.
type ServerOptions struct {
	// RequireAuth demands HTTP basic auth with Username and Password.
	RequireAuth        bool
	Username, Password string
	// RequireWriteAuth demands the credential on the calls that change the
	// registry (register, delete, PUT/DELETE config) even when RequireAuth
	// is off; with no Username/Password set they are all refused (a
	// read-only registry). `askonce registry` sets it outside dev mode, so
	// nobody can register or delete a schema the topics depend on without
	// the credential.
	RequireWriteAuth bool
}

// NewServer returns the API handler. Metrics go to reg; opsHandler (may be
// nil) serves /metrics, /healthz and /readyz on the same port, unauthenticated.
func NewServer(b *Backend, log *slog.Logger, reg prometheus.Registerer, opt ServerOptions, opsHandler http.Handler) *Server {
	s := &Server{
		b: b, log: log, mux: http.NewServeMux(),
		user: opt.Username, pass: opt.Password, auth: opt.RequireAuth, writes: opt.RequireWriteAuth,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ops.Namespace, Subsystem: "registry", Name: "requests_total",
			Help: "Registry API requests by route and HTTP status.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ops.Namespace, Subsystem: "registry", Name: "request_duration_seconds",
			Help:    "Registry API request latency by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route"}),
		created: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ops.Namespace, Subsystem: "registry", Name: "versions_created_total",
			Help: "Subject versions created by registrations.",
		}),
	}
	reg.MustRegister(s.requests, s.latency, s.created)

	route := func(pattern string, h func(w http.ResponseWriter, r *http.Request) (any, *Error)) {
		name := pattern[strings.IndexByte(pattern, ' ')+1:]
		s.mux.Handle(pattern, s.wrap(name, h))
	}
	route("GET /{$}", func(http.ResponseWriter, *http.Request) (any, *Error) { return map[string]any{}, nil })
	route("GET /schemas/types", func(http.ResponseWriter, *http.Request) (any, *Error) { return []string{"AVRO"}, nil })
	route("GET /mode", func(http.ResponseWriter, *http.Request) (any, *Error) {
		return map[string]string{"mode": "READWRITE"}, nil
	})
	route("GET /subjects", s.getSubjects)
	route("GET /subjects/{subject}/versions", s.getVersions)
	route("POST /subjects/{subject}/versions", s.register)
	route("GET /subjects/{subject}/versions/{version}", s.getVersion)
	route("GET /subjects/{subject}/versions/{version}/schema", s.getVersionSchema)
	route("DELETE /subjects/{subject}/versions/{version}", s.deleteVersion)
	route("POST /subjects/{subject}", s.lookup)
	route("DELETE /subjects/{subject}", s.deleteSubject)
	route("GET /schemas/ids/{id}", s.getSchema)
	route("GET /schemas/ids/{id}/schema", s.getSchemaRaw)
	route("GET /schemas/ids/{id}/versions", s.getSchemaVersions)
	route("POST /compatibility/subjects/{subject}/versions/{version}", s.compatibility)
	route("POST /compatibility/subjects/{subject}/versions", s.compatibility)
	route("GET /config", s.getConfig)
	route("PUT /config", s.putConfig)
	route("GET /config/{subject}", s.getConfig)
	route("PUT /config/{subject}", s.putConfig)
	route("DELETE /config/{subject}", s.deleteConfig)
	if opsHandler != nil {
		for _, p := range []string{"GET /metrics", "GET /healthz", "GET /readyz"} {
			s.mux.Handle(p, opsHandler)
		}
	}
	s.mux.Handle("/", s.wrap("unknown", func(http.ResponseWriter, *http.Request) (any, *Error) {
		return nil, apiErr(404, 404, "HTTP 404 Not Found")
	}))
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *Server) wrap(route string, h func(w http.ResponseWriter, r *http.Request) (any, *Error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		var out any
		var apiError *Error
		if (s.auth || (s.writes && isWrite(r))) && !s.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Basic realm="askonce schema registry"`)
			apiError = apiErr(401, CodeUnauthorized, "Unauthorized")
		} else {
			out, apiError = h(w, r)
		}
		code := http.StatusOK
		w.Header().Set("Content-Type", ContentType)
		if apiError != nil {
			code = apiError.Status
			if code >= 500 {
				s.log.Error("registry request failed", "route", route, "error", apiError.Message)
			}
			out = apiError
		}
		var body []byte
		if raw, ok := out.(rawSchema); ok {
			body = []byte(raw)
		} else {
			body, _ = json.Marshal(out)
		}
		w.WriteHeader(code)
		_, _ = w.Write(body)
		s.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
		s.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}

// isWrite says whether a request changes the registry. POST
// /subjects/{s} (lookup) and POST /compatibility/... only read.
func isWrite(r *http.Request) bool {
	switch r.Method {
	case http.MethodPut, http.MethodDelete:
		return true
	case http.MethodPost:
		return strings.HasSuffix(strings.TrimSuffix(r.URL.Path, "/"), "/versions") && !strings.HasPrefix(r.URL.Path, "/compatibility/")
	}
	return false
}

func (s *Server) authorized(r *http.Request) bool {
	u, p, ok := r.BasicAuth()
	if !ok || s.user == "" || s.pass == "" {
		return false
	}
	uok := subtle.ConstantTimeCompare([]byte(u), []byte(s.user)) == 1
	pok := subtle.ConstantTimeCompare([]byte(p), []byte(s.pass)) == 1
	return uok && pok
}

// rawSchema is a body written as is (the /schema endpoints return the
// schema itself, not a JSON string holding it).
type rawSchema string

func decode(r *http.Request, maxBytes int64, into any) *Error {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBytes+1))
	if err != nil {
		return apiErr(400, 400, "could not read the request body: %v", err)
	}
	if int64(len(body)) > maxBytes {
		return apiErr(413, 413, "request body exceeds %d bytes", maxBytes)
	}
	if err := json.Unmarshal(body, into); err != nil {
		return apiErr(422, CodeInvalidSchema, "Invalid request body: %v", err)
	}
	return nil
}

func (s *Server) parseBody(r *http.Request) (*parsed, *Error) {
	var req schemaRequest
	if e := decode(r, int64(s.b.maxSchemaSize), &req); e != nil {
		return nil, e
	}
	return parseSchema(req.Schema, req.SchemaType, req.References)
}

// versionArg parses a version path value: a positive int, "latest" or -1.
func versionArg(v string) (int, *Error) {
	if v == "latest" || v == "-1" {
		return -1, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, errInvalidVersion(v)
	}
	return n, nil
}

func boolQuery(r *http.Request, name string) bool {
	v, _ := strconv.ParseBool(r.URL.Query().Get(name))
	return v
}

type versionBody struct {
	Subject string `json:"subject"`
	ID      int    `json:"id"`
	Version int    `json:"version"`
	Schema  string `json:"schema"`
}

func (s *Server) getSubjects(_ http.ResponseWriter, r *http.Request) (any, *Error) {
	subs, err := s.b.Subjects(r.Context(), boolQuery(r, "deleted"))
	if err != nil {
		return nil, s.b.storeErr("subjects", err)
	}
	if subs == nil {
		subs = []string{}
	}
	return subs, nil
}

func (s *Server) getVersions(_ http.ResponseWriter, r *http.Request) (any, *Error) {
	vs, e := s.b.Versions(r.Context(), r.PathValue("subject"), boolQuery(r, "deleted"))
	if e != nil {
		return nil, e
	}
	out := make([]int, len(vs))
	for i, v := range vs {
		out[i] = v.Version
	}
	return out, nil
}

func (s *Server) register(_ http.ResponseWriter, r *http.Request) (any, *Error) {
	p, e := s.parseBody(r)
	if e != nil {
		return nil, e
	}
	subject := r.PathValue("subject")
	id, created, e := s.b.Register(r.Context(), subject, p)
	if e != nil {
		return nil, e
	}
	if created {
		s.created.Inc()
		s.log.Info("schema registered", "subject", subject, "id", id)
	}
	return map[string]int{"id": id}, nil
}

func (s *Server) getVersion(_ http.ResponseWriter, r *http.Request) (any, *Error) {
	v, e := s.version(r)
	if e != nil {
		return nil, e
	}
	return versionBody{Subject: v.Subject, ID: v.ID, Version: v.Version, Schema: v.Schema}, nil
}

func (s *Server) getVersionSchema(_ http.ResponseWriter, r *http.Request) (any, *Error) {
	v, e := s.version(r)
	if e != nil {
		return nil, e
	}
	return rawSchema(v.Schema), nil
}

func (s *Server) version(r *http.Request) (version, *Error) {
	label := r.PathValue("version")
	n, e := versionArg(label)
	if e != nil {
		return version{}, e
	}
	return s.b.Version(r.Context(), r.PathValue("subject"), n, boolQuery(r, "deleted"), label)
}

func (s *Server) deleteVersion(_ http.ResponseWriter, r *http.Request) (any, *Error) {
	label := r.PathValue("version")
	n, e := versionArg(label)
	if e != nil {
		return nil, e
	}
	v, e := s.b.DeleteVersion(r.Context(), r.PathValue("subject"), n, label, boolQuery(r, "permanent"))
	if e != nil {
		return nil, e
	}
	s.log.Info("schema version deleted", "subject", r.PathValue("subject"), "version", v, "permanent", boolQuery(r, "permanent"))
	return v, nil
}

func (s *Server) lookup(_ http.ResponseWriter, r *http.Request) (any, *Error) {
	p, e := s.parseBody(r)
	if e != nil {
		return nil, e
	}
	v, e := s.b.Lookup(r.Context(), r.PathValue("subject"), p, boolQuery(r, "deleted"))
	if e != nil {
		return nil, e
	}
	return versionBody{Subject: v.Subject, ID: v.ID, Version: v.Version, Schema: v.Schema}, nil
}

func (s *Server) deleteSubject(_ http.ResponseWriter, r *http.Request) (any, *Error) {
	vs, e := s.b.DeleteSubject(r.Context(), r.PathValue("subject"), boolQuery(r, "permanent"))
	if e != nil {
		return nil, e
	}
	s.log.Info("subject deleted", "subject", r.PathValue("subject"), "versions", len(vs), "permanent", boolQuery(r, "permanent"))
	return vs, nil
}

func (s *Server) schemaID(r *http.Request) (int, *Error) {
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil || id < 1 {
		return 0, apiErr(404, CodeSchemaNotFound, "Schema %s not found", r.PathValue("id"))
	}
	return id, nil
}

func (s *Server) getSchema(_ http.ResponseWriter, r *http.Request) (any, *Error) {
	id, e := s.schemaID(r)
	if e != nil {
		return nil, e
	}
	text, e := s.b.SchemaByID(r.Context(), id)
	if e != nil {
		return nil, e
	}
	return map[string]string{"schema": text}, nil
}

func (s *Server) getSchemaRaw(_ http.ResponseWriter, r *http.Request) (any, *Error) {
	id, e := s.schemaID(r)
	if e != nil {
		return nil, e
	}
	text, e := s.b.SchemaByID(r.Context(), id)
	if e != nil {
		return nil, e
	}
	return rawSchema(text), nil
}

func (s *Server) getSchemaVersions(_ http.ResponseWriter, r *http.Request) (any, *Error) {
	id, e := s.schemaID(r)
	if e != nil {
		return nil, e
	}
	if _, e := s.b.SchemaByID(r.Context(), id); e != nil {
		return nil, e
	}
	vs, e := s.b.SubjectVersionsOf(r.Context(), id)
	if e != nil {
		return nil, e
	}
	type sv struct {
		Subject string `json:"subject"`
		Version int    `json:"version"`
	}
	out := make([]sv, len(vs))
	for i, v := range vs {
		out[i] = sv{v.Subject, v.Version}
	}
	return out, nil
}

func (s *Server) compatibility(_ http.ResponseWriter, r *http.Request) (any, *Error) {
	label := r.PathValue("version")
	n := -1
	if label != "" {
		var e *Error
		if n, e = versionArg(label); e != nil {
			return nil, e
		}
	}
	p, e := s.parseBody(r)
	if e != nil {
		return nil, e
	}
	reasons, e := s.b.Compatible(r.Context(), r.PathValue("subject"), n, label, p)
	if e != nil {
		return nil, e
	}
	out := map[string]any{"is_compatible": len(reasons) == 0}
	if boolQuery(r, "verbose") {
		if reasons == nil {
			reasons = []string{}
		}
		out["messages"] = reasons
	}
	return out, nil
}

// levelBody carries both spellings: Confluent answers GET /config with
// compatibilityLevel, and some clients (hamba's) read compatibility.
type levelBody struct {
	CompatibilityLevel string `json:"compatibilityLevel"`
	Compatibility      string `json:"compatibility"`
}

func (s *Server) getConfig(_ http.ResponseWriter, r *http.Request) (any, *Error) {
	subject := r.PathValue("subject")
	level, own, err := s.b.Level(r.Context(), subject)
	if err != nil {
		return nil, s.b.storeErr("config", err)
	}
	if subject != "" && !own && !boolQuery(r, "defaultToGlobal") {
		return nil, apiErr(404, CodeSubjectLevelCompatMissing, "Subject '%s' does not have subject-level compatibility configured", subject)
	}
	return levelBody{level, level}, nil
}

func (s *Server) putConfig(_ http.ResponseWriter, r *http.Request) (any, *Error) {
	var req struct {
		Compatibility string `json:"compatibility"`
	}
	if e := decode(r, 4096, &req); e != nil {
		return nil, e
	}
	level, ok := ValidLevel(req.Compatibility)
	if !ok {
		return nil, errInvalidLevel()
	}
	subject := r.PathValue("subject")
	if err := s.b.SetLevel(r.Context(), subject, level); err != nil {
		return nil, s.b.storeErr("config", err)
	}
	s.log.Info("compatibility level set", "subject", subject, "level", level)
	return map[string]string{"compatibility": level}, nil
}

func (s *Server) deleteConfig(_ http.ResponseWriter, r *http.Request) (any, *Error) {
	subject := r.PathValue("subject")
	level, ok, err := s.b.DeleteLevel(r.Context(), subject)
	if err != nil {
		return nil, s.b.storeErr("config", err)
	}
	if !ok {
		return nil, apiErr(404, CodeSubjectLevelCompatMissing, "Subject '%s' does not have subject-level compatibility configured", subject)
	}
	return levelBody{level, level}, nil
}
