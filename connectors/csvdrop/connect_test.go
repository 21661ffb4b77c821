package csvdrop_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/askonce/askonce/connectors"
	"github.com/askonce/askonce/connectors/connectortest"
	"github.com/askonce/askonce/connectors/csvdrop"
	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/internal/ops"
	"github.com/askonce/askonce/internal/testenv"
	"github.com/askonce/askonce/schemas"
)

func nin(act int) string { return fmt.Sprintf("10985%s%05d0137", "9916", act) }

func birth(id, version, act int, mod func([]string)) string {
	f := strings.Split(fmt.Sprintf("%d,%d,%s,BENALI,بن علي,Youcef,يوسف,M,1985-03-14,9916,16,%d,1985,9916,1985-03-16,", id, version, nin(act), act), ",")
	if mod != nil {
		mod(f)
	}
	return strings.Join(f, ",")
}

const birthHeader = "id,version,nin,surname_latin,surname_arabic,first_names_latin,first_names_arabic,sex,birth_date," +
	"birth_commune,birth_wilaya,act_number,act_year,act_commune,registered_on,marginal_notes"

func write(t *testing.T, dir, name string, lines ...string) {
	t.Helper()
	testenv.Must(t, os.WriteFile(filepath.Join(dir, name), []byte(strings.Join(lines, "\n")+"\n"), 0o644), "write")
}

