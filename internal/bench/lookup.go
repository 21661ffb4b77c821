package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/askonce/askonce/internal/dbroles"
	"github.com/askonce/askonce/internal/lookup"
	"github.com/askonce/askonce/internal/policy"
	"github.com/askonce/askonce/internal/store"
)

// docMix is the share of each document type in the load: proofs of life
// and birth certificates dominate the counters' traffic.
var docMix = []struct {
	doc    string
	weight int
}{
	{lookup.DocLife, 25}, {lookup.DocBirth, 20}, {lookup.DocAffiliation, 10}, {lookup.DocContribStatus, 10},
	{lookup.DocFamily, 8}, {lookup.DocEmployment, 8}, {lookup.DocContribStatement, 7}, {lookup.DocNonAffiliation, 5},
	{lookup.DocMarriage, 4}, {lookup.DocDeath, 3},
}

// unknownShare is the share of requests for NINs the store does not hold.
const unknownShare = 0.05

// Level is one concurrency level of the API or of its ceiling.
type Level struct {
	Clients                      int
	Requests, Issued, NotHeld    int64
	RateLimited, Errors          int64
	FirstError                   string
	Elapsed                      time.Duration
	RequestsPerSec, IssuedPerSec float64
	P50, P99, P999               time.Duration
	// AuditBatch is the mean number of audit entries per transaction
	// during the level (API only).
	AuditBatch float64
	// CPU is what each party spent during the measured window.
	CPU CPUUse
}

// CPUPerRequest is the CPU time of each party per request of the level.
func (l Level) CPUPerRequest() (component, postgres, bench time.Duration) {
	if l.Requests == 0 {
		return 0, 0, 0
	}
	n := time.Duration(l.Requests)
	return l.CPU.Component / n, l.CPU.Postgres / n, l.CPU.Bench / n
}

// LookupResult is the lookup benchmark.
type LookupResult struct {
	Seed     Seed
	Load     Pipeline
	API, Raw []Level
	// Ratio per level: API issued documents/s over the raw queries'.
	Ratio       []float64
	Serve       Usage
	SampledNINs int
	PoolConns   int
}

type ask struct {
	doc, purpose, nin string
	body              []byte
}

