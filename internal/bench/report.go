package bench

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Targets of issue #9 on a 2-core machine.
const (
	TargetIngestRate  = 40_000.0
	TargetRatio       = 0.5
	TargetIssued64    = 5_000.0
	TargetP99         = 25 * time.Millisecond
	TargetConnectRSS  = 200_000_000
	TargetMaterialRSS = 300_000_000
	TargetServeRSS    = 300_000_000
)

// National scale for the extrapolation: about 47 M citizens, 100 M monthly
// contribution records a year, 1,918 connected sites.
const (
	nationCitizens      = 47_000_000
	nationContributions = 100_000_000 // a year
	nationSites         = 1_918
)

// Report is everything measured by one `askonce bench`.
type Report struct {
	// ID names the run's databases (bench_<ID>_*) and topics.
	ID        string
	Options   Options
	Started   time.Time
	Took      time.Duration
	Machine   Machine
	Ingest    []IngestRun
	Lookup    *LookupResult
	Micro     []Micro
	MicroNote string
}

// Errors is non-nil when the lookup load saw errors other than 429.
func (r *Report) Errors() error {
	if r.Lookup == nil {
		return nil
	}
	var errs []error
	for _, l := range r.Lookup.API {
		if l.Errors > 0 {
			errs = append(errs, fmt.Errorf("bench: lookup API at %d clients: %d errors (first: %s)", l.Clients, l.Errors, l.FirstError))
		}
	}
	for _, l := range r.Lookup.Raw {
		if l.Errors > 0 {
			errs = append(errs, fmt.Errorf("bench: raw queries at %d clients: %d errors (first: %s)", l.Clients, l.Errors, l.FirstError))
		}
	}
	return errors.Join(errs...)
}

// stat is the median, min and max of a figure over the runs.
type stat struct{ med, lo, hi float64 }

func statOf(runs []IngestRun, f func(IngestRun) float64) stat {
	v := make([]float64, len(runs))
	for i, r := range runs {
		v[i] = f(r)
	}
	if len(v) == 0 {
		return stat{}
	}
	return stat{median(v), slices.Min(v), slices.Max(v)}
}

func num(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "n/a"
	}
	neg := v < 0
	s := fmt.Sprintf("%.0f", math.Abs(v))
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

func mb(b float64) string { return fmt.Sprintf("%.0f MB", b/1e6) }

func verdict(ok bool) string {
	if ok {
		return "**met**"
	}
	return "**missed**"
}

func (r *Report) level(levels []Level, c int) (Level, int, bool) {
	for i, l := range levels {
		if l.Clients == c {
			return l, i, true
		}
	}
	return Level{}, 0, false
}

// pipelines are every end-to-end load of the run (ingest runs and the
// lookup store's load).
func (r *Report) pipelines() []Pipeline {
	var ps []Pipeline
	for _, i := range r.Ingest {
		ps = append(ps, i.Pipeline)
	}
	if r.Lookup != nil {
		ps = append(ps, r.Lookup.Load)
	}
	return ps
}

// Markdown renders BENCHMARKS.md.
func (r *Report) Markdown() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	o := r.Options
	w("# askonce benchmarks\n\n")
	w("Written by `askonce bench` (`make bench`) on %s in %s. Every figure is measured in this run; each\n", r.Started.Format("2006-01-02 15:04 MST"), r.Took.Round(time.Second))
	w("throughput is paired with a ceiling of the same machine measured in the same run, so that the ratio\n")
	w("means something on a noisy machine. Run it again to replace this file.\n\n")
	if o.Quick {
		w("> **Smoke run (`--quick`)**: reduced sizes, not the issue's. Use `make bench` for the real figures.\n\n")
	}
	w("| | |\n|---|---|\n")
	w("| sizes | ingest: %s persons, %d run(s); lookup store: %s persons, %s per concurrency level |\n", num(float64(o.PersonsIngest)), o.Runs, num(float64(o.PersonsLookup)), o.Duration)
	w("| CPU | %s, %d cores |\n| RAM | %.1f GiB |\n| kernel | Linux %s |\n", r.Machine.CPU, r.Machine.Cores, float64(r.Machine.MemTotal)/(1<<30), r.Machine.Kernel)
	w("| Go | %s |\n| PostgreSQL | %s (the private instance, default settings of `askonce pg`) |\n", r.Machine.Go, r.Machine.PG)
	w("| Kafka | the embedded broker (kfake) with a data directory, in the bench process |\n| git commit | %s |\n\n", r.Machine.Git)

	r.targets(w)
	r.ingest(w)
	r.lookup(w)
	r.rss(w)
	r.micro(w)
	r.extrapolation(w)
	r.method(w)
	return b.String()
}

