#!/usr/bin/env bash
# Shared helpers for the hack/ scripts. Source it, do not execute it:
#
#   source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
#
# Conventions: every diagnostic goes to stderr; stdout is reserved for the
# values a script hands back (e.g. a DOCKER_HOST) so callers can parse it.
#
# Program logic (subnets, bridges, private dockerds, /proc) is Go, run
# through ca_tool (hack/tools/catool); bash keeps the apt bootstrap and glue.
#
# Environment understood by the helpers and catool:
#   CA_STATE_DIR              base dir for daemon state (default /tmp/containers-apiserver)
#   CA_DOCKERD_START_TIMEOUT  seconds to wait for a dockerd to answer (default 60)
#   CA_DOCKERD_STOP_TIMEOUT   seconds to wait after SIGTERM before SIGKILL (default 45)
#   CA_DOCKERD_EXTRA_ARGS     extra dockerd flags (whitespace-split), used only when a
#                             daemon is actually started, e.g. "--live-restore --debug"
#   CA_APT_LOCK_TIMEOUT       seconds apt waits for a dpkg lock held by another apt (default 600)

# Sbin dirs are often missing from a non-login PATH (e.g. `go test`), but ip,
# dockerd, runc and docker-proxy live there.
case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin" ;; esac
export PATH

CA_STATE_BASE="${CA_STATE_DIR:-/tmp/containers-apiserver}"

ca_log() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
ca_die() { ca_log "ERROR: $*"; exit 1; }

# ca_wait_until TIMEOUT_SECONDS CMD [ARGS...]
# Runs CMD every 0.25s until it succeeds (returns 0) or the deadline passes
# (returns 1). CMD's output is not redirected.
ca_wait_until() {
	local timeout=$1
	shift
	local deadline=$((SECONDS + timeout))
	while :; do
		if "$@"; then return 0; fi
		if ((SECONDS >= deadline)); then return 1; fi
		sleep 0.25
	done
}

ca_require_root() {
	[[ $(id -u) -eq 0 ]] || ca_die "$* needs root (run as root or via sudo)"
}

