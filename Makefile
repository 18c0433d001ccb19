# iggytrace build, test and benchmark entry points. `make test` is what CI runs
# (through .ci/run): it installs what the tests need, checks that the committed
# generated files are current, vets and runs every test, kernel tests included.

GO        ?= go
export GOFLAGS ?= -mod=mod
FUZZTIME  ?= 5m
BENCHTIME ?= 2s

.PHONY: all build deps generate check-generated vet test test-short bench fuzz testdata clean

all: build

build:
	$(GO) build -o bin/iggytrace ./cmd/iggytrace

# deps installs the system packages the tests use (tshark, the BPF toolchain).
# Idempotent: it does nothing when they are present.
deps:
	bash scripts/install-deps.sh

# generate regenerates every committed generated file: BPF objects and their
# Go bindings, the status-code table, docs derived from the protocol table.
generate: deps
	$(GO) generate ./bpf/... ./decoder/...

GENERATED = bpf/capture_bpfel.go bpf/capture_bpfel.o bpf/floor_bpfel.go bpf/floor_bpfel.o decoder/protocol/status_gen.go docs/protocol.md

check-generated: generate
	@git diff --exit-code --stat -- $(GENERATED) || \
	  (echo "generated files are stale: run 'make generate' and commit the result" >&2; exit 1)

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); echo "gofmt needed" >&2; exit 1)

test: deps check-generated vet
	$(GO) test -count=1 -timeout 15m ./...

test-short:
	$(GO) test -short ./...

# bench prints, side by side in one run, the decoder's throughput against its
# goals, then the traced vs untraced throughput of the test server under the
# Go SDK, the kernel's ns per program run and the tracer's CPU (root).
bench: build
	bash scripts/bench.sh
	IGGYTRACE=bin/iggytrace bash scripts/bench-trace.sh

# fuzz runs every fuzz target for FUZZTIME each (default 5m).
fuzz:
	bash scripts/fuzz.sh $(FUZZTIME)

# testdata regenerates the committed captures and golden outputs from real
# SDK sessions against the test server (needs root for the loopback capture).
testdata:
	$(GO) run ./internal/capturegen -out testdata
	cp testdata/session.pcapng internal/samples/session.pcapng
	$(GO) test ./cmd/iggytrace -run Golden -update

clean:
	rm -rf bin
