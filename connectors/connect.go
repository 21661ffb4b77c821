// Package connectors runs the connector instances of `askonce connect`:
// one per agency data center and source kind, all in one process, sharing
// one schema codec and one checkpoint store, and one producer unless each
// data center has its own Kafka principal (Deps.InstanceClient). The contract
// and its runtime are in connector; the source kinds are subpackages
// (pgoutbox, csvdrop). The caller (cmd/askonce, the composition root)
// translates the configuration into Config and opens the dependencies.
package connectors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/askonce/askonce/connectors/connector"
	"github.com/askonce/askonce/connectors/csvdrop"
	"github.com/askonce/askonce/connectors/pgoutbox"
	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/internal/ops"
	"github.com/askonce/askonce/internal/store"
	"github.com/askonce/askonce/schemas"
)

// Config is what `askonce connect` runs (the connect section of the
// configuration, and the record rules).
type Config struct {
	BatchSize    int
	PollInterval time.Duration
	MaxBackoff   time.Duration
	// PruneAfter deletes outbox rows this long after they were published;
	// 0 never prunes.
	PruneAfter time.Duration
	Rules      schemas.Rules
	// SourcesURL is the database of the pgoutbox sources whose URL is empty.
	SourcesURL string
	PGOutbox   []PGOutbox
	CSVDrop    []CSVDrop
}

// PGOutbox is one agency data center's database with an askonce_outbox.
type PGOutbox struct {
	Agency     string
	DataCenter string
	URL        string // "" is Config.SourcesURL
	Schema     string // "" is public
}

// CSVDrop is one directory where a legacy system drops CSV exports.
type CSVDrop struct {
	Agency     string
	DataCenter string
	Dir        string
}

// Deps are what the connectors run on, opened by the caller.
type Deps struct {
	// DB is the bus database (checkpoints, csvdrop_files); Run migrates it.
	DB *pgxpool.Pool
	// Bus is the producer and the schema codec.
	Bus *bus.Conn
	// Registry is pinged by the readiness check "registry".
	Registry interface{ Ping(context.Context) error }
	Metrics  prometheus.Registerer
	Ops      *ops.Server
	Log      *slog.Logger
	// InstanceClient, when set, opens the Kafka client of one agency data
	// center's connector instances: its own principal
	// (connect.sasl_password_dir). They publish through it instead of
	// Bus.Client, which then only waits for the brokers, creates topics
	// and answers the readiness check "kafka". Run closes the clients it
	// opened when it returns.
	InstanceClient func(agency, dataCenter string) (*bus.Client, error)
}

// Validate says what makes cfg unusable, before anything is opened.
func (cfg Config) Validate() error {
	if len(cfg.PGOutbox)+len(cfg.CSVDrop) == 0 {
		return errors.New("connect: no connector configured: list sources under connect.pgoutbox or connect.csvdrop (see deploy/devfiles/connect.yaml)")
	}
	return nil
}

