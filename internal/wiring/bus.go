package wiring

import (
	"context"
	"log/slog"

	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/internal/config"
)

// OpenBus is bus.Open with the configuration's kafka.* and
// registry.auto_register: it waits for Kafka and the registry, creates
// missing topics and resolves the record topics' schemas.
func OpenBus(ctx context.Context, cfg *config.Config, reg bus.Registry, log *slog.Logger) (*bus.Conn, error) {
	reg.AutoRegister = cfg.Registry.AutoRegister
	return bus.Open(ctx, Kafka(cfg.Kafka), reg, log)
}
