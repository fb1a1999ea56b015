// Package memory is an in-memory implementation of
// k8s.io/apiserver/pkg/storage.Interface that an unmodified
// genericregistry.Store can sit on (see RESTOptionsGetter).
//
// Design summary:
//
//   - One Store per resource. Every write takes the next value of a single
//     uint64 counter (strictly increasing, +1 per write). The counter is seeded
//     from the wall clock (microseconds since the epoch) when the Store is
//     built, so resourceVersions handed out by a previous process look older
//     than anything this process retains and are answered with 410 Gone rather
//     than with stale data.
//   - Objects are kept as immutable deep copies carrying the resourceVersion of
//     their last change, together with their codec encoding (used to detect
//     no-op updates exactly like etcd3 does, and to estimate object sizes).
//     Nothing stored is ever mutated after it has been published; every caller
//     (Get, GetList, watchers, update functions) receives its own deep copy.
//   - Every change is appended to a bounded history ring. The ring doubles as
//     MVCC: the state at any resourceVersion that is still covered by the ring
//     is rebuilt by undoing newer events, which serves ResourceVersionMatch=Exact
//     lists and continue tokens, and it is the source every watcher reads from.
//   - Watchers pull from the ring with their own goroutine and cursor. Writers
//     only append and broadcast a wake-up, so writers never wait on a watcher.
//     A watcher whose consumer does not drain its buffered result channel is
//     terminated (its result channel is closed) and the client re-watches.
package memory
