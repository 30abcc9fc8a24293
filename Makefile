# Freshet. Quick start: `make dev` (demo on http://127.0.0.1:3000), `make test`.
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
BIN     := bin/freshet
LDFLAGS := -X main.version=$(VERSION)

.PHONY: dev build test lint fuzz bench bench-ingest clean

## dev: build and run the demo (embedded store, demo graph, API on :3000)
dev: build
	./$(BIN) dev

## build: compile bin/freshet
build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/freshet

## test: everything CI runs: installs what the tests need, lint, race tests, short fuzzing
test:
	./scripts/test.sh

## lint: gofmt, go vet, staticcheck
lint:
	./scripts/lint.sh

## fuzz: run every fuzz target for FUZZTIME (default 10s each)
fuzz:
	./scripts/fuzz.sh

## bench: the benchmarks quoted in docs/performance.md (medians of 5 runs)
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./... | tee bench.txt

## bench-ingest: HTTP -> WAL -> ClickHouse against the raw clickhouse-go ceiling (private server)
bench-ingest:
	./scripts/ensure-clickhouse.sh
	$(GO) run ./bench/ingest

clean:
	rm -rf bin .freshet bench.txt
