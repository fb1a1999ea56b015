// Package hostenv is the host-level plumbing of the tests and the hack/
// scripts, in Go rather than bash: private dockerd instances (state dirs,
// pidfiles, logs, bridges on free /24 subnets), processes found through
// /proc, and the reaping of what a killed daemon leaves behind.
//
// The hack/ scripts reach it through hack/tools/catool and keep only the
// apt bootstrap and argument glue; test/testenv calls it directly, so no
// test parses a script's standard output.
//
// Layout of a daemon state dir DIR (the same as the bash it replaces, so a
// daemon started by either is found and stopped by the other):
//
//	DIR/docker.sock   API socket (DOCKER_HOST=unix://DIR/docker.sock)
//	DIR/docker.pid    dockerd pidfile
//	DIR/dockerd.log   dockerd stdout+stderr (appended, one banner per start)
//	DIR/data/         --data-root (images, containers, volumes: survives restarts)
//	DIR/exec/         --exec-root (runtime state, managed containerd)
//	DIR/daemon.json   empty config, so /etc/docker/daemon.json is not read
//	DIR/bridge.cidr   gateway/prefix of the daemon's bridge
//	DIR/bridge        the bridge's name (test daemons only)
//	DIR/.lock         flock(2) held while the daemon is started or stopped
//
// Everything here is Linux-only, like the daemons it manages.
package hostenv
