package chaos_test

import (
	"fmt"
	"sort"
	"strings"
	"time"
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
	p("DLQ                  %d messages, %d distinct rejects for %d defective outbox rows: %d missing, %d unexplained; %d materializer rejects",
		r.Topics.DLQ, r.Topics.DLQDistinct, r.Topics.Defective, r.Topics.NotRejected, r.Topics.Unexplained, r.Topics.DLQByMat)
	r.Asks.mu.Lock()
	var st []string
	for s, n := range r.Asks.statuses {
		st = append(st, fmt.Sprintf("%s x%d", s, n))
	}
	r.Asks.mu.Unlock()
	sort.Strings(st)
	p("lookup API           %s; %d documents issued (HTTP 200), %d of them missing from the audit log", strings.Join(st, ", "), r.Audited, r.Unaudited)
	p("fault schedule:")
	for _, l := range r.Schedule {
		p("  %s", l)
	}
	return b.String()
}
