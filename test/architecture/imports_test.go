package architecture

import (
	"path/filepath"
	"runtime"
	"testing"
)

// TestImportRules checks Rules against the module's real import graph:
// every package under pkg/ and cmd/, its tests, and every file behind the
// e2e and integration build tags.
func TestImportRules(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	g, err := Load(root, []string{"e2e", "integration"}, "./pkg/...", "./cmd/...")
	if err != nil {
		t.Fatal(err)
	}
	// Guard against a graph that is silently empty or partial (a pattern
	// that matched nothing, a changed go list output): the checks below
	// would then pass without having looked at anything.
	for _, p := range []string{"pkg/engine", "pkg/engine/docker", "pkg/registry", "pkg/apiserver", "cmd/apiserver"} {
		if _, ok := g[Module+"/"+p]; !ok {
			t.Fatalf("the import graph has no %s; go list did not read the module", p)
		}
	}
	if len(g[Module+"/pkg/engine/docker"].Imports) == 0 {
		t.Fatal("pkg/engine/docker imports nothing; go list did not read the imports")
	}
	violations := Check(g, Rules())
	for _, line := range Report(violations) {
		t.Error(line)
	}
	if len(violations) > 0 {
		t.Logf("%d imports break the rules; in each chain, the package before the last imports the forbidden one(s)", len(violations))
	}
}