func (r *Report) targets(w func(string, ...any)) {
	w("## Targets (issue #9) and where each stands\n\n| target | measured (median) | |\n|---|---|---|\n")
	if len(r.Ingest) > 0 {
		rate := statOf(r.Ingest, func(i IngestRun) float64 { return i.RecordsPerSec })
		ratio := statOf(r.Ingest, func(i IngestRun) float64 { return i.Ratio })
		w("| ingest >= 40,000 records/s end to end | %s records/s | %s |\n", num(rate.med), verdict(rate.med >= TargetIngestRate))
		w("| ingest >= 0.5 of the lower ceiling | %.2f | %s |\n", ratio.med, verdict(ratio.med >= TargetRatio))
	}
	if lk := r.Lookup; lk != nil {
		if l, i, ok := r.level(lk.API, 64); ok {
			w("| lookup >= 5,000 issued documents/s at 64 clients | %s issued/s | %s |\n", num(l.IssuedPerSec), verdict(l.IssuedPerSec >= TargetIssued64))
			w("| lookup p99 <= 25 ms at 64 clients | %s | %s |\n", ms(l.P99), verdict(l.P99 <= TargetP99))
			w("| lookup >= 0.5 of raw point queries at 64 clients | %.2f | %s |\n", lk.Ratio[i], verdict(lk.Ratio[i] >= TargetRatio))
		}
	}
	var con, mat int64
	for _, p := range r.pipelines() {
		con, mat = max(con, p.Connect.PeakRSS), max(mat, p.Materialize.PeakRSS)
	}
	if con > 0 {
		w("| connector <= 200 MB RSS | %s (largest peak of any run) | %s |\n", mb(float64(con)), verdict(con <= TargetConnectRSS))
		w("| materializer <= 300 MB RSS | %s | %s |\n", mb(float64(mat)), verdict(mat <= TargetMaterialRSS))
	}
	if r.Lookup != nil {
		w("| lookup API <= 300 MB RSS | %s | %s |\n", mb(float64(r.Lookup.Serve.PeakRSS)), verdict(r.Lookup.Serve.PeakRSS <= TargetServeRSS))
	}
	w("\nMB = 10^6 bytes; peak RSS = the process's VmHWM (high-water mark of its resident set), read every 100 ms and before it is stopped.\n\n")
}

