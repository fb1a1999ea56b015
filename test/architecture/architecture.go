// Package architecture checks the import rules that keep the engine seam
// (issue 11) in place: the engine packages know nothing of the API server,
// and only the Docker engine knows the Docker SDK.
//
// The rules are data (Rules) checked against an import graph (Graph): the
// real one, read with `go list` (imports_test.go; part of `go test ./...` and
// `make verify-imports`), or a made-up one (checker_test.go, which proves that the checker catches
// what it should).
package architecture

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
)

// Module is this repository's module path.
const Module = "github.com/rancher-sandbox/containers-apiserver"

// Package is one node of the import graph.
type Package struct {
	// Imports are the packages its non-test files import.
	Imports []string
	// TestImports are those its _test.go files import, in-package and
	// external (package x_test) alike. They count only for a package the
	// rules are checked from: a dependency's tests are not compiled into
	// anything that imports it.
	TestImports []string
}

// Graph maps an import path to its package: every package of the module
// and everything they import, standard library included.
type Graph map[string]Package

// Match tells whether an import path belongs to a set of packages.
type Match func(importPath string) bool

// Rule is one import rule: no package From selects may reach a package
// Forbidden selects.
type Rule struct {
	Name      string
	From      Match
	Forbidden Match
	// Through, when set, selects the packages a forbidden import may be
	// reached through (e.g. the engine that wraps the Docker SDK); chains
	// stop there.
	Through Match
	// Direct limits the rule to the package's own imports. Otherwise chains
	// through other packages of the module count too: what a package
	// imports, it depends on. Chains do not run through packages the rule
	// applies to (they are reported in their own right, so each import to
	// remove is reported once), nor through other modules: a library's own
	// imports (client-go's cache uses the API errors) are not this
	// project's layering.
	Direct bool
}

// Violation is one import that breaks a rule: Chain runs from the package
// the rule was checked from to the forbidden package, each element
// importing the next; the last edge is the import to remove.
type Violation struct {
	Rule  string
	Chain []string
	// Test is set when the chain starts in the first package's _test.go files.
	Test bool
}

func (v Violation) String() string {
	short := make([]string, len(v.Chain))
	for i, p := range v.Chain {
		short[i] = Short(p)
	}
	s := strings.Join(short, " -> ")
	if v.Test {
		s = short[0] + " (tests) -> " + strings.Join(short[1:], " -> ")
	}
	return v.Rule + ": " + s
}

// Report writes the violations one line per importing package: those that
// share a rule and a chain up to the forbidden package are one line, the
// forbidden packages in braces.
func Report(vs []Violation) []string {
	var lines []string
	for i := 0; i < len(vs); {
		j := i + 1
		for j < len(vs) && vs[j].Rule == vs[i].Rule && vs[j].Test == vs[i].Test &&
			slices.Equal(vs[j].Chain[:len(vs[j].Chain)-1], vs[i].Chain[:len(vs[i].Chain)-1]) {
			j++
		}
		if j == i+1 {
			lines = append(lines, vs[i].String())
		} else {
			var last []string
			for _, v := range vs[i:j] {
				last = append(last, Short(v.Chain[len(v.Chain)-1]))
			}
			v := vs[i]
			v.Chain = append(slices.Clone(v.Chain[:len(v.Chain)-1]), "{"+strings.Join(last, ", ")+"}")
			lines = append(lines, v.String())
		}
		i = j
	}
	return lines
}

// Short writes a package of the module relative to the module.
func Short(importPath string) string {
	if rest, ok := strings.CutPrefix(importPath, Module+"/"); ok {
		return rest
	}
	return importPath
}

// Check returns every violation of the rules in g, sorted: for each rule,
// each package it applies to, and each import of a forbidden package
// reached from there (the last edge of a chain), one shortest chain.
// Chains do not go on past a forbidden package: its own imports are part
// of the same violation.
func Check(g Graph, rules []Rule) []Violation {
	var out []Violation
	roots := make([]string, 0, len(g))
	for p := range g {
		roots = append(roots, p)
	}
	slices.Sort(roots)
	for _, r := range rules {
		for _, root := range roots {
			if r.From(root) {
				out = append(out, check(g, r, root)...)
			}
		}
	}
	return out
}

// check walks the imports of root breadth first, so each chain is a
// shortest one, and in sorted order, so the report is stable. The first walk
// follows the non-test imports only; the second adds root's test imports and
// reports only what the first did not find, so a chain is marked as coming
// from the tests only when the non-test code has no such import.
func check(g Graph, r Rule, root string) []Violation {
	var out []Violation
	reported := map[[2]string]bool{} // offending edges (importer, forbidden)
	for _, tests := range []bool{false, true} {
		for _, c := range walk(g, r, root, tests) {
			edge := [2]string{c[len(c)-2], c[len(c)-1]}
			if !reported[edge] {
				reported[edge] = true
				out = append(out, Violation{Rule: r.Name, Chain: c, Test: tests})
			}
		}
	}
	return out
}

