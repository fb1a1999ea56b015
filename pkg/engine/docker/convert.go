package docker

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/docker/docker/api/types/container"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
	"github.com/rancher-sandbox/containers-apiserver/pkg/engine"
)

// maxHealthMessage bounds the Healthy condition's message (the output of the
// last health probe when the health status last changed), in bytes.
const maxHealthMessage = 1024

// knownStatuses are the values of Docker's State.Status passed through as they
// are; anything else becomes "unknown" so a new Docker state cannot break clients.
var knownStatuses = map[string]bool{
	"created": true, "running": true, "paused": true, "restarting": true,
	"removing": true, "exited": true, "dead": true,
}

// toContainer converts a Docker inspect response into the internal Container
// mirror. It is a pure function of its arguments:
//   - prev is the mirror currently stored for the same container, or nil. From
//     it the result keeps what others own (metadata.annotations, status.lastAction,
//     the store's metadata such as resourceVersion) and each condition's
//     lastTransitionTime when the condition's status did not change;
//   - now is the lastTransitionTime of a condition that is new or changed.
//
// Every time is truncated to whole seconds, the precision metav1.Time has on the
// wire, and every slice is sorted, so the same Docker state always gives an
// object that is semantically equal to the stored one (see unchanged).
func toContainer(in *container.InspectResponse, prev *containers.Container, now time.Time) *containers.Container {
	out := &containers.Container{}
	if prev != nil {
		// Keep the store's and the users' metadata; the fields the mirror owns
		// are overwritten below.
		out.TypeMeta = prev.TypeMeta
		prev.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
		if prev.Status.LastAction != nil {
			out.Status.LastAction = prev.Status.LastAction.DeepCopy()
		}
	}
	base := in.ContainerJSONBase
	if base == nil {
		base = &container.ContainerJSONBase{}
	}
	out.Name = base.ID
	if out.UID == "" {
		out.UID = engine.UID(base.ID)
	}
	created := parseTime(base.Created)
	if created != nil {
		out.CreationTimestamp = *created
	} else {
		out.CreationTimestamp = metav1.Time{}
	}

	var labels map[string]string
	if in.Config != nil && len(in.Config.Labels) > 0 {
		labels = maps.Clone(in.Config.Labels)
	}
	out.Labels = engine.KubeLabels(labels)

	st := &out.Status
	st.Name = strings.TrimPrefix(base.Name, "/")
	st.Namespace = containers.MobyNamespace
	st.Path = base.Path
	if len(base.Args) > 0 {
		st.Args = slices.Clone(base.Args)
	}
	st.Image = base.Image
	if in.Config != nil {
		st.ImageName = in.Config.Image
	}
	st.Ports = ports(in)
	st.Labels = labels
	st.CreatedAt = created
	st.Status = "unknown"
	if s := base.State; s != nil {
		if knownStatuses[s.Status] {
			st.Status = s.Status
		}
		st.Pid = int64(s.Pid)
		st.ExitCode = int64(s.ExitCode)
		st.Error = s.Error
		st.StartedAt = parseTime(s.StartedAt)
		st.FinishedAt = parseTime(s.FinishedAt)
	}
	var prevConds []containers.ContainerCondition
	if prev != nil {
		prevConds = prev.Status.Conditions
	}
	st.Conditions = conditions(base.State, prevConds, now)
	return out
}

