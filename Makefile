# clonebot's everyday targets; .ci/run calls the same ones.
GO        ?= go
PKGS      := ./...
# Tests talk to the local PostgreSQL; override to use another server.
export CLONEBOT_TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable

.PHONY: all build test lint vet staticcheck fmt-check demo bench bench-webhook bench-clone fuzz clean

all: lint test

build: ## the clonebot binary in ./bin
	$(GO) build -o bin/clonebot ./cmd/clonebot

test: lint ## vet, staticcheck, then every test with the race detector
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

lint: fmt-check vet staticcheck ## gofmt, go vet and staticcheck must be clean

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

staticcheck:
	$(GO) tool staticcheck $(PKGS)

demo: ## the whole story end to end on the local PostgreSQL
	$(GO) run ./cmd/clonebot demo

bench: bench-webhook bench-clone ## both benchmarks

bench-webhook: ## webhook intake under load against a real clonebot serve
	bash bench/webhook.sh

bench-clone: ## clonebot clone against pg_dump | psql on the same data
	bash bench/clone.sh

fuzz: ## a short run of every fuzz target
	$(GO) test ./parser -run '^$$' -fuzz FuzzParse -fuzztime 30s
	$(GO) test ./webhook -run '^$$' -fuzz FuzzVerify -fuzztime 30s

clean:
	rm -rf bin
