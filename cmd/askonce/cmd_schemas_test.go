package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/internal/config"
	"github.com/askonce/askonce/internal/registry"
	"github.com/askonce/askonce/internal/testenv"
	"github.com/askonce/askonce/internal/wiring"
	"github.com/askonce/askonce/schemas"
)

// TestSchemasRegisterServesEveryComponent: after `askonce schemas
// register`, a component that does not register schemas itself
// (registry.auto_register: false, as in every shipped deploy) finds the
// schema of every topic it writes or reads: the record topics, the audit
// topic, and each agency's notification and portfolio topics. Before it,
// it finds none.
func TestSchemasRegisterServesEveryComponent(t *testing.T) {
	ctx := testenv.Ctx(t, time.Minute)
	rc, err := registry.NewClient(registry.ClientConfig{URL: testenv.StartRegistry(t), Timeout: 10 * time.Second})
	testenv.Must(t, err, "client")
	cfg := config.Default()
	topics := bus.NewTopics(wiring.Topics(cfg.Kafka.Topics))
	codec := bus.NewCodec(rc, bus.CodecOptions{AutoRegister: false, IsNotFound: registry.IsNotFound})

	subs, err := schemas.Catalog()
	testenv.Must(t, err, "catalog")
	notif, err := schemas.NotificationSubject()
	testenv.Must(t, err, "notification subject")
	port, err := schemas.PortfolioSubject()
	testenv.Must(t, err, "portfolio subject")
	want := map[string]string{}
	for _, s := range subs {
		want[cfg.Kafka.Topics.Prefix+s.Topic] = s.Latest()
	}
	for _, a := range cfg.Kafka.Topics.Agencies {
		want[topics.Notify(a)] = notif.Latest()
		want[topics.AgencyPortfolio(a)] = port.Latest()
	}
	if len(cfg.Kafka.Topics.Agencies) == 0 {
		t.Fatal("no agency configured: the notification subjects would not be checked")
	}
	for topic, text := range want {
		if _, err := codec.Use(ctx, topic, text); err == nil {
			t.Fatalf("%s: found before any registration", topic)
		}
	}

	var out bytes.Buffer
	testenv.Must(t, registerSchemas(ctx, rc, cfg.Kafka.Topics.Prefix, cfg.Kafka.Topics.Agencies, &out), "register")
	testenv.Must(t, registerSchemas(ctx, rc, cfg.Kafka.Topics.Prefix, cfg.Kafka.Topics.Agencies, &out), "register again (idempotent)")
	for topic, text := range want {
		if _, err := codec.Use(ctx, topic, text); err != nil {
			t.Errorf("%s: not found after schemas register: %v", topic, err)
		}
	}
	if !strings.Contains(out.String(), topics.Notify(cfg.Kafka.Topics.Agencies[0])+"-value v1") {
		t.Errorf("output names no notification subject:\n%s", out.String())
	}
	if !strings.Contains(out.String(), topics.AgencyPortfolio(cfg.Kafka.Topics.Agencies[0])+"-value v1") {
		t.Errorf("output names no portfolio subject:\n%s", out.String())
	}
}
