package dev

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/askonce/askonce/internal/portfolio"
)

// seedPensionerPortfolio puts the synthetic pensioners -- living persons
// aged 60 or more with an employment history -- in CNR's portfolio for
// deaths, marriages and divorces (purpose pension-death-watch), so that
// the live sources' deaths visibly produce notifications on
// askonce.notify.cnr. Idempotent: members already there are kept. It
// returns the portfolio's size.
func seedPensionerPortfolio(ctx context.Context, pool *pgxpool.Pool) (int64, error) {
	rows, err := pool.Query(ctx, `
SELECT DISTINCT p.nin
FROM persons p
WHERE NOT p.deleted AND p.birth_date <= current_date - interval '60 years'
  AND EXISTS (SELECT 1 FROM employment_periods e WHERE e.nin = p.nin AND NOT e.deleted)
  AND NOT EXISTS (SELECT 1 FROM deaths d WHERE d.nin = p.nin AND NOT d.deleted)`)
	if err != nil {
		return 0, fmt.Errorf("dev: seed CNR portfolio: %w", err)
	}
	nins, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, fmt.Errorf("dev: seed CNR portfolio: %w", err)
	}
	st := portfolio.NewStore(pool)
	if _, err := st.AddMissing(ctx, "cnr", nins, []string{"DEATH", "DIVORCE", "MARRIAGE"}, "pension-death-watch", "dev-seed"); err != nil {
		return 0, fmt.Errorf("dev: seed CNR portfolio: %w", err)
	}
	sizes, err := st.Sizes(ctx)
	if err != nil {
		return 0, fmt.Errorf("dev: CNR portfolio size: %w", err)
	}
	return sizes["cnr"], nil
}
