package architecture

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// These tests run the checker and the real rules on made-up import graphs,
// so that a rule that can no longer fail (a typo in a path, a walk that
// stops too early) shows up here rather than as a green TestImportRules.

const m = Module + "/"

// clean is a graph in the shape the refactor aims at: it breaks no rule.
func clean() Graph {
	return Graph{
		m + "cmd/apiserver":       {Imports: []string{m + "pkg/cmd/server"}},
		m + "pkg/cmd/server":      {Imports: []string{m + "pkg/apiserver", "k8s.io/apiserver/pkg/server"}},
		m + "pkg/apiserver":       {Imports: []string{m + "pkg/engine/docker", m + "pkg/registry", "k8s.io/apiserver/pkg/server"}},
		m + "pkg/registry":        {Imports: []string{m + "pkg/engine", "k8s.io/apimachinery/pkg/api/errors", "k8s.io/apiserver/pkg/registry/rest"}},
		m + "pkg/engine":          {Imports: []string{m + "pkg/apis/containers", "errors"}},
		m + "pkg/engine/docker":   {Imports: []string{m + "pkg/engine", "github.com/docker/docker/client", "github.com/docker/go-connections/nat"}, TestImports: []string{m + "test/testenv"}},
		m + "pkg/engine/fake":     {Imports: []string{m + "pkg/engine"}},
		m + "pkg/apis/containers": {Imports: []string{"k8s.io/apimachinery/pkg/apis/meta/v1"}},
		m + "pkg/stream":          {Imports: []string{"k8s.io/apiserver/pkg/endpoints/request"}},
		m + "test/testenv":        {Imports: []string{"github.com/docker/docker/client"}},
		// A library may import what our packages may not: client-go's
		// cache uses the API errors, and the engine may use client-go.
		"k8s.io/client-go/tools/cache":           {Imports: []string{"k8s.io/apimachinery/pkg/api/errors"}},
		"github.com/docker/docker/client":        {Imports: []string{"github.com/docker/docker/api/types"}},
		"k8s.io/apimachinery/pkg/api/errors":     {},
		"k8s.io/apiserver/pkg/server":            {},
		"k8s.io/apiserver/pkg/registry/rest":     {},
		"k8s.io/apiserver/pkg/endpoints/request": {},
	}
}

func report(g Graph) []string { return Report(Check(g, Rules())) }

func TestCleanGraphBreaksNoRule(t *testing.T) {
	g := clean()
	// The engine may use a library that itself uses the API errors.
	g[m+"pkg/engine/docker"] = Package{Imports: append(g[m+"pkg/engine/docker"].Imports, "k8s.io/client-go/tools/cache")}
	if got := report(g); len(got) > 0 {
		t.Fatalf("violations in a clean graph:\n%s", strings.Join(got, "\n"))
	}
}