# ensure_apt_packages PKG... : installs the packages that are not installed.
# `apt-get update` runs at most once per script run, and only when something
# is missing. Waits for a concurrently running apt/dpkg instead of failing.
CA_APT_UPDATED=""
ensure_apt_packages() {
	local missing=() p
	for p in "$@"; do
		if [[ $(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null) != installed ]]; then
			missing+=("$p")
		fi
	done
	((${#missing[@]})) || return 0
	command -v apt-get >/dev/null || ca_die "missing packages (${missing[*]}) and no apt-get to install them"
	ca_require_root "installing ${missing[*]}"
	ca_log "installing ${missing[*]} (apt)"
	local out rc lock_timeout=${CA_APT_LOCK_TIMEOUT:-600}
	out=$(mktemp)
	local -a apt=(apt-get -q -o DPkg::Lock::Timeout="$lock_timeout")
	for _ in 1 2 3 4 5; do
		rc=0
		if [[ -z $CA_APT_UPDATED ]]; then
			DEBIAN_FRONTEND=noninteractive "${apt[@]}" update >"$out" 2>&1 || rc=$?
			((rc == 0)) && CA_APT_UPDATED=1
		fi
		if ((rc == 0)); then
			DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y --no-install-recommends \
				-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
				"${missing[@]}" >>"$out" 2>&1 || rc=$?
		fi
		((rc == 0)) && break
		# The lists lock is not covered by DPkg::Lock::Timeout: retry on lock errors.
		grep -qiE 'could not get lock|unable to lock|is another process using it' "$out" || break
		ca_log "apt is busy (another apt running?), retrying in 10s"
		sleep 10
	done
	if ((rc != 0)); then
		tail -n 30 "$out" >&2
		rm -f "$out"
		ca_die "apt-get failed to install: ${missing[*]}"
	fi
	rm -f "$out"
}

# ca_docker_answers HOST : true if `docker -H HOST version` reaches a daemon.
ca_docker_answers() {
	command -v docker >/dev/null || return 1
	env -u DOCKER_CONTEXT timeout 15 docker -H "$1" version --format '{{.Server.Version}}' >/dev/null 2>&1
}

# ca_ensure_docker_binaries : dockerd, containerd, runc and the docker CLI.
ca_ensure_docker_binaries() {
	local pkgs=()
	command -v dockerd >/dev/null || pkgs+=(docker.io containerd runc iptables tini)
	command -v docker >/dev/null || pkgs+=(docker.io)
	command -v containerd >/dev/null || pkgs+=(containerd)
	command -v runc >/dev/null || pkgs+=(runc)
	command -v ip >/dev/null || pkgs+=(iproute2)
	# Kernels with AppArmor on make dockerd load a profile via apparmor_parser.
	if [[ $(cat /sys/module/apparmor/parameters/enabled 2>/dev/null) == Y ]] && ! command -v apparmor_parser >/dev/null; then
		pkgs+=(apparmor)
	fi
	((${#pkgs[@]} == 0)) || mapfile -t pkgs < <(printf '%s\n' "${pkgs[@]}" | sort -u)
	((${#pkgs[@]} == 0)) || ensure_apt_packages "${pkgs[@]}"
}

# ca_prepare_state_base : create $CA_STATE_BASE, refusing one owned by someone else.
ca_prepare_state_base() {
	if [[ -L $CA_STATE_BASE ]]; then ca_die "$CA_STATE_BASE is a symlink; refusing to use it"; fi
	mkdir -p "$CA_STATE_BASE"
	[[ $(stat -c %u "$CA_STATE_BASE") == "$(id -u)" ]] || ca_die "$CA_STATE_BASE is not owned by uid $(id -u)"
}

# ca_integration_env : what the integration tests need, started and exported:
# DOCKER_HOST (hack/ensure-docker.sh), the busybox test image, and
# CA_TEST_REGISTRY (hack/start-registry.sh) for the pull and push tests.
ca_integration_env() {
	local hack
	hack=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
	echo "== Docker engine and test image"
	DOCKER_HOST=$("$hack/ensure-docker.sh" | tail -n1)
	export DOCKER_HOST
	"$hack/build-busybox-image.sh" -H "$DOCKER_HOST"
	echo "== local registry (image pull and push tests)"
	CA_TEST_REGISTRY=$("$hack/start-registry.sh" | tail -n1)
	export CA_TEST_REGISTRY
}

# ---------------------------------------------------------------------------
# Program logic: hack/tools/catool
#
# Subnet picking, bridges, private dockerd instances (start, stop, reaping
# what a killed one left behind) and /proc scanning are Go: hack/tools/catool
# over test/testenv/hostenv, which test/testenv calls directly. The state dir
# layout is in hostenv's package doc.

CA_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# ca_tool ARGS... : runs catool, built into _output/bin/catool when it is
# missing or older than its sources. Its diagnostics carry this script's name.
ca_tool() {
	local bin=$CA_ROOT/_output/bin/catool tmp
	if [[ ! -x $bin || -n $(find "$CA_ROOT/hack/tools/catool" "$CA_ROOT/test/testenv/hostenv" \
		"$CA_ROOT/go.mod" "$CA_ROOT/go.sum" -newer "$bin" -print -quit 2>/dev/null) ]]; then
		command -v go >/dev/null || PATH=$PATH:/usr/local/go/bin
		command -v go >/dev/null || ca_die "go is needed to build hack/tools/catool"
		mkdir -p "${bin%/*}"
		# Built aside and renamed over: another script may be running the old one.
		tmp=$(mktemp "$bin.XXXXXX")
		if ! (cd "$CA_ROOT" && go build -o "$tmp" ./hack/tools/catool); then
			rm -f "$tmp"
			ca_die "building hack/tools/catool failed"
		fi
		mv -f "$tmp" "$bin"
	fi
	CA_LOG_NAME=${0##*/} "$bin" "$@"
}
