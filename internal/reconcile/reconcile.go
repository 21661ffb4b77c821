// Package reconcile compares each source data center with the lookup
// store: for every source key, the latest version the source holds (and
// whether the record rules accept it) against the version stored. It is
// the proof that nothing was lost or left behind between an agency's
// outbox and the store.
package reconcile

import (
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/askonce/askonce/connectors/pgoutbox"
	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/schemas"
)

// Outbox is one data center's askonce_outbox to compare with the store.
type Outbox struct {
	schemas.Origin
	Pool   *pgxpool.Pool
	Schema string // holding askonce_outbox; empty means public
}

// Report is the comparison of one data center.
type Report struct {
	Agency, DataCenter string
	SourceKeys         int    // keys whose latest version the rules accept
	SourceRejected     int    // keys whose latest version the rules reject (in the DLQ)
	StoreKeys          int    // keys stored for this data center
	Missing            int    // accepted at the source, absent from the store
	Behind             int    // stored at a lower version than the source's
	Extra              int    // stored but unknown to the source, or ahead of it
	Unknown            int    // of Extra: keys the source does not hold at all
	Held               int    // stored at an earlier version whose successor was rejected
	SourceSum          string // checksum over (key, version, deleted) of accepted source keys
	StoreSum           string // the same over the store, held keys excluded
	Examples           []string
	// LagExamples are a few keys missing or behind (sorted), ExtraKeys a
	// few of the extra ones: records the source does not hold (or holds at
	// an earlier version), written by producers outside it (another client
	// of the topics, a CSV drop, a correction by hand).
	LagExamples, ExtraKeys []string
}

// Clean says whether the store matches the source.
func (r Report) Clean() bool {
	return r.Missing == 0 && r.Behind == 0 && r.Extra == 0 && r.SourceSum == r.StoreSum
}

// Lag is the number of source records the store does not hold yet at the
// source's version: those a consumer of the source can wait for. Extra
// records are not lag: no amount of waiting makes the source hold them.
func (r Report) Lag() int { return r.Missing + r.Behind }

// maxKeys bounds LagExamples and ExtraKeys.
const maxKeys = 5

type state struct {
	version int64
	deleted bool
	valid   bool
}

// Compare reconciles one source with the store.
func Compare(ctx context.Context, src Outbox, storePool *pgxpool.Pool, rules schemas.Rules, topics bus.Topics) (Report, error) {
	rep := Report{Agency: src.Agency, DataCenter: src.DataCenter}
	source, err := sourceState(ctx, src, rules, topics)
	if err != nil {
		return rep, err
	}
	stored, err := storeState(ctx, storePool, src.DataCenter)
	if err != nil {
		return rep, err
	}
	rep.StoreKeys = len(stored)
	var srcSum, storeSum uint64
	example := func(format string, args ...any) {
		if len(rep.Examples) < 5 {
			rep.Examples = append(rep.Examples, fmt.Sprintf(format, args...))
		}
	}
	lag := func(key string) { rep.LagExamples = keepFirst(rep.LagExamples, key) }
	extra := func(key string) { rep.ExtraKeys = keepFirst(rep.ExtraKeys, key) }
	for key, s := range source {
		st, ok := stored[key]
		if !s.valid {
			rep.SourceRejected++
			if ok {
				if st.version < s.version {
					rep.Held++
				} else {
					rep.Extra++
					extra(key)
					example("%s: stored version %d, but the source's version %d is rejected", key, st.version, s.version)
				}
			}
			continue
		}
		rep.SourceKeys++
		srcSum += sum(key, s.version, s.deleted)
		switch {
		case !ok:
			rep.Missing++
			lag(key)
			example("%s: version %d missing from the store", key, s.version)
		case st.version < s.version:
			rep.Behind++
			lag(key)
			storeSum += sum(key, st.version, st.deleted)
			example("%s: stored version %d, source version %d", key, st.version, s.version)
		case st.version > s.version:
			rep.Extra++
			extra(key)
			storeSum += sum(key, st.version, st.deleted)
			example("%s: stored version %d ahead of the source's %d", key, st.version, s.version)
		default:
			storeSum += sum(key, st.version, st.deleted)
		}
	}
	for key, st := range stored {
		if _, ok := source[key]; !ok {
			rep.Extra++
			rep.Unknown++
			extra(key)
			storeSum += sum(key, st.version, st.deleted)
			example("%s: stored (version %d) but unknown to the source", key, st.version)
		}
	}
	rep.SourceSum = strconv.FormatUint(srcSum, 16)
	rep.StoreSum = strconv.FormatUint(storeSum, 16)
	slices.Sort(rep.Examples)
	return rep, nil
}

