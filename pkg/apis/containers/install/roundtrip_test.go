package install

import (
	"math/rand"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/apitesting/fuzzer"
	"k8s.io/apimachinery/pkg/api/apitesting/roundtrip"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metafuzzer "k8s.io/apimachinery/pkg/apis/meta/fuzzer"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	runtimeserializer "k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/sets"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
	containersfuzzer "github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers/fuzzer"
	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers/v1alpha1"
)

// servedKinds are the kinds of containers.rancherdesktop.io, each with an
// internal and a v1alpha1 type. TestEveryKindIsRoundTripped keeps this list
// equal to the scheme, so a new kind cannot slip past the round trips (they
// walk the internal kinds: a kind registered only in v1alpha1 would be left
// out without a word).
var servedKinds = []string{
	"Container", "ContainerList",
	"ContainerNamespace", "ContainerNamespaceList",
	"ContainerLogOptions", "ContainerExecOptions", "ContainerNamespaceLogOptions",
	"ContainerStats", "ContainerStatsList", "ContainerStatsOptions",
	"Image", "ImageList",
	"Volume", "VolumeList",
	"ContainerCreateRequest", "ContainerCreateRequestList",
	"ImagePullRequest", "ImagePullRequestList",
	"ImagePushRequest", "ImagePushRequestList",
	"VolumeCreateRequest", "VolumeCreateRequestList",
}

func newScheme() *runtime.Scheme {
	scheme := runtime.NewScheme()
	Install(scheme)
	return scheme
}

// seed is the random seed of this run, TEST_RAND_SEED when set (the
// variable roundtrip.RoundtripToUnstructured reads too), so that a failure
// can be replayed.
func seed(t *testing.T) int64 {
	t.Helper()
	if s := os.Getenv("TEST_RAND_SEED"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("TEST_RAND_SEED: %v", err)
		}
		return n
	}
	n := time.Now().UnixNano()
	t.Logf("seed %d (replay with TEST_RAND_SEED=%d)", n, n)
	return n
}

// withIterations sets the roundtrip package's iteration count for one test:
// it is a package variable behind a pflag that `go test` never parses.
func withIterations(t *testing.T, n int) {
	t.Helper()
	saved := *roundtrip.FuzzIters
	*roundtrip.FuzzIters = n
	t.Cleanup(func() { *roundtrip.FuzzIters = saved })
}

// TestRoundTripTypes converts a random internal object of every kind to
// v1alpha1, encodes it as JSON, decodes and converts it back, and requires
// the same object (and the same bytes from two encodings). This covers the
// generated conversions and deep copies of every kind. The group has no
// protobuf encoding, so JSON is the wire format tested here; CBOR is covered
// by TestRoundTripToUnstructured.
func TestRoundTripTypes(t *testing.T) {
	withIterations(t, iterations)
	scheme := newScheme()
	codecs := runtimeserializer.NewCodecFactory(scheme)
	f := fuzzer.FuzzerFor(fuzzer.MergeFuzzerFuncs(metafuzzer.Funcs, containersfuzzer.Funcs), rand.NewSource(seed(t)), codecs)
	roundtrip.RoundTripTypesWithoutProtobuf(t, scheme, codecs, f, nil)
}

// TestRoundTripToUnstructured takes every v1alpha1 kind (converted from a
// random internal object) through JSON and CBOR to unstructured and back, the
// path server-side apply, field management and dynamic clients use.
// The meta/v1 kinds the scheme registers alongside ours (options, Status)
// have no internal type in this group and are filled directly.
func TestRoundTripToUnstructured(t *testing.T) {
	withIterations(t, iterations)
	scheme := newScheme()
	nointernal := sets.New[schema.GroupVersionKind]()
	for gvk := range scheme.AllKnownTypes() {
		if gvk.Version != runtime.APIVersionInternal && !scheme.Recognizes(gvk.GroupKind().WithVersion(runtime.APIVersionInternal)) {
			nointernal.Insert(gvk)
		}
	}
	roundtrip.RoundtripToUnstructured(t, scheme, containersfuzzer.Funcs, nil, nointernal)
}