func (r *Report) ingest(w func(string, ...any)) {
	if len(r.Ingest) == 0 {
		return
	}
	s := r.Ingest[0].Seed
	valid := r.Ingest[0].Valid
	w("## 1. Ingest, end to end\n\n")
	w("%s persons seeded (`askonce seed`) in %d data centers (11 x civil status, CNAS, CASNOS): %s source rows, %s of them\n",
		num(float64(s.Persons)), r.Ingest[0].Reconciled, num(float64(s.Rows)), num(float64(s.Defects)))
	w("defective on purpose (to the DLQ), %s valid records (%.2f per person). Connectors (`askonce connect --synthetic`)\n", num(float64(valid)), float64(valid)/float64(s.Persons))
	w("and materializer (`askonce materialize`) run as processes of the real binary; the clock runs from the connectors'\n")
	w("start to the last record in the store, and `reconcile` then finds zero difference in every data center.\n")
	w("Each run has a fresh copy of the sources, a fresh store database and a fresh topic prefix.\n\n")
	w("| figure | median | min | max |\n|---|---:|---:|---:|\n")
	row := func(name string, f func(IngestRun) float64, fmtv func(float64) string) {
		st := statOf(r.Ingest, f)
		w("| %s | %s | %s | %s |\n", name, fmtv(st.med), fmtv(st.lo), fmtv(st.hi))
	}
	row("**end to end, records/s**", func(i IngestRun) float64 { return i.RecordsPerSec }, num)
	row("ceiling: raw kafka-go produce, records/s", func(i IngestRun) float64 { return i.ProduceCeiling }, num)
	row("ceiling: raw COPY, rows/s", func(i IngestRun) float64 { return i.CopyCeiling }, num)
	row("**ratio to the lower ceiling**", func(i IngestRun) float64 { return i.Ratio }, func(v float64) string { return fmt.Sprintf("%.2f", v) })
	row("elapsed, s", func(i IngestRun) float64 { return i.Elapsed.Seconds() }, func(v float64) string { return fmt.Sprintf("%.1f", v) })
	row("connector peak RSS", func(i IngestRun) float64 { return float64(i.Connect.PeakRSS) }, mb)
	row("connector CPU, s", func(i IngestRun) float64 { return i.Connect.CPU.Seconds() }, func(v float64) string { return fmt.Sprintf("%.1f", v) })
	row("materializer peak RSS", func(i IngestRun) float64 { return float64(i.Materialize.PeakRSS) }, mb)
	row("materializer CPU, s", func(i IngestRun) float64 { return i.Materialize.CPU.Seconds() }, func(v float64) string { return fmt.Sprintf("%.1f", v) })
	lowProduce := 0
	for _, i := range r.Ingest {
		if i.ProduceCeiling <= i.CopyCeiling {
			lowProduce++
		}
	}
	w("\nThe lower ceiling was the produce ceiling in %d run(s) and the COPY ceiling in %d. Each ceiling has the machine's\n", lowProduce, len(r.Ingest)-lowProduce)
	w("2 cores to itself; the end-to-end pipeline runs broker, connectors, materializer and PostgreSQL on them at once.\n")
	perRecord := func(f func(IngestRun) time.Duration) float64 {
		return statOf(r.Ingest, func(i IngestRun) float64 { return float64(f(i).Nanoseconds()) / 1000 / float64(i.Valid) }).med
	}
	c, m := perRecord(func(i IngestRun) time.Duration { return i.Connect.CPU }), perRecord(func(i IngestRun) time.Duration { return i.Materialize.CPU })
	pg, b := perRecord(func(i IngestRun) time.Duration { return i.CPU.Postgres }), perRecord(func(i IngestRun) time.Duration { return i.CPU.Bench })
	w("CPU per record stored (medians): connector %.1f µs, materializer %.1f µs, PostgreSQL %.1f µs, broker and registry\n", c, m, pg)
	w("(this process) %.1f µs: %.1f µs in all, so 2 cores bound the pipeline at about %s records/s on this machine", b, c+m+pg+b, num(2e6/(c+m+pg+b)))
	if pg > 0 {
		w(";\nPostgreSQL's versioned upserts (staging COPY, then insert or update of newer versions, with their indexes) take %.0f%% of it", 100*pg/(c+m+pg+b))
	}
	w(".\n\n")

}

