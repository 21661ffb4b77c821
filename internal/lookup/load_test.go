//go:build !race

// The load test runs without the race detector (`make test` runs it in its
// own `go test` invocation): under -race every memory access is
// instrumented (5-10x CPU, 5-10x memory), so 1,000 clients on a 2-core
// machine would measure the detector, and its shadow memory would hide a
// leak. The race detector still covers these handlers in the other tests.

package lookup_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/askonce/askonce/internal/lookup"
	"github.com/askonce/askonce/schemas/schematest"
)

// loadDuration is the main burst's length: 60 s, or ASKONCE_LOAD_DURATION.
func loadDuration(t *testing.T) time.Duration {
	if v := os.Getenv("ASKONCE_LOAD_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("ASKONCE_LOAD_DURATION: %v", err)
		}
		return d
	}
	return 60 * time.Second
}

type loadAsk struct{ key, doc, nin, purpose string }

// burst runs clients concurrent clients against base for d, each asking
// for documents in a loop, and returns the answers counted by status (and
// a sample of the unexpected ones).
func burst(ctx context.Context, t *testing.T, base string, clients int, d time.Duration, asks []loadAsk) (map[int]int64, []string, int64) {
	tr := &http.Transport{MaxIdleConns: clients, MaxIdleConnsPerHost: clients, IdleConnTimeout: 30 * time.Second,
		DialContext: (&net.Dialer{Timeout: 10 * time.Second}).DialContext}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 60 * time.Second}
	var mu sync.Mutex
	counts := map[int]int64{}
	var odd []string
	var total atomic.Int64
	stop := time.Now().Add(d)
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			local := map[int]int64{}
			var localOdd []string
			for n := 0; time.Now().Before(stop) && ctx.Err() == nil; n++ {
				a := asks[rng.IntN(len(asks))]
				body := fmt.Sprintf(`{"document_type":%q,"nin":%q,"purpose":%q,"clerk_id":"load-%d"}`, a.doc, a.nin, a.purpose, i)
				req, _ := http.NewRequestWithContext(ctx, "POST", base+"/v1/document-requests", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+a.key)
				resp, err := hc.Do(req)
				if err != nil {
					local[-1]++
					if len(localOdd) < 3 {
						localOdd = append(localOdd, err.Error())
					}
					continue
				}
				raw, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				total.Add(1)
				local[resp.StatusCode]++
				switch resp.StatusCode {
				case 200:
				case 404:
					if !strings.Contains(string(raw), `"outcome":"not_held"`) && len(localOdd) < 3 {
						localOdd = append(localOdd, "404 "+string(raw))
						local[-404]++
					}
				case 429:
					// A well-behaved client waits; a short wait keeps the
					// limiter busy without spinning the 2 cores.
					time.Sleep(time.Duration(50+rng.IntN(100)) * time.Millisecond)
				default:
					if len(localOdd) < 3 {
						localOdd = append(localOdd, strconv.Itoa(resp.StatusCode)+" "+string(raw))
					}
				}
			}
			mu.Lock()
			for k, v := range local {
				counts[k] += v
			}
			odd = append(odd, localOdd...)
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	return counts, odd, total.Load()
}

// settle waits until the goroutines are back to at most limit (idle
// connections closed on both sides), and returns the count.
func settle(limit int, wait time.Duration) int {
	deadline := time.Now().Add(wait)
	for {
		n := runtime.NumGoroutine()
		if n <= limit || time.Now().After(deadline) {
			return n
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// goroutines is the goroutine profile grouped by stack, most numerous
// first (what a leak would show), cut to a readable length.
func goroutines() string {
	var b strings.Builder
	pprof.Lookup("goroutine").WriteTo(&b, 1) //nolint:errcheck // a strings.Builder
	out := b.String()
	if len(out) > 12000 {
		out = out[:12000] + "\n..."
	}
	return out
}

func memNow() (heap uint64, rss uint64) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
				kb, _ := strconv.ParseUint(f[1], 10, 64)
				rss = kb << 10
			}
		}
	}
	return ms.HeapInuse, rss
}

