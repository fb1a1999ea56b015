# containers-apiserver: see README.md.
.PHONY: all build install run test e2e bench fuzz codegen verify-codegen verify-fresh clean

all: build

build:
	go build -o _output/bin/containers-apiserver ./cmd/apiserver

# Install the server as containers-apiserver (PREFIX=/usr/local by default).
PREFIX ?= /usr/local
install: build
	install -D -m 0755 _output/bin/containers-apiserver $(DESTDIR)$(PREFIX)/bin/containers-apiserver

run:
	hack/run.sh

test:
	hack/test.sh

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

# CI's .ci/run on a fresh clone of HEAD with empty Go caches (see hack/verify-fresh.sh).
verify-fresh:
	hack/verify-fresh.sh

clean:
	rm -rf _output
