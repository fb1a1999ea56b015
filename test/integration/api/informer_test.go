//go:build integration

package api

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clientfeatures "k8s.io/client-go/features"
	"k8s.io/client-go/tools/cache"

	"github.com/rancher-sandbox/containers-apiserver/pkg/generated/informers/externalversions"
	"github.com/rancher-sandbox/containers-apiserver/test/testenv"
)

// gates overrides client-go's WatchListClient gate and keeps the rest.
type gates struct {
	base      clientfeatures.Gates
	watchList bool
}

func (g gates) Enabled(f clientfeatures.Feature) bool {
	if f == clientfeatures.WatchListClient {
		return g.watchList
	}
	return g.base.Enabled(f)
}

// TestInformerMatchesDockerPS keeps a generated-clientset informer next to
// `docker ps -a` through a sequence of changes, with watch-list on and off.
func TestInformerMatchesDockerPS(t *testing.T) {
	host := testenv.DockerHost(t)
	s := testenv.StartServer(t, host, testenv.ServerOptions{})
	for _, watchList := range []bool{true, false} {
		t.Run(fmt.Sprintf("WatchListClient=%v", watchList), func(t *testing.T) {
			base := clientfeatures.FeatureGates()
			clientfeatures.ReplaceFeatureGates(gates{base, watchList})
			t.Cleanup(func() { clientfeatures.ReplaceFeatureGates(base) })
			if got := clientfeatures.FeatureGates().Enabled(clientfeatures.WatchListClient); got != watchList {
				t.Fatalf("WatchListClient gate is %v", got)
			}
			runInformerSequence(t, s, host)
		})
	}
}

func runInformerSequence(t *testing.T, s *testenv.Server, host string) {
	// A label unique to this run scopes both sides, since other tests share the engine.
	label := "informer-run=" + strings.ReplaceAll(testenv.UniqueName(t, "r"), "=", "-")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// A container from before the informer starts exercises the initial list or initial events.
	first := runContainer(t, host, testenv.UniqueName(t, "inf"), "--label", label)

	factory := externalversions.NewSharedInformerFactoryWithOptions(s.Client, 0,
		externalversions.WithNamespace(s.Namespace),
		externalversions.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = label }))
	inf := factory.Containers().V1alpha1().Containers()
	informer := inf.Informer()
	factory.Start(ctx.Done())
	// Shutdown waits for the informers, which end only when ctx does.
	defer func() { cancel(); factory.Shutdown() }()
	syncCtx, syncCancel := context.WithTimeout(ctx, eventDeadline)
	defer syncCancel()
	if !cache.WaitForCacheSync(syncCtx.Done(), informer.HasSynced) {
		t.Fatal("informer did not sync")
	}

	check := func(step string) {
		t.Helper()
		eventually(t, "informer equals docker ps -a after "+step, func() error {
			want, err := testenv.Docker(ctx, host, "ps", "-a", "--no-trunc", "--filter", "label="+label,
				"--format", "{{.ID}} {{.Names}} {{.State}}")
			if err != nil {
				return err
			}
			objs, err := inf.Lister().Containers(s.Namespace).List(everything)
			if err != nil {
				return err
			}
			var got []string
			for _, c := range objs {
				got = append(got, fmt.Sprintf("%s %s %s", c.Name, c.Status.Name, c.Status.Status))
			}
			return sameLines(want, got)
		})
	}
	check("start")

	second := runContainer(t, host, testenv.UniqueName(t, "inf"), "--label", label)
	third := runContainer(t, host, testenv.UniqueName(t, "inf"), "--label", label)
	check("docker run x2")
	testenv.MustDocker(t, host, "pause", second)
	check("docker pause")
	testenv.MustDocker(t, host, "stop", "-t", "5", third)
	check("docker stop")
	testenv.MustDocker(t, host, "rename", first, testenv.UniqueName(t, "renamed"))
	check("docker rename")
	testenv.MustDocker(t, host, "rm", "-f", second)
	check("docker rm")
	testenv.MustDocker(t, host, "start", third)
	check("docker start")
}

// sameLines compares the docker ps output with the informer's lines, ignoring order.
func sameLines(dockerOut string, got []string) error {
	var want []string
	for _, l := range strings.Split(dockerOut, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			want = append(want, l)
		}
	}
	sort.Strings(want)
	sort.Strings(got)
	if strings.Join(want, "\n") != strings.Join(got, "\n") {
		return fmt.Errorf("docker ps -a:\n%s\ninformer:\n%s", strings.Join(want, "\n"), strings.Join(got, "\n"))
	}
	return nil
}
