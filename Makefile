# Freshet. Quick start: `make dev` (demo on http://127.0.0.1:3000), `make test`.
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
BIN     := bin/freshet
LDFLAGS := -X main.version=$(VERSION)

.PHONY: dev build ui ui-maybe test lint fuzz bench bench-ingest clean

## dev: build and run the demo (embedded store, demo graph, API and UI on :3000)
dev: ui-maybe build
	./$(BIN) dev

## build: compile bin/freshet
build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/freshet

## ui: build the web UI into ui/dist, embedded by the next build (Node.js 20.19+, npm; one npm ci per lock)
UI_SRC := $(shell find ui/src ui/public -type f 2>/dev/null) ui/index.html ui/package.json ui/package-lock.json ui/vite.config.ts
ui: ui/dist/index.html
ui/dist/index.html: $(UI_SRC)
	./ui/npm-ci.sh
	cd ui && npx vite build --logLevel warn

# make dev builds the UI first where npm is installed (only when its sources changed)
ui-maybe:
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory ui; \
	else echo "npm not found: serving the API without the web UI (see make ui)"; fi

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
