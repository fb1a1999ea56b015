#!/usr/bin/env bash
# Regenerates everything under zz_generated.* and pkg/generated from the API types.
# Usage: hack/update-codegen.sh [OUTPUT_ROOT]
# With OUTPUT_ROOT (used by verify-codegen.sh) it generates into a copy of the tree there.
set -o errexit -o nounset -o pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-$ROOT}"
MODULE="$(cd "$ROOT" && go list -m)"
# `go list -m` prints an empty Dir for a module that is not in the module cache
# yet (a fresh machine), so download it first; the version is go.mod's.
(cd "$ROOT" && go mod download k8s.io/code-generator)
CODEGEN_PKG="$(cd "$ROOT" && go list -m -f '{{.Dir}}' k8s.io/code-generator)"
[[ -f $CODEGEN_PKG/kube_codegen.sh ]] || { echo "k8s.io/code-generator not found (got '$CODEGEN_PKG')" >&2; exit 1; }

# Generators go into a project-local bin so a user's GOPATH/bin is left alone.
export GOBIN="$ROOT/_output/bin"
mkdir -p "$GOBIN"

# shellcheck source=/dev/null
source "$CODEGEN_PKG/kube_codegen.sh"

cd "$OUT"
BOILERPLATE="$ROOT/hack/boilerplate.go.txt"

kube::codegen::gen_helpers --boilerplate "$BOILERPLATE" ./pkg/apis

kube::codegen::gen_openapi \
    --output-dir ./pkg/generated/openapi \
    --output-pkg "$MODULE/pkg/generated/openapi" \
    --output-model-name-file zz_generated.model_name.go \
    --report-filename ./hack/api-rules-violations.list \
    --update-report \
    --boilerplate "$BOILERPLATE" \
    ./pkg/apis

# ContainerStats names one object's stats; client-gen would call the
# plural "ContainerStatses".
kube::codegen::gen_client \
    --with-watch \
    --plural-exceptions "Endpoints:Endpoints,ContainerStats:ContainerStats" \
    --output-dir ./pkg/generated \
    --output-pkg "$MODULE/pkg/generated" \
    --boilerplate "$BOILERPLATE" \
    ./pkg/apis
