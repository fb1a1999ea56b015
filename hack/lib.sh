#!/usr/bin/env bash
# Shared helpers for the hack/ scripts. Source it, do not execute it:
#
#   source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
#
# Conventions: every diagnostic goes to stderr; stdout is reserved for the
# values a script hands back (e.g. a DOCKER_HOST) so callers can parse it.
#
# Environment understood by the helpers:
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

# ---------------------------------------------------------------------------
# Bridges and subnets

ca_ip_to_int() {
	local a b c d
	IFS=. read -r a b c d <<<"$1"
	echo $(((a << 24) | (b << 16) | (c << 8) | d))
}

# Prefixes in use on this host (routes in all tables + interface addresses).
ca_used_prefixes() {
	{
		ip -4 -o route show table all 2>/dev/null | awk '$1 == "default" {next}
			{for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+(\/[0-9]+)?$/) {print $i; break}}'
		ip -4 -o addr show 2>/dev/null | awk '{print $4}'
	} | sort -u
}

# ca_subnet24_free A.B.C.0 USED_PREFIXES : true if A.B.C.0/24 overlaps none of them.
ca_subnet24_free() {
	local cand used p net len m mask
	cand=$(ca_ip_to_int "$1")
	while IFS= read -r p; do
		[[ -n $p ]] || continue
		net=${p%/*}
		len=32
		[[ $p == */* ]] && len=${p#*/}
		((len > 0)) || continue
		m=$((len < 24 ? len : 24))
		mask=$(((0xFFFFFFFF << (32 - m)) & 0xFFFFFFFF))
		if (((cand & mask) == ($(ca_ip_to_int "$net") & mask))); then return 1; fi
	done <<<"$2"
	return 0
}

# ca_pick_subnet SEED : prints a free "10.B.C.1/24" (gateway/prefix); SEED spreads names apart.
ca_pick_subnet() {
	local used start b i c
	used=$(ca_used_prefixes)
	start=$(($(printf '%s' "$1" | cksum | cut -d' ' -f1) % 256))
	for b in 213 214 215 216 217 218 219; do
		for ((i = 0; i < 256; i++)); do
			c=$(((start + i) % 256))
			if ca_subnet24_free "10.$b.$c.0" "$used"; then
				echo "10.$b.$c.1/24"
				return 0
			fi
		done
	done
	return 1
}

ca_bridge_addr() { ip -4 -o addr show dev "$1" 2>/dev/null | awk '{print $4; exit}'; }

# ca_ensure_bridge NAME CIDR_FILE : make sure bridge NAME exists, is up and
# has an IPv4 /24 that collides with nothing. The chosen gateway/prefix is
# remembered in CIDR_FILE and preferred next time. Serialised host-wide so
# parallel callers never pick the same subnet.
ca_ensure_bridge() {
	local name=$1 cidr_file=$2 addr="" lockfd
	exec {lockfd}>"$CA_STATE_BASE/.network.lock"
	flock -w 120 "$lockfd" || ca_die "timed out waiting for $CA_STATE_BASE/.network.lock"
	if ip link show dev "$name" >/dev/null 2>&1; then
		ip -d link show dev "$name" | grep -qw bridge || ca_die "interface $name exists but is not a bridge"
		addr=$(ca_bridge_addr "$name")
	else
		ip link add name "$name" type bridge || ca_die "cannot create bridge $name"
	fi
	if [[ -z $addr ]]; then
		local want=""
		[[ -s $cidr_file ]] && want=$(<"$cidr_file")
		if [[ $want =~ ^10\.[0-9]+\.[0-9]+\.1/24$ ]] && ca_subnet24_free "${want%.1/24}.0" "$(ca_used_prefixes)"; then
			addr=$want
		elif [[ $want =~ ^10\.[0-9]+\.[0-9]+\.1/24$ && -e $(dirname "$cidr_file")/data/network/files/local-kv.db ]]; then
			# dockerd re-applies the subnet stored in its network db to the
			# bridge on restart, whatever we put there: keep it, but say so.
			addr=$want
			ca_log "WARNING: $want (bridge $name) now overlaps a host route; dockerd keeps it because it is stored in $(dirname "$cidr_file")/data/network (delete that dir, or --purge, for a new subnet)"
		else
			addr=$(ca_pick_subnet "$name") || ca_die "no free 10.213-219.x.0/24 subnet for bridge $name"
		fi
		ip addr add "$addr" dev "$name" || ca_die "cannot add $addr to bridge $name"
	fi
	ip link set dev "$name" up || ca_die "cannot bring bridge $name up"
	echo "$addr" >"$cidr_file"
	exec {lockfd}>&-
}

