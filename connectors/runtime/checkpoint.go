package runtime

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

// Migrate creates or updates the connectors' tables in the bus database.
func Migrate(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) error {
	_, err := store.Migrate(ctx, pool, "connect", migrations, "migrations", log)
	return err
}

// Checkpoints are the durable positions of the connectors.
type Checkpoints struct{ pool *pgxpool.Pool }

// NewCheckpoints keeps positions in pool (the bus database, migrated).
func NewCheckpoints(pool *pgxpool.Pool) *Checkpoints { return &Checkpoints{pool: pool} }

// Load returns the last position saved for connector, 0 when none.
func (c *Checkpoints) Load(ctx context.Context, connector string) (int64, error) {
	var pos int64
	err := c.pool.QueryRow(ctx, `SELECT position FROM connect_checkpoints WHERE connector = $1`, connector).Scan(&pos)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("load checkpoint of %s: %w", connector, err)
	}
	return pos, nil
}

// Save records that everything up to pos was published (and counts what
// was). A position never moves backwards.
func (c *Checkpoints) Save(ctx context.Context, connector string, pos int64, n Counts) error {
	_, err := c.pool.Exec(ctx, `
INSERT INTO connect_checkpoints (connector, position, published, rejected) VALUES ($1, $2, $3, $4)
ON CONFLICT (connector) DO UPDATE SET
    position = greatest(connect_checkpoints.position, excluded.position),
    published = connect_checkpoints.published + excluded.published,
    rejected = connect_checkpoints.rejected + excluded.rejected,
    updated_at = now()`, connector, pos, n.Published, n.Rejected)
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

// Pool is the bus database the checkpoints live in.
func (c *Checkpoints) Pool() *pgxpool.Pool { return c.pool }
