# Restorable: exporter, analyzer, dashboards and alert rules.
GO            ?= go
STATICCHECK   ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
DEMO_CONFIG   ?= examples/demo/restorable.yml
LISTEN        ?= :10060
BIN           := bin
VERSION       ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS       := -X github.com/prometheus/common/version.Version=$(VERSION) \
                 -X github.com/prometheus/common/version.Revision=$(shell git rev-parse --short HEAD 2>/dev/null) \
                 -X github.com/prometheus/common/version.Branch=$(shell git rev-parse --abbrev-ref HEAD 2>/dev/null) \
                 -X github.com/prometheus/common/version.BuildUser=$(shell id -un 2>/dev/null)@$(shell hostname 2>/dev/null) \
                 -X github.com/prometheus/common/version.BuildDate=$(shell date -u +%Y%m%d-%H:%M:%S)

.PHONY: all build run test bench bench-events fuzz lint dashboards golden fmt clean

all: build

## build: build bin/exporter, bin/dump and bin/restorable (CGO-free) and bin/analyze (links DuckDB through cgo)
build:
	CGO_ENABLED=0 $(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/exporter ./cmd/exporter
	CGO_ENABLED=0 $(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/dump ./cmd/dump
	CGO_ENABLED=0 $(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/restorable ./cmd/restorable
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/analyze ./cmd/analyze

## run: start the exporter on the bundled demo (history goes to ./var/history)
run:
	CGO_ENABLED=0 $(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/exporter ./cmd/exporter
	@echo "Restorable demo: open http://localhost$(LISTEN)/ (metrics at http://localhost$(LISTEN)/metrics); history in ./var/history; Ctrl-C stops."
	$(BIN)/exporter --config.file=$(DEMO_CONFIG) --web.listen-address=$(LISTEN)

## test: every test, integration tests included (they skip with a reason when a program is missing, and fail instead when REQUIRE_INTEGRATION=1)
test:
	$(GO) test -count=1 -timeout 20m ./...

## bench: the performance targets, measured (figures go into closing notes)
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 1x -timeout 60m ./...

## bench-events: load run of POST /api/v1/events with wrk on loopback (sustained events/s with fsync group commit, then a kill -9 mid-run and a check that no acknowledged event was lost); docs/events.md has the figures
bench-events:
	test/bench/events.sh

## fuzz: run every fuzz target (any func FuzzXxx in a _test.go file) for FUZZTIME each; go test -fuzz takes one target per run
FUZZTIME      ?= 10s
fuzz:
	@set -e; for f in $$(grep -rl --include='*_test.go' '^func Fuzz' . | sort); do \
	  for t in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$f); do \
	    echo "fuzz $$(dirname $$f) $$t"; \
	    $(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) $$(dirname $$f); \
	  done; \
	done

## lint: formatting, vet, staticcheck, rule files
lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

## dashboards: regenerate the committed Grafana dashboard JSON
dashboards:
	$(GO) run ./dashboards/cmd/generate -out dashboards/json

## golden: refresh the exporter's golden /metrics output after an intended change
golden:
	$(GO) test ./cmd/exporter -run TestGoldenMetrics -update

clean:
	rm -rf $(BIN) var
