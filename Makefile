# vidcomments — the two commands that matter: `make demo` and `make test`.
SHELL := /bin/bash
GO    ?= go
# Integration tests share two cores with four servers: keep them patient.
TEST_FLAGS ?= -count=1 -timeout 25m

.PHONY: help stack-up stack-down stack-status up down status demo test test-unit chaos cluster-up cluster-down test-cluster bench-ring bench-onetruth lint fuzz fuzz-1m bench bench-quick bench-hot bench-read bench-write bench-syncer bench-capacity

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-13s %s\n", $$1, $$2}'

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

test: stack-up ## start the stack, run every test against it, then a short chaos run (7 kills)
	set -a && . .stack/env && set +a && $(GO) test $(TEST_FLAGS) ./...
	@# After the tests, never beside them: chaos restarts the stack's servers.
	set -a && . .stack/env && set +a && $(GO) run ./bench chaos -short

cluster-up: stack-up ## the cluster topology beside the stack: Redis Cluster :6380-6382, topic comments-cluster (6 partitions); CASSANDRA=1 adds a 2-node Cassandra (RF=2)
	scripts/stack cluster-up $(if $(CASSANDRA),--cassandra)

cluster-down: ## stop the cluster topology (the stack keeps running)
	scripts/stack cluster-down

test-cluster: cluster-up ## read, write, moderation and invalidation tests on the cluster topology (docs/cluster.md)
	set -a && . .stack/env && . .stack/cluster.env && set +a && \
	  $(GO) test $(TEST_FLAGS) ./internal/pagecache/... ./internal/profiles/... ./readsvc/... ./writesvc/... ./cdc/... ./syncer/consumer/... && \
	  $(GO) test $(TEST_FLAGS) ./syncer -run 'TestTwoProcessesShareThePartitions' && \
	  $(GO) test $(TEST_FLAGS) ./internal/e2e -run 'TestPostedCommentsBecomeVisible|TestModerationFreshness|TestFeatures'

chaos: stack-up ## kill -9 the services and restart the servers under load (24 kills), then count lost/duplicated/stale
	set -a && . .stack/env && set +a && $(GO) run ./bench chaos -kills 24

test-unit: ## only the tests that need no server
	$(GO) test -short -count=1 ./...

lint: ## gofmt, go vet, shellcheck when installed
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@if command -v shellcheck >/dev/null; then shellcheck scripts/stack scripts/services .ci/run; else echo "shellcheck not installed; skipped"; fi

FUZZTIME ?= 30s
FUZZPARALLEL ?= 2
fuzz: ## run every fuzz target for FUZZTIME each (seed corpora live in testdata/fuzz beside the tests)
	@set -e; for pkg in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
	  for f in $$(grep -h '^func Fuzz' $$pkg/*_test.go | sed 's/func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do \
	    echo "== $$pkg $$f"; $(GO) test $$pkg -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) -parallel $(FUZZPARALLEL) -timeout 0; \
	  done; \
	done

fuzz-1m: ## every fuzz target to one million executions (docs/fuzzing.md)
	$(MAKE) fuzz FUZZTIME=1000000x

bench-ring: cluster-up ## 1 vs 3 readsvc (groupcache ring) on the Redis Cluster: hot-page throughput, backfills per 1,000 cold requests
	set -a && . .stack/env && . .stack/cluster.env && set +a && $(GO) run ./bench ring -profile default

bench-onetruth: stack-up ## plain-SQL change → Cassandra latency over 200 hand-written changes (p50/p90/p99), through the real four services
	set -a && . .stack/env && set +a && VC_ONETRUTH_CHANGES=200 $(GO) test -count=1 ./internal/e2e -run '^TestPlainSQLToCassandraLatency$$' -v | grep -E 'plain SQL|^(ok|FAIL|---)'

bench-read: stack-up ## readsvc hot page vs a static handler vs the Redis tier alone; with wrk against a null handler; the p99 at half the static rate (wrk held to the rate); allocs of one hit
	set -a && . .stack/env && set +a && $(GO) test ./readsvc/api -run '^$$' -bench 'HotPage$$' -benchtime 20000x -count 3 -v
	set -a && . .stack/env && set +a && $(GO) test ./readsvc/api -run '^$$' -bench 'HotPageWrk' -benchtime 1x -v
	set -a && . .stack/env && set +a && $(GO) test ./readsvc/api -run '^$$' -bench 'HotPageHalfRate' -benchtime 1x -v
	set -a && . .stack/env && set +a && $(GO) test ./readsvc/api -run '^$$' -bench 'HotPageHit' -benchmem

bench-write: stack-up ## accepted comments/s at concurrency 64 vs a bare loop of the same transaction (BEGIN, the INSERT, COMMIT)
	set -a && . .stack/env && set +a && $(GO) test ./writesvc -run '^$$' -bench AcceptComments -benchtime 5000x -v

bench-syncer: stack-up ## applied events/s vs a bare gocql loop doing the same writes
	set -a && . .stack/env && set +a && $(GO) test ./syncer/consumer -run '^$$' -bench SyncerVersusBareLoop -benchtime 1x -v

bench: stack-up ## the default benchmark suite (≤ 10 min): seed, read ramps vs baselines, write/moderation delays, report in bench/out/
	set -a && . .stack/env && set +a && $(GO) run ./bench all -profile default

bench-quick: stack-up ## the same suite on a small data set (≤ 2 min)
	set -a && . .stack/env && set +a && $(GO) run ./bench all -profile quick

bench-hot: stack-up ## sort=hot on one 1,000,000-comment video with Zipf likes: warm page throughput, cold backfill p99 (report in bench/out/)
	set -a && . .stack/env && set +a && $(GO) run ./bench hot -profile default

CAPACITY_OUT := bench/out/$(shell date -u +%Y%m%dT%H%M%SZ)-capacity
bench-capacity: cluster-up ## every figure of docs/capacity.md: per-core figures of readsvc, Redis, Cassandra, Kafka, MariaDB; 1 vs 3 readsvc behind HAProxy; the sizing tables (in bench/out/*-capacity/)
	mkdir -p $(CAPACITY_OUT)
	set -o pipefail && set -a && . .stack/env && set +a && { date -u && \
	  $(GO) test ./readsvc/api -run '^$$' -bench 'TierPerCore|HotPageWrk' -benchtime 1x -v && \
	  $(GO) test ./writesvc -run '^$$' -bench AcceptComments -benchtime 5000x -v && \
	  $(GO) test ./syncer/consumer -run '^$$' -bench 'SyncerVersusBareLoop/new' -benchtime 1x -v; } 2>&1 | tee $(CAPACITY_OUT)/bench.log
	set -a && . .stack/env && . .stack/cluster.env && set +a && $(GO) run ./bench ring -profile quick -out $(CAPACITY_OUT)/ring
	set -o pipefail && $(GO) run ./bench capacity -log $(CAPACITY_OUT)/bench.log -ring $(CAPACITY_OUT)/ring | tee $(CAPACITY_OUT)/capacity.md
