// Package fuzzer fills the internal types of containers.rancherdesktop.io
// with random values for the round-trip tests (pkg/apis/containers/install).
//
// The apitesting fuzzer these functions are merged into puts at most one
// element in any slice or map. A mirror carries several labels, ports,
// conditions and list items at once, and the encodings treat several
// elements differently from one: map keys are sorted by the JSON and CBOR
// encoders (the round trip checks that two encodings are byte-identical),
// and list-type=map fields are keyed by name or type. So every slice and map
// of the group gets 0 to maxElements elements here.
package fuzzer

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeserializer "k8s.io/apimachinery/pkg/runtime/serializer"
	"sigs.k8s.io/randfill"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
)

// maxElements bounds the slices and maps filled here: enough for ordering
// to matter, small enough that a failure's dump stays readable.
const maxElements = 4

// Funcs returns the fill functions of the group's internal types, in the
// form roundtrip.RoundTripTestForAPIGroup takes.
func Funcs(_ runtimeserializer.CodecFactory) []interface{} {
	return []interface{}{
		// The default fill leaves every *metav1.Time nil: metav1.Time fills
		// itself, and randfill asks the nil pointer to, which declines. Most
		// of the group's times are pointers (createdAt, startedAt, the log
		// options' sinceTime and untilTime, ...), so without this they would
		// never be round-tripped. Same range as metav1.Time's own fill: whole
		// seconds, since the wire formats carry no more.
		func(p **metav1.Time, c randfill.Continue) {
			if c.Bool() {
				*p = nil
				return
			}
			t := &metav1.Time{}
			t.RandFill(c.Rand)
			*p = t
		},
		func(s *containers.ContainerStatus, c randfill.Continue) {
			c.FillNoCustom(s)
			many(c, &s.Args)
			many(c, &s.Ports)
			manyKeys(c, &s.Labels)
			many(c, &s.Conditions)
		},
		func(p *containers.ContainerPort, c randfill.Continue) {
			c.FillNoCustom(p)
			many(c, &p.Bindings)
		},
		func(s *containers.ImageStatus, c randfill.Continue) {
			c.FillNoCustom(s)
			many(c, &s.RepoDigests)
			manyKeys(c, &s.Labels)
		},
		func(s *containers.VolumeStatus, c randfill.Continue) {
			c.FillNoCustom(s)
			manyKeys(c, &s.Labels)
			manyKeys(c, &s.Options)
		},
		func(s *containers.ContainerCreateRequestSpec, c randfill.Continue) {
			c.FillNoCustom(s)
			many(c, &s.Args)
			many(c, &s.Ports)
			manyKeys(c, &s.Labels)
		},
		func(s *containers.VolumeCreateRequestSpec, c randfill.Continue) {
			c.FillNoCustom(s)
			manyKeys(c, &s.Labels)
		},
		// RequestStatus is embedded (inline) in every request kind's status.
		func(s *containers.RequestStatus, c randfill.Continue) {
			c.FillNoCustom(s)
			many(c, &s.Conditions)
		},
		// The exec options' lists travel as repeated query parameters, where
		// an empty element (command=) must survive: give them several
		// elements, some of them empty, which the default fill rarely makes.
		func(o *containers.ContainerExecOptions, c randfill.Continue) {
			c.FillNoCustom(o)
			for _, s := range []*[]string{&o.Command, &o.Env} {
				many(c, s)
				for i := range *s {
					if c.Intn(4) == 0 {
						(*s)[i] = ""
					}
				}
			}
		},
		func(l *containers.ContainerList, c randfill.Continue) { fillList(c, l, &l.Items) },
		func(l *containers.ContainerNamespaceList, c randfill.Continue) { fillList(c, l, &l.Items) },
		func(l *containers.ImageList, c randfill.Continue) { fillList(c, l, &l.Items) },
		func(l *containers.VolumeList, c randfill.Continue) { fillList(c, l, &l.Items) },
		func(l *containers.ContainerCreateRequestList, c randfill.Continue) { fillList(c, l, &l.Items) },
		func(l *containers.ImagePullRequestList, c randfill.Continue) { fillList(c, l, &l.Items) },
		func(l *containers.ImagePushRequestList, c randfill.Continue) { fillList(c, l, &l.Items) },
		func(l *containers.VolumeCreateRequestList, c randfill.Continue) { fillList(c, l, &l.Items) },
	}
}

// many replaces *s, about half the time, with 0 to maxElements random
// elements; otherwise it keeps what the default fill chose (nil, or one).
func many[T any](c randfill.Continue, s *[]T) {
	if c.Bool() {
		return
	}
	n := c.Intn(maxElements + 1)
	out := make([]T, n)
	for i := range out {
		c.Fill(&out[i])
	}
	*s = out
}

// manyKeys is many for maps with string keys. Keys may collide; the map then
// simply has fewer entries.
func manyKeys[V any](c randfill.Continue, m *map[string]V) {
	if c.Bool() {
		return
	}
	n := c.Intn(maxElements + 1)
	out := make(map[string]V, n)
	for range n {
		var k string
		var v V
		c.Fill(&k)
		c.Fill(&v)
		out[k] = v
	}
	*m = out
}

// fillList fills a list kind (TypeMeta, ListMeta and the rest as usual) and
// then gives it several items, each filled with the functions above.
func fillList[L any, T any](c randfill.Continue, list *L, items *[]T) {
	c.FillNoCustom(list)
	many(c, items)
}
