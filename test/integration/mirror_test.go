//go:build integration

package integration

// Tests of the Docker mirror (pkg/engine/docker) against a real dockerd and the
// in-memory store. They wait on store watch events with deadlines, never on
// sleeps. Run with: go test -race ./test/integration -run Mirror

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	dockerclient "github.com/docker/docker/client"
	"github.com/docker/go-connections/nat"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/storage"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
	"github.com/rancher-sandbox/containers-apiserver/pkg/mirror"
	"github.com/rancher-sandbox/containers-apiserver/test/testenv"
)

// checkMirror compares a mirror with `docker inspect` of its container.
func checkMirror(t *testing.T, c *containers.Container, in container.InspectResponse) {
	t.Helper()
	var errs []string
	check := func(field string, got, want any) {
		if fmt.Sprint(got) != fmt.Sprint(want) {
			errs = append(errs, fmt.Sprintf("%s = %v, docker inspect says %v", field, got, want))
		}
	}
	seconds := func(s string) string {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil || tm.Year() <= 1 {
			return "<nil>"
		}
		return tm.UTC().Truncate(time.Second).Format(time.RFC3339)
	}
	ts := func(mt *metav1.Time) string {
		if mt == nil {
			return "<nil>"
		}
		return mt.UTC().Format(time.RFC3339)
	}
	check("metadata.name", c.Name, in.ID)
	check("metadata.namespace", c.Namespace, mirrorNamespace)
	check("metadata.creationTimestamp", c.CreationTimestamp.UTC().Format(time.RFC3339), seconds(in.Created))
	check("status.name", c.Status.Name, strings.TrimPrefix(in.Name, "/"))
	check("status.namespace", c.Status.Namespace, "moby")
	check("status.path", c.Status.Path, in.Path)
	check("status.args", c.Status.Args, in.Args)
	check("status.image", c.Status.Image, in.Image)
	check("status.imageName", c.Status.ImageName, in.Config.Image)
	check("status.status", c.Status.Status, in.State.Status)
	check("status.pid", c.Status.Pid, in.State.Pid)
	check("status.exitCode", c.Status.ExitCode, in.State.ExitCode)
	check("status.error", c.Status.Error, in.State.Error)
	check("status.createdAt", ts(c.Status.CreatedAt), seconds(in.Created))
	check("status.startedAt", ts(c.Status.StartedAt), seconds(in.State.StartedAt))
	check("status.finishedAt", ts(c.Status.FinishedAt), seconds(in.State.FinishedAt))

	wantLabels := map[string]string{}
	for k, v := range in.Config.Labels {
		if len(validation.IsQualifiedName(k)) == 0 && len(validation.IsValidLabelValue(v)) == 0 {
			wantLabels[k] = v
		}
	}
	check("status.labels", sortedMap(c.Status.Labels), sortedMap(in.Config.Labels))
	check("metadata.labels", sortedMap(c.Labels), sortedMap(wantLabels))

	// Ports: every exposed or published port, with its bindings.
	want := map[string][]string{}
	for p := range in.Config.ExposedPorts {
		want[string(p)] = nil
	}
	for p, bs := range in.NetworkSettings.Ports {
		want[string(p)] = want[string(p)][:0:0]
		for _, b := range bs {
			want[string(p)] = append(want[string(p)], b.HostIP+":"+b.HostPort)
		}
	}
	got := map[string][]string{}
	for _, p := range c.Status.Ports {
		got[p.Name] = nil
		for _, b := range p.Bindings {
			got[p.Name] = append(got[p.Name], b.HostIP+":"+strconv.Itoa(int(b.HostPort)))
		}
	}
	for _, m := range []map[string][]string{want, got} {
		for k := range m {
			slices.Sort(m[k])
			m[k] = slices.Compact(m[k])
		}
	}
	check("status.ports", sortedMap(got), sortedMap(want))

	conds := map[string]containers.ConditionStatus{}
	for _, cd := range c.Status.Conditions {
		conds[cd.Type] = cd.Status
	}
	tf := func(b bool) containers.ConditionStatus {
		if b {
			return containers.ConditionTrue
		}
		return containers.ConditionFalse
	}
	check("Running condition", conds[containers.ContainerRunning], tf(in.State.Running))
	check("Paused condition", conds[containers.ContainerPaused], tf(in.State.Paused))
	check("Restarting condition", conds[containers.ContainerRestarting], tf(in.State.Restarting))
	check("OOMKilled condition", conds[containers.ContainerOOMKilled], tf(in.State.OOMKilled))
	check("Dead condition", conds[containers.ContainerDead], tf(in.State.Dead))
	if in.State.Health == nil {
		if _, ok := conds[containers.ContainerHealthy]; ok {
			errs = append(errs, "Healthy condition present without a health check")
		}
	}
	if len(errs) > 0 {
		t.Errorf("mirror %s differs from docker inspect:\n  %s", in.ID, strings.Join(errs, "\n  "))
	}
}

