#!/usr/bin/env bash
# Make headless Chromium available and print the path of its binary (last stdout line).
#
#   CHROMIUM=$(hack/ensure-chromium.sh | tail -n1)
#
# Installs Debian's `chromium` package with apt when it is missing (root needed
# then); does nothing else when it is already there, so it is cheap to call
# before every test run. Used by test/browser (the browser WebSocket tests).
#
# Env: CA_CHROMIUM, if set, is a Chromium binary to use instead (must exist and
# be executable); CA_APT_LOCK_TIMEOUT (see lib.sh).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

[[ $# -eq 0 ]] || ca_die "usage: ${0##*/} (no arguments)"

if [[ -n ${CA_CHROMIUM:-} ]]; then
	[[ -x $CA_CHROMIUM ]] || ca_die "CA_CHROMIUM=$CA_CHROMIUM is not an executable file"
	echo "$CA_CHROMIUM"
	exit 0
fi

ensure_apt_packages chromium

# Debian's /usr/bin/chromium is a shell wrapper that sources /etc/chromium.d
# (adding flags and Google API keys to the environment) and then execs the
# real binary. Tests want exactly their own flags, so hand back the binary.
bin=/usr/lib/chromium/chromium
if [[ ! -x $bin ]]; then
	bin=$(command -v chromium || true)
	[[ -n $bin ]] || ca_die "package chromium is installed but neither /usr/lib/chromium/chromium nor chromium on PATH exists"
fi
"$bin" --version >&2 || ca_die "$bin --version failed"
echo "$bin"