func (e *env) lookupBench(ctx context.Context) (*LookupResult, error) {
	r := &LookupResult{}
	srcURL, err := e.createDB(ctx, "lookup_src")
	if err != nil {
		return nil, err
	}
	if r.Seed, err = e.seed(ctx, "seed-lookup", srcURL, e.opt.PersonsLookup); err != nil {
		return nil, err
	}
	e.progress("  seeded %d persons in %s (%d rows), peak RSS %s", r.Seed.Persons, r.Seed.Elapsed.Round(time.Second), r.Seed.Rows, mib(r.Seed.Usage.PeakRSS))
	busURL, err := e.createBusDB(ctx, "lookup_bus")
	if err != nil {
		return nil, err
	}
	prefix := fmt.Sprintf("b%slookup.", e.id)
	if r.Load, err = e.pipeline(ctx, "lookup-load", srcURL, busURL, prefix, r.Seed.Rows-r.Seed.Defects); err != nil {
		return nil, err
	}
	e.progress("  store loaded: %d records in %s (%.0f/s)", r.Load.Valid, r.Load.Elapsed.Round(time.Second), r.Load.RecordsPerSec)

	r.PoolConns = e.opt.Config.Postgres.MaxConns
	if r.PoolConns <= 0 {
		r.PoolConns = 32
	}
	pool, err := store.OpenURL(ctx, busURL, r.PoolConns)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	asks, sampled, err := makeAsks(ctx, pool)
	if err != nil {
		return nil, err
	}
	r.SampledNINs = sampled

	// The API as its own process, with a policy of hashed random keys.
	key := "bench-" + randomHex(16)
	policyFile := filepath.Join(e.dir, "bench-policy.yaml")
	if err := os.WriteFile(policyFile, benchPolicy(policy.HashKey(key)), 0o600); err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	env := append(e.componentEnv(srcURL, busURL, dbroles.API, prefix, addr),
		"ASKONCE_LOOKUP_SIGNING_KEYS_DIR="+filepath.Join(e.dir, "signing-keys"), "ASKONCE_LOOKUP_CREATE_SIGNING_KEY=true",
		// The connectors are stopped: their data centers must not turn stale mid-run.
		"ASKONCE_LOOKUP_STALE_AFTER=8760h", "ASKONCE_LOOKUP_FROZEN_AFTER=0", "ASKONCE_POSTGRES_MAX_CONNS="+strconv.Itoa(r.PoolConns))
	pprofEnv, pprofAddr, err := e.pprofEnv()
	if err != nil {
		return nil, err
	}
	env = append(env, pprofEnv...)
	srv, err := startProc(e.opt.Binary, e.dir, "serve", env, "serve", "--listen", addr, "--policy", policyFile)
	if err != nil {
		return nil, err
	}
	defer srv.stop(10 * time.Second)
	base := "http://" + addr
	if err := waitHTTP(ctx, srv, base+"/readyz", time.Minute); err != nil {
		return nil, err
	}
	st := lookup.NewStore(pool)
	for _, c := range e.opt.Concurrency {
		e.prof.cpuProfile(ctx, pprofAddr, fmt.Sprintf("serve-%dclients", c), e.opt.Duration-time.Second, e.progress)
		a, err := e.apiLevel(ctx, base, key, asks, c, srv.cmd.Process.Pid)
		if err != nil {
			return nil, err
		}
		e.prof.allocProfile(ctx, pprofAddr, fmt.Sprintf("serve-allocs-after-%dclients", c), e.progress)
		if ok, err := srv.exited(); ok {
			return nil, fmt.Errorf("bench: the lookup API exited: %v\n%s", err, srv.tail(20))
		}
		raw := runLevel(ctx, c, e.opt.Duration, asks, e.cpu, 0, func(ctx context.Context, a *ask) (int, error) {
			issued, err := st.Decide(ctx, a.doc, a.nin, time.Now().UTC().Truncate(time.Second))
			if err != nil {
				return 0, err
			}
			if issued {
				return http.StatusOK, nil
			}
			return http.StatusNotFound, nil
		})
		r.API, r.Raw = append(r.API, a), append(r.Raw, raw)
		ratio := 0.0
		if raw.IssuedPerSec > 0 {
			ratio = a.IssuedPerSec / raw.IssuedPerSec
		}
		r.Ratio = append(r.Ratio, ratio)
		e.progress("  %3d clients: API %.0f req/s, %.0f issued/s, p50 %s p99 %s p999 %s, audit batch %.1f, errors %d; raw %.0f issued/s (ratio %.2f)",
			c, a.RequestsPerSec, a.IssuedPerSec, a.P50, a.P99, a.P999, a.AuditBatch, a.Errors, raw.IssuedPerSec, ratio)
		as, ap, ab := a.CPUPerRequest()
		_, rp, rb := raw.CPUPerRequest()
		e.progress("       CPU per request: API %s = serve %s + PostgreSQL %s + load generator %s; raw %s = PostgreSQL %s + generator %s",
			(as + ap + ab).Round(time.Microsecond), as.Round(time.Microsecond), ap.Round(time.Microsecond), ab.Round(time.Microsecond),
			(rp + rb).Round(time.Microsecond), rp.Round(time.Microsecond), rb.Round(time.Microsecond))
	}
	r.Serve = srv.stop(30 * time.Second)
	return r, nil
}

