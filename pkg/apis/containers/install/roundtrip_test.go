package install

import (
	"math/rand"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/apitesting/fuzzer"
	"k8s.io/apimachinery/pkg/api/apitesting/roundtrip"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metafuzzer "k8s.io/apimachinery/pkg/apis/meta/fuzzer"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
	"ContainerLogOptions",
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

// TestLogOptionsQueryRoundTrip covers the log options' other encoding: query
// parameters. A client (client-go's VersionedParams, kubectl logs) encodes
// the options with the parameter codec; the server decodes the query with
// the same codec, through the hand-written strict conversion in
// v1alpha1/conversion.go and then the generated one to the internal type.
// Whatever a client can encode must come back as the same options, and must
// not be refused by the strict check.
func TestLogOptionsQueryRoundTrip(t *testing.T) {
	scheme := newScheme()
	codec := runtime.NewParameterCodec(scheme)
	f := fuzzer.FuzzerFor(fuzzer.MergeFuzzerFuncs(metafuzzer.Funcs, containersfuzzer.Funcs),
		rand.NewSource(seed(t)), runtimeserializer.NewCodecFactory(scheme))
	for range iterations {
		in := &containers.ContainerLogOptions{}
		f.Fill(in)
		// TypeMeta is not part of a query; the codec neither writes nor reads it.
		in.TypeMeta = metav1.TypeMeta{}
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
		out := &containers.ContainerLogOptions{}
		if err := codec.DecodeParameters(parsed, v1alpha1.SchemeGroupVersion, out); err != nil {
			t.Fatalf("the query %q, encoded from %#v, is refused: %v", query, in, err)
		}
		if !apiequality.Semantic.DeepEqual(in, out) {
			t.Fatalf("the query %q decodes to other options (-encoded +decoded):\n%s", query, cmp.Diff(in, out))
		}
	}
}
