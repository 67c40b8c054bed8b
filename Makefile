# pulsegrid — `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
GOROOT := $(shell $(GO) env GOROOT)
WASM_EXEC := $(GOROOT)/lib/wasm/go_js_wasm_exec
ADDR ?= 127.0.0.1:8080
DATA ?= ./data
# What pulsegrid --version prints (Go's own VCS stamp is missing in git
# worktrees and with -buildvcs=false).
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null)$(shell git diff --quiet HEAD 2>/dev/null || echo +dirty)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT)

.PHONY: help run build test unit wasmtest fmacheck check generate wasm bench e2e attack clean

help: ## list the targets
	@grep -E '^[a-z][a-zA-Z_-]*:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

run: wasm ## start the server on $(ADDR) with its database in $(DATA)
	@echo "run: compiling pulsegrid (the first build compiles every dependency: a minute or two) and starting serve on $(ADDR), data in $(DATA)"
	$(GO) run -ldflags "$(LDFLAGS)" ./cmd/pulsegrid serve --addr $(ADDR) --data $(DATA) --allow-same-network

build: wasm ## build bin/pulsegrid
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/pulsegrid ./cmd/pulsegrid

generate: ## regenerate templ components
	$(GO) tool templ generate

wasm: ## build static/worker.wasm (and its gzip and brotli encodings) and copy wasm_exec.js
	@if [ -d wasmworker ]; then \
	  echo "wasm: compiling the browser worker to static/worker.wasm (GOOS=js GOARCH=wasm; the first build takes a minute or two)"; \
	  GOOS=js GOARCH=wasm $(GO) build -trimpath -ldflags=-s -o static/worker.wasm ./wasmworker && \
	  cp "$(GOROOT)/lib/wasm/wasm_exec.js" static/wasm_exec.js && \
	  echo "wasm: compressing it once to static/worker.wasm.gz (served to browsers as is)" && \
	  gzip -9 -n -k -f static/worker.wasm && \
	  echo "wasm: and to static/worker.wasm.br (brotli 11: half a minute, skipped while the module is unchanged)" && \
	  $(GO) run ./cmd/precompress static/worker.wasm && \
	  echo "wasm: static/worker.wasm ready ($$(du -h static/worker.wasm | cut -f1), gzipped $$(du -h static/worker.wasm.gz | cut -f1))"; \
	fi

check: ## gofmt, go vet (native and js/wasm), templ generated code current
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '_templ.go$$')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi
	$(GO) vet ./...
	GOOS=js GOARCH=wasm $(GO) vet ./algorithms/... ./protocol/... ./volunteer/... ./wasmworker/...
	GOOS=windows $(GO) build -o /dev/null ./cmd/pulsegrid  # volunteers run the CLI on Windows and macOS too
	GOOS=darwin $(GO) build -o /dev/null ./cmd/pulsegrid
	@if ls views/*.templ >/dev/null 2>&1; then \
	  $(GO) tool templ generate >/dev/null && git diff --exit-code -- views || { echo "templ output not current: run make generate and commit"; exit 1; }; \
	fi

unit: wasm ## unit and integration tests (native), with a PostgreSQL server of their own (scripts/with-postgres.sh) and HAProxy and Chromium for the failover test (scripts/with-haproxy.sh)
	./scripts/with-postgres.sh ./scripts/with-haproxy.sh $(GO) test -count=1 -timeout 20m ./...

wasmtest: ## the tests of everything the browser runs, again under GOOS=js GOARCH=wasm (node)
	GOOS=js GOARCH=wasm $(GO) test -count=1 -timeout 20m -exec="$(WASM_EXEC)" ./algorithms/... ./protocol/... ./volunteer/...

fmacheck: ## golden digests again with FMA fusion allowed (GOAMD64=v3)
	GOAMD64=v3 $(GO) test -count=1 -run Golden ./algorithms/...

e2e: build ## Playwright end-to-end tests in Debian chromium
	@if [ -d e2e ]; then ./e2e/run.sh; fi

test: check unit wasmtest fmacheck e2e ## everything CI runs

bench: ## benchmarks: pipeline native and wasm, coordinator (figures go to docs/benchmarks.md)
	$(GO) test -run '^$$' -bench . -benchmem ./algorithms/...
	GOOS=js GOARCH=wasm $(GO) test -run '^$$' -bench . -exec="$(WASM_EXEC)" ./algorithms/catalog/
	$(GO) run ./cmd/pulsegrid bench coordinator --volunteers 1000 --duration 10s

attack: ## adversarial volunteers against a real serve, every scenario (docs/benchmarks.md, "Adversaries"); ATTACK_ARGS='-run NAME -strict -protocol 2 -json F'
	$(GO) run ./attack/cmd/attack $(ATTACK_ARGS)

clean: ## remove build output
	rm -rf bin static/worker.wasm static/worker.wasm.gz static/worker.wasm.br static/wasm_exec.js