func (r *Report) lookup(w func(string, ...any)) {
	lk := r.Lookup
	if lk == nil {
		return
	}
	w("## 2. Lookup API\n\n")
	w("Store: %s persons seeded in %s (`askonce seed`, peak RSS %s), loaded end to end at %s records/s\n",
		num(float64(lk.Seed.Persons)), lk.Seed.Elapsed.Round(time.Second), mb(float64(lk.Seed.Usage.PeakRSS)), num(lk.Load.RecordsPerSec))
	w("(%s records; connector peak RSS %s, materializer %s). `askonce serve` runs as a process with a policy of\n",
		num(float64(lk.Load.Valid)), mb(float64(lk.Load.Connect.PeakRSS)), mb(float64(lk.Load.Materialize.PeakRSS)))
	w("hashed random API keys (not dev_only), rate limits above the load; every request is authenticated, checked\n")
	w("against the policy, decided on the store, signed (Ed25519) when issued and appended to the hash-chained audit\n")
	w("log before it is answered. Closed-loop clients over HTTP/1.1 keep-alive, %s per level after a warm-up,\n", r.Options.Duration)
	w("%s requests cycled over %s distinct NINs sampled from the store, each document type about its population (proof of\n", num(asksPerLevel), num(float64(lk.SampledNINs)))
	w("life: the living; contribution status: contributors; death certificate: the deceased; ...), %.0f%% about NINs the\n", unknownShare*100)
	w("store does not hold. Document mix:")
	for i, m := range docMix {
		sep := ","
		if i == len(docMix)-1 {
			sep = "."
		}
		w(" %s %d%%%s", m.doc, m.weight, sep)
	}
	w("\nCeiling: the same document rules' queries (`lookup.Store.Decide`) straight on a pgx pool of the API's size\n")
	w("(%d connections), same NINs, same concurrency, no HTTP, policy, signing or audit.\n\n", lk.PoolConns)
	w("| clients | requests/s | issued/s | not held | 429 | errors | p50 | p99 | p999 | audit entries/transaction | raw issued/s | raw p99 | ratio |\n")
	w("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for i, a := range lk.API {
		raw := lk.Raw[i]
		w("| %d | %s | %s | %s | %d | %d | %s | %s | %s | %.1f | %s | %s | %.2f |\n", a.Clients, num(a.RequestsPerSec), num(a.IssuedPerSec),
			num(float64(a.NotHeld)), a.RateLimited, a.Errors, ms(a.P50), ms(a.P99), ms(a.P999), a.AuditBatch, num(raw.IssuedPerSec), ms(raw.P99), lk.Ratio[i])
	}
	w("\nratio = API issued documents/s over raw queries' issued/s. One run per level (the levels are the spread).\n")
	if len(lk.API) > 0 && lk.API[0].CPU.Known {
		w("\nWhat bounds it: CPU time per request, measured over each level (/proc of the API process and of\n")
		w("PostgreSQL's postmaster and backends; getrusage of this process, the load generator). The 2 cores are\n")
		w("shared by all three, so 2 s of CPU per second over the sum bounds the requests/s of the level.\n\n")
		w("| clients | API: serve | API: PostgreSQL | API: load generator | API: sum | bound, requests/s | raw: PostgreSQL | raw: generator | raw: sum |\n")
		w("|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for i, a := range lk.API {
			as, ap, ab := a.CPUPerRequest()
			_, rp, rb := lk.Raw[i].CPUPerRequest()
			bound := 0.0
			if sum := as + ap + ab; sum > 0 {
				bound = 2 / sum.Seconds()
			}
			w("| %d | %s | %s | %s | %s | %s | %s | %s | %s |\n", a.Clients, us(as), us(ap), us(ab), us(as+ap+ab), num(bound), us(rp), us(rb), us(rp+rb))
		}
		w("\nAt one client the API is latency-bound (each request waits for its audit commit's WAL flush), and the\n")
		w("API process's background work (audit topic mirror, metrics) is shared by few requests.\n")
	}
	for _, a := range lk.API {
		if a.Errors > 0 {
			w("\n**Errors at %d clients: %d, first: %s**\n", a.Clients, a.Errors, a.FirstError)
		}
	}
	w("\n")
}

