package dev

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Ask says how to ask for one document type with the dev policy: which
// client key and purpose are allowed.
type Ask struct {
	DocumentType string `json:"document_type"`
	Key          string `json:"api_key"`
	Purpose      string `json:"purpose"`
}

// Asks are the dev client and purpose for each document type.
var Asks = []Ask{
	{"birth-certificate", "dev-apc-alger-key", "civil-status-issuance"},
	{"family-record", "dev-apc-alger-key", "civil-status-issuance"},
	{"marriage-certificate", "dev-apc-alger-key", "civil-status-issuance"},
	{"death-certificate", "dev-apc-alger-key", "civil-status-issuance"},
	{"life-certificate", "dev-cnr-key", "pension-life-proof"},
	{"affiliation-certificate", "dev-cnas-key", "insured-registration"},
	{"non-affiliation-certificate", "dev-anem-key", "unemployment-registration"},
	{"employment-certificate", "dev-anem-key", "unemployment-registration"},
	{"contribution-status", "dev-cnas-key", "benefit-eligibility"},
	{"contributions-statement", "dev-cnas-key", "benefit-eligibility"},
}

// Sample is a synthetic citizen worth trying, with the outcome expected
// for each document type ("issued", or "not_held/<reason>").
type Sample struct {
	Kind     string            `json:"kind"`
	NIN      string            `json:"nin"`
	Name     string            `json:"name"`
	Expected map[string]string `json:"expected"`
}

// kinds pick one citizen each, deterministically, from the store.
var kinds = []struct{ kind, where string }{
	{"living pensioner", `date_part('year', age(p.birth_date)) >= 62
		AND NOT EXISTS (SELECT 1 FROM deaths d WHERE d.nin = p.nin AND NOT d.deleted)
		AND EXISTS (SELECT 1 FROM employment_periods e WHERE e.nin = p.nin AND NOT e.deleted)`},
	{"deceased person", `EXISTS (SELECT 1 FROM deaths d WHERE d.nin = p.nin AND NOT d.deleted)`},
	{"employee with contribution arrears", `EXISTS (SELECT 1 FROM contributions c WHERE c.nin = p.nin AND NOT c.deleted
		AND c.status IN ('UNPAID', 'PARTIAL') AND c.period < to_char(date_trunc('month', now()) - interval '1 month', 'YYYY-MM'))
		AND NOT EXISTS (SELECT 1 FROM deaths d WHERE d.nin = p.nin AND NOT d.deleted)`},
	{"married person with children", `EXISTS (SELECT 1 FROM marriages m WHERE m.nin = p.nin AND NOT m.deleted)
		AND NOT EXISTS (SELECT 1 FROM deaths d WHERE d.nin = p.nin AND NOT d.deleted)
		AND %s`},
	{"person with no employment record", `date_part('year', age(p.birth_date)) BETWEEN 20 AND 50
		AND NOT EXISTS (SELECT 1 FROM deaths d WHERE d.nin = p.nin AND NOT d.deleted)
		AND NOT EXISTS (SELECT 1 FROM employment_periods e WHERE e.nin = p.nin AND NOT e.deleted)
		AND NOT EXISTS (SELECT 1 FROM affiliations a WHERE a.nin = p.nin AND NOT a.deleted)`},
}

// oracle computes the expected outcome of every document type for a NIN,
// in SQL, independently of the lookup API's Go rules.
const oracle = `
WITH
 p AS (SELECT count(*) > 0 AS x FROM persons WHERE nin = $1 AND NOT deleted),
 m AS (SELECT count(*) > 0 AS x FROM marriages WHERE nin = $1 AND NOT deleted),
 d AS (SELECT count(*) > 0 AS x FROM deaths WHERE nin = $1 AND NOT deleted),
 a AS (SELECT count(*) > 0 AS x, bool_or(status <> 'CLOSED') AS open FROM affiliations WHERE nin = $1 AND NOT deleted),
 e AS (SELECT count(*) > 0 AS x FROM employment_periods WHERE nin = $1 AND NOT deleted),
 c AS (SELECT count(*) > 0 AS x,
        coalesce(bool_or(status IN ('UNPAID', 'PARTIAL') AND period < to_char(date_trunc('month', now()) - interval '1 month', 'YYYY-MM')), false) AS arrears
       FROM contributions WHERE nin = $1 AND NOT deleted)
SELECT
 CASE WHEN p.x THEN 'issued' ELSE 'not_held/no_record' END,
 CASE WHEN p.x AND m.x THEN 'issued' ELSE 'not_held/no_record' END,
 CASE WHEN m.x THEN 'issued' ELSE 'not_held/no_record' END,
 CASE WHEN d.x THEN 'issued' ELSE 'not_held/no_record' END,
 CASE WHEN NOT p.x THEN 'not_held/no_record' WHEN d.x THEN 'not_held/condition_not_met' ELSE 'issued' END,
 CASE WHEN a.x THEN 'issued' ELSE 'not_held/no_record' END,
 CASE WHEN coalesce(a.open, false) THEN 'not_held/condition_not_met' ELSE 'issued' END,
 CASE WHEN e.x THEN 'issued' ELSE 'not_held/no_record' END,
 CASE WHEN NOT c.x THEN 'not_held/no_record' WHEN c.arrears THEN 'not_held/condition_not_met' ELSE 'issued' END,
 CASE WHEN c.x THEN 'issued' ELSE 'not_held/no_record' END
FROM p, m, d, a, e, c`

// Samples picks one citizen of each kind from the store, with the outcome
// expected for each document type. A kind the population lacks is left out.
func Samples(ctx context.Context, pool *pgxpool.Pool) ([]Sample, error) {
	var hasParents bool
	if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_name = 'persons' AND column_name = 'father_nin')`).Scan(&hasParents); err != nil {
		return nil, err
	}
	children := "true"
	if hasParents {
		children = `EXISTS (SELECT 1 FROM persons c WHERE (c.father_nin = p.nin OR c.mother_nin = p.nin) AND NOT c.deleted)`
	}
	var out []Sample
	for _, k := range kinds {
		where := k.where
		if k.kind == "married person with children" {
			where = fmt.Sprintf(where, children)
		}
		var s Sample
		err := pool.QueryRow(ctx, `SELECT p.nin, coalesce(p.surname_latin, '') || ' ' || coalesce(p.first_names_latin, '')
FROM persons p WHERE NOT p.deleted AND `+where+` ORDER BY p.nin LIMIT 1`).Scan(&s.NIN, &s.Name)
		if err != nil {
			continue // none of that kind in this population
		}
		s.Kind = k.kind
		vals := make([]string, len(Asks))
		ptrs := make([]any, len(Asks))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := pool.QueryRow(ctx, oracle, s.NIN).Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("dev: expected outcomes of %s: %w", s.NIN, err)
		}
		s.Expected = map[string]string{}
		for i, a := range Asks {
			s.Expected[a.DocumentType] = vals[i]
		}
		out = append(out, s)
	}
	return out, nil
}