// parseTime parses a Docker timestamp (RFC 3339 with nanoseconds). Docker's zero
// time "0001-01-01T00:00:00Z", an empty string and anything unparsable give nil.
func parseTime(s string) *metav1.Time {
	if s == "" {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.IsZero() || t.Year() <= 1 {
		return nil
	}
	mt := metav1.NewTime(t.UTC().Truncate(time.Second))
	return &mt
}

// ports merges the published ports (NetworkSettings.Ports) with the exposed ones
// (Config.ExposedPorts). A port that is exposed but not published has no
// bindings. Ports are sorted by number then protocol; bindings by host IP then
// host port, without duplicates.
func ports(in *container.InspectResponse) []containers.ContainerPort {
	byName := map[string][]containers.PortBinding{}
	if in.Config != nil {
		for p := range in.Config.ExposedPorts {
			byName[string(p)] = nil
		}
	}
	if in.NetworkSettings != nil {
		for p, bindings := range in.NetworkSettings.Ports {
			name := string(p)
			list := byName[name]
			for _, b := range bindings {
				list = append(list, containers.PortBinding{HostIP: b.HostIP, HostPort: parsePort(b.HostPort)})
			}
			byName[name] = list
		}
	}
	if len(byName) == 0 {
		return nil
	}
	out := make([]containers.ContainerPort, 0, len(byName))
	for name, bindings := range byName {
		slices.SortFunc(bindings, func(a, b containers.PortBinding) int {
			if c := strings.Compare(a.HostIP, b.HostIP); c != 0 {
				return c
			}
			return int(a.HostPort) - int(b.HostPort)
		})
		bindings = slices.Compact(bindings)
		if len(bindings) == 0 {
			bindings = nil
		}
		out = append(out, containers.ContainerPort{Name: name, Bindings: bindings})
	}
	slices.SortFunc(out, func(a, b containers.ContainerPort) int {
		an, ap := splitPort(a.Name)
		bn, bp := splitPort(b.Name)
		if an != bn {
			return an - bn
		}
		if c := strings.Compare(ap, bp); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

// splitPort splits "80/tcp" into 80 and "tcp" (protocol tcp when absent; number
// -1 when it is not a number, so such oddities sort first).
func splitPort(name string) (int, string) {
	num, proto, ok := strings.Cut(name, "/")
	if !ok {
		proto = "tcp"
	}
	n, err := strconv.Atoi(num)
	if err != nil {
		return -1, proto
	}
	return n, proto
}

// parsePort parses a host port; 0 when empty or not a port number.
func parsePort(s string) int32 {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		return 0
	}
	return int32(n)
}

// conditions derives the Container conditions from Docker's State, in a fixed
// order. Running, Paused, Restarting, OOMKilled and Dead are True or False from
// Docker's booleans (Unknown only when Docker gave no State at all); Healthy is
// present only when the container has a health check. A condition keeps its
// previous lastTransitionTime while its status is unchanged; Healthy also keeps
// its previous message (a probe's output) while its status and reason (Docker's
// health status) are unchanged.
func conditions(s *container.State, prev []containers.ContainerCondition, now time.Time) []containers.ContainerCondition {
	type fact struct {
		typ   string
		value bool
	}
	var facts []fact
	if s != nil {
		facts = []fact{
			{containers.ContainerRunning, s.Running},
			{containers.ContainerPaused, s.Paused},
			{containers.ContainerRestarting, s.Restarting},
			{containers.ContainerOOMKilled, s.OOMKilled},
			{containers.ContainerDead, s.Dead},
		}
	}
	out := make([]containers.ContainerCondition, 0, 6)
	if s == nil {
		for _, t := range []string{containers.ContainerRunning, containers.ContainerPaused,
			containers.ContainerRestarting, containers.ContainerOOMKilled, containers.ContainerDead} {
			out = append(out, containers.ContainerCondition{
				Type: t, Status: containers.ConditionUnknown, Reason: "NoState",
				Message: "Docker reported no state for the container",
			})
		}
	}
	for _, f := range facts {
		c := containers.ContainerCondition{Type: f.typ, Status: containers.ConditionFalse, Reason: "Not" + f.typ}
		if f.value {
			c.Status, c.Reason = containers.ConditionTrue, f.typ
		}
		out = append(out, c)
	}
	if s != nil && s.Health != nil && s.Health.Status != "" && s.Health.Status != container.NoHealthcheck {
		c := containers.ContainerCondition{Type: containers.ContainerHealthy, Reason: s.Health.Status}
		switch s.Health.Status {
		case container.Healthy:
			c.Status = containers.ConditionTrue
		case container.Unhealthy:
			c.Status = containers.ConditionFalse
		default: // container.Starting, or a status this code does not know
			c.Status = containers.ConditionUnknown
		}
		if n := len(s.Health.Log); n > 0 && s.Health.Log[n-1] != nil {
			c.Message = boundMessage(s.Health.Log[n-1].Output)
		}
		out = append(out, c)
	}
	ts := metav1.NewTime(now.UTC().Truncate(time.Second))
	for i := range out {
		out[i].LastTransitionTime = ts
		for _, p := range prev {
			if p.Type == out[i].Type && p.Status == out[i].Status {
				out[i].LastTransitionTime = p.LastTransitionTime
				// Docker reports a health change (health_status event) but not
				// each probe, so the probe output is taken only when the health
				// status changes; otherwise every inspection (e.g. each resync)
				// would rewrite the mirror for new probe text alone.
				if out[i].Type == containers.ContainerHealthy && p.Reason == out[i].Reason {
					out[i].Message = p.Message
				}
				break
			}
		}
	}
	return out
}

// boundMessage makes s valid UTF-8, trims it and cuts it to maxHealthMessage bytes on a rune boundary.
func boundMessage(s string) string {
	s = strings.TrimSpace(strings.ToValidUTF8(s, "\uFFFD"))
	if len(s) <= maxHealthMessage {
		return s
	}
	const ellipsis = "..."
	cut := maxHealthMessage - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}
