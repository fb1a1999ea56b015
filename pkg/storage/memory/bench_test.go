package memory

import (
	"fmt"
	"io"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apiserver/pkg/apis/example"
	examplev1 "k8s.io/apiserver/pkg/apis/example/v1"
	"k8s.io/apiserver/pkg/storage"
	storagetesting "k8s.io/apiserver/pkg/storage/testing"
	"k8s.io/utils/ptr"
)

func benchPod(i int) *example.Pod {
	return &example.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: fmt.Sprintf("ns-%d", i%10),
			Name:      fmt.Sprintf("container-%04d", i),
			UID:       "0b9ad2c0-3d8e-4d5b-9d1c-6b4b7a0e9f3a",
			Labels: map[string]string{
				"com.docker.compose.project": "project",
				"com.docker.compose.service": fmt.Sprintf("svc-%d", i%7),
				"app":                        "bench",
			},
			Annotations: map[string]string{
				"image":   "docker.io/library/nginx:1.27",
				"command": "/docker-entrypoint.sh nginx -g 'daemon off;'",
				"id":      "4f6a3e2c9b8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f",
			},
		},
		Spec: example.PodSpec{
			NodeName:                      "node-1",
			Hostname:                      fmt.Sprintf("host-%d", i),
			RestartPolicy:                 "Always",
			TerminationGracePeriodSeconds: ptr.To[int64](30),
			NodeSelector:                  map[string]string{"kubernetes.io/os": "linux"},
		},
		Status: example.PodStatus{Phase: "Running", HostIP: "10.0.0.1", PodIP: fmt.Sprintf("172.17.%d.%d", i/250, i%250)},
	}
}

// listScheme additionally knows PodList (the example API only registers Pod),
// so that lists can be encoded like the API server does.
func listCodec() runtime.Codec {
	sch := runtime.NewScheme()
	metav1.AddToGroupVersion(sch, metav1.SchemeGroupVersion)
	utilruntime.Must(example.AddToScheme(sch))
	utilruntime.Must(examplev1.AddToScheme(sch))
	sch.AddKnownTypes(example.SchemeGroupVersion, &example.PodList{})
	sch.AddKnownTypes(examplev1.SchemeGroupVersion, &examplev1.PodList{})
	return serializer.NewCodecFactory(sch).LegacyCodec(examplev1.SchemeGroupVersion)
}

// BenchmarkList2000JSON lists 2,000 objects (consistent read, deep copies)
// and encodes the list to JSON as the API server would (internal -> v1).
func BenchmarkList2000JSON(b *testing.B) {
	ctx, s := testSetup(b)
	for i := range 2000 {
		p := benchPod(i)
		if err := s.Create(ctx, podKey(p.Namespace, p.Name), p, nil, 0); err != nil {
			b.Fatal(err)
		}
	}
	encoder := listCodec()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		list := &example.PodList{}
		if err := s.GetList(ctx, "/pods/", storage.ListOptions{Predicate: storage.Everything, Recursive: true}, list); err != nil {
			b.Fatal(err)
		}
		if len(list.Items) != 2000 {
			b.Fatalf("listed %d", len(list.Items))
		}
		if err := encoder.Encode(list, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkList2000 is the storage part alone.
func BenchmarkList2000(b *testing.B) {
	ctx, s := testSetup(b)
	for i := range 2000 {
		p := benchPod(i)
		if err := s.Create(ctx, podKey(p.Namespace, p.Name), p, nil, 0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		list := &example.PodList{}
		if err := s.GetList(ctx, "/pods/", storage.ListOptions{Predicate: storage.Everything, Recursive: true}, list); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNoOpUpdate is a mirror resync of an unchanged object.
func BenchmarkNoOpUpdate(b *testing.B) {
	ctx, s := testSetup(b)
	p := benchPod(1)
	key := podKey(p.Namespace, p.Name)
	if err := s.Create(ctx, key, p.DeepCopy(), nil, 0); err != nil {
		b.Fatal(err)
	}
	update := func(runtime.Object, storage.ResponseMeta) (runtime.Object, *uint64, error) {
		return benchPod(1), nil, nil
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := s.GuaranteedUpdate(ctx, key, &example.Pod{}, false, nil, update, nil); err != nil {
			b.Fatal(err)
		}
	}
	if m := s.Metrics(); m.EventsTotal != 1 {
		b.Fatalf("no-op updates wrote: %+v", m)
	}
}

// BenchmarkStoreList runs the upstream list benchmark on 2,000 pods.
func BenchmarkStoreList(b *testing.B) {
	ctx, s := testSetup(b)
	data := storagetesting.PrepareBenchmarkData(10, 200, 20)
	if err := storagetesting.PrecreateBenchmarkPods(ctx, s, data); err != nil {
		b.Fatal(err)
	}
	storagetesting.RunBenchmarkStoreList(ctx, b, s, data, false)
}

// BenchmarkStoreWriteThroughput runs the upstream write benchmark (with
// watchers and listers in the background) on 2,000 pods.
func BenchmarkStoreWriteThroughput(b *testing.B) {
	ctx, s := testSetup(b)
	data := storagetesting.PrepareBenchmarkData(10, 200, 20)
	storagetesting.RunBenchmarkWriteThroughput(ctx, b, s, data, false, nil)
}

// BenchmarkStoreStats runs the upstream Stats benchmark on 2,000 pods.
func BenchmarkStoreStats(b *testing.B) {
	ctx, s := testSetup(b)
	data := storagetesting.PrepareBenchmarkData(10, 200, 20)
	if err := storagetesting.PrecreateBenchmarkPods(ctx, s, data); err != nil {
		b.Fatal(err)
	}
	storagetesting.RunBenchmarkStoreStats(ctx, b, s)
}