// apiLevel loads the API with c clients over HTTP keep-alive.
func (e *env) apiLevel(ctx context.Context, base, key string, asks []ask, c, pid int) (Level, error) {
	tr := &http.Transport{MaxIdleConns: 2 * c, MaxIdleConnsPerHost: 2 * c, IdleConnTimeout: time.Minute, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	names := []string{"askonce_audit_batch_size_sum", "askonce_audit_batch_size_count"}
	before, err := scrape(ctx, base+"/metrics", names...)
	if err != nil {
		return Level{}, fmt.Errorf("bench: lookup metrics: %w", err)
	}
	l := runLevel(ctx, c, e.opt.Duration, asks, e.cpu, pid, func(ctx context.Context, a *ask) (int, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/document-requests", bytes.NewReader(a.body))
		if err != nil {
			return 0, err
		}
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil {
			return 0, err
		}
		switch resp.StatusCode {
		case http.StatusOK, http.StatusNotFound, http.StatusTooManyRequests:
			return resp.StatusCode, nil
		}
		return 0, fmt.Errorf("HTTP %d for %s", resp.StatusCode, a.doc)
	})
	after, err := scrape(ctx, base+"/metrics", names...)
	if err != nil {
		return l, fmt.Errorf("bench: lookup metrics: %w", err)
	}
	if n := after[names[1]] - before[names[1]]; n > 0 {
		l.AuditBatch = (after[names[0]] - before[names[0]]) / n
	}
	return l, nil
}

// runLevel runs c closed-loop clients calling do for d after a warm-up of
// d/5 (at most 2 s); only requests started in the measured window count.
func runLevel(ctx context.Context, c int, d time.Duration, asks []ask, meter *cpuMeter, pid int, do func(context.Context, *ask) (int, error)) Level {
	warm := min(d/5, 2*time.Second)
	begin := time.Now().Add(warm)
	end := begin.Add(d)
	// The CPU each party spends in the measured window (after the warm-up).
	cpu := make(chan CPUUse, 1)
	go func() {
		sleepUntil(ctx, begin)
		s0 := meter.snap(pid)
		sleepUntil(ctx, end)
		cpu <- s0.to(meter.snap(pid))
	}()
	type result struct {
		lat                                  []time.Duration
		ok, notHeld, limited, errs, requests int64
		firstErr                             string
	}
	results := make([]result, c)
	var wg sync.WaitGroup
	for w := range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := &results[w]
			i := rand.IntN(len(asks))
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(end) {
					return
				}
				a := &asks[i%len(asks)]
				i++
				status, err := do(ctx, a)
				lat := time.Since(t0)
				if t0.Before(begin) {
					continue
				}
				res.requests++
				res.lat = append(res.lat, lat)
				switch {
				case err != nil:
					res.errs++
					if res.firstErr == "" {
						res.firstErr = err.Error()
					}
				case status == http.StatusOK:
					res.ok++
				case status == http.StatusNotFound:
					res.notHeld++
				case status == http.StatusTooManyRequests:
					res.limited++
				}
			}
		}()
	}
	wg.Wait()
	l := Level{Clients: c, Elapsed: d, CPU: <-cpu}
	var lat []time.Duration
	for _, r := range results {
		lat = append(lat, r.lat...)
		l.Requests += r.requests
		l.Issued += r.ok
		l.NotHeld += r.notHeld
		l.RateLimited += r.limited
		l.Errors += r.errs
		if l.FirstError == "" {
			l.FirstError = r.firstErr
		}
	}
	slices.Sort(lat)
	l.P50, l.P99, l.P999 = quantile(lat, 0.50), quantile(lat, 0.99), quantile(lat, 0.999)
	l.RequestsPerSec = float64(l.Requests) / d.Seconds()
	l.IssuedPerSec = float64(l.Issued) / d.Seconds()
	return l
}

func sleepUntil(ctx context.Context, t time.Time) {
	select {
	case <-ctx.Done():
	case <-time.After(time.Until(t)):
	}
}

func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted)) + 0.5)
	return sorted[min(max(i-1, 0), len(sorted)-1)]
}

// populations are the citizens a clerk asks each document type about: a
// pension fund asks a proof of life for the living, a fund the
// contribution status of its insured, a survivor's file a death
// certificate for the deceased. Some answers are still not_held (a
// contribution unpaid, an affiliation closed), as at a real counter.
var populations = map[string]string{
	lookup.DocBirth:            `SELECT nin FROM persons WHERE NOT deleted`,
	lookup.DocFamily:           `SELECT nin FROM persons WHERE NOT deleted`,
	lookup.DocNonAffiliation:   `SELECT nin FROM persons WHERE NOT deleted`,
	lookup.DocLife:             `SELECT nin FROM persons p WHERE NOT deleted AND NOT EXISTS (SELECT 1 FROM deaths d WHERE d.nin = p.nin AND NOT d.deleted)`,
	lookup.DocDeath:            `SELECT nin FROM deaths WHERE NOT deleted`,
	lookup.DocMarriage:         `SELECT nin FROM marriages WHERE NOT deleted`,
	lookup.DocAffiliation:      `SELECT nin FROM affiliations WHERE NOT deleted`,
	lookup.DocEmployment:       `SELECT nin FROM employment_periods WHERE NOT deleted`,
	lookup.DocContribStatus:    `SELECT nin FROM contributions WHERE NOT deleted AND nin IS NOT NULL`,
	lookup.DocContribStatement: `SELECT nin FROM contributions WHERE NOT deleted AND nin IS NOT NULL`,
}

