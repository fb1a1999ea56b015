#!/usr/bin/env bash
# Fails when the committed generated code differs from what the types generate.
set -o errexit -o nounset -o pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

# Generate into a copy so the working tree is never touched.
tar -C "$ROOT" --exclude=./_output --exclude=./.git -cf - . | tar -C "$TMP" -xf -
"$ROOT/hack/update-codegen.sh" "$TMP" >/dev/null

status=0
for d in pkg/apis pkg/generated hack/api-rules-violations.list; do
    if ! diff -Nru "$ROOT/$d" "$TMP/$d" >"$TMP/diff.txt" 2>&1; then
        echo "generated code in $d is stale; run hack/update-codegen.sh" >&2
        head -50 "$TMP/diff.txt" >&2
        status=1
    fi
done
exit $status
