package connector

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/askonce/askonce/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrate creates or updates connect_checkpoints, the runtime's one table,
// in the bus database. Source kinds migrate their own tables.
func Migrate(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) error {
	_, err := store.Migrate(ctx, pool, "connector", migrations, "migrations", log)
	return err
}

// CheckSchema returns an error unless connect_checkpoints are at the version this
// release needs (`askonce migrate` migrates them).
func CheckSchema(ctx context.Context, pool *pgxpool.Pool) error {
	return store.Check(ctx, pool, "connector", migrations, "migrations")
}

// Checkpoints are the durable checkpoints of the connectors
// (connect_checkpoints), the only code that writes that table.
type Checkpoints struct{ pool *pgxpool.Pool }

// NewCheckpoints keeps checkpoints in pool (the bus database, migrated).
func NewCheckpoints(pool *pgxpool.Pool) *Checkpoints { return &Checkpoints{pool: pool} }

// Load returns the last checkpoint saved for connector, nil when none.
func (c *Checkpoints) Load(ctx context.Context, connector string) (Checkpoint, error) {
	var cp []byte
	err := c.pool.QueryRow(ctx, `SELECT checkpoint FROM connect_checkpoints WHERE connector = $1`, connector).Scan(&cp)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load checkpoint of %s: %w", connector, err)
	}
	return cp, nil
}

// Save records that everything before cp was published (and counts what
// was). seq is the source's sequence number (Sequenced), 0 when it has
// none; connect_checkpoints.position never moves backwards.
func (c *Checkpoints) Save(ctx context.Context, connector string, cp Checkpoint, seq int64, n Counts) error {
	_, err := c.pool.Exec(ctx, `
INSERT INTO connect_checkpoints (connector, checkpoint, position, published, rejected) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (connector) DO UPDATE SET
    checkpoint = excluded.checkpoint,
    position = greatest(connect_checkpoints.position, excluded.position),
    published = connect_checkpoints.published + excluded.published,
    rejected = connect_checkpoints.rejected + excluded.rejected,
    updated_at = now()`, connector, []byte(cp), seq, n.Published, n.Rejected)
	if err != nil {
		return fmt.Errorf("save checkpoint of %s: %w", connector, err)
	}
	return nil
}

// Heard records that connector read its source successfully now.
func (c *Checkpoints) Heard(ctx context.Context, inst Instance) error {
	_, err := c.pool.Exec(ctx, `
INSERT INTO connect_checkpoints (connector, position, agency, data_center, heard_at) VALUES ($1, 0, $2, $3, now())
ON CONFLICT (connector) DO UPDATE SET agency = excluded.agency, data_center = excluded.data_center, heard_at = now()`,
		inst.Name(), inst.Agency, inst.DataCenter)
	if err != nil {
		return fmt.Errorf("record heartbeat of %s: %w", inst.Name(), err)
	}
	return nil
}