# ca_remove_bridge NAME : delete bridge NAME if present (only call for bridges we own).
ca_remove_bridge() {
	if ip link show dev "$1" >/dev/null 2>&1; then
		ip link del dev "$1" || ca_die "cannot delete bridge $1"
	fi
}

# ---------------------------------------------------------------------------
# Private dockerd instances
#
# Layout of a daemon state dir DIR:
#   DIR/docker.sock   API socket (DOCKER_HOST=unix://DIR/docker.sock)
#   DIR/docker.pid    dockerd pidfile
#   DIR/dockerd.log   dockerd stdout+stderr (appended, one banner per start)
#   DIR/data/         --data-root (images, containers, volumes: survives restarts)
#   DIR/exec/         --exec-root (runtime state, managed containerd)
#   DIR/daemon.json   empty config, so /etc/docker/daemon.json is not read
#   DIR/bridge.cidr   gateway/prefix of the daemon's bridge

# ca_dockerd_pid DIR : prints the pid of DIR's dockerd if it is running.
ca_dockerd_pid() {
	local pidfile=$1/docker.pid pid
	[[ -s $pidfile ]] || return 1
	pid=$(<"$pidfile")
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	# Must be a dockerd started with this very pidfile (pids get reused).
	tr '\0' '\n' 2>/dev/null <"/proc/$pid/cmdline" | grep -qxF -- "$pidfile" || return 1
	echo "$pid"
}

ca_dockerd_log_tail() {
	if [[ -s $1/dockerd.log ]]; then
		ca_log "last lines of $1/dockerd.log:"
		tail -n 40 "$1/dockerd.log" >&2
	fi
}

