package chaos_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/scram"

	"github.com/askonce/askonce/internal/access"
	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/internal/config"
	"github.com/askonce/askonce/internal/dbroles"
	"github.com/askonce/askonce/internal/devpg"
	"github.com/askonce/askonce/internal/lookup"
	"github.com/askonce/askonce/internal/store"
	"github.com/askonce/askonce/internal/synth"
	"github.com/askonce/askonce/internal/testenv"
	"github.com/askonce/askonce/internal/wiring"
)

var binary string

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() { // TestChaos is skipped: no binary needed
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "askonce-chaos-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "askonce")
	build := exec.Command("go", "build", "-o", binary, "github.com/askonce/askonce/cmd/askonce")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "chaos: build:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Sizes of the run: small enough for `make test` on a 2-core machine,
// big enough that every fault lands on work in progress.
const (
	persons     = 6000             // initial synthetic population (33 data centers, ~30,000 source rows)
	liveRate    = 25               // source changes per second while faults happen
	minFaults   = 20               // faults are injected until both this and the duration are reached
	defaultDur  = 60 * time.Second // 20 faults take about as long (PostgreSQL recovery included)
	convergeMax = 8 * time.Minute  // for everything to catch up; generous: `make test` runs other packages beside this one
	// staleAfter is the lookup API's freshness bound in the run
	// (lookup.stale_after, which replaces every document type's bound of
	// the catalog: 5 min for a life certificate, up to 1 h): shorter than
	// the shortest materializer pause, so that answers asked while the
	// store is frozen are refused as stale once the bound has passed.
	staleAfter = 20 * time.Second
	// hostileWait bounds the wait, once the faults are over, for every
	// hostile record to be dead-lettered (or, wrongly, applied).
	hostileWait = 3 * time.Minute
	// afterPause: the faults go on this long after the materializer is
	// continued, so that documents are asked of a store catching up.
	afterPause = 15 * time.Second
)

// The kinds of fault, with their relative frequency.
var faultKinds = []struct {
	name   string
	weight int
}{
	{"connect", 3},
	{"materialize", 3},
	{"broker", 2},
	{"postgres", 2},
	{"serve", 1},
	{"registry", 1},
}

func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos: skipped with -short (make chaos runs it)")
	}
	seed := time.Now().UnixNano() % 1_000_000_000
	if s := os.Getenv("ASKONCE_CHAOS_SEED"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		testenv.Must(t, err, "ASKONCE_CHAOS_SEED")
		seed = v
	}
	duration := defaultDur
	if s := os.Getenv("ASKONCE_CHAOS_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		testenv.Must(t, err, "ASKONCE_CHAOS_DURATION")
		duration = d
	}
	t.Logf("chaos: seed %d (replay the fault schedule with ASKONCE_CHAOS_SEED=%d), faults for %s and at least %d", seed, seed, duration, minFaults)
	rng := rand.New(rand.NewPCG(uint64(seed), 0x63686173))

	ctx := testenv.Ctx(t, 14*time.Minute)
	repo := testenv.RepoRoot(t)
	out := filepath.Join(repo, ".var", "chaos")
	logs := filepath.Join(out, "logs")
	_ = os.RemoveAll(logs)
	testenv.Must(t, os.MkdirAll(logs, 0o755), "logs dir")
	root := t.TempDir()

	// A PostgreSQL cluster of its own: the chaos stops it like a crash,
	// which the working tree's shared one must never see.
	pg, err := devpg.New(devpg.Config{Dir: filepath.Join(root, "pg"), Host: "127.0.0.1", Port: freePort(t), Install: true}, nil)
	testenv.Must(t, err, "chaos PostgreSQL")
	busURL, err := pg.Start(ctx)
	testenv.Must(t, err, "start chaos PostgreSQL")
	t.Cleanup(func() {
		if err := pg.Destroy(context.Background()); err != nil {
			t.Logf("chaos: destroy PostgreSQL: %v", err)
		}
	})
	srcURL, err := store.EnsureDatabase(ctx, busURL, "askonce_sources")
	testenv.Must(t, err, "sources database")

	// `askonce migrate`, as its own step, before any component: the store
	// tables exist before the materializer starts, so that the regression
	// guard sees every write it ever makes. Each component then logs in
	// with its own role.
	if out, err := run([]string{"ASKONCE_POSTGRES_URL=" + busURL, "ASKONCE_LOG_LEVEL=warn"}, "migrate"); err != nil {
		t.Fatalf("chaos: migrate: %v\n%s", err, out)
	}
	db, err := store.OpenURL(ctx, busURL, 4)
	testenv.Must(t, err, "bus database")
	defer db.Close()
	testenv.Must(t, installGuard(ctx, db), "install regression guard")

	// The registry runs as in production: writes need its credential.
	regPassword := testenv.Random(12)
	brokerAddr := hostPort(freePort(t))
	regAddr := hostPort(freePort(t))
	apiAddr := hostPort(freePort(t))
	env := []string{
		"ASKONCE_POSTGRES_MAX_CONNS=8",
		"ASKONCE_CONNECT_SOURCES_URL=" + srcURL,
		"ASKONCE_KAFKA_BROKERS=" + brokerAddr,
		"ASKONCE_BROKER_LISTEN=" + brokerAddr, "ASKONCE_BROKER_DATA_DIR=" + filepath.Join(root, "kafka"),
		"ASKONCE_REGISTRY_URL=http://" + regAddr, "ASKONCE_REGISTRY_LISTEN=" + regAddr,
		"ASKONCE_REGISTRY_USERNAME=chaos", "ASKONCE_REGISTRY_PASSWORD=" + regPassword,
		"ASKONCE_LOOKUP_LISTEN=" + apiAddr, "ASKONCE_LOOKUP_SIGNING_KEYS_DIR=" + filepath.Join(root, "keys"),
		"ASKONCE_LOOKUP_STALE_AFTER=" + staleAfter.String(),
		"ASKONCE_RULES_ALLOW_SYNTHETIC=true",
		// Backoff caps low enough that recovery after a fault is quick.
		"ASKONCE_CONNECT_MAX_BACKOFF=2s", "ASKONCE_MATERIALIZE_MAX_BACKOFF=2s",
		"ASKONCE_CONNECT_BATCH_SIZE=200", "ASKONCE_MATERIALIZE_BATCH_SIZE=500",
		// A consumer stuck in its group after kills rejoins (materialize.stall_timeout).
		"ASKONCE_MATERIALIZE_STALL_TIMEOUT=20s",
		"ASKONCE_LOG_FORMAT=json", "ASKONCE_LOG_LEVEL=info", "ASKONCE_OPS_LISTEN=127.0.0.1:0",
	}
	// The API expects every seeded data center (lookup.data_centers): no
	// answer claims an as_of before each has been heard from.
	var expected []string
	for _, dc := range synth.DataCenters(config.Default().Seed.DataCenters) {
		expected = append(expected, dc.Agency+"/"+dc.Name)
	}
	env = append(env, "ASKONCE_LOOKUP_DATA_CENTERS="+strings.Join(expected, ","))
	// The broker authorizes every request by its ACLs: the superuser
	// applies the access model (askonce access apply), the release
	// principal creates the topics, and each component authenticates as
	// its own principal (internal/access), with a password file each.
	admin := kafkaCred{addr: brokerAddr, user: "admin", password: testenv.Random(16)}
	pwDir := filepath.Join(root, "kafka-passwords")
	testenv.Must(t, os.MkdirAll(pwDir, 0o700), "passwords dir")
	as := func(principal string) []string {
		p := filepath.Join(pwDir, principal)
		if _, err := os.Stat(p); err != nil {
			testenv.Must(t, os.WriteFile(p, []byte(testenv.Random(16)+"\n"), 0o600), "password of %s", principal)
		}
		return []string{"ASKONCE_KAFKA_SASL_MECHANISM=scram-sha-512", "ASKONCE_KAFKA_SASL_USERNAME=" + principal,
			"ASKONCE_KAFKA_SASL_PASSWORD_FILE=" + p, "ASKONCE_KAFKA_TOPICS_CREATE_ON_START=false"}
	}
	asAdmin := []string{"ASKONCE_KAFKA_SASL_MECHANISM=scram-sha-512", "ASKONCE_KAFKA_SASL_USERNAME=" + admin.user,
		"ASKONCE_KAFKA_SASL_PASSWORD=" + admin.password, "ASKONCE_KAFKA_TOPICS_CREATE_ON_START=false"}
	brokerEnv := append(slices.Clone(asAdmin), "ASKONCE_BROKER_SASL_MECHANISM=scram-sha-512",
		"ASKONCE_BROKER_SASL_USERNAME="+admin.user, "ASKONCE_BROKER_SASL_PASSWORD="+admin.password)
	logOf := func(name string) string { return filepath.Join(logs, name+".log") }
	comps := map[string]*component{}
	// PostgreSQL: each component logs in with its role (internal/dbroles),
	// the broker and the seed (agency side) with the superuser.
	pgRole := map[string]string{"registry": dbroles.Registry, "connect": dbroles.Connect, "materialize": dbroles.Materialize,
		"serve": dbroles.API, "reconcile": dbroles.Reader}
	pgEnv := func(name string) []string {
		u := busURL
		if role, ok := pgRole[name]; ok {
			var err error
			u, err = dbroles.LoginURL(busURL, role)
			testenv.Must(t, err, "login of %s", role)
		}
		return []string{"ASKONCE_POSTGRES_URL=" + u}
	}
	add := func(name string, extra []string, args ...string) *component {
		c := newComponent(t, logOf(name), name, append(append(slices.Clone(env), pgEnv(name)...), extra...), args...)
		comps[name] = c
		return c
	}
	broker := add("broker", brokerEnv, "broker", "--acls")
	registry := add("registry", nil, "registry")
	// `askonce connect` runs every data center's connector in one process,
	// each authenticating as its data center's principal with its password
	// from the passwords directory (connect.sasl_password_dir).
	for _, dc := range synth.DataCenters(config.Default().Seed.DataCenters) {
		as(access.ConnectorName(dc.Agency, dc.Name)) // its password file
	}
	connectEnv := []string{"ASKONCE_KAFKA_SASL_MECHANISM=scram-sha-512", "ASKONCE_CONNECT_SASL_PASSWORD_DIR=" + pwDir,
		"ASKONCE_KAFKA_TOPICS_CREATE_ON_START=false"}
	connect := add("connect", connectEnv, "connect", "--synthetic")
	mat := add("materialize", as(access.MaterializerName), "materialize")
	serve := add("serve", as(access.APIName), "serve", "--dev", "--policy", filepath.Join(repo, "deploy", "devfiles", "policy.yaml"))
	live := add("seed-live", nil, "seed", "--persons", strconv.Itoa(persons), "--seed", "7", "--live", "--rate", strconv.Itoa(liveRate))
	t.Cleanup(func() {
		if t.Failed() {
			for name := range comps {
				t.Logf("chaos: last lines of %s:\n%s", name, tailFile(logOf(name), 25))
			}
			t.Logf("chaos: full logs in %s", logs)
		}
	})

	broker.start()
	registry.start()
	if !waitFor(time.Minute, func() bool { return dialable(brokerAddr) && httpOK("http://"+regAddr+"/subjects") }) {
		t.Fatalf("chaos: the broker (%s) or the registry (%s) did not come up", brokerAddr, regAddr)
	}
	// Every principal gets a password before the model is applied.
	as(access.ReleaseName)
	applyOut, err := run(append(slices.Clone(env), asAdmin...), "access", "apply", "--synthetic", "--passwords-dir", pwDir)
	if err != nil {
		t.Fatalf("chaos: access apply: %v\n%s", err, applyOut)
	}
	for _, line := range strings.Split(strings.TrimSpace(applyOut), "\n") {
		if !strings.HasPrefix(line, "{") { // its summary, not its log
			t.Logf("chaos: access apply: %s", line)
		}
	}
	if topicsOut, err := run(append(slices.Clone(env), as(access.ReleaseName)...), "topics", "ensure"); err != nil {
		t.Fatalf("chaos: topics ensure as %s: %v\n%s", access.ReleaseName, err, topicsOut)
	}
	seedOut, err := run(append(slices.Clone(env), pgEnv("seed")...), "seed", "--persons", strconv.Itoa(persons), "--seed", "7", "--writers", "2")
	if err != nil {
		t.Fatalf("chaos: seed: %v\n%s", err, seedOut)
	}
	src, err := store.OpenURL(ctx, srcURL, 4)
	testenv.Must(t, err, "sources database")
	defer src.Close()
	seeded := scalar(ctx, src, `SELECT sum(rows)::bigint FROM askonce_seed.manifest`)
	t.Logf("chaos: seeded %d source rows in 33 data centers", seeded)

	connect.start()
	mat.start()
	serve.start()
	live.start()
	// Clerks keep asking for documents while the faults happen and until
	// the bus has caught up after them, about persons the store holds.
	reqCtx, stopRequests := context.WithCancel(ctx)
	asks := &asker{url: "http://" + apiAddr + "/v1/document-requests", db: db, statuses: map[string]int{}}
	var askWG sync.WaitGroup
	askWG.Add(1)
	go func() { defer askWG.Done(); asks.run(reqCtx, seed) }()

	// Besides the kills: a hostile producer, and a pause of the
	// materializer, at times drawn from a stream of their own (the kill
	// schedule of a seed is the same as before they existed).
	xrng := rand.New(rand.NewPCG(uint64(seed), 0x686f7374696c65))
	hostileAt := 5*time.Second + time.Duration(xrng.Int64N(int64(25*time.Second)))
	pauseAt := 10*time.Second + time.Duration(xrng.Int64N(int64(20*time.Second)))
	pauseFor := 30*time.Second + time.Duration(xrng.Int64N(int64(60*time.Second)))
	py := python(t)
	t.Logf("chaos: hostile producer at %s; materializer paused at %s for %s", hostileAt.Round(100*time.Millisecond),
		pauseAt.Round(100*time.Millisecond), pauseFor.Round(100*time.Millisecond))

	// The faults start at once, while the connectors and the materializer
	// load the initial population.
	start := time.Now()

	// (a) The hostile producer: an independent client writes what no
	// connector would (testdata/hostile.py).
	hostileLog, err := os.Create(logOf("hostile"))
	testenv.Must(t, err, "log of the hostile producer")
	defer hostileLog.Close()
	type hostileRun struct {
		sent        []hostileMsg
		err         error
		at, done    time.Duration
		storeBefore int64
	}
	hostileDone := make(chan hostileRun, 1)
	go func() {
		var hr hostileRun
		select {
		case <-time.After(hostileAt):
		case <-ctx.Done():
			hr.err = ctx.Err()
			hostileDone <- hr
			return
		}
		hr.at = time.Since(start)
		hr.sent, hr.err = runHostile(ctx, py, admin, "http://"+regAddr, hostileLog)
		hr.done = time.Since(start)
		hr.storeBefore = -1
		for i := 0; i < 20 && hr.storeBefore < 0; i++ { // PostgreSQL may be restarting
			if hr.storeBefore = storeRows(ctx, db); hr.storeBefore < 0 {
				time.Sleep(500 * time.Millisecond)
			}
		}
		hostileDone <- hr
	}()

	// (b) The materializer paused (SIGSTOP) while the connectors keep
	// publishing: every materializer process, so that the store stops.
	var mats []*component
	for name, c := range comps {
		if strings.HasPrefix(name, "materialize") {
			mats = append(mats, c)
		}
	}
	var pw pauseWindow
	pauseDone := make(chan struct{})
	nDCs := len(synthetic().Connect.PGOutbox)
	go func() {
		defer close(pauseDone)
		select {
		case <-time.After(pauseAt):
		case <-ctx.Done():
			return
		}
		// Frozen during the initial load, the store would only be late:
		// it is paused once it has caught up (every data center has a
		// watermark), or after 90 s whatever it holds.
		waited := time.Now()
		pw.CaughtUp = waitFor(90*time.Second, func() bool { return watermarked(ctx, db, nDCs) })
		pw.Waited = time.Since(waited)
		pw.Start = time.Now()
		for _, c := range mats {
			c.pause()
		}
		select {
		case <-time.After(pauseFor):
		case <-ctx.Done():
		}
		for _, c := range mats {
			c.resume()
		}
		pw.End = time.Now()
	}()
	t.Cleanup(func() {
		for _, c := range mats {
			c.resume()
		}
	})

	total := 0
	for _, k := range faultKinds {
		total += k.weight
	}
	byKind := map[string]int{}
	var schedule []string
	faults := 0
	for time.Since(start) < duration || faults < minFaults || !closed(pauseDone) || time.Since(pw.End) < afterPause {
		if ctx.Err() != nil {
			t.Fatalf("chaos: out of time after %d faults", faults)
		}
		time.Sleep(time.Second + time.Duration(rng.Int64N(int64(2*time.Second))))
		n := rng.IntN(total)
		kind := faultKinds[len(faultKinds)-1].name
		for _, k := range faultKinds {
			if n < k.weight {
				kind = k.name
				break
			}
			n -= k.weight
		}
		down := time.Duration(rng.Int64N(int64(1500 * time.Millisecond)))
		at := time.Since(start)
		switch kind {
		case "postgres":
			testenv.Must(t, pg.Stop(ctx, "immediate"), "stop PostgreSQL (immediate)")
			time.Sleep(down)
			_, err := pg.Start(ctx)
			testenv.Must(t, err, "restart PostgreSQL")
		default:
			comps[kind].restart(down)
		}
		faults++
		byKind[kind]++
		line := fmt.Sprintf("%6.1fs  #%-3d %-11s down %s", at.Seconds(), faults, faultName(kind), down.Round(time.Millisecond))
		if comps[kind] != nil && comps[kind].isPaused() {
			line += " (while paused: restarted stopped)"
			pw.Kills++
		}
		schedule = append(schedule, line)
		t.Log("chaos: " + line)
	}
	faultPhase := time.Since(start)
	pw.At, pw.For = pw.Start.Sub(start), pw.End.Sub(pw.Start)
	pause := fmt.Sprintf("%6.1fs  SIGSTOP materialize for %s (SIGCONT at %.1fs)", pw.At.Seconds(), pw.For.Round(100*time.Millisecond), pw.End.Sub(start).Seconds())
	schedule = append(schedule, pause)
	t.Log("chaos: " + pause)

	// The sources stop changing; the bus catches up. Clerks go on asking
	// until it has: on a loaded machine the connectors of some data
	// centers may not have caught up with the initial load while the
	// faults lasted, so every answer during them may rightly be
	// source_stale; the documents issued while the store catches up are
	// checked the same way (audited, as_of against the watermarks).
	live.stop(30 * time.Second)
	hr := <-hostileDone
	if hr.err != nil {
		t.Fatalf("chaos: hostile producer (at %s): %v\n%s", hr.at.Round(100*time.Millisecond), hr.err, tailFile(logOf("hostile"), 20))
	}
	t.Logf("chaos: hostile producer delivered %d messages at %.1fs-%.1fs", len(hr.sent), hr.at.Seconds(), hr.done.Seconds())
	for name, c := range comps {
		if name == "seed-live" {
			continue
		}
		if !waitFor(30*time.Second, c.running) {
			t.Fatalf("chaos: %s is not running after the faults", name)
		}
	}
	convergeStart := time.Now()
	progCtx, stopProgress := context.WithCancel(ctx)
	defer stopProgress()
	go func() {
		for {
			select {
			case <-progCtx.Done():
				return
			case <-time.After(5 * time.Second):
			}
			t.Logf("chaos: converging for %s: %d outbox rows checkpointed, %d records stored; materializer group: %s",
				time.Since(convergeStart).Round(time.Second), checkpointed(progCtx, db), storeRows(progCtx, db), groupState(progCtx, admin))
		}
	}()
	heads := outboxHeads(ctx, t, src)
	if !waitFor(convergeMax, func() bool { return checkpointed(ctx, db) == heads }) {
		t.Fatalf("chaos: connectors checkpointed %d of %d outbox rows after %s", checkpointed(ctx, db), heads, convergeMax)
	}
	// Every hostile record is dead-lettered (or, a failure found below,
	// applied): a materializer stuck on one fails here, with its log,
	// rather than in reconcile's wait.
	topics := bus.NewTopics(wiring.Topics(config.Default().Kafka.Topics))
	hstate, stuck := waitHostile(ctx, t, admin, topics.DLQ, db, hr.sent, hostileWait)
	if len(stuck) > 0 {
		t.Fatalf("chaos: %d hostile records neither dead-lettered nor applied %s after the faults: %s\nmaterializer warnings and errors (last distinct):\n%s",
			len(stuck), hostileWait, strings.Join(stuck, ", "), failureLines(logOf("materialize"), 15))
	}
	if len(hstate.stored) > 0 {
		// Reconcile would wait its whole time for these extra rows.
		var applied []string
		for c, where := range hstate.stored {
			applied = append(applied, fmt.Sprintf("%s (%s)", c, where))
		}
		sort.Strings(applied)
		t.Fatalf("chaos: %d hostile records were APPLIED to the store instead of dead-lettered: %s (reconcile not run: they are rows no source holds)",
			len(applied), strings.Join(applied, ", "))
	}
	left := max(convergeMax-time.Since(convergeStart), 10*time.Second).Round(time.Second)
	recOut, recErr := run(append(slices.Clone(env), pgEnv("reconcile")...), "reconcile", "--synthetic", "--wait", left.String())
	converged := time.Since(convergeStart)
	stopProgress()
	if recErr != nil || !strings.Contains(recOut, "zero difference over 33 data centers") {
		t.Fatalf("chaos: reconcile after %s: %v\n%s", converged, recErr, recOut)
	}
	stopRequests()
	askWG.Wait()
	keysChecked := 0
	if m := regexp.MustCompile(`(\d+) keys checked`).FindStringSubmatch(recOut); m != nil {
		keysChecked, _ = strconv.Atoi(m[1])
	}

	// No stored record ever went back to a lower version or vanished.
	regressions := guardFindings(ctx, t, db)
	for _, r := range regressions.rows {
		t.Errorf("chaos: regression: %s", r)
	}

	// Every valid outbox row is on its topic, every defective one in the
	// DLQ, and what was published twice is the same record.
	tc := checkTopics(ctx, t, admin, config.Registry{URL: "http://" + regAddr, Username: "chaos", Password: regPassword, Timeout: 10 * time.Second}, src)

	// Every hostile record is in the DLQ with its code, and the
	// materializer went on past it.
	hc := hostileCheck{At: hr.at, StoreBefore: hr.storeBefore}
	if !hstate.lastDLQ.IsZero() {
		hc.Took = hstate.lastDLQ.Sub(start.Add(hr.done))
	}
	checkHostile(ctx, t, admin, topics, db, hr.sent, hstate, &hc)

	// No document claims more freshness than the store had.
	dcs := map[string][]string{}
	for _, s := range synthetic().Connect.PGOutbox {
		dcs[s.Agency] = append(dcs[s.Agency], s.DataCenter)
	}
	wm := checkWatermarks(ctx, t, db, dcs)

	// Every document the API issued is in the audit log.
	audited, unaudited := asks.audited(ctx, t, db)

	var exits []string
	names := make([]string, 0, len(comps))
	for name := range comps {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if e := comps[name].selfExits(); len(e) > 0 {
			exits = append(exits, fmt.Sprintf("%s %d (%s)", name, len(e), strings.Join(dedupe(e), "; ")))
		}
	}

	rejoins := 0
	if b, err := os.ReadFile(logOf("materialize")); err == nil {
		rejoins = strings.Count(string(b), "consumer stalled")
	}
	rep := report{
		Rejoins: rejoins,
		Seed:    seed, FaultPhase: faultPhase, Faults: faults, ByKind: byKind, Schedule: schedule,
		Seeded:      seeded,
		KeysChecked: keysChecked, Reconcile: lastLines(recOut, 2), Regressions: len(regressions.rows), SameVersionRewrites: regressions.same,
		Topics: tc, Asks: asks, Audited: audited, Unaudited: unaudited, Failed: t.Failed(), Converged: converged, SelfExits: exits,
		Hostile: hc, Pause: pw, Watermarks: wm, Start: start,
	}
	text := rep.String()
	t.Log("\n" + text)
	testenv.Must(t, os.WriteFile(filepath.Join(out, "report.txt"), []byte(text), 0o644), "write report")
	t.Logf("chaos: report written to %s", filepath.Join(out, "report.txt"))
}