// TestLoad: 1,000 concurrent clients ask the real API (wiring.Serve: its
// HTTP server, policy, rate limits, store, signing and audit on the private
// PostgreSQL) for every kind of answer for 60 s. Every answer is issued
// (200), not held (404) or rate limited (429): never a 5xx, a timeout or a
// refused connection. Afterwards the goroutines come back to where they
// were and the heap does not grow with a second burst.
func TestLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test: 60 s")
	}
	d := loadDuration(t)
	h := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), d+10*time.Minute)
	defer cancel()

	alive, dead, unknown := nin('1', 1958, 701), nin('2', 1940, 702), nin('1', 1990, 799)
	death := schematest.Death()
	death.NIN, death.Provenance.SourceKey = dead, "death/"+dead
	aff := schematest.Affiliation()
	aff.NIN = alive
	emp := schematest.Employment()
	emp.NIN = alive
	paid := schematest.Contribution()
	paid.NIN = &alive
	paid.Status, paid.AmountPaid = "PAID", paid.AmountDue
	h.produce(birth(alive, 1958, 701, "Ahmed"), birth(dead, 1940, 702, "Fatima"), death, aff, emp, paid)
	h.waitStored(`SELECT count(*) = 2 FROM persons`)
	h.waitStored(`SELECT count(*) = 1 FROM deaths`)
	h.waitStored(`SELECT count(*) = 1 FROM contributions`)
	h.waitStored(`SELECT count(*) = 1 FROM employment_periods`)

	const cnr, cnas, anem, apc = "dev-cnr-key", "dev-cnas-key", "dev-anem-key", "dev-apc-alger-key"
	var asks []loadAsk
	for _, n := range []string{alive, dead, unknown} {
		asks = append(asks,
			loadAsk{cnr, lookup.DocLife, n, "pension-life-proof"},
			loadAsk{cnr, lookup.DocDeath, n, "pension-life-proof"},
			loadAsk{apc, lookup.DocBirth, n, "civil-status-issuance"},
			loadAsk{apc, lookup.DocFamily, n, "civil-status-issuance"},
			loadAsk{cnas, lookup.DocAffiliation, n, "insured-registration"},
			loadAsk{cnas, lookup.DocContribStatus, n, "benefit-eligibility"},
			loadAsk{cnas, lookup.DocContribStatement, n, "benefit-eligibility"},
			loadAsk{anem, lookup.DocNonAffiliation, n, "unemployment-registration"},
			loadAsk{anem, lookup.DocEmployment, n, "unemployment-registration"},
		)
	}

	// A warm-up, so that pools, caches and buffers that are meant to stay
	// are in the baseline.
	burst(ctx, t, h.base, 50, 2*time.Second, asks)
	g0 := settle(0, 3*time.Second)
	heap0, rss0 := memNow()

	const clients = 1000
	start := time.Now()
	counts, odd, total := burst(ctx, t, h.base, clients, d, asks)
	elapsed := time.Since(start)
	g1 := settle(g0+20, 60*time.Second)
	heap1, rss1 := memNow()
	t.Logf("load: %d clients for %s: %d answers, %.0f answers/s; by status %v", clients, elapsed.Round(time.Second), total,
		float64(total)/elapsed.Seconds(), sortedCounts(counts))
	t.Logf("load: goroutines %d before, %d after; heap in use %.1f MiB before, %.1f MiB after; RSS %.1f MiB before, %.1f MiB after",
		g0, g1, mib(heap0), mib(heap1), mib(rss0), mib(rss1))
	for code := range counts {
		if code != 200 && code != 404 && code != 429 {
			t.Errorf("%d answers with status %d (-1: transport error, -404: a 404 that is not not_held); e.g. %q", counts[code], code, odd)
		}
	}
	if counts[200] == 0 || counts[404] == 0 {
		t.Errorf("the load did not reach both issued and not-held answers: %v", counts)
	}
	if g1 > g0+20 {
		t.Errorf("goroutines: %d before the load, %d after it and its connections ended\n%s", g0, g1, goroutines())
	}

	// A second, shorter burst: whatever the first one grew is reused, not
	// added to.
	counts2, odd2, total2 := burst(ctx, t, h.base, clients, d/4, asks)
	g2 := settle(g0+20, 60*time.Second)
	heap2, rss2 := memNow()
	t.Logf("load: second burst %d answers, by status %v; goroutines %d; heap in use %.1f MiB; RSS %.1f MiB",
		total2, sortedCounts(counts2), g2, mib(heap2), mib(rss2))
	for code := range counts2 {
		if code != 200 && code != 404 && code != 429 {
			t.Errorf("second burst: %d answers with status %d; e.g. %q", counts2[code], code, odd2)
		}
	}
	if g2 > g0+20 {
		t.Errorf("goroutines after the second burst: %d (baseline %d)\n%s", g2, g0, goroutines())
	}
	// Generous bound (correctness, not performance): a leak proportional
	// to requests would add to the heap at every burst.
	if limit := heap1 + heap1/2 + 32<<20; heap2 > limit {
		t.Errorf("heap in use grew from %.1f MiB after the first burst to %.1f MiB after the second", mib(heap1), mib(heap2))
	}
	if limit := rss1 + rss1/2 + 64<<20; rss1 > 0 && rss2 > limit {
		t.Errorf("RSS grew from %.1f MiB after the first burst to %.1f MiB after the second", mib(rss1), mib(rss2))
	}
	// Still serving normally.
	if a := h.ask(cnr, lookup.DocLife, alive, "pension-life-proof"); a.status != 200 {
		t.Errorf("after the load: %d %s", a.status, a.raw)
	}
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

func sortedCounts(m map[int]int64) string {
	var keys []int
	for k := range m {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%d:%d ", k, m[k])
	}
	return strings.TrimSpace(b.String())
}