func us(d time.Duration) string { return fmt.Sprintf("%d µs", d.Microseconds()) }

func (r *Report) rss(w func(string, ...any)) {
	w("## Peak RSS and CPU of each component\n\n| component | run | peak RSS | CPU | wall |\n|---|---|---:|---:|---:|\n")
	for i, in := range r.Ingest {
		if i == 0 {
			w("| `askonce seed` | %s persons (ingest) | %s | %.1f s | %.1f s |\n", num(float64(in.Seed.Persons)), mb(float64(in.Seed.Usage.PeakRSS)), in.Seed.Usage.CPU.Seconds(), in.Seed.Elapsed.Seconds())
		}
		w("| `askonce connect --synthetic` | ingest run %d | %s | %.1f s | %.1f s |\n", i+1, mb(float64(in.Connect.PeakRSS)), in.Connect.CPU.Seconds(), in.Elapsed.Seconds())
		w("| `askonce materialize` | ingest run %d | %s | %.1f s | %.1f s |\n", i+1, mb(float64(in.Materialize.PeakRSS)), in.Materialize.CPU.Seconds(), in.Elapsed.Seconds())
	}
	if lk := r.Lookup; lk != nil {
		w("| `askonce seed` | %s persons (lookup store) | %s | %.1f s | %.1f s |\n", num(float64(lk.Seed.Persons)), mb(float64(lk.Seed.Usage.PeakRSS)), lk.Seed.Usage.CPU.Seconds(), lk.Seed.Elapsed.Seconds())
		w("| `askonce connect --synthetic` | lookup store load | %s | %.1f s | %.1f s |\n", mb(float64(lk.Load.Connect.PeakRSS)), lk.Load.Connect.CPU.Seconds(), lk.Load.Elapsed.Seconds())
		w("| `askonce materialize` | lookup store load | %s | %.1f s | %.1f s |\n", mb(float64(lk.Load.Materialize.PeakRSS)), lk.Load.Materialize.CPU.Seconds(), lk.Load.Elapsed.Seconds())
		w("| `askonce serve` | every lookup level | %s | %.1f s | |\n", mb(float64(lk.Serve.PeakRSS)), lk.Serve.CPU.Seconds())
	}
	w("\n")
}

func (r *Report) micro(w func(string, ...any)) {
	w("## 3. Micro: Avro (hamba/avro, Confluent framing) vs encoding/json, per record\n\n")
	if len(r.Micro) == 0 {
		w("%s\n\n", r.MicroNote)
		return
	}
	w("Medians of `%s` (internal/bench/codec_bench_test.go; benchstat reads the raw output).\n\n", r.MicroNote)
	w("| benchmark | ns/op | B/op | allocs/op |\n|---|---:|---:|---:|\n")
	for _, m := range r.Micro {
		w("| %s | %s | %s | %s |\n", strings.TrimPrefix(m.Name, "Benchmark"), num(m.NsPerOp), num(m.BytesPerOp), num(m.Alloc))
	}
	w("\n")
}

