# laird — see README.md. Every target is safe to run from a clean checkout.
GO        ?= go
PKGS      := ./...
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X main.version=laird-$(VERSION)
FUZZTIME  ?= 15s
STATICCHECK_VERSION ?= v0.8.2

.PHONY: all build run test crash vet lint fuzz bench bench-go bench-baseline bench-compare clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/laird ./cmd/laird
	@if [ -d cmd/laird-bench ]; then $(GO) build -o bin/laird-bench ./cmd/laird-bench; fi

# The server on the embedded default: Pebble in ./data, IRC on 127.0.0.1:6667.
# Flags and commands go in ARGS: make run ARGS="-config laird.toml -listen 127.0.0.1:6668"
ARGS ?=
run: build
	./bin/laird $(ARGS)

vet:
	$(GO) vet $(PKGS)

# Unit, integration (real server on loopback over TCP) and real-client tests,
# all under the race detector.
test: vet
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

# The kill -9 tests for minutes instead of make test's few rounds:
# acknowledged accounts, channel changes and history survive every kill.
CRASHTIME ?= 5m
crash:
	LAIRD_CRASH_DURATION=$(CRASHTIME) $(GO) test -count=1 -timeout 2h -run '^TestCrash' -v ./cmd/laird

lint: vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt: $$out"; exit 1; fi
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) $(PKGS)

# Each fuzz target for a bounded time (FUZZTIME, default 15s).
fuzz:
	@for pkg in $$($(GO) list $(PKGS)); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$t"; \
	    $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

# The load benchmark suite: starts laird on a temporary data directory,
# runs every scenario several times, compares with bench/baseline.json and
# writes bench/results/<date>-<commit>.json and .html. Exits non-zero on a
# regression.
BENCH_GO_PKGS ?= ./codec,./chat,./guard,./perf
bench: build
	./bin/laird-bench suite -gobench $(BENCH_GO_PKGS)

# Make the latest suite run the new baseline (on purpose, after review).
# (`./bin/laird-bench baseline -from bench/results/X.json` promotes an
# existing run instead of running the suite again.)
bench-baseline: build
	./bin/laird-bench baseline -gobench $(BENCH_GO_PKGS)

# laird, InspIRCd and ngircd (from Debian, run as user irc) side by side.
bench-compare: build
	@{ [ -x /usr/sbin/inspircd ] && [ -x /usr/sbin/ngircd ]; } || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq inspircd ngircd)
	./bin/laird-bench compare -peers inspircd,ngircd

# Go micro-benchmarks of the hot paths.
bench-go:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

clean:
	rm -rf bin