// Run runs every connector instance of cfg until ctx ends. Its readiness
// checks go on d.Ops, its metrics on d.Metrics.
func Run(ctx context.Context, cfg Config, d Deps) error {
	log := d.Log
	if err := cfg.Validate(); err != nil {
		return err
	}
	// `askonce migrate` creates the tables; the connectors' role may not.
	if err := connector.CheckSchema(ctx, d.DB); err != nil {
		return err
	}
	if err := csvdrop.CheckSchema(ctx, d.DB); err != nil {
		return err
	}
	d.Ops.AddCheck("postgres", d.DB.Ping)
	if d.Registry != nil {
		d.Ops.AddCheck("registry", d.Registry.Ping)
	}
	client := d.Bus.Client
	d.Ops.AddCheck("kafka", client.Ping)

	m := connector.NewMetrics(d.Metrics)
	pub := connector.NewPublisher(client, d.Bus.Codec, cfg.Rules, m, log)
	// Per-instance publishers (InstanceClient): one per data center, all
	// under pub's bound on batches in flight; closed before their clients.
	type dcKey struct{ agency, dataCenter string }
	pubs := map[dcKey]*connector.Publisher{}
	var clients []*bus.Client
	defer func() {
		for _, p := range pubs {
			p.Close()
		}
		for _, c := range clients {
			c.Close()
		}
		pub.Close()
	}()
	pubFor := func(agency, dataCenter string) (*connector.Publisher, error) {
		if d.InstanceClient == nil {
			return pub, nil
		}
		k := dcKey{agency, dataCenter}
		if p, ok := pubs[k]; ok {
			return p, nil
		}
		c, err := d.InstanceClient(agency, dataCenter)
		if err != nil {
			return nil, fmt.Errorf("connect: data center %s: %w", dataCenter, err)
		}
		clients = append(clients, c)
		pubs[k] = pub.ForClient(c)
		return pubs[k], nil
	}
	cps := connector.NewCheckpoints(d.DB)
	opt := connector.Options{MaxBackoff: cfg.MaxBackoff}

	pools := map[string]*pgxpool.Pool{}
	defer func() {
		for _, p := range pools {
			p.Close()
		}
	}()
	perURL := map[string]int{}
	urls := make([]string, len(cfg.PGOutbox))
	for i, s := range cfg.PGOutbox {
		u := s.URL
		if u == "" {
			u = cfg.SourcesURL
		}
		if u == "" {
			return fmt.Errorf("connect: source of %s: no url and no connect.sources_url", s.DataCenter)
		}
		urls[i] = u
		perURL[u]++
	}
	var runners []*connector.Runner
	for i, s := range cfg.PGOutbox {
		pool, ok := pools[urls[i]]
		if !ok {
			var err error
			// One reading connection per instance, and a little headroom
			// for the lag and readiness queries.
			if pool, err = store.OpenURL(ctx, urls[i], min(perURL[urls[i]]+2, 40)); err != nil {
				return fmt.Errorf("connect: source of %s: %w", s.DataCenter, err)
			}
			pools[urls[i]] = pool
		}
		inst := connector.Instance{Kind: "pgoutbox", Agency: s.Agency, DataCenter: s.DataCenter}
		ipub, err := pubFor(s.Agency, s.DataCenter)
		if err != nil {
			return err
		}
		src := pgoutbox.NewOutbox(pool, pgoutbox.Config{Agency: s.Agency, DataCenter: s.DataCenter, Schema: s.Schema,
			BatchSize: cfg.BatchSize, PollInterval: cfg.PollInterval, PruneAfter: cfg.PruneAfter}, client.Topics(), log)
		if err := src.Check(ctx); err != nil {
			// A data center that is down at start is retried by its
			// runner; a missing outbox table is a configuration error
			// worth saying loudly, but it must not stop the others.
			log.Error("connector source not ready", "connector", inst.Name(), "err", err)
		}
		runners = append(runners, connector.NewRunner(inst, src, ipub, cps, opt, m, log))
	}
	if len(cfg.CSVDrop) > 0 {
		fm := csvdrop.NewMetrics(d.Metrics)
		for _, s := range cfg.CSVDrop {
			c := csvdrop.Config{Agency: s.Agency, DataCenter: s.DataCenter, Dir: s.Dir, BatchSize: cfg.BatchSize, PollInterval: cfg.PollInterval, MaxBackoff: cfg.MaxBackoff}
			ipub, err := pubFor(s.Agency, s.DataCenter)
			if err != nil {
				return err
			}
			src := csvdrop.NewDrop(c, d.DB, client.Topics(), fm, log)
			runners = append(runners, connector.NewRunner(csvdrop.Instance(c), src, ipub, cps, opt, m, log))
		}
	}
	d.Ops.AddCheck("connectors", func(context.Context) error {
		var bad []string
		for _, r := range runners {
			if err := r.Healthy(); err != nil {
				bad = append(bad, err.Error())
			}
		}
		if len(bad) > 0 {
			return fmt.Errorf("%d of %d not healthy: %s", len(bad), len(runners), strings.Join(bad, "; "))
		}
		return nil
	})
	log.Info("connectors starting", "pgoutbox", len(cfg.PGOutbox), "csvdrop", len(cfg.CSVDrop), "batch_size", cfg.BatchSize,
		"own_kafka_principals", d.InstanceClient != nil)
	g, gctx := errgroup.WithContext(ctx)
	for _, r := range runners {
		g.Go(func() error { return r.Run(gctx) })
	}
	err := g.Wait()
	log.Info("connectors stopped")
	return err
}
