package memory

// Upstream storage.Interface conformance: the Run* functions of
// k8s.io/apiserver/pkg/storage/testing (store_tests.go, watcher_tests.go),
// wired up the way etcd3's store_test.go/watcher_test.go wire them. Each
// function that is not run is listed with the reason it cannot apply.

import (
	"context"
	"strconv"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/apitesting"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apiserver/pkg/apis/example"
	examplev1 "k8s.io/apiserver/pkg/apis/example/v1"
	"k8s.io/apiserver/pkg/features"
	"k8s.io/apiserver/pkg/storage"
	storagetesting "k8s.io/apiserver/pkg/storage/testing"
	"k8s.io/apiserver/pkg/storage/value"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	featuregatetesting "k8s.io/component-base/featuregate/testing"
)

var (
	scheme = runtime.NewScheme()
	codecs = serializer.NewCodecFactory(scheme)
)

func init() {
	metav1.AddToGroupVersion(scheme, metav1.SchemeGroupVersion)
	utilruntime.Must(example.AddToScheme(scheme))
	utilruntime.Must(examplev1.AddToScheme(scheme))
}

func newPod() runtime.Object     { return &example.Pod{} }
func newPodList() runtime.Object { return &example.PodList{} }

// testSetup builds a pods store like etcd3's testSetup: resource prefix
// "/pods/", a versioned codec, and a counter starting at 1 (the suites use
// small revisions such as "1" as "the beginning of history", which only holds
// for etcd-like numbering; the wall-clock seed is covered by
// TestRestartGivesGoneForOldResourceVersions). Waits for future
// resourceVersions are shortened to keep the suite fast.
func testSetup(t testing.TB, mutate ...func(*Config)) (context.Context, *Store) {
	t.Helper()
	cfg := Config{
		Codec:                  apitesting.TestCodec(codecs, examplev1.SchemeGroupVersion),
		GroupResource:          schema.GroupResource{Resource: "pods"},
		ResourcePrefix:         "/pods/",
		NewFunc:                newPod,
		NewListFunc:            newPodList,
		Options:                Options{FutureResourceVersionWait: 250 * time.Millisecond},
		initialResourceVersion: 1,
	}
	for _, m := range mutate {
		m(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return context.Background(), s
}

func withBookmarkInterval(d time.Duration) func(*Config) {
	return func(c *Config) { c.BookmarkInterval = d }
}

// increaseRV is the suites' IncreaseRVFunc: etcd3 writes an unrelated key,
// which advances the revision without touching the resource.
func increaseRV(s *Store) storagetesting.IncreaseRVFunc {
	return func(context.Context, *testing.T) int64 {
		s.mu.Lock()
		defer s.mu.Unlock()
		return int64(s.bumpResourceVersionLocked())
	}
}

// compaction is the suites' Compaction hook. etcd3 compacts and records the
// compacted revision with a write to another key, which advances the
// revision by one; RunTestList counts on that, so do the same.
func compaction(s *Store) storagetesting.Compaction {
	return func(ctx context.Context, t *testing.T, resourceVersion string) {
		rv, err := s.versioner.ParseResourceVersion(resourceVersion)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Compact(rv); err != nil {
			t.Fatal(err)
		}
		increaseRV(s)(ctx, t)
	}
}

// checkStorageInvariants is the KeyValidation: what is kept for a key is an
// encoding without resourceVersion/selfLink, and an object stamped with the
// revision of its last change.
func checkStorageInvariants(s *Store) storagetesting.KeyValidation {
	return func(ctx context.Context, t *testing.T, key string) {
		e := s.current(key)
		if e == nil {
			t.Fatalf("expecting non empty result on key: %s", key)
		}
		// The kept encoding is that of the object without its resourceVersion.
		cp := e.obj.DeepCopyObject().(*example.Pod)
		cp.ResourceVersion = ""
		data, err := runtime.Encode(s.codec, cp)
		if err != nil {
			t.Fatal(err)
		}
		if encodingOf(data) != e.enc {
			t.Errorf("the kept encoding is not the object's without resourceVersion")
		}
		if cp.GetSelfLink() != "" {
			t.Errorf("stored object should have empty selfLink")
		}
		if got := e.obj.(*example.Pod).ResourceVersion; got != strconv.FormatUint(e.rev, 10) {
			t.Errorf("stored object has resourceVersion %q, want %d", got, e.rev)
		}
	}
}

// noTransformer adapts the store to the suites' InterfaceWithPrefixTransformer.
// Objects never go through a value.Transformer here, so the modifier is
// applied to a throw-away transformer and has no effect on the store.
type noTransformer struct{ *Store }

func (s noTransformer) UpdatePrefixTransformer(modifier storagetesting.PrefixTransformerModifier) func() {
	modifier(storagetesting.NewPrefixTransformer(nil, false))
	return func() {}
}

// ---------------------------------------------------------------------------
// store_tests.go
// ---------------------------------------------------------------------------

func TestCreate(t *testing.T) {
	ctx, s := testSetup(t)
	storagetesting.RunTestCreate(ctx, t, s, checkStorageInvariants(s))
}

// Not run: RunTestCreateWithTTL and RunTestGuaranteedUpdateWithTTL expect the
// object to expire (a DELETED event after the 1s TTL). This store ignores
// TTLs by design (documented on Create/GuaranteedUpdate): the generic
// registry only uses them for Events, which this API server does not store.

func TestCreateWithKeyExist(t *testing.T) {
	ctx, s := testSetup(t)
	storagetesting.RunTestCreateWithKeyExist(ctx, t, s)
}

func TestGet(t *testing.T) {
	ctx, s := testSetup(t)
	storagetesting.RunTestGet(ctx, t, s)
}

func TestUnconditionalDelete(t *testing.T) {
	ctx, s := testSetup(t)
	storagetesting.RunTestUnconditionalDelete(ctx, t, s)
}

func TestConditionalDelete(t *testing.T) {
	ctx, s := testSetup(t)
	storagetesting.RunTestConditionalDelete(ctx, t, s)
}

func TestDeleteWithSuggestion(t *testing.T) {
	ctx, s := testSetup(t)
	storagetesting.RunTestDeleteWithSuggestion(ctx, t, s)
}

func TestDeleteWithSuggestionAndConflict(t *testing.T) {
	ctx, s := testSetup(t)
	storagetesting.RunTestDeleteWithSuggestionAndConflict(ctx, t, s)
}

func TestDeleteWithConflict(t *testing.T) {
	ctx, s := testSetup(t)
	storagetesting.RunTestDeleteWithConflict(ctx, t, s)
}

func TestDeleteWithSuggestionOfDeletedObject(t *testing.T) {
	ctx, s := testSetup(t)
	storagetesting.RunTestDeleteWithSuggestionOfDeletedObject(ctx, t, s)
}

func TestValidateDeletionWithSuggestion(t *testing.T) {
	ctx, s := testSetup(t)
	storagetesting.RunTestValidateDeletionWithSuggestion(ctx, t, s)
}

func TestValidateDeletionWithOnlySuggestionValid(t *testing.T) {
	ctx, s := testSetup(t)
	storagetesting.RunTestValidateDeletionWithOnlySuggestionValid(ctx, t, s)
}

func TestPreconditionalDeleteWithSuggestion(t *testing.T) {
	ctx, s := testSetup(t)
	storagetesting.RunTestPreconditionalDeleteWithSuggestion(ctx, t, s)
}

func TestPreconditionalDeleteWithOnlySuggestionPass(t *testing.T) {
	ctx, s := testSetup(t)
	storagetesting.RunTestPreconditionalDeleteWithOnlySuggestionPass(ctx, t, s)
}

// The unsafe-deletion tests (AllowUnsafeMalformedObjectDeletion): an object
// held in memory is always decodable, so an unsafe delete must be refused.
// The setFailing hook (which makes etcd3's codec fail) has nothing to act on;
// the test still checks the refusal.
func TestDeleteWithConflictAndMissingExpectedTransformOrDecodeError(t *testing.T) {
	featuregatetesting.SetFeatureGateDuringTest(t, utilfeature.DefaultFeatureGate, features.AllowUnsafeMalformedObjectDeletion, true)
	ctx, s := testSetup(t)
	storagetesting.RunTestDeleteWithConflictAndMissingExpectedTransformOrDecodeError(ctx, t, s, func(bool) {})
}

func TestDeleteWithSuggestionAndMissingExpectedTransformOrDecodeError(t *testing.T) {
	featuregatetesting.SetFeatureGateDuringTest(t, utilfeature.DefaultFeatureGate, features.AllowUnsafeMalformedObjectDeletion, true)
	ctx, s := testSetup(t)
	storagetesting.RunTestDeleteWithSuggestionAndMissingExpectedTransformOrDecodeError(ctx, t, s)
}

// Not run: RunTestDeleteExpectedTransformOrDecodeError needs an object that
// cannot be transformed or decoded (it injects a failing codec/transformer on
// the read path). Objects are kept decoded in memory; they cannot be corrupt.

func TestList(t *testing.T) {
	ctx, s := testSetup(t)
	// watchCacheEnabled=false: the recorder only checks cacher->etcd requests.
	storagetesting.RunTestList(ctx, t, s, compaction(s), false, nil)
}

func TestConsistentList(t *testing.T) {
	ctx, s := testSetup(t)
	storagetesting.RunTestConsistentList(ctx, t, s, increaseRV(s), false, true, false)
}

func TestGetListNonRecursive(t *testing.T) {
	ctx, s := testSetup(t)
	storagetesting.RunTestGetListNonRecursive(ctx, t, increaseRV(s), s)
}

func TestGetListRecursivePrefix(t *testing.T) {
	ctx, s := testSetup(t)
	storagetesting.RunTestGetListRecursivePrefix(ctx, t, s)
}

// Not run: RunTestGetListWithErrorAggregation and
// RunTestGetListWithoutErrorAggregation corrupt chosen objects by swapping the
// store's value.Transformer (InterfaceWithTransformerOverride) and check how
// list errors are aggregated. There is no transformer and nothing can be
// corrupt in memory.

// The CallsValidation hooks count etcd range requests and transformer reads,
// which do not exist here; the suites accept nil and still check the pages.
func TestListContinuation(t *testing.T) {
	ctx, s := testSetup(t)
	storagetesting.RunTestListContinuation(ctx, t, s, nil)
}

func TestListPaginationRareObject(t *testing.T) {
	ctx, s := testSetup(t)
	storagetesting.RunTestListPaginationRareObject(ctx, t, s, nil)
}

func TestListContinuationWithFilter(t *testing.T) {
	ctx, s := testSetup(t)
	storagetesting.RunTestListContinuationWithFilter(ctx, t, s, nil)
}

func TestListInconsistentContinuation(t *testing.T) {
	ctx, s := testSetup(t)
	storagetesting.RunTestListInconsistentContinuation(ctx, t, s, compaction(s))
}

// RunTestListResourceVersionMatch injects writes from inside the transformer
// while a list reads; lists here read a snapshot under a read lock without a
// transformer, so there is nothing to inject into, but the Exact/NotOlderThan
// consistency it checks still runs.
func TestListResourceVersionMatch(t *testing.T) {
	ctx, s := testSetup(t)
	storagetesting.RunTestListResourceVersionMatch(ctx, t, noTransformer{s})
}

// Not run: RunTestGuaranteedUpdate — one of its cases ("same data, stale")
// switches the transformer to report stale data and expects a rewrite of an
// unchanged object; there is no transformer or at-rest encryption here. All
// its other cases are ported in TestGuaranteedUpdateCases.
//
// Not run: RunTestGuaranteedUpdateChecksStoredData — it stores bytes with a
// different serialization (extra whitespace through the transformer) and
// expects the next identical update to rewrite them; objects here are not
// kept as transformer output, and its last step is again the stale
// transformer.

func TestGuaranteedUpdateWithConflict(t *testing.T) {
	ctx, s := testSetup(t)
	storagetesting.RunTestGuaranteedUpdateWithConflict(ctx, t, s)
}

func TestGuaranteedUpdateWithSuggestionAndConflict(t *testing.T) {
	ctx, s := testSetup(t)
	storagetesting.RunTestGuaranteedUpdateWithSuggestionAndConflict(ctx, t, s)
}

// Not run: RunTestTransformationFailure stores an object under a different
// transformer prefix and expects reads to fail with internal errors; there is
// no transformer here.

func TestStats(t *testing.T) {
	for _, sizeEnabled := range []bool{true, false} {
		t.Run("SizeBasedListCostEstimate="+strconv.FormatBool(sizeEnabled), func(t *testing.T) {
			ctx, s := testSetup(t)
			if sizeEnabled {
				if err := s.EnableResourceSizeEstimation(func(context.Context) ([]string, error) { return nil, nil }); err != nil {
					t.Fatal(err)
				}
			}
			// Sizes are codec encodings; no transformer is applied (empty prefix).
			var identity value.Transformer = storagetesting.NewPrefixTransformer(nil, false)
			storagetesting.RunTestStats(ctx, t, s, s.codec, identity, sizeEnabled)
		})
	}
}

func TestListPaging(t *testing.T) {
	ctx, s := testSetup(t)
	storagetesting.RunTestListPaging(ctx, t, s)
}

func TestNamespaceScopedList(t *testing.T) {
	ctx, s := testSetup(t)
	storagetesting.RunTestNamespaceScopedList(ctx, t, s)
}

func TestCompactRevision(t *testing.T) {
	ctx, s := testSetup(t)
	storagetesting.RunTestCompactRevision(ctx, t, s, increaseRV(s), compaction(s))
}

func TestKeySchema(t *testing.T) {
	ctx, s := testSetup(t)
	storagetesting.RunTestKeySchema(ctx, t, s)
}

// ---------------------------------------------------------------------------
// watcher_tests.go
// ---------------------------------------------------------------------------

func TestWatch(t *testing.T) {
	t.Run("Watch", func(t *testing.T) {
		ctx, s := testSetup(t)
		storagetesting.RunTestWatch(ctx, t, s)
	})
	t.Run("ClusterScopedWatch", func(t *testing.T) {
		ctx, s := testSetup(t)
		storagetesting.RunTestClusterScopedWatch(ctx, t, s)
	})
	t.Run("NamespaceScopedWatch", func(t *testing.T) {
		ctx, s := testSetup(t)
		storagetesting.RunTestNamespaceScopedWatch(ctx, t, s)
	})
	t.Run("DeleteTriggerWatch", func(t *testing.T) {
		ctx, s := testSetup(t)
		storagetesting.RunTestDeleteTriggerWatch(ctx, t, s)
	})
	t.Run("WatchFromZero", func(t *testing.T) {
		ctx, s := testSetup(t)
		storagetesting.RunTestWatchFromZero(ctx, t, s, compaction(s))
	})
	t.Run("WatchFromNonZero", func(t *testing.T) {
		ctx, s := testSetup(t)
		storagetesting.RunTestWatchFromNonZero(ctx, t, s)
	})
	t.Run("DelayedWatchDelivery", func(t *testing.T) {
		ctx, s := testSetup(t)
		storagetesting.RunTestDelayedWatchDelivery(ctx, t, s)
	})
	// Not run: RunTestWatchError, RunTestWatchWithUnsafeDelete and
	// RunWatchErrorIsBlockingFurtherEvents make stored data undecodable by
	// swapping the transformer and check the resulting ERROR events. There is
	// no transformer and no decoding on the watch path here.
	t.Run("WatchContextCancel", func(t *testing.T) {
		ctx, s := testSetup(t)
		storagetesting.RunTestWatchContextCancel(ctx, t, s)
	})
	t.Run("WatcherTimeout", func(t *testing.T) {
		ctx, s := testSetup(t)
		storagetesting.RunTestWatcherTimeout(ctx, t, s)
	})
	t.Run("WatchDeleteEventObjectHaveLatestRV", func(t *testing.T) {
		ctx, s := testSetup(t)
		storagetesting.RunTestWatchDeleteEventObjectHaveLatestRV(ctx, t, s)
	})
	t.Run("WatchInitializationSignal", func(t *testing.T) {
		ctx, s := testSetup(t)
		storagetesting.RunTestWatchInitializationSignal(ctx, t, s)
	})
	t.Run("ProgressNotify", func(t *testing.T) {
		// etcd3 runs it against a server with a 1s progress-notify interval.
		ctx, s := testSetup(t, withBookmarkInterval(time.Second))
		storagetesting.RunOptionalTestProgressNotify(ctx, t, s, increaseRV(s))
	})
	t.Run("WatchDispatchBookmarkEvents", func(t *testing.T) {
		// Bookmarks are sent by the store itself (etcd3 passes false).
		ctx, s := testSetup(t, withBookmarkInterval(500*time.Millisecond))
		storagetesting.RunTestWatchDispatchBookmarkEvents(ctx, t, s, true)
	})
	t.Run("OptionalWatchBookmarksWithCorrectResourceVersion", func(t *testing.T) {
		ctx, s := testSetup(t, withBookmarkInterval(200*time.Millisecond))
		storagetesting.RunTestOptionalWatchBookmarksWithCorrectResourceVersion(ctx, t, s)
	})
	t.Run("SendInitialEventsBackwardCompatibility", func(t *testing.T) {
		ctx, s := testSetup(t)
		storagetesting.RunSendInitialEventsBackwardCompatibility(ctx, t, s)
	})
	t.Run("WatchSemantics", func(t *testing.T) {
		ctx, s := testSetup(t)
		storagetesting.RunWatchSemantics(ctx, t, s)
	})
	t.Run("WatchSemanticInitialEventsExtended", func(t *testing.T) {
		ctx, s := testSetup(t)
		storagetesting.RunWatchSemanticInitialEventsExtended(ctx, t, s)
	})
	t.Run("WatchListMatchSingle", func(t *testing.T) {
		ctx, s := testSetup(t)
		storagetesting.RunWatchListMatchSingle(ctx, t, s)
	})
}

var _ storage.Interface = noTransformer{}
