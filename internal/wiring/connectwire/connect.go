// Package connectwire is the composition root of `askonce connect`: it
// turns the configuration into the connectors' own Config, opens what they
// run on (the bus database, the registry, the brokers) and runs them. Both
// `askonce connect` and `askonce dev` start the connectors through it.
//
// It is a package of its own, not part of internal/wiring, because the
// connectors' conformance suite (connectors/connectortest) uses wiring and
// is used by the CSV drop's own tests: wiring importing the connectors
// would make an import cycle.
package connectwire

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/askonce/askonce/connectors"
	"github.com/askonce/askonce/internal/access"
	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/internal/config"
	"github.com/askonce/askonce/internal/ops"
	"github.com/askonce/askonce/internal/registry"
	"github.com/askonce/askonce/internal/wiring"
	"github.com/askonce/askonce/schemas"
)

// Run runs the connectors of cfg until ctx ends; readiness checks go on
// srv, metrics on reg. A configuration with no connector, or with
// connect.sasl_password_dir and a data center's password file missing or
// empty, fails before the database and the brokers are waited for.
func Run(ctx context.Context, cfg *config.Config, reg prometheus.Registerer, srv *ops.Server, log *slog.Logger) error {
	ccfg, err := Config(ctx, cfg)
	if err != nil {
		return err
	}
	if err := ccfg.Validate(); err != nil {
		return err
	}
	var instanceClient func(agency, dataCenter string) (*bus.Client, error)
	if dir := cfg.Connect.SASLPasswordDir; dir != "" {
		creds, err := credentials(dir, ccfg)
		if err != nil {
			return err
		}
		instanceClient = func(agency, dataCenter string) (*bus.Client, error) {
			c, ok := creds[dcKey{agency, dataCenter}]
			if !ok {
				return nil, fmt.Errorf("no Kafka password read for data center %s", dataCenter)
			}
			kc := wiring.Kafka(cfg.Kafka)
			kc.SASL = bus.SASL{Mechanism: cfg.Kafka.SASL.Mechanism, Username: c.principal, Password: c.password}
			return bus.New(kc)
		}
		log.Info("connectors authenticate as their own Kafka principals", "dir", dir, "principals", len(creds))
		if cfg.Kafka.SASL.Username == "" && cfg.Kafka.SASL.Password == "" {
			// No process identity of its own: the process's own requests
			// (waiting for the brokers, the readiness check's metadata)
			// go as the first data center's connector, which may do them.
			first := firstCredential(creds)
			c := *cfg
			c.Kafka.SASL.Username, c.Kafka.SASL.Password = first.principal, first.password
			cfg = &c
			log.Info("the process's own Kafka requests go as a connector's principal", "principal", first.principal)
		}
	}
	db, err := wiring.OpenPostgres(ctx, cfg.Postgres)
	if err != nil {
		return err
	}
	defer db.Close()
	rc, err := registry.NewClient(wiring.RegistryClient(cfg.Registry))
	if err != nil {
		return err
	}
	conn, err := wiring.OpenBus(ctx, cfg, rc.Bus(), log)
	if err != nil {
		return err
	}
	defer conn.Client.Close()
	return connectors.Run(ctx, ccfg, connectors.Deps{DB: db, Bus: conn, Registry: rc, Metrics: reg, Ops: srv, Log: log, InstanceClient: instanceClient})
}

// firstCredential is the credential of the first principal in name order.
func firstCredential(creds map[dcKey]credential) credential {
	var first credential
	for _, c := range creds {
		if first.principal == "" || c.principal < first.principal {
			first = c
		}
	}
	return first
}

// dcKey is one agency data center of the connectors.
type dcKey struct{ agency, dataCenter string }

// credential is the Kafka identity of one data center's connector.
type credential struct {
	// principal is access.ConnectorName(agency, data center).
	principal string
	password  string
}

// String never shows the password.
func (c credential) String() string { return c.principal }

// credentials reads, for each data center of c, the password of its
// connector's principal from dir/<principal> (connect.sasl_password_dir),
// without its trailing newline. A missing, unreadable or empty file is an
// error naming the file and the principal; the password is in no error.
func credentials(dir string, c connectors.Config) (map[dcKey]credential, error) {
	out := map[dcKey]credential{}
	var errs []error
	add := func(agency, dataCenter string) {
		k := dcKey{agency, dataCenter}
		if _, ok := out[k]; ok {
			return
		}
		principal := access.ConnectorName(agency, dataCenter)
		path := filepath.Join(dir, principal)
		b, err := os.ReadFile(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			errs = append(errs, fmt.Errorf("connect: %s is missing: it must hold the Kafka password of principal %s (data center %s; connect.sasl_password_dir)", path, principal, dataCenter))
			return
		case err != nil:
			errs = append(errs, fmt.Errorf("connect: the Kafka password of principal %s (data center %s): %w", principal, dataCenter, err))
			return
		}
		pw := strings.TrimRight(string(b), "\r\n")
		if pw == "" {
			errs = append(errs, fmt.Errorf("connect: %s is empty: it must hold the Kafka password of principal %s (data center %s; connect.sasl_password_dir)", path, principal, dataCenter))
			return
		}
		out[k] = credential{principal: principal, password: pw}
	}
	for _, s := range c.PGOutbox {
		add(s.Agency, s.DataCenter)
	}
	for _, s := range c.CSVDrop {
		add(s.Agency, s.DataCenter)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// Config is the connectors' part of cfg. The sources database is resolved
// (and, on the private PostgreSQL of development, created) only when a
// pgoutbox source needs it.
func Config(ctx context.Context, cfg *config.Config) (connectors.Config, error) {
	c := cfg.Connect
	out := connectors.Config{BatchSize: c.BatchSize, PollInterval: c.PollInterval, MaxBackoff: c.MaxBackoff, PruneAfter: c.PruneAfter,
		Rules: schemas.Rules{AllowSynthetic: cfg.Rules.AllowSynthetic, AllowPendingWilayas: cfg.Rules.AllowPendingWilayas}}
	for _, s := range c.PGOutbox {
		if s.URL == "" && out.SourcesURL == "" {
			u, err := wiring.SourcesURL(ctx, cfg)
			if err != nil {
				return out, err
			}
			out.SourcesURL = u
		}
		out.PGOutbox = append(out.PGOutbox, connectors.PGOutbox{Agency: s.Agency, DataCenter: s.DataCenter, URL: s.URL, Schema: s.Schema})
	}
	for _, s := range c.CSVDrop {
		out.CSVDrop = append(out.CSVDrop, connectors.CSVDrop{Agency: s.Agency, DataCenter: s.DataCenter, Dir: s.Dir})
	}
	return out, nil
}
