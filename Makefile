# ferry: `make run` starts the quickstart, `make test` runs every test.
GO ?= go
QUICKSTART := examples/quickstart
# A throw-away Kubernetes control plane on 127.0.0.1 for the kubernetes
# target's tests: built once into K8S_TEST_CACHE (~/.cache/k8s-test-cluster),
# started for the run, stopped when it ends, pass or fail.
WITH_K8S := targets/kubernetes/kubetest/cluster/with-test-cluster.sh

.PHONY: build run test fuzz bench bench-intake bench-flood bench-ssh bench-k8s clean

build:
	$(GO) build -trimpath -o bin/ferry ./cmd/ferry

run: build
	@sh $(QUICKSTART)/init-demo.sh
	@echo
	@echo "  ferry quickstart — open http://$${FERRY_LISTEN:-127.0.0.1:8080}"
	@echo "    web console: alice / alice-quickstart   bob / bob-quickstart"
	@echo "    API tokens:  alice: $${FERRY_ALICE_TOKEN:-quickstart-alice-token}   bob: $${FERRY_BOB_TOKEN:-quickstart-bob-token}"
	@echo "    CLI:         FERRY_TOKEN=quickstart-alice-token ./bin/ferry deploy demo to dev"
	@echo
	./bin/ferry serve --config $(QUICKSTART)/ferry.yaml

# The store's tests run twice: on SQLite and, FERRY_TEST_STORE=postgres,
# on a throw-away PostgreSQL (storage/pgtest).
test:
	$(WITH_K8S) sh -c '$(GO) vet ./... && $(GO) test ./... && FERRY_TEST_STORE=postgres $(GO) test -count=1 ./storage/'

# Fuzzing, not part of test (go test runs the fuzz targets' seeds only):
# each fuzz target (func Fuzz… of a _test.go) in turn for FUZZTIME. A
# failing input is kept in the package's testdata/fuzz/ and stops the run.
# FUZZFLAGS go to go test: minimizing a new input takes up to 60 s by
# default, most of a short run, here 200 tries; add -parallel 1 on a
# shared machine.
FUZZTIME ?= 30s
FUZZFLAGS ?= -fuzzminimizetime 200x
fuzz:
	@grep -r --include='*_test.go' -o '^func Fuzz[A-Za-z0-9_]*' . | sort | while IFS=: read -r file fn; do \
		pkg=./$$(dirname $${file#./}); name=$${fn#func }; \
		echo "$$pkg $$name for $(FUZZTIME)"; \
		$(GO) test $$pkg -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $(FUZZFLAGS) || exit 1; \
	done

# Benchmarks: command throughput of the API, approval-to-first-unit latency,
# start-up time and resident memory (idle and with 10,000 deploys), storage.
bench:
	$(GO) test -run '^$$' -bench 'Command' -benchtime 3s ./cmd/ferry/
	$(GO) test -run '^$$' -bench 'ApprovalToFirstUnit' -benchtime 20x ./cmd/ferry/
	$(GO) test -run '^$$' -bench 'ServeReady' -benchtime 5x ./cmd/ferry/
	$(GO) test -run '^$$' -bench . ./storage/

# Webhook intake of a running bin/ferry: one forge's real deliveries, accepted and rejected, closed and open loop.
# FORGE=github (28 KB pull_request, the default), gitlab or gitee (Merge Request Hook); bench-intake-forges runs all three.
FORGE ?= github

bench-intake:
	$(GO) build -trimpath -o bin/ferry ./cmd/ferry
	$(GO) run ./bench/intake --ferry bin/ferry --forge $(FORGE)

# The same on a throw-away PostgreSQL (Debian's postgresql, every commit
# on disk) on the same machine.
.PHONY: bench-intake-postgres
bench-intake-postgres:
	$(GO) build -trimpath -o bin/ferry ./cmd/ferry
	$(GO) run ./bench/intake --ferry bin/ferry --forge $(FORGE) --postgres

.PHONY: bench-intake-forges
bench-intake-forges:
	$(GO) build -trimpath -o bin/ferry ./cmd/ferry
	for f in github gitlab gitee; do $(GO) run ./bench/intake --ferry bin/ferry --forge $$f || exit 1; done

bench-flood:
	$(GO) build -trimpath -o bin/ferry ./cmd/ferry
	$(GO) run ./bench/intake --ferry bin/ferry --flood 50

clean:
	rm -rf bin $(QUICKSTART)/var

# The kubernetes target on the local cluster: approval to patch, watch
# latency and API requests of a 10-replica deploy in 3 batches.
bench-k8s:
	$(WITH_K8S) $(GO) test -run '^$$' -bench . -benchtime 5x ./targets/kubernetes/

# ferry's ssh target against Ansible on 1, 10 and 50 loopback sshd hosts
# (needs openssh-server and ansible-core from Debian).
bench-ssh:
	$(GO) test -run '^$$' -bench 'VsAnsible|BenchmarkDeploy' -benchtime 1x -timeout 30m ./targets/ssh/
