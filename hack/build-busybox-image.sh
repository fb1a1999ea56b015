#!/usr/bin/env bash
# Ensure the test image containers-apiserver/busybox:test exists, building it
# offline from Debian's busybox-static if it does not (no registry needed).
#
#   hack/build-busybox-image.sh [-H|--host DOCKER_HOST]
#
# Docker endpoint: -H/--host, else $DOCKER_HOST, else the CLI default.
# Env: CA_BUSYBOX_IMAGE overrides the image reference.
# Prints nothing on success. The image has /bin/busybox, a symlink for every
# applet (`busybox --list-full` paths: /bin/sh, /bin/echo, /usr/bin/head,
# ...), /tmp (1777), minimal /etc/passwd and /etc/group, CMD ["/bin/sh"].
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

image=${CA_BUSYBOX_IMAGE:-containers-apiserver/busybox:test}
while (($#)); do
	case $1 in
	-H | --host)
		(($# >= 2)) || ca_die "$1 needs a value"
		export DOCKER_HOST=$2
		shift 2
		;;
	--host=*) export DOCKER_HOST=${1#--host=}; shift ;;
	*) ca_die "usage: ${0##*/} [-H|--host DOCKER_HOST]" ;;
	esac
done
command -v docker >/dev/null || ca_die "docker CLI not found (run hack/ensure-docker.sh first)"
unset DOCKER_CONTEXT

out=$(docker version --format '{{.Server.Version}}' 2>&1) ||
	ca_die "no Docker engine answers at ${DOCKER_HOST:-the default host}: $out"

docker image inspect "$image" >/dev/null 2>&1 && exit 0

ensure_apt_packages busybox-static
busybox=""
for f in $(dpkg -L busybox-static | grep -E '/s?bin/busybox$'); do
	[[ -x $f ]] && busybox=$f && break
done
[[ -n $busybox ]] || ca_die "busybox-static is installed but its binary was not found"
# The binary must run without a dynamic loader inside the image.
if command -v readelf >/dev/null && LC_ALL=C readelf -l "$busybox" 2>/dev/null | grep -q 'Requesting program interpreter'; then
	ca_die "$busybox is dynamically linked (is package busybox installed instead of busybox-static?)"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
root=$tmp/rootfs
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root,proc,sys,dev,var/tmp}
chmod 1777 "$root/tmp" "$root/var/tmp"
chmod 0700 "$root/root"
install -m 0755 "$busybox" "$root/bin/busybox"

applets=$("$busybox" --list-full 2>/dev/null || "$busybox" --list | sed 's|^|bin/|')
while IFS= read -r a; do
	[[ -n $a && $a != bin/busybox ]] || continue
	# Relative link from the applet's directory to /bin/busybox.
	case $(dirname "$a") in
	bin | sbin) target=../bin/busybox ;;
	usr/bin | usr/sbin) target=../../bin/busybox ;;
	*) continue ;;
	esac
	[[ -e $root/$a || -L $root/$a ]] || ln -s "$target" "$root/$a"
done <<<"$applets"
for a in sh echo sleep cat head dd yes printf seq true false ls ps top kill wc tr od env; do
	[[ -L $root/bin/$a || -L $root/usr/bin/$a ]] || ca_die "busybox at $busybox lacks the $a applet"
done

cat >"$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat >"$root/etc/group" <<'GROUP'
root:x:0:
nogroup:x:65534:
GROUP
printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"

tar -C "$root" --sort=name --numeric-owner --owner=0 --group=0 --mtime=@0 -c . |
	docker import \
		--change 'CMD ["/bin/sh"]' \
		--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		--message "busybox-static $(dpkg-query -W -f='${Version}' busybox-static)" \
		- "$image" >/dev/null ||
	ca_die "docker import of $image failed"
docker image inspect "$image" >/dev/null 2>&1 || ca_die "$image missing right after import"