func sortedMap[V any](m map[string]V) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%v;", k, m[k])
	}
	return b.String()
}

// dockerIDs is the set of `docker ps -a` IDs.
func dockerIDs(t *testing.T, cli *dockerclient.Client) map[string]bool {
	t.Helper()
	list, err := cli.ContainerList(context.Background(), container.ListOptions{All: true})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, c := range list {
		ids[c.ID] = true
	}
	return ids
}

// registryEqualsDocker checks the store against `docker ps -a`. Other test
// packages may share the daemon, so a container that only exists in one of
// two listings around the store read may be in either state; every other one
// must be mirrored, and nothing else may be.
func registryEqualsDocker(t *testing.T, s *mirrorStore, cli *dockerclient.Client) error {
	t.Helper()
	before := dockerIDs(t, cli)
	stored := s.list(t)
	after := dockerIDs(t, cli)
	have := map[string]bool{}
	for _, c := range stored.Items {
		have[c.Name] = true
		if !before[c.Name] && !after[c.Name] {
			return fmt.Errorf("mirror %s (%s) is not a Docker container", c.Name, c.Status.Name)
		}
	}
	for id := range before {
		if after[id] && !have[id] {
			return fmt.Errorf("container %s is not mirrored", id)
		}
	}
	return nil
}

func TestMirrorInitialSyncEqualsDockerPsA(t *testing.T) {
	host := testenv.DockerHost(t)
	cli := testenv.DockerClient(t, host)
	prefix := mirrorPrefixName(t)
	ctx := context.Background()

	running := mirrorCreate(t, cli, prefix+"running", true, &container.Config{
		Labels: map[string]string{
			"com.docker.compose.project": "web",
			"bad/key/name":               "x",
			"spacey":                     "has space",
		},
		// The docker CLI exposes every published port; the API leaves it to us.
		ExposedPorts: nat.PortSet{"8080/tcp": {}, "9090/udp": {}},
	}, &container.HostConfig{PortBindings: nat.PortMap{"8080/tcp": {{HostIP: "127.0.0.1"}}}})
	created := mirrorCreate(t, cli, prefix+"created", false, nil, nil)
	exited := mirrorCreate(t, cli, prefix+"exited", true, &container.Config{Cmd: []string{"sh", "-c", "exit 3"}}, nil)
	waitC, errC := cli.ContainerWait(ctx, exited, container.WaitConditionNotRunning)
	select {
	case <-waitC:
	case err := <-errC:
		t.Fatal(err)
	case <-time.After(mirrorWaitTime):
		t.Fatal("container did not exit")
	}

	s := newMirrorStore(t)
	// A mirror of a container that no longer exists, and a stale mirror of an
	// existing container carrying a user's annotation and a lastAction.
	gone := strings.Repeat("0f", 32)
	s.put(t, &containers.Container{ObjectMeta: metav1.ObjectMeta{Name: gone, Namespace: mirrorNamespace}})
	s.put(t, &containers.Container{
		ObjectMeta: metav1.ObjectMeta{Name: running, Namespace: mirrorNamespace,
			Annotations: map[string]string{"example.com/note": "keep me"}},
		Status: containers.ContainerStatus{Status: "created",
			LastAction: &containers.ContainerAction{Action: "start", State: "Succeeded"}},
	})
	w := s.watch(t)

	m := startMirror(t, s, host, nil)
	waitMirrorReady(t, m)
	if err := registryEqualsDocker(t, s, cli); err != nil {
		// Containers of other tests sharing the daemon may be in flight.
		mirrorEventually(t, "the registry to equal docker ps -a", func() error { return registryEqualsDocker(t, s, cli) })
	}
	for _, id := range []string{running, created, exited} {
		c, ok := s.get(t, id)
		if !ok {
			t.Fatalf("container %s not mirrored", id)
		}
		checkMirror(t, c, mirrorInspect(t, cli, id))
	}
	if _, ok := s.get(t, gone); ok {
		t.Error("the mirror of a container that does not exist was not deleted")
	}

	c, _ := s.get(t, running)
	if c.Annotations["example.com/note"] != "keep me" || c.Status.LastAction == nil || c.Status.LastAction.Action != "start" {
		t.Errorf("annotations/lastAction not preserved: %v %+v", c.Annotations, c.Status.LastAction)
	}
	if c.Labels["com.docker.compose.project"] != "web" || c.Status.Labels["spacey"] != "has space" {
		t.Errorf("labels: metadata %v status %v", c.Labels, c.Status.Labels)
	}
	if len(c.Status.Ports) != 2 || c.Status.Ports[0].Name != "8080/tcp" || len(c.Status.Ports[0].Bindings) == 0 ||
		c.Status.Ports[0].Bindings[0].HostPort == 0 || c.Status.Ports[1].Name != "9090/udp" {
		t.Errorf("ports = %+v", c.Status.Ports)
	}
	if e, _ := s.get(t, exited); e.Status.ExitCode != 3 || e.Status.Status != "exited" {
		t.Errorf("exited container: status %q exit code %d", e.Status.Status, e.Status.ExitCode)
	}

	// The existing mirror was updated in place, never deleted and re-added.
	seen := w.barrier()
	if got := seen[running]; !slices.Equal(got, []watch.EventType{watch.Modified}) {
		t.Errorf("events for the pre-existing mirror = %v, want one MODIFIED", got)
	}
	if got := seen[gone]; !slices.Equal(got, []watch.EventType{watch.Deleted}) {
		t.Errorf("events for the vanished container = %v, want one DELETED", got)
	}
	for _, id := range []string{created, exited} {
		if got := seen[id]; !slices.Equal(got, []watch.EventType{watch.Added}) {
			t.Errorf("events for %s = %v, want one ADDED", id, got)
		}
	}
}

