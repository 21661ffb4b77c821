// Package connectortest is the conformance suite every connector source
// kind passes (as every watermill adapter passes its pubsub tests), and the
// environment the connector tests share: a real embedded broker, a real
// schema registry and a fresh database on the private PostgreSQL, each
// started for one test. Test code only.
package connectortest

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/askonce/askonce/connectors/connector"
	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/internal/config"
	"github.com/askonce/askonce/internal/dbroles"
	"github.com/askonce/askonce/internal/ops"
	"github.com/askonce/askonce/internal/registry"
	"github.com/askonce/askonce/internal/testenv"
	"github.com/askonce/askonce/internal/wiring"
	"github.com/askonce/askonce/schemas"
)

// Env is one test's broker, registry and bus database, and the connector
// runtime's shared parts on them.
type Env struct {
	T        *testing.T
	Ctx      context.Context
	Addr     string // the broker
	Kafka    config.Kafka
	Topics   bus.Topics
	DB       *pgxpool.Pool // the bus database, migrated
	Conn     *bus.Conn
	Registry *registry.Client
	Log      *slog.Logger
	// AdminURL is the bus database's superuser URL, for test setup; DB
	// logs in as the connectors' role.
	AdminURL string
	Metrics  *prometheus.Registry // of Runtime

	pub *connector.Publisher
	cps *connector.Checkpoints
	m   *connector.Metrics
}

// NewEnv starts a broker and a registry, creates a bus database, and opens
// them; everything ends with the test.
func NewEnv(t *testing.T) *Env {
	t.Helper()
	ctx := testenv.Ctx(t, 3*time.Minute)
	broker := testenv.StartBroker(t, nil)
	cfg := config.Default()
	cfg.Kafka = broker.Kafka()
	cfg.Registry.URL = testenv.StartRegistry(t)
	// The bus database as `askonce migrate` leaves it; the connectors log
	// in with their role.
	busDB := testenv.Database(t, connector.Migrate)
	cfg.Postgres.URL = busDB.URL(dbroles.Connect)
	log := ops.NewLogger(io.Discard, "error", "json")
	db := busDB.Pool(t, dbroles.Connect)
	rc, err := registry.NewClient(wiring.RegistryClient(cfg.Registry))
	testenv.Must(t, err, "registry client")
	conn, err := wiring.OpenBus(ctx, &cfg, rc.Bus(), log)
	testenv.Must(t, err, "bus")
	t.Cleanup(conn.Client.Close)
	return &Env{T: t, Ctx: ctx, Addr: broker.Addr, Kafka: cfg.Kafka, Topics: conn.Client.Topics(), DB: db, AdminURL: busDB.Admin, Conn: conn,
		Registry: rc, Log: log, Metrics: ops.NewRegistry()}
}

// Migrate applies the migrations of a source kind (csvdrop.Migrate) to
// the bus database as `askonce migrate` does, grants included.
func (e *Env) Migrate(migrations ...dbroles.Migration) {
	e.T.Helper()
	testenv.Must(e.T, dbroles.Migrate(e.Ctx, e.AdminURL, e.Log, migrations...), "migrate")
}

// Runtime returns the process-wide parts of the runtime (one publisher,
// checkpoint store and metrics for every instance of the test), accepting
// synthetic persons.
func (e *Env) Runtime() (*connector.Publisher, *connector.Checkpoints, *connector.Metrics) {
	if e.pub == nil {
		e.m = connector.NewMetrics(e.Metrics)
		e.pub = connector.NewPublisher(e.Conn.Client, e.Conn.Codec, schemas.Rules{AllowSynthetic: true}, e.m, e.Log)
		e.T.Cleanup(func() { e.pub.Close() })
		e.cps = connector.NewCheckpoints(e.DB)
	}
	return e.pub, e.cps, e.m
}

// Runner returns a runner of src.
func (e *Env) Runner(inst connector.Instance, src connector.Source, opt connector.Options) *connector.Runner {
	pub, cps, m := e.Runtime()
	return connector.NewRunner(inst, src, pub, cps, opt, m, e.Log)
}

// Start runs r until stop is called or the test ends; stop waits for Run
// to return.
func (e *Env) Start(r *connector.Runner) (stop func()) {
	return e.StartCtx(e.Ctx, r)
}

// StartCtx is Start under ctx: a test that cancels ctx kills the runner.
func (e *Env) StartCtx(ctx context.Context, r *connector.Runner) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var stopped bool
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			e.T.Errorf("Run: %v", err)
		}
	}
	e.T.Cleanup(stop)
	return stop
}

// Codec decodes the record topics.
func (e *Env) Codec() *bus.Codec { return e.Conn.Codec }

// Civil decodes messages of the civil-status topic.
func (e *Env) Civil(msgs []kafka.Message) []*schemas.CivilStatusRecord {
	e.T.Helper()
	var out []*schemas.CivilStatusRecord
	for _, m := range msgs {
		var r schemas.CivilStatusRecord
		_, err := e.Conn.Codec.Decode(e.Ctx, e.Topics.CivilStatus, m.Value, &r)
		testenv.Must(e.T, err, "decode")
		out = append(out, &r)
	}
	return out
}
