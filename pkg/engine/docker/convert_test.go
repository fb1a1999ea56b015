package docker

import (
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/go-connections/nat"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/diff"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
	"github.com/rancher-sandbox/containers-apiserver/pkg/engine"
)

const testID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

var (
	t0  = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	now = time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
)

func mt(t time.Time) *metav1.Time { m := metav1.NewTime(t); return &m }

// running returns the inspect response of a plain running container.
func running() *container.InspectResponse {
	return &container.InspectResponse{
		ContainerJSONBase: &container.ContainerJSONBase{
			ID:      testID,
			Created: "2026-01-02T03:04:05.123456789Z",
			Path:    "sleep",
			Args:    []string{"300"},
			Image:   "sha256:abc",
			Name:    "/web",
			State: &container.State{
				Status: "running", Running: true, Pid: 42,
				StartedAt:  "2026-01-02T03:04:06.5Z",
				FinishedAt: "0001-01-01T00:00:00Z",
			},
		},
		Config:          &container.Config{Image: "busybox:latest"},
		NetworkSettings: &container.NetworkSettings{},
	}
}

func conds(running, paused, restarting, oom, dead containers.ConditionStatus, at time.Time) []containers.ContainerCondition {
	c := func(typ string, s containers.ConditionStatus) containers.ContainerCondition {
		reason := typ
		if s == containers.ConditionFalse {
			reason = "Not" + typ
		}
		return containers.ContainerCondition{Type: typ, Status: s, Reason: reason, LastTransitionTime: metav1.NewTime(at)}
	}
	return []containers.ContainerCondition{
		c(containers.ContainerRunning, running), c(containers.ContainerPaused, paused),
		c(containers.ContainerRestarting, restarting), c(containers.ContainerOOMKilled, oom),
		c(containers.ContainerDead, dead),
	}
}

const (
	T = containers.ConditionTrue
	F = containers.ConditionFalse
	U = containers.ConditionUnknown
)

