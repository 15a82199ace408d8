# vidcomments — the two commands that matter: `make demo` and `make test`.
SHELL := /bin/bash
GO    ?= go
# Integration tests share two cores with four servers: keep them patient.
TEST_FLAGS ?= -count=1 -timeout 25m

.PHONY: help stack-up stack-down stack-status up down status demo test test-unit lint fuzz bench bench-quick bench-read bench-write bench-syncer

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-13s %s\n", $$1, $$2}'

stack-up: ## install (first time) and start MariaDB, Redis, Kafka, Cassandra
	scripts/stack up

stack-down: ## stop the servers
	scripts/stack down

stack-status: ## state, version, port and pid of each server
	scripts/stack status

up: stack-up ## the stack plus the four services in the background
	scripts/services up

down: ## stop the services, then the stack
	scripts/services down
	scripts/stack down

status: ## servers and services
	-scripts/stack status
	-scripts/services status

demo: up ## everything running, sample data posted, URLs printed
	scripts/demo

test: stack-up ## start the stack, then run every test against it
	set -a && . .stack/env && set +a && $(GO) test $(TEST_FLAGS) ./...

test-unit: ## only the tests that need no server
	$(GO) test -short -count=1 ./...

lint: ## gofmt, go vet, shellcheck when installed
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@if command -v shellcheck >/dev/null; then shellcheck scripts/stack scripts/services .ci/run; else echo "shellcheck not installed; skipped"; fi

FUZZTIME ?= 30s
fuzz: ## run every fuzz target for FUZZTIME each (seed corpora live beside the tests)
	@set -e; for pkg in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
	  for f in $$(grep -h '^func Fuzz' $$pkg/*_test.go | sed 's/func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do \
	    echo "== $$pkg $$f"; $(GO) test $$pkg -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME); \
	  done; \
	done

bench-read: stack-up ## readsvc hot page vs a static handler vs the Redis tier alone
	set -a && . .stack/env && set +a && $(GO) test ./readsvc/api -run '^$$' -bench HotPage -benchtime 20000x -count 3 -v

bench-write: stack-up ## accepted comments/s at concurrency 64 vs a bare INSERT loop
	set -a && . .stack/env && set +a && $(GO) test ./writesvc -run '^$$' -bench AcceptComments -benchtime 5000x -v

bench-syncer: stack-up ## applied events/s vs a bare gocql loop doing the same writes
	set -a && . .stack/env && set +a && $(GO) test ./syncer/consumer -run '^$$' -bench SyncerVersusBareLoop -benchtime 1x -v

bench: stack-up ## the default benchmark suite (≤ 10 min): seed, read ramps vs baselines, write/moderation delays, report in bench/out/
	set -a && . .stack/env && set +a && $(GO) run ./bench all -profile default

bench-quick: stack-up ## the same suite on a small data set (≤ 2 min)
	set -a && . .stack/env && set +a && $(GO) run ./bench all -profile quick