// TestEveryKindIsRoundTripped checks that the round trips above cover every
// kind of the group: each kind the v1alpha1 package registers has an
// internal type (RoundTripTypes starts from those), and the two sets are
// servedKinds exactly.
func TestEveryKindIsRoundTripped(t *testing.T) {
	scheme := newScheme()
	ours := func(gv schema.GroupVersion, pkg string) []string {
		var kinds []string
		for kind, typ := range scheme.KnownTypes(gv) {
			// metav1.AddToGroupVersion registers meta/v1's options and
			// WatchEvent in the group as well; they are not ours.
			if typ.PkgPath() == pkg {
				kinds = append(kinds, kind)
			}
		}
		slices.Sort(kinds)
		return kinds
	}
	want := slices.Sorted(slices.Values(servedKinds))
	external := ours(v1alpha1.SchemeGroupVersion, reflect.TypeFor[v1alpha1.Container]().PkgPath())
	internal := ours(containers.SchemeGroupVersion, reflect.TypeFor[containers.Container]().PkgPath())
	if d := cmp.Diff(want, external); d != "" {
		t.Errorf("v1alpha1 kinds differ from servedKinds (-servedKinds +scheme):\n%s", d)
	}
	if d := cmp.Diff(want, internal); d != "" {
		t.Errorf("internal kinds differ from servedKinds (-servedKinds +scheme):\n%s", d)
	}
}

// TestLogOptionsQueryRoundTrip and TestExecOptionsQueryRoundTrip cover the
// options' other encoding: query parameters. A client (client-go's
// VersionedParams, kubectl logs and exec) encodes the options with the
// parameter codec; the server decodes the query with the same codec, through
// the hand-written strict conversion in v1alpha1/conversion.go and then the
// generated one to the internal type. Whatever a client can encode must come
// back as the same options, and must not be refused by the strict check.
func TestLogOptionsQueryRoundTrip(t *testing.T) {
	queryRoundTrip(t, func() runtime.Object { return &containers.ContainerLogOptions{} })
}

func TestNamespaceLogOptionsQueryRoundTrip(t *testing.T) {
	queryRoundTrip(t, func() runtime.Object { return &containers.ContainerNamespaceLogOptions{} })
}

func TestStatsOptionsQueryRoundTrip(t *testing.T) {
	queryRoundTrip(t, func() runtime.Object { return &containers.ContainerStatsOptions{} })
}

func TestExecOptionsQueryRoundTrip(t *testing.T) {
	queryRoundTrip(t, func() runtime.Object { return &containers.ContainerExecOptions{} })
}

func queryRoundTrip(t *testing.T, newOptions func() runtime.Object) {
	t.Helper()
	scheme := newScheme()
	codec := runtime.NewParameterCodec(scheme)
	f := fuzzer.FuzzerFor(fuzzer.MergeFuzzerFuncs(metafuzzer.Funcs, containersfuzzer.Funcs),
		rand.NewSource(seed(t)), runtimeserializer.NewCodecFactory(scheme))
	for range iterations {
		in := newOptions()
		f.Fill(in)
		// TypeMeta is not part of a query; the codec neither writes nor reads it.
		in.GetObjectKind().SetGroupVersionKind(schema.GroupVersionKind{})
		values, err := codec.EncodeParameters(in, v1alpha1.SchemeGroupVersion)
		if err != nil {
			t.Fatalf("encoding %#v: %v", in, err)
		}
		// On the wire: the client writes the query string, the server parses it.
		query := values.Encode()
		parsed, err := url.ParseQuery(query)
		if err != nil {
			t.Fatalf("parsing the query %q: %v", query, err)
		}
		out := newOptions()
		if err := codec.DecodeParameters(parsed, v1alpha1.SchemeGroupVersion, out); err != nil {
			t.Fatalf("the query %q, encoded from %#v, is refused: %v", query, in, err)
		}
		if !apiequality.Semantic.DeepEqual(in, out) {
			t.Fatalf("the query %q decodes to other options (-encoded +decoded):\n%s", query, cmp.Diff(in, out))
		}
	}
}