// TestConnectCSVDrop runs `askonce connect` (connectors.Run) with two
// drop directories: files of every kind are published with their keys and
// versions, a file of good and bad lines publishes the good ones and
// dead-letters each bad one with its code, and the reports say so.
func TestConnectCSVDrop(t *testing.T) {
	env := connectortest.NewEnv(t)
	ctx := env.Ctx
	cfg := connectors.Config{PollInterval: 50 * time.Millisecond, BatchSize: 3, MaxBackoff: 30 * time.Second,
		Rules: schemas.Rules{AllowSynthetic: true}}
	civilDir, fundDir := t.TempDir(), t.TempDir()
	cfg.CSVDrop = []connectors.CSVDrop{
		{Agency: "etatcivil", DataCenter: "etatcivil-dc07", Dir: civilDir},
		{Agency: "cnas", DataCenter: "cnas-dc01", Dir: fundDir},
	}

	write(t, civilDir, "birth-2026-01.csv", birthHeader, birth(1, 1, 42, nil), birth(2, 3, 43, nil))
	write(t, civilDir, "marriage-2026-01.csv",
		"id,version,nin,act_number,act_year,act_commune,marriage_date,spouse_nin,spouse_surname_latin,op",
		fmt.Sprintf("5,2,%s,310,2010,9916,2010-06-01,%s,HADDAD,correction", nin(42), nin(44)))
	write(t, civilDir, "divorce-2026-01.csv", "id,version,nin,spouse_nin,divorce_date,court",
		fmt.Sprintf(`9,1,%s,%s,2015-02-02,"Tribunal de Sidi M'Hamed, Alger"`, nin(42), nin(44)))
	write(t, civilDir, "death-2026-01.csv", "op,id,version,nin,act_number,act_year,act_commune,date_of_death,place_commune",
		fmt.Sprintf("delete,3,7,%s,,,,,", nin(43)))
	// Good and bad lines: bad NIN, a future date, a wrong field count,
	// Latin-1 bytes, an oversize field, a bad date, a non-integer.
	write(t, civilDir, "birth-mixed.csv", birthHeader,
		birth(10, 1, 110, nil), // 2 published
		birth(11, 1, 111, func(f []string) { f[2] = "10985991600111013X" }),              // 3 nin.format
		birth(12, 1, 112, func(f []string) { f[8], f[14] = "2099-01-01", "2099-01-02" }), // 4 date.future
		birth(13, 1, 113, nil)+",surplus",                                                // 5 csv.malformed
		birth(14, 1, 114, func(f []string) { f[3] = "B\xe9n\xe9" }),                      // 6 csv.encoding
		birth(15, 1, 115, func(f []string) { f[15] = strings.Repeat("n", 5000) }),        // 7 field.too_long
		birth(16, 1, 116, func(f []string) { f[8] = "1985-02-30" }),                      // 8 payload.invalid
		birth(17, 1, 117, func(f []string) { f[11] = "117.0" }),                          // 9 payload.invalid
		birth(18, 2, 118, nil), // 10 published
	)
	write(t, fundDir, "affiliation-2026-01.csv", "id,version,nin,nss,fund,start_date,end_date,status,regime",
		fmt.Sprintf("1,4,%s,1600123456,CNAS,2007-09-01,2019-12-31,CLOSED,SALARIE", nin(42)))
	write(t, fundDir, "employment-2026-01.csv", "id,version,nin,nss,fund,employer_id,employer_name,start_date,status",
		fmt.Sprintf(`2,1,%s,1600123456,CNAS,16E0099,"SARL ""Atlas""",2015-01-01,OPEN`, nin(42)))
	write(t, fundDir, "contribution-2025-09.csv", "id,version,subject,nin,nss,employer_id,fund,period,wage_base,amount_due,amount_paid,status,due_date",
		fmt.Sprintf("8,1,INSURED,%s,1600123456,16E0099,CNAS,2025-09,6500000,2275000,2275000,PAID,2025-10-30", nin(42)),
		"9,1,EMPLOYER,,,16E0099,CNAS,2025-09,6500000,2275000,0,UNPAID,2025-10-30")

	opsSrv, reg := connect(env, cfg)

	reports := map[string]*csvdrop.Report{}
	for dir, names := range map[string][]string{
		civilDir: {"birth-2026-01.csv", "marriage-2026-01.csv", "divorce-2026-01.csv", "death-2026-01.csv", "birth-mixed.csv"},
		fundDir:  {"affiliation-2026-01.csv", "employment-2026-01.csv", "contribution-2025-09.csv"},
	} {
		for _, name := range names {
			path := filepath.Join(dir, csvdrop.DoneDir, name+".report.json")
			deadline := time.Now().Add(30 * time.Second)
			for {
				if _, err := os.Stat(path); err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no report %s", path)
				}
				time.Sleep(50 * time.Millisecond)
			}
			rep, err := csvdrop.ReadReport(path)
			testenv.Must(t, err, "report")
			reports[name] = rep
		}
	}

	topics := env.Topics
	codec := env.Codec()

	// key source_key@version op, per topic
	got := map[string]string{}
	decode := func(topic string, msgs []kafka.Message, v func() (any, *schemas.Provenance)) {
		for _, m := range msgs {
			out, prov := v()
			_, err := codec.Decode(ctx, topic, m.Value, out)
			testenv.Must(t, err, "decode %s", topic)
			got[prov.SourceKey] = fmt.Sprintf("%s %d %s %s %s", m.Key, prov.SourceVersion, prov.Operation, prov.Agency, prov.DataCenter)
		}
	}
	civil := testenv.WaitTopic(t, ctx, env.Addr, topics.CivilStatus, 7, 10*time.Second)
	var recs []*schemas.CivilStatusRecord
	decode(topics.CivilStatus, civil, func() (any, *schemas.Provenance) {
		r := &schemas.CivilStatusRecord{}
		recs = append(recs, r)
		return r, &r.Provenance
	})
	decode(topics.Employment, testenv.WaitTopic(t, ctx, env.Addr, topics.Employment, 2, 10*time.Second), func() (any, *schemas.Provenance) {
		r := &schemas.EmploymentRecord{}
		return r, &r.Provenance
	})
	decode(topics.Contribution, testenv.WaitTopic(t, ctx, env.Addr, topics.Contribution, 2, 10*time.Second), func() (any, *schemas.Provenance) {
		r := &schemas.ContributionRecord{}
		return r, &r.Provenance
	})
	want := map[string]string{
		"birth/1":        nin(42) + " 1 UPSERT etatcivil etatcivil-dc07",
		"birth/2":        nin(43) + " 3 UPSERT etatcivil etatcivil-dc07",
		"marriage/5":     nin(42) + " 2 CORRECTION etatcivil etatcivil-dc07",
		"divorce/9":      nin(42) + " 1 UPSERT etatcivil etatcivil-dc07",
		"death/3":        nin(43) + " 7 DELETE etatcivil etatcivil-dc07",
		"birth/10":       nin(110) + " 1 UPSERT etatcivil etatcivil-dc07",
		"birth/18":       nin(118) + " 2 UPSERT etatcivil etatcivil-dc07",
		"affiliation/1":  nin(42) + " 4 UPSERT cnas cnas-dc01",
		"employment/2":   nin(42) + " 1 UPSERT cnas cnas-dc01",
		"contribution/8": nin(42) + " 1 UPSERT cnas cnas-dc01",
		"contribution/9": "16E0099 1 UPSERT cnas cnas-dc01",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: got %q, want %q", k, got[k], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("published %v", got)
	}
	for _, r := range recs {
		if r.Provenance.SourceKey == "divorce/9" && (r.Divorce == nil || r.Divorce.Court == nil || *r.Divorce.Court != "Tribunal de Sidi M'Hamed, Alger") {
			t.Errorf("divorce %+v", r.Divorce)
		}
	}

	// The DLQ: each bad line of birth-mixed.csv with its code.
	wantDLQ := map[string]string{
		"birth-mixed.csv:3": "nin.format", "birth-mixed.csv:4": "date.future", "birth-mixed.csv:5": "csv.malformed",
		"birth-mixed.csv:6": "csv.encoding", "birth-mixed.csv:7": "field.too_long", "birth-mixed.csv:8": "payload.invalid",
		"birth-mixed.csv:9": "payload.invalid",
	}
	dlq := testenv.WaitTopic(t, ctx, env.Addr, topics.DLQ, len(wantDLQ), 10*time.Second)
	for _, m := range dlq {
		pos, code := bus.Header(m, bus.HeaderDLQPosition), bus.Header(m, bus.HeaderDLQCode)
		if wantDLQ[pos] != code {
			t.Errorf("DLQ %s: code %s, want %s", pos, code, wantDLQ[pos])
		}
		delete(wantDLQ, pos)
		if bus.Header(m, bus.HeaderDLQSource) != "csvdrop:etatcivil-dc07" || bus.Header(m, bus.HeaderDLQMessage) == "" ||
			bus.Header(m, bus.HeaderDLQTopic) != topics.CivilStatus || len(m.Value) == 0 {
			t.Errorf("DLQ %s: headers %v", pos, m.Headers)
		}
		if code == "nin.format" && bus.Header(m, bus.HeaderDLQViolations) == "" {
			t.Error("a rules violation lacks the violations header")
		}
		if code == "csv.encoding" && !strings.Contains(string(m.Value), "B\xe9n\xe9") {
			t.Errorf("DLQ value is not the original bytes: %q", m.Value)
		}
	}
	if len(wantDLQ) > 0 {
		t.Errorf("not in the DLQ: %v", wantDLQ)
	}

	mixed := reports["birth-mixed.csv"]
	var lines []string
	for _, l := range mixed.Lines {
		lines = append(lines, fmt.Sprintf("%d:%s%s", l.Line, l.Outcome, map[bool]string{true: "/" + l.Code}[l.Code != ""]))
	}
	if fmt.Sprint(lines) != "[2:published 3:rejected/nin.format 4:rejected/date.future 5:rejected/csv.malformed 6:rejected/csv.encoding "+
		"7:rejected/field.too_long 8:rejected/payload.invalid 9:rejected/payload.invalid 10:published]" {
		t.Errorf("report lines %v", lines)
	}
	if tt := mixed.Totals; tt.Lines != 9 || tt.Published != 2 || tt.Rejected != 7 || tt.ByCode["payload.invalid"] != 2 ||
		mixed.Outcome != "done" || mixed.Kind != "birth" || mixed.Connector != "csvdrop:etatcivil-dc07" {
		t.Errorf("report head %+v", mixed)
	}

	// Ready, and counted.
	deadline := time.Now().Add(5 * time.Second)
	for {
		errs := opsSrv.Ready(ctx)
		bad := 0
		for _, err := range errs {
			if err != nil {
				bad++
			}
		}
		if bad == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready: %v", errs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Each instance records that it heard from its directory (the data
	// center's freshness for the lookup API).
	busDB := env.DB
	var heard int
	testenv.Must(t, busDB.QueryRow(ctx, `SELECT count(*) FROM connect_checkpoints WHERE connector LIKE 'csvdrop:%'
		AND heard_at > now() - interval '1 minute' AND data_center IN ('etatcivil-dc07', 'cnas-dc01')`).Scan(&heard), "heard")
	if heard != 2 {
		t.Errorf("%d csvdrop heartbeats, want 2", heard)
	}
	var rows int
	testenv.Must(t, busDB.QueryRow(ctx, `SELECT count(*) FROM csvdrop_files WHERE state = 'done' AND lines = published + rejected`).Scan(&rows), "files")
	if rows != 8 {
		t.Errorf("%d done files in csvdrop_files, want 8", rows)
	}

	mfs, err := reg.Gather()
	testenv.Must(t, err, "gather")
	files := 0.0
	for _, mf := range mfs {
		if mf.GetName() == "askonce_connect_csvdrop_files_total" {
			for _, m := range mf.GetMetric() {
				files += m.GetCounter().GetValue()
			}
		}
	}
	if files != 8 {
		t.Errorf("askonce_connect_csvdrop_files_total = %g, want 8", files)
	}
}

// connect runs `askonce connect` (connectors.Run) on env until the test
// ends, and returns its ops server (readiness checks) and metrics.
func connect(env *connectortest.Env, cfg connectors.Config) (*ops.Server, *prometheus.Registry) {
	// `askonce migrate` ran: connectors.Run checks every kind's tables.
	env.Migrate(csvdrop.Migrate)
	reg := ops.NewRegistry()
	opsSrv := ops.NewServer(reg, env.Log)
	ctx, stop := context.WithCancel(env.Ctx)
	done := make(chan error, 1)
	go func() {
		done <- connectors.Run(ctx, cfg, connectors.Deps{DB: env.DB, Bus: env.Conn, Registry: env.Registry, Metrics: reg, Ops: opsSrv, Log: env.Log})
	}()
	env.T.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			env.T.Errorf("connectors.Run: %v", err)
		}
	})
	return opsSrv, reg
}
