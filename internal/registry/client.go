package registry

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Client speaks the Confluent Schema Registry API to any registry that
// implements it. It keeps no cache: callers (the codec) cache what they
// resolved.
type Client struct {
	base       *url.URL
	http       *http.Client
	user, pass string
}

// ClientConfig says where a registry is and how to call it (registry.url,
// username, password, timeout in the configuration).
type ClientConfig struct {
	// URL is the registry's base URL.
	URL string
	// Username and Password are HTTP basic-auth credentials, sent when
	// Username is set.
	Username, Password string
	// Timeout bounds each request (0: none).
	Timeout time.Duration
	// CAFile is a PEM bundle of the CAs trusted for an https URL (empty:
	// the system's roots).
	CAFile string
}

// NewClient returns a client for cfg.URL with basic auth when a username is set.
func NewClient(cfg ClientConfig) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(cfg.URL, "/") + "/")
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("registry: url %q is not a valid URL", cfg.URL)
	}
	hc := &http.Client{Timeout: cfg.Timeout}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("registry: ca_file: %w", err)
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("registry: ca_file %s holds no PEM certificate", cfg.CAFile)
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
		hc.Transport = tr
	}
	return &Client{base: u, http: hc, user: cfg.Username, pass: cfg.Password}, nil
}

// URL is the registry's base URL.
func (c *Client) URL() string { return c.base.String() }

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("registry: %w", err)
		}
		body = bytes.NewReader(b)
	}
	path, query, _ := strings.Cut(path, "?")
	u := c.base.JoinPath(path)
	u.RawQuery = query
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	req.Header.Set("Accept", ContentType+", application/json")
	if in != nil {
		req.Header.Set("Content-Type", ContentType)
	}
	if c.user != "" {
		req.SetBasicAuth(c.user, c.pass)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("registry: %s %s: %w", method, u.Redacted(), err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return fmt.Errorf("registry: %s %s: read body: %w", method, u.Redacted(), err)
	}
	if resp.StatusCode >= 400 {
		e := &Error{Status: resp.StatusCode}
		if json.Unmarshal(raw, e) != nil || e.Message == "" {
			e.Code = resp.StatusCode
			e.Message = strings.TrimSpace(string(raw))
			if e.Message == "" {
				e.Message = resp.Status
			}
		}
		return e
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("registry: %s %s: decode answer: %w", method, u.Redacted(), err)
		}
	}
	return nil
}

// Register registers schema under subject and returns its id (the existing
// id when it is already there).
func (c *Client) Register(ctx context.Context, subject, schema string) (int, error) {
	var out struct {
		ID int `json:"id"`
	}
	if err := c.do(ctx, http.MethodPost, "subjects/"+url.PathEscape(subject)+"/versions", schemaRequest{Schema: schema}, &out); err != nil {
		return 0, err
	}
	return out.ID, nil
}

// Lookup returns the id and version of schema under subject; a registry
// error 40401 or 40403 (IsNotFound) when it is not registered there.
func (c *Client) Lookup(ctx context.Context, subject, schema string) (id, version int, err error) {
	var out versionBody
	if err := c.do(ctx, http.MethodPost, "subjects/"+url.PathEscape(subject), schemaRequest{Schema: schema}, &out); err != nil {
		return 0, 0, err
	}
	return out.ID, out.Version, nil
}

// SchemaByID returns the schema text registered under id.
func (c *Client) SchemaByID(ctx context.Context, id int) (string, error) {
	var out struct {
		Schema     string `json:"schema"`
		SchemaType string `json:"schemaType"`
	}
	if err := c.do(ctx, http.MethodGet, "schemas/ids/"+strconv.Itoa(id), nil, &out); err != nil {
		return "", err
	}
	if out.SchemaType != "" && out.SchemaType != "AVRO" {
		return "", fmt.Errorf("registry: schema %d is %s, not AVRO", id, out.SchemaType)
	}
	return out.Schema, nil
}

// Compatible checks schema against subject's latest version (or, with a
// transitive level, all of them) and returns the registry's reasons when not.
func (c *Client) Compatible(ctx context.Context, subject, schema string) (bool, []string, error) {
	var out struct {
		IsCompatible bool     `json:"is_compatible"`
		Messages     []string `json:"messages"`
	}
	err := c.do(ctx, http.MethodPost, "compatibility/subjects/"+url.PathEscape(subject)+"/versions/latest?verbose=true", schemaRequest{Schema: schema}, &out)
	if err == nil {
		return out.IsCompatible, out.Messages, nil
	}
	return false, nil, err
}

// SetLevel sets a subject's compatibility level.
func (c *Client) SetLevel(ctx context.Context, subject, level string) error {
	return c.do(ctx, http.MethodPut, "config/"+url.PathEscape(subject), map[string]string{"compatibility": level}, nil)
}

// Ping checks that the registry answers its API.
func (c *Client) Ping(ctx context.Context) error {
	var out json.RawMessage
	return c.do(ctx, http.MethodGet, "subjects", nil, &out)
}