func (r *Report) extrapolation(w func(string, ...any)) {
	if len(r.Ingest) == 0 {
		return
	}
	w("## Extrapolation to the national scale\n\n")
	persons, rows := float64(r.Ingest[0].Seed.Persons), float64(r.Ingest[0].Seed.Rows)
	if lk := r.Lookup; lk != nil && lk.Seed.Persons > 0 {
		persons, rows = float64(lk.Seed.Persons), float64(lk.Seed.Rows)
	}
	perPerson := rows / persons
	rate := statOf(r.Ingest, func(i IngestRun) float64 { return i.RecordsPerSec }).med
	ceil := statOf(r.Ingest, func(i IngestRun) float64 { return min(i.ProduceCeiling, i.CopyCeiling) }).med
	initial := nationCitizens * perPerson
	w("From the medians above, on this one 2-core machine (the pilot configuration):\n\n| | volume | at the measured rate | at the lower ceiling |\n|---|---:|---:|---:|\n")
	w("| initial load, 47 M citizens | %s records (%.2f source records per person, measured) | %.1f h | %.1f h |\n",
		num(initial), perPerson, initial/rate/3600, initial/ceil/3600)
	w("| contributions, a year | %s records (~%s a day) | %.1f h a year (%.0f s a day) | %.1f h a year |\n",
		num(nationContributions), num(nationContributions/365), nationContributions/rate/3600, nationContributions/365/rate, nationContributions/ceil/3600)
	if lk := r.Lookup; lk != nil {
		if l, _, ok := r.level(lk.API, 64); ok {
			day := l.IssuedPerSec * 86400
			office := l.IssuedPerSec * 8 * 3600
			w("| lookups, 1,918 sites | %s issued documents/s at 64 clients | %s a day (24 h), %s in an 8-hour office day | %s per site per office day |\n",
				num(l.IssuedPerSec), num(day), num(office), num(office/nationSites))
		}
	}
	w("\nWhat scales linearly and what does not:\n\n")
	w("- **Connectors** scale by instances: one per data center and source, each reading its own outbox, so 33 run in\n")
	w("  parallel today and more data centers add instances, not contention, until the brokers or the sources saturate.\n")
	w("- **Materializers** scale by partitions: one consumer group over the record topics (%d partitions each by default);\n", r.Options.Config.Kafka.Topics.RecordPartitions)
	w("  up to that many instances share the load. The bound is PostgreSQL's write throughput (versioned upserts with\n")
	w("  indexes cost several times a plain COPY, see the COPY ceiling), which does not scale by adding materializers.\n")
	w("- **Kafka** scales by brokers and partitions in production (a real cluster); the embedded broker here is one\n")
	w("  process sharing 2 cores and is a dev/pilot component, so the produce ceiling is a floor of a real cluster's.\n")
	w("- **Lookup API** instances are stateless and scale linearly until PostgreSQL's read capacity (the raw-query\n")
	w("  ceiling) and the audit log's write rate (group commit: one transaction per batch) are reached; read\n")
	w("  replicas scale the reads, the audit log stays one writer per database.\n")
	w("- The initial load is a one-off: at the measured rate it is bounded by the store's write rate, not by\n")
	w("  the number of citizens' data centers, so a bigger PostgreSQL (cores, disks) shortens it roughly linearly.\n\n")
}

func (r *Report) method(w func(string, ...any)) {
	w("## How it is measured\n\n")
	w("- `askonce bench` runs on the private PostgreSQL (`askonce pg`) in databases `bench_<id>_*` that it creates and drops,\n")
	w("  an embedded broker on a free port with a temporary data directory, and the schema registry in its own process.\n")
	w("  Connectors, materializer, seed and lookup API are processes of the same binary; peak RSS is each process's VmHWM\n")
	w("  (read every 100 ms and before it is stopped; not rusage maxrss, which on Linux includes the parent's resident set\n")
	w("  at the vfork before exec), CPU its user + system time.\n")
	w("- Produce ceiling: the messages the connectors published, read back from the topics, produced again to fresh topics\n")
	w("  with the same partitions by one kafka-go Writer with the connectors' settings (acks=all, batches of\n")
	w("  connect.batch_size, one synchronous WriteMessages per instance, 33 concurrent), timed from the first write to the\n")
	w("  last acknowledgement.\n")
	w("- COPY ceiling: the store's rows (binary COPY out, untimed) copied into plain tables with the same columns, no index,\n")
	w("  no upsert, one COPY per table, as many at once as CPUs.\n")
	w("- Lookup: see section 2. 429 answers are counted apart; any other error fails the bench.\n")
	w("- Options: `askonce bench --help`. `--quick` is a smoke run (also run by `go test ./internal/bench/`).\n")
}
