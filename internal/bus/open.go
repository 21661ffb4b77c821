package bus

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/askonce/askonce/internal/retry"
	"github.com/askonce/askonce/schemas"
)

// Registry is a schema registry client and how to read its errors.
type Registry struct {
	Client SchemaRegistry
	// AutoRegister registers the record topics' schemas when the registry
	// lacks them (registry.auto_register); otherwise Open only looks them up.
	AutoRegister bool
	// IsNotFound tells "no such schema" from an outage.
	IsNotFound func(error) bool
	// IsPermanent tells errors that waiting cannot fix (an incompatible
	// schema, bad credentials) from an outage.
	IsPermanent func(error) bool
}

// Conn is what a producer or consumer of the record topics needs: a Kafka
// client and a codec that knows the three record topics' schemas.
type Conn struct {
	Client *Client
	Codec  *Codec
}

// Open connects to Kafka, creates missing topics (cfg.Topics.CreateOnStart),
// and registers (or looks up) the record topics' schemas in the registry.
// A broker or registry that is not up yet is waited for, with backoff and a
// log line per attempt, until ctx ends: components may start in any order.
func Open(ctx context.Context, cfg Config, reg Registry, log *slog.Logger) (*Conn, error) {
	client, err := New(cfg)
	if err != nil {
		return nil, err
	}
	codec := NewCodec(reg.Client, CodecOptions{AutoRegister: reg.AutoRegister, IsNotFound: reg.IsNotFound})
	topics := client.Topics()
	bo := retry.Backoff{Max: 10 * time.Second}
	for attempt := 1; ; attempt++ {
		err = func() error {
			if cfg.Topics.CreateOnStart {
				if _, err := client.EnsureTopics(ctx, topics.Specs(), log); err != nil {
					return err
				}
			} else if err := client.Ping(ctx); err != nil {
				return err
			}
			subs, err := schemas.Catalog()
			if err != nil {
				return err
			}
			for _, s := range subs {
				topic := cfg.Topics.Prefix + s.Topic
				if _, err := codec.Use(ctx, topic, s.Latest()); err != nil {
					return err
				}
			}
			return nil
		}()
		if err == nil {
			return &Conn{Client: client, Codec: codec}, nil
		}
		if ctx.Err() != nil || (reg.IsPermanent != nil && reg.IsPermanent(err)) {
			client.Close()
			return nil, fmt.Errorf("bus: not ready: %w", err)
		}
		log.Warn("waiting for Kafka and the schema registry", "attempt", attempt, "err", err)
		if !retry.Sleep(ctx, bo.Next()) {
			client.Close()
			return nil, fmt.Errorf("bus: not ready: %w", err)
		}
	}
}
