# clonebot's everyday targets; .ci/run calls the same ones.
GO        ?= go
PKGS      := ./...
# Tests talk to the local PostgreSQL; override to use another server.
export CLONEBOT_TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable

.PHONY: all build test lint vet staticcheck fmt-check tidy-check demo bench bench-webhook bench-clone bench-drift fuzz clean clean-db

all: lint test

build: ## the clonebot binary in ./bin, static like the container image's
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/clonebot ./cmd/clonebot

test: lint ## vet, staticcheck, then every test with the race detector; drops the test templates after
	$(GO) test -race -count=1 -timeout 20m $(PKGS) || { $(MAKE) --no-print-directory clean-db; exit 1; }
	@$(MAKE) --no-print-directory clean-db

lint: fmt-check tidy-check vet staticcheck ## gofmt, go.mod tidy, go vet and staticcheck must be clean

tidy-check:
	$(GO) mod tidy -diff

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

staticcheck:
	$(GO) tool staticcheck $(PKGS)

demo: ## the whole story end to end on the local PostgreSQL
	$(GO) run ./cmd/clonebot demo

bench: bench-webhook bench-clone bench-drift ## every benchmark

bench-webhook: ## webhook intake under load against a real clonebot serve
	bash bench/webhook.sh

bench-clone: ## clonebot clone against pg_dump | psql and pg_dump -j + pg_restore -j, on four schema shapes
	bash bench/clone.sh

bench-drift: ## the drift of a 1 GB sandbox against reading both sides once: times, ratio, memory
	bash bench/drift.sh

fuzz: ## a short run of every fuzz target
	$(GO) test ./parser -run '^$$' -fuzz FuzzParse -fuzztime 30s
	$(GO) test ./webhook -run '^$$' -fuzz FuzzVerify -fuzztime 30s
	$(GO) test ./natsort -run '^$$' -fuzz FuzzCompare -fuzztime 30s

clean: ## the built binaries
	rm -rf bin

clean-db: ## drop the template databases tests build on the test server (clonebot_tpl_*)
	$(GO) run ./pgtest/cleandb