# ca_bridge_owner_check BRIDGE PIDFILE : die if another running dockerd (one
# with a different pidfile, e.g. from another CA_STATE_DIR) uses BRIDGE.
ca_bridge_owner_check() {
	local bridge=$1 pidfile=$2 f i other_bridge other_pidfile
	local -a args
	for f in /proc/[0-9]*/cmdline; do
		[[ $(cat "${f%/cmdline}/comm" 2>/dev/null) == dockerd ]] || continue
		mapfile -d '' -t args 2>/dev/null <"$f" || continue
		other_bridge="" other_pidfile=""
		for ((i = 0; i < ${#args[@]}; i++)); do
			case ${args[i]} in
			--bridge | -b) other_bridge=${args[i + 1]:-} ;;
			--bridge=*) other_bridge=${args[i]#--bridge=} ;;
			--pidfile | -p) other_pidfile=${args[i + 1]:-} ;;
			--pidfile=*) other_pidfile=${args[i]#--pidfile=} ;;
			esac
		done
		if [[ $other_bridge == "$bridge" && $other_pidfile != "$pidfile" ]]; then
			ca_die "bridge $bridge is already used by dockerd pid $(basename "${f%/cmdline}") (pidfile ${other_pidfile:-default}); stop it or use the same CA_STATE_DIR"
		fi
	done
}

# ca_dockerd_ensure DIR BRIDGE CONTAINERD_NAMESPACE
# Starts (or reuses) a dockerd whose state lives in DIR, attached to BRIDGE.
# Prints unix://DIR/docker.sock on stdout once `docker version` answers.
ca_dockerd_ensure() {
	local dir=$1 bridge=$2 ns=$3
	local sock=$dir/docker.sock pidfile=$dir/docker.pid log=$dir/dockerd.log
	local timeout=${CA_DOCKERD_START_TIMEOUT:-60} pid lockfd
	local -a extra=()
	read -r -a extra <<<"${CA_DOCKERD_EXTRA_ARGS:-}"
	ca_require_root "running a private dockerd"
	ca_prepare_state_base
	mkdir -p "$dir"
	# Unix socket paths are limited to 108 bytes; containerd's ttrpc one is the longest.
	local longest="$dir/exec/containerd/containerd.sock.ttrpc"
	((${#longest} < 108)) || ca_die "state dir $dir is too long for unix socket paths; use a shorter CA_STATE_DIR or name"

	exec {lockfd}>"$dir/.lock"
	flock -w $((timeout + 60)) "$lockfd" || ca_die "timed out waiting for $dir/.lock"

	if pid=$(ca_dockerd_pid "$dir"); then
		# Already running (maybe still starting up): reuse it.
		if ca_wait_until "$timeout" ca_docker_answers "unix://$sock"; then
			exec {lockfd}>&-
			echo "unix://$sock"
			return 0
		fi
		ca_dockerd_log_tail "$dir"
		ca_die "dockerd (pid $pid, $dir) is running but does not answer on $sock after ${timeout}s"
	fi

	rm -f "$pidfile"
	ca_stop_orphan_containerd "$dir"
	ca_bridge_owner_check "$bridge" "$pidfile"
	[[ -s $dir/daemon.json ]] || echo '{}' >"$dir/daemon.json"
	ca_ensure_bridge "$bridge" "$dir/bridge.cidr"
	mkdir -p "$dir/data" "$dir/exec"
	printf '=== %s starting dockerd (bridge %s %s) %s\n' "$(date -Is)" "$bridge" "$(<"$dir/bridge.cidr")" "${extra[*]}" >>"$log"
	# setsid: own session, so the daemon survives the caller's process group
	# being killed; all fds point away from the caller (a `go test` reading our
	# stdout must see EOF) and the lock fd is not inherited.
	setsid dockerd \
		--host "unix://$sock" \
		--config-file "$dir/daemon.json" \
		--data-root "$dir/data" \
		--exec-root "$dir/exec" \
		--pidfile "$pidfile" \
		--bridge "$bridge" \
		--iptables=false \
		--containerd-namespace "$ns" \
		--containerd-plugins-namespace "$ns-plugins" \
		"${extra[@]}" \
		</dev/null >>"$log" 2>&1 {lockfd}>&- &
	local launched=$!

	local deadline=$((SECONDS + timeout))
	until ca_docker_answers "unix://$sock"; do
		if ! kill -0 "$launched" 2>/dev/null && ! ca_dockerd_pid "$dir" >/dev/null; then
			ca_dockerd_log_tail "$dir"
			ca_die "dockerd for $dir exited during startup"
		fi
		if ((SECONDS >= deadline)); then
			ca_dockerd_log_tail "$dir"
			ca_die "dockerd for $dir did not answer on $sock within ${timeout}s (pid $launched still running)"
		fi
		sleep 0.25
	done
	exec {lockfd}>&-
	echo "unix://$sock"
}

# A dockerd killed with SIGKILL can leave its containerd running, half shut
# down; a new dockerd then finds "containerd is still running", cannot reach
# its socket and fails to start. Stop such an orphan first (the containers'
# shims are separate processes and survive).
ca_stop_orphan_containerd() {
	local dir=$1 cpidfile=$1/exec/containerd/containerd.pid cpid
	[[ -s $cpidfile ]] || return 0
	cpid=$(<"$cpidfile")
	[[ $cpid =~ ^[0-9]+$ ]] && kill -0 "$cpid" 2>/dev/null || return 0
	ca_log "stopping containerd $cpid left by a previous dockerd for $dir"
	kill -TERM "$cpid" 2>/dev/null || true
	if ! ca_wait_until 10 ca_pid_gone "$cpid"; then
		kill -KILL "$cpid" 2>/dev/null || true
		ca_wait_until 10 ca_pid_gone "$cpid" || ca_die "containerd $cpid for $dir does not exit"
	fi
	rm -f "$cpidfile"
}

# Pids of processes whose command line mentions PATTERN (fixed string).
ca_pids_mentioning() {
	grep -laF -- "$1" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3 | grep -vx -- "$$" || true
}

# A zombie (exited, not yet reaped by its new parent) counts as gone.
ca_pid_gone() {
	kill -0 "$1" 2>/dev/null || return 0
	[[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) == Z ]]
}

# ca_dockerd_stop DIR BRIDGE [purge]
# SIGTERM, wait, SIGKILL; then kill whatever the daemon left behind after an
# unclean death (its managed containerd, shims and container processes),
# unmount its mounts, delete BRIDGE and, with "purge", the whole DIR.
ca_dockerd_stop() {
	local dir=$1 bridge=$2 purge=${3:-} pid lockfd
	local timeout=${CA_DOCKERD_STOP_TIMEOUT:-45}
	ca_require_root "stopping a private dockerd"
	if [[ -d $dir ]]; then
		exec {lockfd}>"$dir/.lock"
		flock -w 120 "$lockfd" || ca_die "timed out waiting for $dir/.lock"
		if pid=$(ca_dockerd_pid "$dir"); then
			kill -TERM "$pid" 2>/dev/null || true
			if ! ca_wait_until "$timeout" ca_pid_gone "$pid"; then
				ca_log "dockerd $pid ignored SIGTERM for ${timeout}s, sending SIGKILL"
				kill -KILL "$pid" 2>/dev/null || true
				ca_wait_until 10 ca_pid_gone "$pid" || ca_die "dockerd $pid survived SIGKILL"
			fi
		fi
		# Leftovers: containers (via runc state), shims and containerd all
		# mention DIR/exec on their command line or in their state.
		local r id
		for r in "$dir"/exec/runtime-*/*; do
			[[ -d $r ]] || continue
			for id in $(runc --root "$r" list -q 2>/dev/null); do
				runc --root "$r" kill "$id" KILL >/dev/null 2>&1 || true
			done
		done
		local left
		left=$(ca_pids_mentioning "$dir/exec/")
		if [[ -n $left ]]; then
			# shellcheck disable=SC2086
			kill -KILL $left 2>/dev/null || true
			local p
			for p in $left; do ca_wait_until 10 ca_pid_gone "$p" || true; done
		fi
		# Mounts (netns, overlay, shm) left behind by an unclean exit, deepest first.
		local mnt
		awk -v d="$dir/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r |
			while IFS= read -r mnt; do umount -l "$mnt" 2>/dev/null || true; done
		rm -f "$dir/docker.pid" "$dir/docker.sock"
		exec {lockfd}>&-
	fi
	ca_remove_bridge "$bridge"
	if [[ $purge == purge && -d $dir ]]; then
		rm -rf "$dir" || ca_die "cannot remove $dir"
	fi
}

# test_dockerd_bridge NAME : bridge name for test daemon NAME (<= 15 chars,
# never cadocker0): cat-NAME if that fits, else cat-<first 4><7 hex of sha256>.
test_dockerd_bridge() {
	local safe
	safe=$(printf '%s' "$1" | tr -c 'A-Za-z0-9_-' '-')
	if [[ $safe == "$1" && ${#safe} -le 11 ]]; then
		echo "cat-$safe"
	else
		echo "cat-${safe:0:4}$(printf '%s' "$1" | sha256sum | cut -c1-7)"
	fi
}
