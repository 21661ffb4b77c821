package chaos_test

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/askonce/askonce/internal/lookup"
)

// report is what a chaos run prints and writes to .var/chaos/report.txt.
type report struct {
	Seed                int64
	FaultPhase          time.Duration
	Faults              int
	ByKind              map[string]int
	Schedule            []string
	Seeded              int64
	KeysChecked         int
	Reconcile           string
	Regressions         int
	SameVersionRewrites int
	Topics              topicCheck
	Asks                *asker
	Audited, Unaudited  int
	Failed              bool
	Converged           time.Duration
	SelfExits           []string
	Rejoins             int
	Hostile             hostileCheck
	Pause               pauseWindow
	Watermarks          watermarkCheck
	Start               time.Time // of the faults
}

func (r report) String() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	result := "PASS"
	if r.Failed {
		result = "FAIL (the test log says why)"
	}
	p("askonce chaos report (%s): %s", time.Now().UTC().Format(time.RFC3339), result)
	p("seed                 %d  (replay: ASKONCE_CHAOS_SEED=%d make chaos)", r.Seed, r.Seed)
	p("fault phase          %s, sources changing at %d/s meanwhile", r.FaultPhase.Round(time.Second), liveRate)
	var kinds []string
	for _, k := range faultKinds {
		kinds = append(kinds, fmt.Sprintf("%s %d", k.name, r.ByKind[k.name]))
	}
	p("faults injected      %d: %s", r.Faults, strings.Join(kinds, ", "))
	p("  (connect, materialize, broker, serve, registry: SIGKILL then restart, same data dir and port;")
	p("   postgres: pg_ctl stop -m immediate then start, crash recovery)")
	if len(r.SelfExits) == 0 {
		p("self exits           none (no component exited by itself; every restart was a fault)")
	} else {
		p("self exits           %s (restarted by the harness as a supervisor would)", strings.Join(r.SelfExits, ", "))
	}
	p("group rejoins        %d (the materializer waited materialize.stall_timeout with lag > 0 and rejoined its group)", r.Rejoins)
	p("time to converge     %s (sources stopped -> every outbox row checkpointed and reconcile clean)", r.Converged.Round(100*time.Millisecond))
	p("records checked      %d source keys reconciled against the store; %d outbox rows (%d initial seed + live changes)",
		r.KeysChecked, r.Topics.OutboxRows, r.Seeded)
	p("                     mapped and validated again and matched with the topics: %d valid, %d defective", r.Topics.Valid, r.Topics.Defective)
	p("reconcile            %s", strings.ReplaceAll(r.Reconcile, "\n", "\n                     "))
	p("differences          0 (reconcile: zero missing, behind, extra; checksums equal)")
	p("records lost         %d valid outbox rows missing from the topics, %d topic records unexplained (%d distinct records in %d messages)",
		r.Topics.Lost, r.Topics.Unknown, r.Topics.Distinct, r.Topics.Published)
	p("duplicates published %d (identical copies of a record, from batches in flight at a kill)", r.Topics.Dups)
	p("version regressions  %d (store rows updated to a lower version, deleted or truncated); %d same-version rewrites",
		r.Regressions, r.SameVersionRewrites)
	p("DLQ                  %d messages, %d distinct rejects for %d defective outbox rows: %d missing, %d unexplained; %d materializer rejects of connector records, %d of hostile ones",
		r.Topics.DLQ, r.Topics.DLQDistinct, r.Topics.Defective, r.Topics.NotRejected, r.Topics.Unexplained, r.Topics.DLQByMat, r.Topics.DLQHostile)
	if r.Topics.Markers > 0 {
		p("watermark markers    %d on the record topics", r.Topics.Markers)
	}
	h := r.Hostile
	p("hostile producer     librdkafka (python3-confluent-kafka) at %.1fs: %d messages on the record topics; %d cases not dead-lettered with their code;",
		h.At.Seconds(), r.Topics.Hostile, h.Failures)
	p("                     all in the DLQ %s after the producer was done; group committed past %d of %d;",
		h.Took.Round(100*time.Millisecond), h.Committed, len(h.Lines))
	p("                     %d store rows applied from later offsets (%s); store %d rows then, %d at the end",
		h.AppliedAfter, h.Partitions, h.StoreBefore, h.StoreAfter)
	for _, l := range h.Lines {
		p("  %s", l)
	}
	pw := r.Pause
	p("materializer pause   SIGSTOP at %.1fs for %s (SIGCONT at %.1fs; %s to %s UTC); %d kills meanwhile, restarted stopped",
		pw.At.Seconds(), pw.For.Round(100*time.Millisecond), (pw.At + pw.For).Seconds(),
		pw.Start.UTC().Format("15:04:05.0"), pw.End.UTC().Format("15:04:05.0"), pw.Kills)
	caught := "every data center had a watermark"
	if !pw.CaughtUp {
		caught = "NOT every data center had a watermark yet"
	}
	p("                     paused after waiting %s for the store to catch up: %s", pw.Waited.Round(100*time.Millisecond), caught)
	if !pw.Start.IsZero() {
		i, s, o := r.Asks.during(lookup.DocLife, pw.Start, pw.End)
		p("                     life certificates asked during the pause: %d issued, %d refused as stale (source_stale), %d other", i, s, o)
		if bound := pw.Start.Add(staleAfter); bound.Before(pw.End) {
			i, s, o = r.Asks.during(lookup.DocLife, bound, pw.End)
			p("                     of which after the freshness bound (%s into the pause): %d issued, %d stale, %d other", staleAfter, i, s, o)
		}
	}
	w := r.Watermarks
	if w.Available {
		p("as_of vs watermarks  %d documents, %d (document, data center) pairs checked against %d watermark history rows: %d violations; largest issued_at - as_of %s",
			w.Docs, w.Pairs, w.History, w.Violations, w.Lag.Round(time.Second))
		if w.Violations > 0 {
			p("                     violations: %d with a data center below as_of, %d with a data center that had no watermark yet; issued %s to %s UTC",
				w.Below, w.Missing, w.FirstViolation.UTC().Format("15:04:05"), w.LastViolation.UTC().Format("15:04:05"))
		}
		var ags []string
		for ag := range w.FirstMarks {
			ags = append(ags, ag)
		}
		sort.Strings(ags)
		for _, ag := range ags {
			fm := w.FirstMarks[ag]
			if fm[1].IsZero() {
				p("                     %s: some data center never got a watermark", ag)
				continue
			}
			p("                     %s: first watermark of its data centers recorded from %s to %s UTC (the run's faults began %s)",
				ag, fm[0].UTC().Format("15:04:05.0"), fm[1].UTC().Format("15:04:05.0"), r.Start.UTC().Format("15:04:05.0"))
		}
		p("                     (fund documents with an as_of above some etatcivil data center's watermark, which they do not read: %d of %d)", w.FundAboveCivil, w.FundDocs)
		for _, e := range w.Examples {
			p("  %s", e)
		}
	} else {
		p("as_of vs watermarks  not checked: watermark history not available (no table store_watermark_history)")
	}
	r.Asks.mu.Lock()
	var st []string
	for s, n := range r.Asks.statuses {
		st = append(st, fmt.Sprintf("%s x%d", s, n))
	}
	r.Asks.mu.Unlock()
	sort.Strings(st)
	p("lookup API           %d documents issued (HTTP 200), %d of them missing from the audit log; freshness bound %s", r.Audited, r.Unaudited, staleAfter)
	for _, l := range st {
		p("  %s", l)
	}
	p("fault schedule:")
	for _, l := range r.Schedule {
		p("  %s", l)
	}
	return b.String()
}