func TestToContainer(t *testing.T) {
	wantBase := func() *containers.Container {
		return &containers.Container{
			ObjectMeta: metav1.ObjectMeta{
				Name: testID, UID: engine.UID(testID),
				CreationTimestamp: metav1.NewTime(t0),
			},
			Status: containers.ContainerStatus{
				Name: "web", Namespace: "moby", Path: "sleep", Args: []string{"300"},
				Image: "sha256:abc", ImageName: "busybox:latest", Status: "running", Pid: 42,
				CreatedAt: mt(t0), StartedAt: mt(t0.Add(time.Second)),
				Conditions: conds(T, F, F, F, F, now),
			},
		}
	}
	tests := []struct {
		name   string
		in     func(*container.InspectResponse)
		prev   *containers.Container
		expect func(*containers.Container)
	}{
		{name: "running"},
		{
			name: "zero and bad times are nil",
			in: func(in *container.InspectResponse) {
				in.Created = "0001-01-01T00:00:00Z"
				in.State.StartedAt = ""
				in.State.FinishedAt = "yesterday"
			},
			expect: func(c *containers.Container) {
				c.CreationTimestamp = metav1.Time{}
				c.Status.CreatedAt, c.Status.StartedAt, c.Status.FinishedAt = nil, nil, nil
			},
		},
		{
			name: "exited with error",
			in: func(in *container.InspectResponse) {
				in.State = &container.State{Status: "exited", ExitCode: 137, Error: "boom", OOMKilled: true,
					StartedAt: "2026-01-02T03:04:06Z", FinishedAt: "2026-01-02T03:05:05.999Z"}
			},
			expect: func(c *containers.Container) {
				c.Status.Status, c.Status.Pid, c.Status.ExitCode, c.Status.Error = "exited", 0, 137, "boom"
				c.Status.FinishedAt = mt(t0.Add(time.Minute))
				c.Status.Conditions = conds(F, F, F, T, F, now)
			},
		},
		{
			name: "paused",
			in:   func(in *container.InspectResponse) { in.State.Status, in.State.Paused = "paused", true },
			expect: func(c *containers.Container) {
				c.Status.Status = "paused"
				c.Status.Conditions = conds(T, T, F, F, F, now)
			},
		},
		{
			name: "unknown docker status and no state",
			in:   func(in *container.InspectResponse) { in.State = nil },
			expect: func(c *containers.Container) {
				c.Status.Status, c.Status.Pid, c.Status.StartedAt = "unknown", 0, nil
				for i := range c.Status.Conditions {
					c.Status.Conditions[i].Status = U
					c.Status.Conditions[i].Reason = "NoState"
					c.Status.Conditions[i].Message = "Docker reported no state for the container"
				}
			},
		},
		{
			name:   "new docker status maps to unknown",
			in:     func(in *container.InspectResponse) { in.State.Status = "hibernating" },
			expect: func(c *containers.Container) { c.Status.Status = "unknown" },
		},
		{
			name: "ports exposed and published, sorted",
			in: func(in *container.InspectResponse) {
				in.Config.ExposedPorts = nat.PortSet{"9090/udp": {}, "8080/tcp": {}, "443/tcp": {}}
				in.NetworkSettings.Ports = nat.PortMap{
					"8080/tcp": {{HostIP: "::", HostPort: "32768"}, {HostIP: "0.0.0.0", HostPort: "32768"},
						{HostIP: "0.0.0.0", HostPort: "32768"}},
					"443/tcp":  {{HostIP: "127.0.0.1", HostPort: "8443"}, {HostIP: "127.0.0.1", HostPort: "443"}},
					"80/tcp":   nil,
					"9090/udp": nil,
					"53/udp":   {{HostIP: "", HostPort: "bogus"}},
				}
			},
			expect: func(c *containers.Container) {
				c.Status.Ports = []containers.ContainerPort{
					{Name: "53/udp", Bindings: []containers.PortBinding{{HostIP: "", HostPort: 0}}},
					{Name: "80/tcp"},
					{Name: "443/tcp", Bindings: []containers.PortBinding{{HostIP: "127.0.0.1", HostPort: 443}, {HostIP: "127.0.0.1", HostPort: 8443}}},
					{Name: "8080/tcp", Bindings: []containers.PortBinding{{HostIP: "0.0.0.0", HostPort: 32768}, {HostIP: "::", HostPort: 32768}}},
					{Name: "9090/udp"},
				}
			},
		},
		{
			name: "labels: all in status, valid ones in metadata",
			in: func(in *container.InspectResponse) {
				in.Config.Labels = map[string]string{
					"com.docker.compose.project": "web",
					"a":                          "b",
					"bad key":                    "x",
					"bad/key/x":                  "x",
					"k":                          "has space",
					"long":                       strings.Repeat("v", 64),
					"empty":                      "",
				}
			},
			expect: func(c *containers.Container) {
				c.Status.Labels = map[string]string{
					"com.docker.compose.project": "web", "a": "b", "bad key": "x", "bad/key/x": "x",
					"k": "has space", "long": strings.Repeat("v", 64), "empty": "",
				}
				c.Labels = map[string]string{"com.docker.compose.project": "web", "a": "b", "empty": ""}
			},
		},
		{
			name: "healthy",
			in: func(in *container.InspectResponse) {
				in.State.Health = &container.Health{Status: container.Healthy, Log: []*container.HealthcheckResult{
					{Output: "old"}, {Output: "  ok\n"}}}
			},
			expect: func(c *containers.Container) {
				c.Status.Conditions = append(c.Status.Conditions, containers.ContainerCondition{
					Type: "Healthy", Status: T, Reason: "healthy", Message: "ok", LastTransitionTime: metav1.NewTime(now)})
			},
		},
		{
			name: "unhealthy with a long message",
			in: func(in *container.InspectResponse) {
				in.State.Health = &container.Health{Status: container.Unhealthy, Log: []*container.HealthcheckResult{
					{Output: strings.Repeat("é", 2000)}}}
			},
			expect: func(c *containers.Container) {
				c.Status.Conditions = append(c.Status.Conditions, containers.ContainerCondition{
					Type: "Healthy", Status: F, Reason: "unhealthy",
					Message: strings.Repeat("é", 510) + "...", LastTransitionTime: metav1.NewTime(now)})
			},
		},
		{
			name: "health starting is unknown; none is no condition",
			in: func(in *container.InspectResponse) {
				in.State.Health = &container.Health{Status: container.Starting}
			},
			expect: func(c *containers.Container) {
				c.Status.Conditions = append(c.Status.Conditions, containers.ContainerCondition{
					Type: "Healthy", Status: U, Reason: "starting", LastTransitionTime: metav1.NewTime(now)})
			},
		},
		{
			name: "no healthcheck",
			in: func(in *container.InspectResponse) {
				in.State.Health = &container.Health{Status: container.NoHealthcheck}
			},
		},
		{
			name: "previous object: metadata, annotations, lastAction and unchanged transition times kept",
			prev: &containers.Container{
				ObjectMeta: metav1.ObjectMeta{
					Name: testID, Namespace: "ns", UID: "kept-uid", ResourceVersion: "17",
					Annotations: map[string]string{containers.ActionAnnotation: "stop"},
					Labels:      map[string]string{"stale": "label"},
				},
				Status: containers.ContainerStatus{
					Status:     "paused",
					LastAction: &containers.ContainerAction{Action: "pause", State: "Succeeded"},
					Conditions: conds(T, T, F, F, F, t0),
				},
			},
			expect: func(c *containers.Container) {
				c.Namespace, c.UID, c.ResourceVersion = "ns", "kept-uid", "17"
				c.Annotations = map[string]string{containers.ActionAnnotation: "stop"}
				c.Status.LastAction = &containers.ContainerAction{Action: "pause", State: "Succeeded"}
				c.Status.Conditions = conds(T, F, F, F, F, t0)
				c.Status.Conditions[1].LastTransitionTime = metav1.NewTime(now) // Paused changed
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := running()
			if tc.in != nil {
				tc.in(in)
			}
			want := wantBase()
			if tc.expect != nil {
				tc.expect(want)
			}
			got := toContainer(in, tc.prev, now)
			if !equality.Semantic.DeepEqual(got, want) {
				t.Fatalf("unexpected object (-want +got):\n%s", diff.Diff(want, got))
			}
			// Deterministic, and a resync later with the same Docker state
			// changes nothing.
			again := toContainer(in, got, now.Add(time.Hour))
			if !equality.Semantic.DeepEqual(again, got) {
				t.Fatalf("recomputing from the result changed it:\n%s", diff.Diff(got, again))
			}
		})
	}
}

