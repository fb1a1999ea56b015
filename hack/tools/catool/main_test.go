package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// TestRun covers the command line: what needs no root and no daemon.
func TestRun(t *testing.T) {
	base := t.TempDir()
	t.Setenv("CA_STATE_DIR", base)
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(base, "none.sock"))
	// A pidfile naming this test process, which has argument -test.count=1
	// or not: either way it has its own binary path as argv[0].
	pidfile := filepath.Join(base, "self.pid")
	if err := os.WriteFile(pidfile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		out  string
		err  error // errUsage, errNo, errAny or nil
	}{
		{nil, "", errUsage},
		{[]string{"nonsense"}, "", errUsage},
		{[]string{"bridge-name", "faults"}, "cat-faults\n", nil},
		{[]string{"bridge-name", "faults.1"}, "cat-faulb9d1819\n", nil},
		{[]string{"bridge-name"}, "", errUsage},
		{[]string{"dockerd"}, "", errUsage},
		{[]string{"dockerd", "status"}, "", errUsage},
		{[]string{"dockerd", "status", "--test", "x", "--main"}, "", errUsage},
		{[]string{"dockerd", "status", "--test", "faults"}, "stopped\n", nil},
		{[]string{"dockerd", "status", "--main"}, "stopped\n", nil},
		{[]string{"dockerd", "status", "--test", "bad/name"}, "", errAny},
		{[]string{"dockerd", "start", "--test", "x", "--purge"}, "", errUsage},
		{[]string{"dockerd", "restart", "--main"}, "", errUsage},
		{[]string{"pidfile-pid", pidfile}, "", errUsage},
		{[]string{"pidfile-pid", "--arg", os.Args[0], pidfile}, strconv.Itoa(os.Getpid()) + "\n", nil},
		{[]string{"pidfile-pid", "--arg", "not-an-argument", pidfile}, "", errNo},
		{[]string{"pidfile-pid", "--arg", os.Args[0], filepath.Join(base, "missing.pid")}, "", errNo},
		{[]string{"stop-pidfile", pidfile}, "", errUsage},
		{[]string{"stop-pidfile", "--arg", "a", "--mentions", "b", pidfile}, "", errUsage},
		{[]string{"stop-pidfile", "--arg", "a", "--grace", "0", pidfile}, "", errUsage},
		// Names no process of ours: nothing stopped, the pidfile removed.
		{[]string{"stop-pidfile", "--arg", "not-an-argument", pidfile}, "", nil},
	} {
		var out bytes.Buffer
		err := run(context.Background(), tc.args, &out, t.Logf)
		if !errorMatches(err, tc.err) {
			t.Errorf("catool %q: error %v, want %v", tc.args, err, tc.err)
		} else if out.String() != tc.out {
			t.Errorf("catool %q: output %q, want %q", tc.args, out.String(), tc.out)
		}
	}
	if _, err := os.Stat(pidfile); !os.IsNotExist(err) {
		t.Error("stop-pidfile kept the pidfile")
	}
}

// errAny stands for any error in TestRun's table.
var errAny = errors.New("any error")

func errorMatches(err, want error) bool {
	switch {
	case errors.Is(want, errAny):
		return err != nil
	case want == nil:
		return err == nil
	default:
		return errors.Is(err, want)
	}
}