// asksPerLevel is the number of distinct requests the clients cycle through.
const asksPerLevel = 20000

// makeAsks samples NINs from the store and builds the requests of the
// mix: document types by weight, each about a NIN of its population with
// a purpose that may ask for it, and a share of NINs the store does not hold.
func makeAsks(ctx context.Context, pool *pgxpool.Pool) ([]ask, int, error) {
	sample := func(q string, n int) ([]string, error) {
		rows, err := pool.Query(ctx, `SELECT nin FROM (SELECT DISTINCT nin FROM (`+q+`) s) d ORDER BY random() LIMIT $1`, n)
		if err != nil {
			return nil, fmt.Errorf("bench: sample NINs: %w", err)
		}
		var nins []string
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				rows.Close()
				return nil, err
			}
			nins = append(nins, n)
		}
		rows.Close()
		return nins, rows.Err()
	}
	byDoc := map[string][]string{}
	distinct := map[string]bool{}
	for _, m := range docMix {
		nins, err := sample(populations[m.doc], asksPerLevel/4)
		if err != nil {
			return nil, 0, err
		}
		if len(nins) == 0 {
			// A small population may have no one in it (no death yet).
			nins, err = sample(populations[lookup.DocBirth], asksPerLevel/4)
			if err != nil {
				return nil, 0, err
			}
		}
		if len(nins) == 0 {
			return nil, 0, fmt.Errorf("bench: the store holds no person")
		}
		byDoc[m.doc] = nins
		for _, n := range nins {
			distinct[n] = true
		}
	}
	// NINs the store does not hold: a held NIN with another birth-act
	// number (positions 10-14), checked absent.
	persons := byDoc[lookup.DocBirth]
	var unknown []string
	for i := 0; len(unknown) < 200 && i < 2000; i++ {
		n := persons[i%len(persons)]
		cand := n[:9] + fmt.Sprintf("%05d", 90000+rand.IntN(10000)) + n[14:]
		var held bool
		if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM persons WHERE nin = $1)`, cand).Scan(&held); err != nil {
			return nil, 0, err
		}
		if !held {
			unknown = append(unknown, cand)
		}
	}
	purposeOf := map[string]string{}
	for _, p := range lookup.Purposes {
		for doc := range p.Fields {
			if _, ok := purposeOf[doc]; !ok {
				purposeOf[doc] = p.Code
			}
		}
	}
	total := 0
	for _, m := range docMix {
		total += m.weight
	}
	rng := rand.New(rand.NewPCG(1, 2))
	asks := make([]ask, asksPerLevel)
	for i := range asks {
		x := rng.IntN(total)
		doc := docMix[len(docMix)-1].doc
		for _, m := range docMix {
			if x < m.weight {
				doc = m.doc
				break
			}
			x -= m.weight
		}
		pop := byDoc[doc]
		nin := pop[rng.IntN(len(pop))]
		if len(unknown) > 0 && rng.Float64() < unknownShare {
			nin = unknown[rng.IntN(len(unknown))]
		}
		purpose, ok := purposeOf[doc]
		if !ok {
			return nil, 0, fmt.Errorf("bench: no purpose may ask for %s", doc)
		}
		body, _ := json.Marshal(lookup.DocumentRequest{DocumentType: doc, NIN: nin, Purpose: purpose, ClerkID: "bench-" + strconv.Itoa(i%nationSites)})
		asks[i] = ask{doc: doc, purpose: purpose, nin: nin, body: body}
	}
	return asks, len(distinct), nil
}

// benchPolicy is a policy with one client allowed every purpose's
// documents, its key hashed, and rates no bench reaches.
func benchPolicy(keyHash string) []byte {
	var b strings.Builder
	b.WriteString("# askonce bench: one client, every purpose, a random key (hashed).\nclients:\n")
	b.WriteString("  - id: bench\n    name: \"askonce bench load generator\"\n")
	fmt.Fprintf(&b, "    api_keys: [%q]\n    rate: 1000000\n    burst: 1000000\n    allow:\n", keyHash)
	for _, p := range lookup.Purposes {
		docs := make([]string, 0, len(p.Fields))
		for d := range p.Fields {
			docs = append(docs, d)
		}
		slices.Sort(docs)
		fmt.Fprintf(&b, "      - purpose: %s\n        documents: [%s]\n", p.Code, strings.Join(docs, ", "))
	}
	return []byte(b.String())
}
