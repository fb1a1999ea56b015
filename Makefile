# containers-apiserver: see README.md.
.PHONY: all build install run test bench codegen verify-codegen clean

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

bench:
	hack/bench.sh

codegen:
	hack/update-codegen.sh

verify-codegen:
	hack/verify-codegen.sh

clean:
	rm -rf _output
