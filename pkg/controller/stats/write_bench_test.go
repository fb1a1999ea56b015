package stats

import (
	"context"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
)

// BenchmarkWriteObject is one published sample's store write: its garbage,
// with the collection's others, sets how far the heap grows between GCs.
func BenchmarkWriteObject(b *testing.B) {
	target := newStore(b, "containerstats", func() runtime.Object { return &containers.ContainerStats{} },
		func() runtime.Object { return &containers.ContainerStatsList{} })
	c, err := New(Options{Interval: 2 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	c.opts.Target = target
	w := &worker{series: newSeries("web", 8), labels: map[string]string{"app": "web", "com.docker.compose.project": "x"}}
	id := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		p := point{at: int64(i), nanoCores: int64(i), cpuTotal: int64(i), memUsage: 1 << 20}
		if err := c.writeObject(ctx, id, w, p); err != nil {
			b.Fatal(err)
		}
	}
}
