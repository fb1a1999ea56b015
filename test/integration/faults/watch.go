package faults

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers/v1alpha1"
	"github.com/rancher-sandbox/containers-apiserver/pkg/generated/clientset/versioned"
	"github.com/rancher-sandbox/containers-apiserver/pkg/generated/informers/externalversions"
	v1alpha1listers "github.com/rancher-sandbox/containers-apiserver/pkg/generated/listers/containers/v1alpha1"
)

// selection is what a watch asks for, and the same filter on `docker ps -a`.
type selection struct {
	name          string
	field, label  string
	matchesDocker func(ctr) bool
}

// selections are the watches' filters: watch i uses selections[i%len].
var selections = []selection{
	{name: "all", matchesDocker: func(ctr) bool { return true }},
	// Containers enter and leave it as they start and stop: a watcher sees
	// ADDED and DELETED for objects that still exist.
	{name: "running", field: "status.status=running", matchesDocker: func(c ctr) bool { return c.State == "running" }},
	{name: "churn", label: churnLabel + "=1", matchesDocker: func(c ctr) bool { return c.Churn }},
}

// watcher keeps a cache of Containers from a list and a watch, re-watching
// from its last resourceVersion when a watch ends and re-listing on 410, as a
// client-go reflector does. It records every event that contradicts its
// cache.
type watcher struct {
	sel    selection
	client versioned.Interface
	ns     string
	done   chan struct{} // closed when run returns

	mu         sync.Mutex // guards the fields below
	items      map[string]ctr
	rv         uint64 // the last resourceVersion seen
	violations []string
	relists    int
	rewatches  int
}

func startWatcher(ctx context.Context, client versioned.Interface, ns string, sel selection) *watcher {
	w := &watcher{sel: sel, client: client, ns: ns, done: make(chan struct{}), items: map[string]ctr{}}
	go func() {
		defer close(w.done)
		w.run(ctx)
	}()
	return w
}

func (w *watcher) options() metav1.ListOptions {
	return metav1.ListOptions{FieldSelector: w.sel.field, LabelSelector: w.sel.label}
}

// run lists and watches until ctx ends. Failed calls are retried after a
// short pause (the server is in the same process and always answers).
func (w *watcher) run(ctx context.Context) {
	retry := func() bool {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(200 * time.Millisecond):
			return true
		}
	}
	for ctx.Err() == nil {
		list, err := w.client.ContainersV1alpha1().Containers(w.ns).List(ctx, w.options())
		if err != nil {
			if !retry() {
				return
			}
			continue
		}
		w.replace(list)
		for ctx.Err() == nil {
			expired, err := w.watchOnce(ctx)
			if expired {
				break // re-list
			}
			if err != nil && !retry() {
				return
			}
			w.mu.Lock()
			w.rewatches++
			w.mu.Unlock()
		}
	}
}

func (w *watcher) replace(list *v1alpha1.ContainerList) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.relists++
	w.items = map[string]ctr{}
	for i := range list.Items {
		w.items[list.Items[i].Name] = fromContainer(&list.Items[i])
	}
	rv, err := strconv.ParseUint(list.ResourceVersion, 10, 64)
	if err != nil {
		w.violate("list resourceVersion %q: %v", list.ResourceVersion, err)
	}
	w.rv = rv
}

// watchOnce watches from the last resourceVersion until the watch ends;
// expired says the server answered 410 (re-list).
func (w *watcher) watchOnce(ctx context.Context) (expired bool, err error) {
	opts := w.options()
	w.mu.Lock()
	opts.ResourceVersion = strconv.FormatUint(w.rv, 10)
	w.mu.Unlock()
	opts.AllowWatchBookmarks = true
	wi, err := w.client.ContainersV1alpha1().Containers(w.ns).Watch(ctx, opts)
	if err != nil {
		return apierrors.IsResourceExpired(err) || apierrors.IsGone(err), err
	}
	defer wi.Stop()
	for ev := range wi.ResultChan() {
		if ev.Type == watch.Error {
			err := apierrors.FromObject(ev.Object)
			if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
				return true, err
			}
			w.mu.Lock()
			w.violate("watch error event: %v", err)
			w.mu.Unlock()
			return true, err
		}
		c, ok := ev.Object.(*v1alpha1.Container)
		if !ok {
			continue
		}
		w.apply(ev.Type, c)
	}
	return false, nil
}