func TestMirrorFollowsDockerLifecycle(t *testing.T) {
	host := testenv.DockerHost(t)
	cli := testenv.DockerClient(t, host)
	prefix := mirrorPrefixName(t)
	ctx := context.Background()
	s := newMirrorStore(t)
	m := startMirror(t, s, host, nil)
	waitMirrorReady(t, m)
	w := s.watch(t)

	// docker run
	id := mirrorCreate(t, cli, prefix+"life", true, &container.Config{Labels: map[string]string{"app": "life"}}, nil)
	var last *containers.Container
	waitState := func(what string, ok func(*containers.Container) bool) {
		t.Helper()
		w.waitFor(id, what, func(typ watch.EventType, c *containers.Container) bool {
			if typ == watch.Deleted {
				t.Fatalf("mirror deleted while waiting for %s", what)
			}
			last = c
			return ok(c)
		})
		checkMirror(t, last, mirrorInspect(t, cli, id))
	}
	cond := func(c *containers.Container, typ string) containers.ConditionStatus {
		for _, cd := range c.Status.Conditions {
			if cd.Type == typ {
				return cd.Status
			}
		}
		return ""
	}
	waitState("docker run", func(c *containers.Container) bool {
		return c.Status.Status == "running" && c.Status.Pid > 0 && c.Labels["app"] == "life"
	})

	// An action recorded by another component survives the mirror's updates.
	err := s.GuaranteedUpdate(ctx, s.key(id), &containers.Container{}, false, nil,
		func(in runtime.Object, _ storage.ResponseMeta) (runtime.Object, *uint64, error) {
			c := in.(*containers.Container)
			c.Annotations = map[string]string{"example.com/owner": "test"}
			c.Status.LastAction = &containers.ContainerAction{Action: "pause", State: "Succeeded"}
			return c, nil, nil
		}, nil)
	if err != nil {
		t.Fatal(err)
	}

	if err := cli.ContainerPause(ctx, id); err != nil {
		t.Fatal(err)
	}
	waitState("docker pause", func(c *containers.Container) bool {
		return c.Status.Status == "paused" && cond(c, containers.ContainerPaused) == containers.ConditionTrue
	})
	if last.Annotations["example.com/owner"] != "test" || last.Status.LastAction == nil {
		t.Errorf("annotation or lastAction lost on update: %v %+v", last.Annotations, last.Status.LastAction)
	}

	if err := cli.ContainerUnpause(ctx, id); err != nil {
		t.Fatal(err)
	}
	waitState("docker unpause", func(c *containers.Container) bool {
		return c.Status.Status == "running" && cond(c, containers.ContainerPaused) == containers.ConditionFalse
	})

	zero := 0
	if err := cli.ContainerStop(ctx, id, container.StopOptions{Timeout: &zero}); err != nil {
		t.Fatal(err)
	}
	waitState("docker stop", func(c *containers.Container) bool {
		return c.Status.Status == "exited" && c.Status.FinishedAt != nil &&
			cond(c, containers.ContainerRunning) == containers.ConditionFalse
	})

	if err := cli.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	waitState("docker start", func(c *containers.Container) bool {
		return c.Status.Status == "running" && cond(c, containers.ContainerRunning) == containers.ConditionTrue
	})

	renamed := prefix + "renamed"
	if err := cli.ContainerRename(ctx, id, renamed); err != nil {
		t.Fatal(err)
	}
	waitState("docker rename", func(c *containers.Container) bool { return c.Status.Name == renamed })

	if err := cli.ContainerRemove(ctx, id, container.RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	w.waitFor(id, "docker rm", func(typ watch.EventType, _ *containers.Container) bool { return typ == watch.Deleted })
	if _, ok := s.get(t, id); ok {
		t.Fatal("mirror still stored after docker rm")
	}
}

func TestMirrorResyncOfUnchangedStateIsSilent(t *testing.T) {
	host := testenv.DockerHost(t)
	cli := testenv.DockerClient(t, host)
	prefix := mirrorPrefixName(t)
	ids := []string{
		mirrorCreate(t, cli, prefix+"a", true, &container.Config{Labels: map[string]string{"x": "y"},
			ExposedPorts: nat.PortSet{"80/tcp": {}}},
			&container.HostConfig{PortBindings: nat.PortMap{"80/tcp": {{HostIP: "127.0.0.1"}}}}),
		mirrorCreate(t, cli, prefix+"b", false, nil, nil),
	}
	s := newMirrorStore(t)
	m := startMirror(t, s, host, func(c *mirror.Options[*containers.Container]) { c.ResyncInterval = 50 * time.Millisecond })
	waitMirrorReady(t, m)
	for _, id := range ids {
		if _, ok := s.get(t, id); !ok {
			t.Fatalf("%s not mirrored", id)
		}
	}
	w := s.watch(t)

	resyncs := map[string]string{"trigger": "resync", "result": "success"}
	start := mirrorMetric(t, "containers_apiserver_mirror_full_syncs_total", resyncs)
	mirrorEventually(t, "three periodic resyncs", func() error {
		if n := mirrorMetric(t, "containers_apiserver_mirror_full_syncs_total", resyncs); n < start+3 {
			return fmt.Errorf("%v resyncs so far", n-start)
		}
		return nil
	})
	seen := w.barrier()
	for _, id := range ids {
		if len(seen[id]) > 0 {
			t.Errorf("resyncs of an unchanged container produced watch events: %v", seen[id])
		}
	}
	if err := m.Ready(); err != nil {
		t.Errorf("not ready after resyncs: %v", err)
	}
}

func TestMirrorUnreachableDockerKeepsMirrors(t *testing.T) {
	s := newMirrorStore(t)
	id := strings.Repeat("ab", 32)
	s.put(t, &containers.Container{ObjectMeta: metav1.ObjectMeta{Name: id, Namespace: mirrorNamespace}})
	host := "unix://" + t.TempDir() + "/nothing.sock"
	before := mirrorMetric(t, "containers_apiserver_mirror_reconnects_total", nil)
	m := startMirror(t, s, host, func(c *mirror.Options[*containers.Container]) { c.BackoffCap = 100 * time.Millisecond })
	mirrorEventually(t, "two reconnect attempts", func() error {
		if n := mirrorMetric(t, "containers_apiserver_mirror_reconnects_total", nil); n < before+2 {
			return errMirrorNotYet
		}
		return nil
	})
	err := m.Ready()
	if err == nil || !strings.Contains(err.Error(), "unreachable") || !strings.Contains(err.Error(), host) {
		t.Errorf("Ready() = %v, want an error saying %s is unreachable", err, host)
	}
	if _, ok := s.get(t, id); !ok {
		t.Error("a mirror was deleted while Docker was unreachable")
	}
}

func TestMirrorReconnectsAndResyncs(t *testing.T) {
	host := testenv.DockerHost(t)
	proxy, proxied := newMirrorProxy(t, host)
	cli := testenv.DockerClient(t, host)
	prefix := mirrorPrefixName(t)
	ctx := context.Background()

	keep := mirrorCreate(t, cli, prefix+"keep", true, nil, nil)
	doomed := mirrorCreate(t, cli, prefix+"doomed", false, nil, nil)
	s := newMirrorStore(t)
	m := startMirror(t, s, proxied, func(c *mirror.Options[*containers.Container]) { c.BackoffCap = 200 * time.Millisecond })
	waitMirrorReady(t, m)
	w := s.watch(t)

	proxy.setDown(true)
	// First the event stream breaks, then reconnect attempts fail.
	mirrorEventually(t, "a failed reconnect to be reported", func() error {
		if err := m.Ready(); err == nil || !strings.Contains(err.Error(), "unreachable") {
			return fmt.Errorf("Ready() = %v", err)
		}
		return nil
	})

	// Changes while the mirror is cut off.
	if err := cli.ContainerRemove(ctx, doomed, container.RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	born := mirrorCreate(t, cli, prefix+"born", false, nil, nil)
	for _, id := range []string{keep, doomed} {
		if _, ok := s.get(t, id); !ok {
			t.Fatalf("mirror %s dropped while Docker was unreachable", id)
		}
	}

	proxy.setDown(false)
	waitMirrorReady(t, m)
	seen := w.barrier()
	if got := seen[keep]; len(got) != 0 {
		t.Errorf("unchanged container got watch events across the reconnect: %v", got)
	}
	if got := seen[doomed]; !slices.Equal(got, []watch.EventType{watch.Deleted}) {
		t.Errorf("events for the container removed while disconnected = %v, want DELETED", got)
	}
	if got := seen[born]; !slices.Equal(got, []watch.EventType{watch.Added}) {
		t.Errorf("events for the container created while disconnected = %v, want ADDED", got)
	}
	checkMirror(t, mustGet(t, s, born), mirrorInspect(t, cli, born))

	// Events flow again after the reconnect.
	if err := cli.ContainerStart(ctx, born, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	w.waitFor(born, "docker start after the reconnect", func(_ watch.EventType, c *containers.Container) bool {
		return c.Status.Status == "running"
	})
	if err := registryEqualsDocker(t, s, cli); err != nil {
		mirrorEventually(t, "the registry to equal docker ps -a", func() error { return registryEqualsDocker(t, s, cli) })
	}
}

func mustGet(t *testing.T, s *mirrorStore, id string) *containers.Container {
	t.Helper()
	c, ok := s.get(t, id)
	if !ok {
		t.Fatalf("%s not mirrored", id)
	}
	return c
}

// A health check whose probe output changes on every probe: Docker reports no
// event for a probe, so resyncs must not rewrite the mirror for its output
// alone. The Healthy condition's message is the output of the probe that
// changed the health status.
func TestMirrorHealthProbeOutputAloneIsNoChange(t *testing.T) {
	host := testenv.DockerHost(t)
	cli := testenv.DockerClient(t, host)
	prefix := mirrorPrefixName(t)
	s := newMirrorStore(t)
	m := startMirror(t, s, host, func(c *mirror.Options[*containers.Container]) { c.ResyncInterval = 50 * time.Millisecond })
	waitMirrorReady(t, m)
	w := s.watch(t)

	id := mirrorCreate(t, cli, prefix+"probe", true, &container.Config{
		Healthcheck: &container.HealthConfig{
			Test:     []string{"CMD-SHELL", "cat /proc/uptime"}, // new output every time
			Interval: 100 * time.Millisecond,
			Timeout:  5 * time.Second,
		},
	}, nil)
	var healthy containers.ContainerCondition
	w.waitFor(id, "the Healthy condition to be True", func(_ watch.EventType, c *containers.Container) bool {
		for _, cd := range c.Status.Conditions {
			if cd.Type == containers.ContainerHealthy && cd.Status == containers.ConditionTrue {
				healthy = cd
				return true
			}
		}
		return false
	})
	if healthy.Message == "" {
		t.Error("the Healthy condition has no message (the probe's output)")
	}
	w.barrier() // whatever was still on its way

	// Several probes and resyncs later, the mirror has not changed.
	resyncs := map[string]string{"trigger": "resync", "result": "success"}
	start := mirrorMetric(t, "containers_apiserver_mirror_full_syncs_total", resyncs)
	firstProbe := lastProbeOutput(t, cli, id)
	mirrorEventually(t, "new probe output and three resyncs", func() error {
		if lastProbeOutput(t, cli, id) == firstProbe {
			return errMirrorNotYet
		}
		if n := mirrorMetric(t, "containers_apiserver_mirror_full_syncs_total", resyncs); n < start+3 {
			return fmt.Errorf("%v resyncs so far", n-start)
		}
		return nil
	})
	seen := w.barrier()
	if got := seen[id]; len(got) > 0 {
		t.Errorf("new probe output alone produced watch events: %v", got)
	}
	if c := mustGet(t, s, id); !slices.ContainsFunc(c.Status.Conditions, func(cd containers.ContainerCondition) bool {
		return cd.Type == containers.ContainerHealthy && cd.Message == healthy.Message
	}) {
		t.Errorf("Healthy condition changed: %+v", c.Status.Conditions)
	}
}

func lastProbeOutput(t *testing.T, cli *dockerclient.Client, id string) string {
	t.Helper()
	in := mirrorInspect(t, cli, id)
	if in.State.Health == nil || len(in.State.Health.Log) == 0 {
		return ""
	}
	return in.State.Health.Log[len(in.State.Health.Log)-1].Output
}

// An event stream that silently stops delivering (its connection stays open)
// is noticed by the next resync that has to repair a mirror: the repair is
// counted and the mirror subscribes again, staying ready, and the new stream
// delivers events.
func TestMirrorResubscribesWhenResyncRepairs(t *testing.T) {
	host := testenv.DockerHost(t)
	proxy, proxied := newMirrorProxy(t, host)
	cli := testenv.DockerClient(t, host)
	prefix := mirrorPrefixName(t)
	ctx := context.Background()
	s := newMirrorStore(t)
	m := startMirror(t, s, proxied, func(c *mirror.Options[*containers.Container]) { c.ResyncInterval = 300 * time.Millisecond })
	waitMirrorReady(t, m)
	w := s.watch(t)

	const repairsMetric = "containers_apiserver_mirror_resync_repairs_total"
	connects := map[string]string{"trigger": "connect", "result": "success"}
	repairsBefore := mirrorMetric(t, repairsMetric, nil)
	connectsBefore := mirrorMetric(t, "containers_apiserver_mirror_full_syncs_total", connects)
	if n := proxy.stallEvents(); n != 1 {
		t.Fatalf("%d event streams stalled, want 1", n)
	}

	// No event reaches the mirror: a resync creates the mirror...
	born := mirrorCreate(t, cli, prefix+"born", false, nil, nil)
	w.waitFor(born, "the resync to mirror the new container", func(typ watch.EventType, _ *containers.Container) bool {
		return typ == watch.Added
	})
	// ... counts the repair and subscribes again.
	mirrorEventually(t, "a counted repair and a new session", func() error {
		repairs := mirrorMetric(t, repairsMetric, nil) - repairsBefore
		connects := mirrorMetric(t, "containers_apiserver_mirror_full_syncs_total", connects) - connectsBefore
		if repairs < 1 || connects < 1 {
			return fmt.Errorf("%v repairs, %v new sessions", repairs, connects)
		}
		return nil
	})
	if err := m.Ready(); err != nil {
		t.Errorf("not ready after subscribing again: %v", err)
	}

	// The new stream delivers: changes are followed and resyncs find nothing
	// to repair.
	repairsAfter := mirrorMetric(t, repairsMetric, nil)
	if err := cli.ContainerStart(ctx, born, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	w.waitFor(born, "docker start", func(_ watch.EventType, c *containers.Container) bool {
		return c.Status.Status == "running"
	})
	if err := cli.ContainerRemove(ctx, born, container.RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	w.waitFor(born, "docker rm", func(typ watch.EventType, _ *containers.Container) bool { return typ == watch.Deleted })
	resyncs := map[string]string{"trigger": "resync", "result": "success"}
	start := mirrorMetric(t, "containers_apiserver_mirror_full_syncs_total", resyncs)
	mirrorEventually(t, "two more resyncs", func() error {
		if n := mirrorMetric(t, "containers_apiserver_mirror_full_syncs_total", resyncs); n < start+2 {
			return errMirrorNotYet
		}
		return nil
	})
	if n := mirrorMetric(t, repairsMetric, nil) - repairsAfter; n != 0 {
		t.Errorf("%v repairs after subscribing again: the new stream misses events", n)
	}
}