// pauseWindow is when the materializer was paused (SIGSTOP to SIGCONT).
type pauseWindow struct {
	Start, End time.Time
	At, For    time.Duration // from the start of the faults; length
	Kills      int           // materializer kills meanwhile (restarted stopped)
	Waited     time.Duration // for the store to catch up before the pause
	CaughtUp   bool          // it did: every data center had a watermark
}

// watermarked reports whether n data centers have a watermark in the store
// (always true before the store has watermarks at all).
func watermarked(ctx context.Context, db *pgxpool.Pool, n int) bool {
	var ok bool
	err := db.QueryRow(ctx, `SELECT CASE WHEN to_regclass('store_watermarks') IS NULL THEN true
		ELSE (SELECT count(*) FROM store_watermarks) >= $1 END`, n).Scan(&ok)
	return err == nil && ok
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func faultName(kind string) string {
	if kind == "postgres" {
		return "postgres (immediate stop)"
	}
	return "SIGKILL " + kind
}

func dedupe(in []string) []string {
	seen := map[string]int{}
	var out []string
	for _, s := range in {
		if seen[s] == 0 {
			out = append(out, s)
		}
		seen[s]++
	}
	for i, s := range out {
		if seen[s] > 1 {
			out[i] = fmt.Sprintf("%s x%d", s, seen[s])
		}
	}
	return out
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func dialable(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func httpOK(url string) bool {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func scalar(ctx context.Context, pool *pgxpool.Pool, q string, args ...any) int64 {
	var n int64
	if err := pool.QueryRow(ctx, q, args...).Scan(&n); err != nil {
		return -1
	}
	return n
}

// sampleNINs returns up to n NINs of persons the store holds (none while
// PostgreSQL is down or the store is empty).
func sampleNINs(ctx context.Context, db *pgxpool.Pool, n int) []string {
	rows, err := db.Query(ctx, `SELECT nin FROM persons WHERE NOT deleted ORDER BY source_key LIMIT $1`, n)
	if err != nil {
		return nil
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var nin string
		if rows.Scan(&nin) != nil {
			return nil
		}
		out = append(out, nin)
	}
	if rows.Err() != nil {
		return nil
	}
	return out
}

// asker plays clerks: it asks for documents about known persons (mostly
// birth and life certificates, some about affiliations and contributions)
// and keeps the id of every document issued (HTTP 200), and every answer
// with its time (to count those given while the materializer was paused).
type asker struct {
	url string
	db  *pgxpool.Pool

	mu       sync.Mutex
	statuses map[string]int // "document-type outcome" -> answers
	issued   []string       // document ids
	answers  []answer
}

// answer is one answer of the lookup API: "issued", "<HTTP status>
// <reason>" from the problem document ("404 no_record", "503
// source_stale"), the status alone, or "error" when none came.
type answer struct {
	at      time.Time
	doc     string
	outcome string
}

// askDocs are the document types asked for, with their weight; all of
// them allowed to the CNR for pension-award (deploy/devfiles/policy.yaml).
var askDocs = []struct {
	doc    string
	weight int
}{
	{lookup.DocBirth, 3},
	{lookup.DocLife, 3},
	{lookup.DocAffiliation, 1},
	{lookup.DocContribStatement, 1},
}

func (a *asker) run(ctx context.Context, seed int64) {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x61736b))
	client := &http.Client{Timeout: 10 * time.Second}
	var nins []string
	for ctx.Err() == nil && len(nins) < 50 {
		nins = sampleNINs(ctx, a.db, 60)
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
	total := 0
	for _, d := range askDocs {
		total += d.weight
	}
	for ctx.Err() == nil {
		nin := nins[rng.IntN(len(nins))]
		doc, n := askDocs[0].doc, rng.IntN(total)
		for _, d := range askDocs {
			if n < d.weight {
				doc = d.doc
				break
			}
			n -= d.weight
		}
		body, _ := json.Marshal(map[string]string{"document_type": doc, "nin": nin, "purpose": "pension-award", "clerk_id": "chaos"})
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.url, bytes.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Authorization", "Bearer dev-cnr-key")
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		outcome := "error"
		var id string
		if err == nil {
			outcome = strconv.Itoa(resp.StatusCode)
			if resp.StatusCode == http.StatusOK {
				outcome = "issued"
				id = strings.TrimPrefix(resp.Header.Get("Location"), "/v1/attestations/")
				if id == "" {
					id = "(200 without a Location)"
				}
			} else {
				var p struct {
					Reason string `json:"reason"`
				}
				if json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&p) == nil && p.Reason != "" {
					outcome += " " + p.Reason
				}
			}
			resp.Body.Close()
		} else if ctx.Err() != nil {
			return
		}
		a.mu.Lock()
		a.statuses[doc+" "+outcome]++
		a.answers = append(a.answers, answer{at: time.Now(), doc: doc, outcome: outcome})
		if id != "" {
			a.issued = append(a.issued, id)
		}
		a.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// during counts the answers about doc given between from and to, by
// outcome: issued, refused as stale (reason source_stale), other.
func (a *asker) during(doc string, from, to time.Time) (issued, stale, other int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, x := range a.answers {
		if x.doc != doc || x.at.Before(from) || x.at.After(to) {
			continue
		}
		switch {
		case x.outcome == "issued":
			issued++
		case strings.HasSuffix(x.outcome, " "+lookup.ReasonSourceStale):
			stale++
		default:
			other++
		}
	}
	return issued, stale, other
}

// audited checks that every issued document has its audit entry, and
// returns how many were checked and how many were missing.
func (a *asker) audited(ctx context.Context, t *testing.T, db *pgxpool.Pool) (int, int) {
	t.Helper()
	a.mu.Lock()
	ids := append([]string(nil), a.issued...)
	a.mu.Unlock()
	if len(ids) == 0 {
		t.Errorf("chaos: the lookup API issued no document during the run")
		return 0, 0
	}
	rows, err := db.Query(ctx, `SELECT document_id FROM audit_log WHERE outcome = 'issued' AND document_id = ANY($1)`, ids)
	testenv.Must(t, err, "audit log")
	defer rows.Close()
	found := map[string]bool{}
	for rows.Next() {
		var id string
		testenv.Must(t, rows.Scan(&id), "audit row")
		found[id] = true
	}
	testenv.Must(t, rows.Err(), "audit log")
	missing := 0
	for _, id := range ids {
		if !found[id] {
			missing++
			if missing <= 5 {
				t.Errorf("chaos: document %s was issued (HTTP 200) but is not in the audit log", id)
			}
		}
	}
	if missing > 0 {
		t.Errorf("chaos: %d of %d issued documents missing from the audit log", missing, len(ids))
	}
	return len(ids), missing
}

func storeRows(ctx context.Context, db *pgxpool.Pool) int64 {
	var parts []string
	for _, t := range storeTables {
		parts = append(parts, "(SELECT count(*) FROM "+t+")")
	}
	return scalar(ctx, db, "SELECT "+strings.Join(parts, " + "))
}

// groupState describes the materializer's consumer group (state, members
// and their partitions), for the log while the bus catches up.
func groupState(ctx context.Context, k kafkaCred) string {
	c := k.client(5 * time.Second)
	res, err := c.DescribeGroups(ctx, &kafka.DescribeGroupsRequest{GroupIDs: []string{"askonce-materialize"}})
	if err != nil {
		return err.Error()
	}
	var parts []string
	for _, g := range res.Groups {
		parts = append(parts, g.GroupState)
		for _, m := range g.Members {
			n := 0
			for _, tp := range m.MemberAssignments.Topics {
				n += len(tp.Partitions)
			}
			id := strings.TrimPrefix(m.MemberID, "askonce-")
			id = id[:min(8, len(id))]
			parts = append(parts, fmt.Sprintf("%s@%s:%d", id, m.ClientHost, n))
		}
	}
	return strings.Join(parts, " ")
}

// kafkaCred is how the test's own Kafka clients reach the broker: as the
// superuser of a broker with ACLs, or without SASL (user empty).
type kafkaCred struct{ addr, user, password string }

func (k kafkaCred) mechanism() sasl.Mechanism {
	if k.user == "" {
		return nil
	}
	m, err := scram.Mechanism(scram.SHA512, k.user, k.password)
	if err != nil {
		panic(fmt.Sprintf("chaos: SCRAM mechanism for %s: %v", k.user, err)) // a user name SASLprep refuses: the test's own constant
	}
	return m
}

// dialer is for testenv.ReadTopicWith.
func (k kafkaCred) dialer() *kafka.Dialer {
	return &kafka.Dialer{Timeout: 10 * time.Second, DualStack: true, SASLMechanism: k.mechanism()}
}

// client is a kafka-go client for protocol requests.
func (k kafkaCred) client(timeout time.Duration) *kafka.Client {
	return &kafka.Client{Addr: kafka.TCP(k.addr), Timeout: timeout, Transport: &kafka.Transport{SASL: k.mechanism()}}
}