// TestExecOptionsQuery decodes queries as kubectl exec writes them, step by
// step (url.Values to v1alpha1, then to the internal type), and encodes the
// result back to the same query: command and env are repeated parameters
// whose order matters and whose empty elements are kept.
func TestExecOptionsQuery(t *testing.T) {
	scheme := newScheme()
	codec := runtime.NewParameterCodec(scheme)
	for _, tc := range []struct {
		name  string
		query string
		want  containers.ContainerExecOptions
	}{{
		name:  "kubectl exec -it",
		query: "command=sh&stdin=true&stdout=true&tty=true",
		want:  containers.ContainerExecOptions{Stdin: true, Stdout: true, TTY: true, Command: []string{"sh"}},
	}, {
		name: "empty argument, repeated env, user and workingDir",
		query: "command=sh&command=-c&command=echo+%22%241%22&command=&command=last" +
			"&env=A%3D1&env=B%3D2&env=EMPTY%3D&stderr=true&stdout=true&user=1000%3A1000&workingDir=%2Ftmp",
		want: containers.ContainerExecOptions{
			Stdout: true, Stderr: true,
			Command:    []string{"sh", "-c", `echo "$1"`, "", "last"},
			User:       "1000:1000",
			WorkingDir: "/tmp",
			Env:        []string{"A=1", "B=2", "EMPTY="},
		},
	}, {
		name:  "a single empty argument",
		query: "command=",
		want:  containers.ContainerExecOptions{Command: []string{""}},
	}, {
		name:  "nothing",
		query: "",
		want:  containers.ContainerExecOptions{},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			q, err := url.ParseQuery(tc.query)
			if err != nil {
				t.Fatal(err)
			}
			var external v1alpha1.ContainerExecOptions
			if err := scheme.Convert(&q, &external, nil); err != nil {
				t.Fatalf("url.Values to v1alpha1: %v", err)
			}
			var internal containers.ContainerExecOptions
			if err := scheme.Convert(&external, &internal, nil); err != nil {
				t.Fatalf("v1alpha1 to internal: %v", err)
			}
			if d := cmp.Diff(tc.want, internal); d != "" {
				t.Errorf("decoded options differ (-want +got):\n%s", d)
			}
			// The parameter codec, as the apiserver uses it, agrees.
			var decoded containers.ContainerExecOptions
			if err := codec.DecodeParameters(q, v1alpha1.SchemeGroupVersion, &decoded); err != nil {
				t.Fatalf("DecodeParameters: %v", err)
			}
			if d := cmp.Diff(tc.want, decoded); d != "" {
				t.Errorf("DecodeParameters differs (-want +got):\n%s", d)
			}
			back, err := codec.EncodeParameters(&internal, v1alpha1.SchemeGroupVersion)
			if err != nil {
				t.Fatal(err)
			}
			if got := back.Encode(); got != tc.query {
				t.Errorf("encoded back to\n  %s\nwant\n  %s", got, tc.query)
			}
		})
	}
}

// TestExecOptionsStrictBools requires the exec options' booleans to be what
// strconv.ParseBool reads: the generated decoder alone would take tty=yes as
// true and tty=f as true.
func TestExecOptionsStrictBools(t *testing.T) {
	codec := runtime.NewParameterCodec(newScheme())
	for _, tc := range []struct {
		query string
		want  containers.ContainerExecOptions
		err   []string // substrings of the error; none means success
	}{
		{query: "tty=yes", err: []string{`tty must be true or false (or 1 or 0), got "yes"`, "invalid exec options"}},
		{query: "stdin=on&stdout=true&stderr=nope", err: []string{`stdin must be true or false`, `stderr must be true or false`}},
		{query: "stdout=maybe", err: []string{`stdout must be true or false`}},
		{query: "tty=f&stdin=F&stdout=0&stderr=false"},
		{query: "tty=1&stdin=t&stdout=TRUE&stderr=True", want: containers.ContainerExecOptions{TTY: true, Stdin: true, Stdout: true, Stderr: true}},
		// Only the first value counts, in the check as in the decoder.
		{query: "tty=true&tty=yes", want: containers.ContainerExecOptions{TTY: true}},
		// A parameter without a value is a flag that is set, as in Kubernetes.
		{query: "tty", want: containers.ContainerExecOptions{TTY: true}},
	} {
		t.Run(tc.query, func(t *testing.T) {
			q, err := url.ParseQuery(tc.query)
			if err != nil {
				t.Fatal(err)
			}
			var got containers.ContainerExecOptions
			err = codec.DecodeParameters(q, v1alpha1.SchemeGroupVersion, &got)
			if len(tc.err) > 0 {
				if err == nil {
					t.Fatalf("accepted as %+v; want an error", got)
				}
				for _, want := range tc.err {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not say %q", err, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("decoded options differ (-want +got):\n%s", d)
			}
		})
	}
}
