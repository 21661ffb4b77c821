package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/askonce/askonce/internal/config"
	"github.com/askonce/askonce/internal/dbroles"
	"github.com/askonce/askonce/internal/ops"
	"github.com/askonce/askonce/internal/registry"
	"github.com/askonce/askonce/internal/testenv"
)

// selfSigned writes a certificate for 127.0.0.1 (its own CA) and its key.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	testenv.Must(t, err, "key")
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "registry test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	testenv.Must(t, err, "certificate")
	kb, err := x509.MarshalECPrivateKey(key)
	testenv.Must(t, err, "marshal key")
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	testenv.Must(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600), "write cert")
	testenv.Must(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600), "write key")
	return certFile, keyFile
}

// TestRegistryServesTLS: with registry.tls_cert_file and tls_key_file the
// registry speaks HTTPS only; a client that trusts its CA (registry.ca_file)
// registers a schema with the credential, one that does not is refused by
// TLS before any credential is sent, and plain HTTP gets nothing.
func TestRegistryServesTLS(t *testing.T) {
	ctx, cancel := context.WithCancel(testenv.Ctx(t, time.Minute))
	defer cancel()
	certFile, keyFile := selfSigned(t, t.TempDir())
	cfg := config.Default()
	cfg.Postgres.URL = testenv.Database(t, registry.Migrate).URL(dbroles.Registry)
	cfg.Registry.Listen = "127.0.0.1:0"
	cfg.Registry.Username, cfg.Registry.Password = "release", "s3cret-release"
	cfg.Registry.TLSCertFile, cfg.Registry.TLSKeyFile = certFile, keyFile
	testenv.Must(t, cfg.Validate(), "config")
	bound := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- runRegistry(ctx, &cfg, ops.NewLogger(io.Discard, "error", "json"), false, func(a string) { bound <- a })
	}()
	var addr string
	select {
	case addr = <-bound:
	case err := <-done:
		t.Fatalf("registry: %v", err)
	}

	good, err := registry.NewClient(registry.ClientConfig{URL: "https://" + addr, Username: "release", Password: "s3cret-release",
		Timeout: 10 * time.Second, CAFile: certFile})
	testenv.Must(t, err, "client")
	if _, err := good.Register(ctx, "tls-test-value", `{"type":"string"}`); err != nil {
		t.Fatalf("register over HTTPS with the CA: %v", err)
	}

	untrusting, err := registry.NewClient(registry.ClientConfig{URL: "https://" + addr, Username: "release", Password: "s3cret-release", Timeout: 10 * time.Second})
	testenv.Must(t, err, "client")
	if _, err := untrusting.Register(ctx, "tls-test-value", `{"type":"string"}`); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("a client without the registry's CA: err = %v, want a certificate error", err)
	}

	resp, err := http.Get("http://" + addr + "/subjects")
	if err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatalf("plain HTTP answered 200: %s", b)
		}
	}

	if _, err := registry.NewClient(registry.ClientConfig{URL: "https://" + addr, CAFile: keyFile}); err == nil {
		t.Fatal("a ca_file without a certificate was accepted")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("registry stopped with %v", err)
	}
}

// TestRegistryTLSFilesGoTogether: a certificate without its key is a
// configuration error naming the key.
func TestRegistryTLSFilesGoTogether(t *testing.T) {
	cfg := config.Default()
	cfg.Registry.TLSCertFile = "/etc/askonce/registry.crt"
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "registry.tls_cert_file") {
		t.Fatalf("Validate = %v", err)
	}
}