func TestToContainerDoesNotAliasInput(t *testing.T) {
	in := running()
	in.Config.Labels = map[string]string{"a": "b"}
	in.Args = []string{"1"}
	prev := &containers.Container{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{"x": "y"}}}
	got := toContainer(in, prev, now)
	got.Status.Labels["a"] = "changed"
	got.Status.Args[0] = "changed"
	got.Annotations["x"] = "changed"
	if in.Config.Labels["a"] != "b" || in.Args[0] != "1" || prev.Annotations["x"] != "y" {
		t.Fatal("toContainer aliases its inputs")
	}
}

func TestParseTime(t *testing.T) {
	for s, want := range map[string]*metav1.Time{
		"":                                    nil,
		"0001-01-01T00:00:00Z":                nil,
		"not a time":                          nil,
		"2026-01-02T03:04:05Z":                mt(t0),
		"2026-01-02T03:04:05.999999999Z":      mt(t0),
		"2026-01-02T05:04:05.5+02:00":         mt(t0),
		"2026-01-02T03:04:05.123456789-00:00": mt(t0),
	} {
		got := parseTime(s)
		if (got == nil) != (want == nil) || (got != nil && !got.Equal(want)) {
			t.Errorf("parseTime(%q) = %v, want %v", s, got, want)
		}
	}
}

// The Healthy message is the probe output at the last health status change:
// a new probe output alone (Docker sends no event for it) changes nothing.
func TestHealthyMessageChangesOnlyWithTheStatus(t *testing.T) {
	withHealth := func(status container.HealthStatus, output string) *container.InspectResponse {
		in := running()
		in.State.Health = &container.Health{Status: status, Log: []*container.HealthcheckResult{{Output: output}}}
		return in
	}
	healthy := func(c *containers.Container) containers.ContainerCondition {
		t.Helper()
		for _, cd := range c.Status.Conditions {
			if cd.Type == containers.ContainerHealthy {
				return cd
			}
		}
		t.Fatal("no Healthy condition")
		return containers.ContainerCondition{}
	}

	first := toContainer(withHealth(container.Healthy, "probe 1"), nil, t0)
	if c := healthy(first); c.Message != "probe 1" || !c.LastTransitionTime.Time.Equal(t0) {
		t.Fatalf("first condition = %+v", c)
	}

	// Same status, new probe output: nothing changes, so a resync writes nothing.
	again := toContainer(withHealth(container.Healthy, "probe 2"), first, now)
	if !equality.Semantic.DeepEqual(again, first) {
		t.Fatalf("a new probe output alone changed the mirror:\n%s", diff.Diff(first, again))
	}

	// A status change takes the output of the probe that caused it.
	sick := toContainer(withHealth(container.Unhealthy, "probe 3 failed"), again, now)
	if c := healthy(sick); c.Status != F || c.Reason != "unhealthy" || c.Message != "probe 3 failed" ||
		!c.LastTransitionTime.Time.Equal(now) {
		t.Fatalf("condition after the status change = %+v", c)
	}
	still := toContainer(withHealth(container.Unhealthy, "probe 4 failed"), sick, now.Add(time.Hour))
	if !equality.Semantic.DeepEqual(still, sick) {
		t.Fatalf("a new failing probe output alone changed the mirror:\n%s", diff.Diff(sick, still))
	}

	// Back to healthy: new message, new transition time.
	later := now.Add(2 * time.Hour)
	well := toContainer(withHealth(container.Healthy, "probe 5"), still, later)
	if c := healthy(well); c.Status != T || c.Message != "probe 5" || !c.LastTransitionTime.Time.Equal(later) {
		t.Fatalf("condition after recovering = %+v", c)
	}

	// The health check goes away (container recreated without one): no condition.
	none := toContainer(running(), well, later)
	for _, cd := range none.Status.Conditions {
		if cd.Type == containers.ContainerHealthy {
			t.Fatalf("Healthy condition without a health check: %+v", cd)
		}
	}
}
