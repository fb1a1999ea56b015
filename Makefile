# containers-apiserver: see README.md.
.PHONY: all build install run test test-unit test-integration e2e bench fuzz codegen verify-codegen verify lint verify-imports verify-fresh clean

all: build

build:
	go build -o _output/bin/containers-apiserver ./cmd/apiserver
	go build -o _output/bin/kubectl-container ./cmd/kubectl-container

# Install the server as containers-apiserver and the kubectl plugin as
# kubectl-container (PREFIX=/usr/local by default; kubectl finds the plugin on PATH).
PREFIX ?= /usr/local
install: build
	install -D -m 0755 _output/bin/containers-apiserver $(DESTDIR)$(PREFIX)/bin/containers-apiserver
	install -D -m 0755 _output/bin/kubectl-container $(DESTDIR)$(PREFIX)/bin/kubectl-container

run:
	hack/run.sh

# Everything: checks, unit and integration tests (-tags integration: a real
# dockerd, Chromium, root) and the e2e suite.
test:
	hack/test.sh

# Hermetic unit tests only: no root, no dockerd, no network.
test-unit:
	go test -race ./...

# Only the packages with tests behind the integration build tag, with a real dockerd.
test-integration:
	hack/test-integration.sh

# End-to-end: etcd + kube-apiserver + this server behind an APIService (see hack/e2e.sh).
e2e:
	hack/e2e.sh

bench:
	hack/bench.sh

# Fuzz every Go fuzz target for FUZZTIME each (default 60s); `make test` only replays their seeds.
fuzz:
	hack/fuzz.sh

codegen:
	hack/update-codegen.sh

verify-codegen:
	hack/verify-codegen.sh

# Static checks: gofmt, go vet (also with the e2e and integration tags), generated
# code current, golangci-lint (see hack/verify.sh).
verify:
	hack/verify.sh

# golangci-lint at its pinned version, built once into _output/bin (hack/lint.sh).
lint:
	hack/lint.sh

# The import rules of the engine seam (test/architecture); also in `make verify`.
verify-imports:
	go test -count=1 ./test/architecture/

# CI's .ci/run on a fresh clone of HEAD with empty Go caches (see hack/verify-fresh.sh).
verify-fresh:
	hack/verify-fresh.sh

clean:
	rm -rf _output