// TestEachRuleCatches breaks each rule in turn, directly and through
// another package of the module, from non-test and from test code, and
// requires exactly the expected report.
func TestEachRuleCatches(t *testing.T) {
	const (
		neutral  = "pkg/engine is engine-neutral (no pkg/stream, k8s.io/apiserver or API errors): "
		noSDK    = "pkg/registry and pkg/apiserver do not use the Docker SDK: "
		sdkOwner = "only pkg/engine/docker imports the Docker SDK: "
	)
	for _, tc := range []struct {
		name      string
		breakRule func(g Graph)
		want      []string
	}{{
		name:      "the engine imports the API errors",
		breakRule: addImports("pkg/engine", "k8s.io/apimachinery/pkg/api/errors"),
		want:      []string{neutral + "pkg/engine -> k8s.io/apimachinery/pkg/api/errors"},
	}, {
		name:      "the Docker engine imports k8s.io/apiserver and pkg/stream",
		breakRule: addImports("pkg/engine/docker", "k8s.io/apiserver/pkg/server", m+"pkg/stream"),
		// pkg/stream is forbidden itself: the chain stops there, its own
		// imports of k8s.io/apiserver are not reported again.
		want: []string{neutral + "pkg/engine/docker -> {pkg/stream, k8s.io/apiserver/pkg/server}"},
	}, {
		name:      "the fake engine reaches k8s.io/apiserver through a package of the module",
		breakRule: addImports("pkg/engine/fake", m+"pkg/registry"),
		want:      []string{neutral + "pkg/engine/fake -> pkg/registry -> {k8s.io/apimachinery/pkg/api/errors, k8s.io/apiserver/pkg/registry/rest}"},
	}, {
		name:      "the engine's tests import k8s.io/apiserver",
		breakRule: addTestImports("pkg/engine", "k8s.io/apiserver/pkg/server"),
		want:      []string{neutral + "pkg/engine (tests) -> k8s.io/apiserver/pkg/server"},
	}, {
		name: "a forbidden import in both the code and the tests is reported once, as the code's",
		breakRule: func(g Graph) {
			addImports("pkg/engine", "k8s.io/apiserver/pkg/server")(g)
			addTestImports("pkg/engine", "k8s.io/apiserver/pkg/server")(g)
		},
		want: []string{neutral + "pkg/engine -> k8s.io/apiserver/pkg/server"},
	}, {
		name:      "the registry imports the Docker SDK",
		breakRule: addImports("pkg/registry", "github.com/docker/go-connections/nat"),
		want: []string{
			noSDK + "pkg/registry -> github.com/docker/go-connections/nat",
			sdkOwner + "pkg/registry -> github.com/docker/go-connections/nat",
		},
	}, {
		name: "the server reaches the Docker SDK through a package other than the Docker engine",
		breakRule: func(g Graph) {
			g[m+"pkg/dockerutil"] = Package{Imports: []string{"github.com/docker/docker/client"}}
			addImports("pkg/apiserver", m+"pkg/dockerutil")(g)
		},
		want: []string{
			noSDK + "pkg/apiserver -> pkg/dockerutil -> github.com/docker/docker/client",
			sdkOwner + "pkg/dockerutil -> github.com/docker/docker/client",
		},
	}, {
		name:      "the registry's tests import the Docker SDK",
		breakRule: addTestImports("pkg/registry", "github.com/docker/docker/client"),
		want: []string{
			noSDK + "pkg/registry (tests) -> github.com/docker/docker/client",
			sdkOwner + "pkg/registry (tests) -> github.com/docker/docker/client",
		},
	}, {
		name:      "the command imports the Docker SDK",
		breakRule: addImports("pkg/cmd/server", "github.com/docker/docker/client"),
		want:      []string{sdkOwner + "pkg/cmd/server -> github.com/docker/docker/client"},
	}, {
		name:      "the main package imports the Docker SDK",
		breakRule: addImports("cmd/apiserver", "github.com/docker/go-connections/nat"),
		want:      []string{sdkOwner + "cmd/apiserver -> github.com/docker/go-connections/nat"},
	}, {
		name:      "the fake engine imports the Docker SDK",
		breakRule: addImports("pkg/engine/fake", "github.com/docker/docker/client"),
		want:      []string{sdkOwner + "pkg/engine/fake -> github.com/docker/docker/client"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			g := clean()
			tc.breakRule(g)
			if d := cmp.Diff(tc.want, report(g)); d != "" {
				t.Errorf("report (-want +got):\n%s", d)
			}
		})
	}
}

// TestEveryImportIsReported: each import of a forbidden package is one to
// remove, and each is reported once, by the shortest chain from the nearest
// package the rule applies to.
func TestEveryImportIsReported(t *testing.T) {
	g := clean()
	g[m+"pkg/util/a"] = Package{Imports: []string{m + "pkg/util/b", "k8s.io/apiserver/pkg/server"}}
	g[m+"pkg/util/b"] = Package{Imports: []string{"k8s.io/apiserver/pkg/server"}}
	// pkg/engine/docker reaches both through pkg/engine, which the rule
	// applies to: reported as pkg/engine's, not again as the Docker engine's.
	addImports("pkg/engine", m+"pkg/util/a", m+"pkg/util/b")(g)
	got := report(g)
	want := []string{
		"pkg/engine -> pkg/util/a -> k8s.io/apiserver/pkg/server",
		"pkg/engine -> pkg/util/b -> k8s.io/apiserver/pkg/server",
	}
	for i, line := range got {
		_, got[i], _ = strings.Cut(line, ": ")
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("report (-want +got):\n%s", d)
	}
}

func TestUnder(t *testing.T) {
	engine := Under("pkg/engine", "k8s.io/apiserver")
	for p, want := range map[string]bool{
		m + "pkg/engine":                     true,
		m + "pkg/engine/docker/requests":     true,
		m + "pkg/enginex":                    false,
		m + "pkg":                            false,
		"k8s.io/apiserver":                   true,
		"k8s.io/apiserver/pkg/server":        true,
		"k8s.io/apiserver-network-proxy/pkg": false,
		"pkg/engine":                         false,
	} {
		if got := engine(p); got != want {
			t.Errorf("Under(pkg/engine, k8s.io/apiserver)(%s) = %v, want %v", p, got, want)
		}
	}
}

func addImports(pkg string, imports ...string) func(Graph) {
	return func(g Graph) {
		p := g[m+pkg]
		p.Imports = append(slices.Clone(p.Imports), imports...)
		g[m+pkg] = p
	}
}

func addTestImports(pkg string, imports ...string) func(Graph) {
	return func(g Graph) {
		p := g[m+pkg]
		p.TestImports = append(slices.Clone(p.TestImports), imports...)
		g[m+pkg] = p
	}
}