// walk returns, for each import of a forbidden package by a package root
// reaches (an offending edge), a shortest chain from root through it; with
// root's test imports when tests is set.
func walk(g Graph, r Rule, root string, tests bool) [][]string {
	type step struct {
		pkg  string
		prev *step
	}
	chain := func(s *step) []string {
		var c []string
		for ; s != nil; s = s.prev {
			c = append(c, s.pkg)
		}
		slices.Reverse(c)
		return c
	}
	var out [][]string
	seen := map[string]bool{root: true}
	queue := []*step{{pkg: root}}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		imports := slices.Clone(g[s.pkg].Imports)
		if tests && s.prev == nil {
			imports = append(imports, g[s.pkg].TestImports...)
		}
		slices.Sort(imports)
		for _, imp := range slices.Compact(imports) {
			next := &step{pkg: imp, prev: s}
			switch {
			case seen[imp]:
			case r.Forbidden(imp):
				// Not marked seen: every import of it is one to remove.
				out = append(out, chain(next))
			case r.Direct, !ours(imp), r.From(imp), r.Through != nil && r.Through(imp):
			default:
				seen[imp] = true
				queue = append(queue, next)
			}
		}
	}
	return out
}

// Under matches the packages at or below each of the given import paths;
// a path without a dot in its first element is taken relative to Module.
func Under(paths ...string) Match {
	full := make([]string, len(paths))
	for i, p := range paths {
		full[i] = p
		if first, _, _ := strings.Cut(p, "/"); !strings.Contains(first, ".") {
			full[i] = Module + "/" + p
		}
	}
	return func(importPath string) bool {
		for _, p := range full {
			if importPath == p || strings.HasPrefix(importPath, p+"/") {
				return true
			}
		}
		return false
	}
}

var ours = Under(Module)

// Except matches what m matches and not does not.
func Except(m, not Match) Match {
	return func(p string) bool { return m(p) && !not(p) }
}

// Rules are the import rules of issue 11.
func Rules() []Rule {
	dockerSDK := Under("github.com/docker/docker", "github.com/docker/go-connections")
	// The Docker engine wraps the SDK; test/ and hack/ may use it directly.
	sdkOwners := Under("pkg/engine/docker", "test", "hack")
	return []Rule{
		{
			Name: "pkg/engine is engine-neutral (no pkg/stream, k8s.io/apiserver or API errors)",
			From: Under("pkg/engine"),
			Forbidden: Under("pkg/stream", "k8s.io/apiserver",
				"k8s.io/apimachinery/pkg/api/errors"),
		},
		{
			// pkg/apiserver builds the Docker engine, so reaching the SDK
			// through pkg/engine/docker is the design; any other way is not.
			Name:      "pkg/registry and pkg/apiserver do not use the Docker SDK",
			From:      Under("pkg/registry", "pkg/apiserver"),
			Forbidden: dockerSDK,
			Through:   sdkOwners,
		},
		{
			// The plugin runs on a user's machine: the API and its client,
			// none of the server.
			Name: "the kubectl plugin is a client (no k8s.io/apiserver, server or engine packages)",
			From: Under("cmd/kubectl-container", "pkg/cmd/plugin"),
			Forbidden: Under("k8s.io/apiserver", "pkg/apiserver", "pkg/registry", "pkg/storage",
				"pkg/engine", "pkg/controller", "pkg/mirror", "pkg/stream", "pkg/cmd/server"),
		},
		{
			Name:      "only pkg/engine/docker imports the Docker SDK",
			From:      Except(Under("pkg", "cmd"), sdkOwners),
			Forbidden: dockerSDK,
			Direct:    true,
		},
	}
}

// listed is the part of `go list -json` output read here.
type listed struct {
	ImportPath   string
	ForTest      string
	Imports      []string
	TestImports  []string
	XTestImports []string
	Error        *struct{ Err string }
}

// Load reads the import graph of the given packages (patterns relative to
// dir) and of everything they import, tests included, with `go list`. The
// build tags are those of the test files, so that no file is left out.
func Load(dir string, tags []string, patterns ...string) (Graph, error) {
	args := append([]string{"list", "-e", "-deps", "-test", "-json",
		"-tags", strings.Join(tags, ",")}, patterns...)
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	g := Graph{}
	var problems []string
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listed
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("reading go list's output: %w", err)
		}
		// -test adds variants of packages compiled for a test
		// ("p [q.test]"), the external test packages ("p_test [p.test]")
		// and the generated test mains ("p.test"). The plain entries hold
		// every package's own imports and its test imports.
		if p.ForTest != "" || strings.HasSuffix(p.ImportPath, ".test") {
			continue
		}
		if p.Error != nil {
			problems = append(problems, p.ImportPath+": "+p.Error.Err)
		}
		g[p.ImportPath] = Package{
			Imports:     p.Imports,
			TestImports: append(p.TestImports, p.XTestImports...),
		}
	}
	if len(problems) > 0 {
		// A package go list cannot read has imports the rules cannot see.
		return g, fmt.Errorf("go list: %s", strings.Join(problems, "\n"))
	}
	return g, nil
}