// keepFirst adds key to keys, sorted, keeping the first maxKeys: a few
// examples, the same whatever the map order, without sorting every key.
func keepFirst(keys []string, key string) []string {
	if len(keys) == maxKeys && key >= keys[maxKeys-1] {
		return keys
	}
	i, _ := slices.BinarySearch(keys, key)
	keys = slices.Insert(keys, i, key)
	return keys[:min(len(keys), maxKeys)]
}

// sum is an order-independent checksum term.
func sum(key string, version int64, deleted bool) uint64 {
	h := fnv.New64a()
	h.Write([]byte(key))
	h.Write([]byte{0})
	h.Write([]byte(strconv.FormatInt(version, 10)))
	if deleted {
		h.Write([]byte{1})
	}
	return h.Sum64()
}

// sourceState reads the latest outbox row of every key, maps and
// validates it exactly as the connector does.
func sourceState(ctx context.Context, src Outbox, rules schemas.Rules, topics bus.Topics) (map[string]state, error) {
	schema := src.Schema
	if schema == "" {
		schema = "public"
	}
	table := pgx.Identifier{schema, "askonce_outbox"}.Sanitize()
	rows, err := src.Pool.Query(ctx, `SELECT DISTINCT ON (key) seq, entity, key, op, payload::text, created_at FROM `+table+` ORDER BY key, seq DESC`)
	if err != nil {
		return nil, fmt.Errorf("reconcile: read %s: %w", src.DataCenter, err)
	}
	defer rows.Close()
	out := map[string]state{}
	for rows.Next() {
		var r pgoutbox.Row
		var payload string
		if err := rows.Scan(&r.Seq, &r.Entity, &r.Key, &r.Op, &payload, &r.CreatedAt); err != nil {
			return nil, fmt.Errorf("reconcile: read %s: %w", src.DataCenter, err)
		}
		r.Payload = []byte(payload)
		rec := pgoutbox.Map(r, src.Origin, topics)
		s := state{deleted: r.Op == "delete"}
		if rec.MapErr == nil {
			if v, ok := rec.Value.(schemas.Record); ok {
				s.version = v.Prov().SourceVersion
				s.valid = len(rules.Check(v)) == 0
			}
		}
		out[r.Key] = s
	}
	return out, rows.Err()
}

func storeState(ctx context.Context, pool *pgxpool.Pool, dc string) (map[string]state, error) {
	out := map[string]state{}
	for _, t := range []string{"persons", "marriages", "divorces", "deaths", "affiliations", "employment_periods", "contributions"} {
		rows, err := pool.Query(ctx, `SELECT source_key, version, deleted FROM `+t+` WHERE data_center = $1`, dc)
		if err != nil {
			return nil, fmt.Errorf("reconcile: read store %s: %w", t, err)
		}
		for rows.Next() {
			var k string
			var s state
			if err := rows.Scan(&k, &s.version, &s.deleted); err != nil {
				rows.Close()
				return nil, fmt.Errorf("reconcile: read store %s: %w", t, err)
			}
			out[k] = s
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("reconcile: read store %s: %w", t, err)
		}
	}
	return out, nil
}

// Print writes the reports as a table and returns whether all are clean.
func Print(w io.Writer, reps []Report, took time.Duration) bool {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "data center\tsource\trejected\tstore\tmissing\tbehind\textra\theld\tchecksum\t")
	clean := true
	var tot Report
	for _, r := range reps {
		ok := "ok"
		if !r.Clean() {
			ok = "DIFFERS"
			clean = false
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t\n", r.DataCenter, r.SourceKeys, r.SourceRejected, r.StoreKeys, r.Missing, r.Behind, r.Extra, r.Held, ok)
		tot.SourceKeys += r.SourceKeys
		tot.SourceRejected += r.SourceRejected
		tot.StoreKeys += r.StoreKeys
		tot.Missing += r.Missing
		tot.Behind += r.Behind
		tot.Extra += r.Extra
		tot.Held += r.Held
	}
	fmt.Fprintf(tw, "total (%d)\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\t\n", len(reps), tot.SourceKeys, tot.SourceRejected, tot.StoreKeys, tot.Missing, tot.Behind, tot.Extra, tot.Held)
	tw.Flush()
	for _, r := range reps {
		for _, e := range r.Examples {
			fmt.Fprintf(w, "  %s: %s\n", r.DataCenter, e)
		}
	}
	if tot.Extra > 0 {
		fmt.Fprintf(w, "extra: %d stored records that the sources do not hold at that version: written by producers outside them (another client of the topics, a CSV drop, a correction by hand)\n", tot.Extra)
	}
	if clean {
		fmt.Fprintf(w, "reconcile: zero difference over %d data centers, %d keys checked (%s)\n", len(reps), tot.SourceKeys+tot.SourceRejected, took.Round(time.Millisecond))
	} else {
		fmt.Fprintf(w, "reconcile: differences found: %d missing, %d behind, %d extra (%s)\n", tot.Missing, tot.Behind, tot.Extra, took.Round(time.Millisecond))
	}
	return clean
}