func (w *watcher) apply(typ watch.EventType, c *v1alpha1.Container) {
	w.mu.Lock()
	defer w.mu.Unlock()
	rv, err := strconv.ParseUint(c.ResourceVersion, 10, 64)
	switch {
	case err != nil:
		w.violate("%s event with resourceVersion %q", typ, c.ResourceVersion)
	case rv < w.rv || (rv == w.rv && typ != watch.Bookmark):
		w.violate("%s event of %s went back from resourceVersion %d to %d", typ, c.Name, w.rv, rv)
	}
	w.rv = max(w.rv, rv)
	_, have := w.items[c.Name]
	switch typ {
	case watch.Added:
		if have {
			w.violate("ADDED for %s, which the cache holds", c.Name)
		}
		w.items[c.Name] = fromContainer(c)
	case watch.Modified:
		if !have {
			w.violate("MODIFIED for %s, which the cache does not hold", c.Name)
		}
		w.items[c.Name] = fromContainer(c)
	case watch.Deleted:
		if !have {
			w.violate("DELETED for %s, which the cache does not hold", c.Name)
		}
		delete(w.items, c.Name)
	}
}

// violate records a contradiction; the caller holds mu.
func (w *watcher) violate(format string, args ...any) {
	if len(w.violations) < 20 {
		w.violations = append(w.violations, fmt.Sprintf(format, args...))
	}
}

func (w *watcher) snapshot() []ctr {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Collect(maps.Values(w.items))
}

// Watches are the suite's watchers and its client-go informer.
type Watches struct {
	cancel   context.CancelFunc
	watchers []*watcher
	factory  externalversions.SharedInformerFactory
	lister   v1alpha1listers.ContainerLister
	ns       string
}

// StartWatches starts n watches: n-1 watchers over the selections, and one
// informer of every Container from the generated informers.
func StartWatches(ctx context.Context, client versioned.Interface, ns string, n int) (*Watches, error) {
	ctx, cancel := context.WithCancel(ctx)
	ws := &Watches{cancel: cancel, ns: ns}
	for i := range max(n-1, 0) {
		ws.watchers = append(ws.watchers, startWatcher(ctx, client, ns, selections[i%len(selections)]))
	}
	ws.factory = externalversions.NewSharedInformerFactoryWithOptions(client, 0, externalversions.WithNamespace(ns))
	inf := ws.factory.Containers().V1alpha1().Containers()
	informer := inf.Informer()
	ws.lister = inf.Lister()
	ws.factory.Start(ctx.Done())
	syncCtx, syncCancel := context.WithTimeout(ctx, callTimeout)
	defer syncCancel()
	if !cache.WaitForCacheSync(syncCtx.Done(), informer.HasSynced) {
		ws.Stop()
		return nil, errors.New("the informer did not sync")
	}
	return ws, nil
}

// Stop ends every watch and waits for them.
func (ws *Watches) Stop() {
	ws.cancel()
	for _, w := range ws.watchers {
		<-w.done
	}
	ws.factory.Shutdown()
}

// Check compares every watch with `docker ps -a` (filtered as the watch is);
// it returns the first difference, or the first contradiction a watcher saw.
func (ws *Watches) Check(docker []ctr) error {
	objs, err := ws.lister.Containers(ws.ns).List(labels.Everything())
	if err != nil {
		return err
	}
	informer := make([]ctr, 0, len(objs))
	for _, c := range objs {
		informer = append(informer, fromContainer(c))
	}
	if err := sameContainers("docker ps -a", docker, "the informer", informer); err != nil {
		return err
	}
	for i, w := range ws.watchers {
		w.mu.Lock()
		violations := slices.Clone(w.violations)
		w.mu.Unlock()
		if len(violations) > 0 {
			return fmt.Errorf("watcher %d (%s) saw contradictions: %v", i, w.sel.name, violations)
		}
		var want []ctr
		for _, c := range docker {
			if w.sel.matchesDocker(c) {
				want = append(want, c)
			}
		}
		if err := sameContainers("docker ps -a ("+w.sel.name+")", want, fmt.Sprintf("watcher %d", i), w.snapshot()); err != nil {
			return err
		}
	}
	return nil
}

// waitWatches waits until every watch equals docker ps -a.
func (e *Env) waitWatches(ctx context.Context, ws *Watches) error {
	_, err := poll(ctx, convergeDeadline, func(ctx context.Context) error {
		docker, err := e.dockerPS(ctx)
		if err != nil {
			return err
		}
		return ws.Check(docker)
	})
	return err
}

// Counts are how often the watchers re-listed and re-watched.
func (ws *Watches) Counts() (relists, rewatches int) {
	for _, w := range ws.watchers {
		w.mu.Lock()
		relists += w.relists
		rewatches += w.rewatches
		w.mu.Unlock()
	}
	return relists, rewatches
}
