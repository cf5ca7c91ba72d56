# ferry: `make run` starts the quickstart, `make test` runs every test.
GO ?= go
QUICKSTART := examples/quickstart

.PHONY: build run test bench bench-ssh clean

build:
	$(GO) build -trimpath -o bin/ferry ./cmd/ferry

run: build
	@sh $(QUICKSTART)/init-demo.sh
	@echo
	@echo "  ferry quickstart — open http://$${FERRY_LISTEN:-127.0.0.1:8080}"
	@echo "    web console: alice / alice-quickstart   bob / bob-quickstart"
	@echo "    API tokens:  alice: $${FERRY_ALICE_TOKEN:-quickstart-alice-token}   bob: $${FERRY_BOB_TOKEN:-quickstart-bob-token}"
	@echo "    CLI:         FERRY_TOKEN=quickstart-alice-token ./bin/ferry deploy demo to staging"
	@echo
	./bin/ferry serve --config $(QUICKSTART)/ferry.yaml

test:
	$(GO) vet ./...
	$(GO) test ./...

# Benchmarks: command throughput of the API, approval-to-first-unit latency,
# start-up time and resident memory (idle and with 10,000 deploys), storage.
bench:
	$(GO) test -run '^$$' -bench 'Command' -benchtime 3s ./cmd/ferry/
	$(GO) test -run '^$$' -bench 'ApprovalToFirstUnit' -benchtime 20x ./cmd/ferry/
	$(GO) test -run '^$$' -bench 'ServeReady' -benchtime 5x ./cmd/ferry/
	$(GO) test -run '^$$' -bench . ./storage/

clean:
	rm -rf bin $(QUICKSTART)/var

# ferry's ssh target against Ansible on 1, 10 and 50 loopback sshd hosts
# (needs openssh-server and ansible-core from Debian).
bench-ssh:
	$(GO) test -run '^$$' -bench 'VsAnsible|BenchmarkDeploy' -benchtime 1x -timeout 30m ./targets/ssh/
