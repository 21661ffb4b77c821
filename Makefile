# askonce — build, test and run the bus. `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
BIN := bin/askonce
STATICCHECK_VERSION ?= v0.8.2
GOBIN := $(shell $(GO) env GOPATH)/bin
# go test -race needs more than the 10-minute default on a 2-core machine
# only if something hangs: keep a bound that fails loudly instead.
TEST_TIMEOUT ?= 12m

# Fuzzing: every Fuzz* target of the repository, FUZZTIME each (make fuzz);
# make test runs each for FUZZ_SHORT_TIME: a count of executions, not a
# duration, because Go 1.26's fuzz coordinator can fail a target with a bare
# "context deadline exceeded" when a duration ends while a worker is busy
# (golang/go#75804, fixed in Go 1.27); a count has no deadline to race.
FUZZTIME ?= 60s
FUZZ_SHORT_TIME ?= 5000x

.PHONY: help build deps pg test lint demo bench chaos fuzz fuzz-short clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

build: ## build bin/askonce
	$(GO) build -o $(BIN) ./cmd/askonce

deps: ## install PostgreSQL 15 binaries, kcat, Prometheus and Chromium when missing (apt-get)
	@deploy/devfiles/deps.sh

pg: deps build ## start the private PostgreSQL (127.0.0.1:55432, data in .var/pg)
	@$(BIN) pg start >/dev/null

test: deps build pg ## install what tests need, start it, run every test with the race detector
	$(BIN) schemas check
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...
	@# The load test (1,000 clients, 60 s) runs without -race: the detector's
	@# 5-10x CPU and memory would measure itself, not the API (load_test.go).
	set -o pipefail; $(GO) test -count=1 -timeout $(TEST_TIMEOUT) -run '^TestLoad$$' -v ./internal/lookup | grep -E '^(---|ok|FAIL|panic)|load_test\.go'
	@# Allocation counts, measured without the race detector (it drops
	@# sync.Pool items at random).
	set -o pipefail; $(GO) test -count=1 -run 'AllocatesNothing$$' -v ./schemas | grep -E '^(---|ok|FAIL|panic)'
	@$(MAKE) --no-print-directory fuzz-short

lint: ## gofmt, go vet, staticcheck
	@out=$$(find . -name '*.go' -not -path './.var/*' -not -path './.git/*' -print0 | xargs -0 gofmt -l); \
	  if [[ -n "$$out" ]]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@test -x $(GOBIN)/staticcheck && $(GOBIN)/staticcheck -version | grep -q "$(STATICCHECK_VERSION:v%=%)" || \
	  $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	$(GOBIN)/staticcheck ./...

demo: deps build ## run the whole bus on embedded defaults with synthetic data (Ctrl-C stops it)
	$(BIN) dev $(DEMO_FLAGS)

bench: deps build pg ## measure ingest and lookup against this machine's ceilings (writes BENCHMARKS.md)
	@if ! $(BIN) bench --help >/dev/null 2>&1; then \
	  echo "make bench: 'askonce bench' does not exist yet (issue #9: benchmarks)."; exit 2; fi
	$(BIN) bench

# chaos runs a PostgreSQL cluster of its own (never the shared one), so it
# does not depend on pg (whose `askonce pg start` refuses ASKONCE_CHAOS_*).
chaos: deps build ## SIGKILL and restart components and PostgreSQL under live load, then prove nothing was lost (~2-3 min)
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) -run '^TestChaos$$' -v ./internal/chaos

# run-fuzz runs every `func Fuzz*` of internal/ and connectors/ for $(1) each.
define run-fuzz
	@set -eo pipefail; grep -rHo --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*' internal connectors | sort | \
	  while IFS=: read -r file fn; do name=$${fn#func }; dir=./$$(dirname "$$file"); \
	    echo "fuzz: $$name in $$dir for $(1)"; \
	    out=$$($(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(1) "$$dir" 2>&1) || { echo "$$out"; exit 1; }; \
	    echo "$$out" | tail -n 1; done
endef

fuzz: deps build pg ## run every fuzz target for FUZZTIME (default 60s) each; a failing input lands in testdata/fuzz
	$(call run-fuzz,$(FUZZTIME))

fuzz-short: ## every fuzz target for FUZZ_SHORT_TIME (5000 executions) each (part of make test)
	$(call run-fuzz,$(FUZZ_SHORT_TIME))

clean: ## stop the private PostgreSQL and wipe .var/ and bin/
	-@test -x $(BIN) && $(BIN) pg destroy >/dev/null 2>&1 || true
	rm -rf .var bin
