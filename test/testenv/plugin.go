package testenv

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Plugin is the kubectl plugin built from cmd/kubectl-container (with the
// race detector) into a folder of its own, run through the installed kubectl
// as `kubectl container ...`.
type Plugin struct {
	// Dir holds kubectl-container; it goes first on PATH.
	Dir string
}

// BuildPlugin builds the plugin for t.
func BuildPlugin(t testing.TB) *Plugin {
	t.Helper()
	dir := t.TempDir()
	build := exec.Command("go", "build", "-race", "-o", filepath.Join(dir, "kubectl-container"), "./cmd/kubectl-container")
	build.Dir = Root()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/kubectl-container: %v\n%s", err, out)
	}
	return &Plugin{Dir: dir}
}

// Command is `kubectl container args...` for the user of kubeconfig. The
// kubeconfig goes in the environment: kubectl refuses flags before a
// plugin's name.
func (p *Plugin) Command(ctx context.Context, kubeconfig string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "kubectl", append([]string{"container"}, args...)...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "PATH="+p.Dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return cmd
}
