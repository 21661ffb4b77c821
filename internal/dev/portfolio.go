package dev

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
)

// seedPensionerPortfolio puts the synthetic pensioners -- living persons
// aged 60 or more with an employment history -- in CNR's portfolio for
// deaths, marriages and divorces (purpose pension-death-watch), so that
// the live sources' deaths visibly produce notifications on
// askonce.notify.cnr. Idempotent: members already there are kept. It
// returns the portfolio's size.
func seedPensionerPortfolio(ctx context.Context, pool *pgxpool.Pool) (int64, error) {
	_, err := pool.Exec(ctx, `
INSERT INTO portfolio_members (agency, nin, kinds, purpose, deleted, added_at, changed_at, changed_by)
SELECT DISTINCT 'cnr', p.nin, '{DEATH,DIVORCE,MARRIAGE}'::text[], 'pension-death-watch', false, now(), now(), 'dev-seed'
FROM persons p
WHERE NOT p.deleted AND p.birth_date <= current_date - interval '60 years'
  AND EXISTS (SELECT 1 FROM employment_periods e WHERE e.nin = p.nin AND NOT e.deleted)
  AND NOT EXISTS (SELECT 1 FROM deaths d WHERE d.nin = p.nin AND NOT d.deleted)
ON CONFLICT (agency, nin) DO NOTHING`)
	if err != nil {
		return 0, fmt.Errorf("dev: seed CNR portfolio: %w", err)
	}
	var n int64
	err = pool.QueryRow(ctx, `SELECT count(*) FROM portfolio_members WHERE agency = 'cnr' AND NOT deleted`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("dev: CNR portfolio size: %w", err)
	}
	return n, nil
}
