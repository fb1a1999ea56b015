// Command catool is the program logic behind the hack/ scripts: private
// dockerd instances (start, stop, reap what a killed one left behind), free
// bridge subnets, and processes found through /proc. The scripts keep the
// apt bootstrap and argument glue and call it through ca_tool (hack/lib.sh),
// which builds it into _output/bin/catool; test/testenv uses the same code
// (test/testenv/hostenv) directly.
//
//	catool dockerd start  (--test NAME | --main)   start or reuse; print what the script prints
//	catool dockerd stop   (--test NAME | --main) [--purge]
//	catool dockerd status (--test NAME | --main)   "running PID" or "stopped"
//	catool docker-host                             the first engine that answers: $DOCKER_HOST, the
//	                                               default socket, the main private dockerd (exit 1: none)
//	catool pidfile-pid --arg ARG PIDFILE           the pid in PIDFILE if it runs with argument ARG (exit 1: none)
//	catool stop-pidfile (--arg ARG | --mentions S) [--grace SECONDS] [--name WHAT] PIDFILE
//	catool bridge-name NAME                        a test daemon's bridge
//	catool pick-subnet SEED                        the /24 a new bridge SEED would get now
//
// Diagnostics go to stderr, prefixed with $CA_LOG_NAME (the calling
// script's name) or "catool"; stdout carries only the values asked for.
// Exit status 1 on failure (or a plain "no", silently), 2 on a usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/rancher-sandbox/containers-apiserver/test/testenv/hostenv"
)

// errUsage marks a wrong command line (exit status 2).
var errUsage = errors.New("usage")

// errNo is a plain "no" (exit status 1, no message): no engine answers, the
// pidfile names no running process. Scripts ask in an if.
var errNo = errors.New("no")

func main() {
	os.Exit(catool())
}

// catool runs the command line and returns the exit status.
func catool() int {
	name := os.Getenv("CA_LOG_NAME")
	if name == "" {
		name = "catool"
	}
	logf := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "%s: %s\n", name, fmt.Sprintf(format, args...))
	}
	// SIGINT and SIGTERM end the waits; a daemon being started keeps running
	// (it is in its own session), as it did when the scripts were bash.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, logf)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errNo):
		return 1
	case errors.Is(err, errUsage):
		logf("%v", err)
		return 2
	default:
		logf("ERROR: %v", err)
		return 1
	}
}

func usagef(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, args...))
}

func run(ctx context.Context, args []string, stdout io.Writer, logf func(string, ...any)) error {
	if len(args) == 0 {
		return usagef("catool dockerd|docker-host|pidfile-pid|stop-pidfile|bridge-name|pick-subnet ...")
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "dockerd":
		return dockerd(ctx, rest, stdout, logf)
	case "docker-host":
		if len(rest) != 0 {
			return usagef("catool docker-host")
		}
		host, ok := hostenv.FindDocker(ctx, logf)
		if !ok {
			return errNo
		}
		_, err := fmt.Fprintln(stdout, host)
		return err
	case "pidfile-pid":
		fs := newFlagSet("pidfile-pid --arg ARG PIDFILE")
		arg := fs.String("arg", "", "an argument the process must have, exactly")
		if err := parse(fs, rest, 1); err != nil {
			return err
		}
		if *arg == "" {
			return usagef("pidfile-pid needs --arg")
		}
		pid, ok := hostenv.HostProc.PidfileProcess(fs.Arg(0), func(pid int) bool { return hostenv.HostProc.HasArg(pid, *arg) })
		if !ok {
			return errNo
		}
		_, err := fmt.Fprintln(stdout, pid)
		return err
	case "stop-pidfile":
		fs := newFlagSet("stop-pidfile (--arg ARG | --mentions S) [--grace SECONDS] [--name WHAT] PIDFILE")
		arg := fs.String("arg", "", "stop only a process with this argument, exactly")
		mentions := fs.String("mentions", "", "stop only a process whose command line contains this")
		grace := fs.Int("grace", 15, "seconds between SIGTERM and SIGKILL")
		what := fs.String("name", "process", "what the process is, for messages")
		if err := parse(fs, rest, 1); err != nil {
			return err
		}
		if (*arg == "") == (*mentions == "") || *grace <= 0 {
			return usagef("stop-pidfile needs one of --arg and --mentions, and a positive --grace")
		}
		match := func(pid int) bool { return hostenv.HostProc.HasArg(pid, *arg) }
		if *mentions != "" {
			match = func(pid int) bool { return hostenv.HostProc.Mentions(pid, *mentions) }
		}
		return hostenv.StopPidfile(fs.Arg(0), *what, time.Duration(*grace)*time.Second, match, logf)
	case "bridge-name":
		if len(rest) != 1 {
			return usagef("catool bridge-name NAME")
		}
		_, err := fmt.Fprintln(stdout, hostenv.TestBridgeName(rest[0]))
		return err
	case "pick-subnet":
		if len(rest) != 1 {
			return usagef("catool pick-subnet SEED")
		}
		used, err := hostenv.HostPrefixes(ctx)
		if err != nil {
			return err
		}
		subnet, ok := hostenv.PickSubnet(rest[0], used)
		if !ok {
			return errors.New("no free 10.213-219.x.0/24 subnet")
		}
		_, err = fmt.Fprintln(stdout, subnet)
		return err
	default:
		return usagef("unknown command %q", cmd)
	}
}

func dockerd(ctx context.Context, args []string, stdout io.Writer, logf func(string, ...any)) error {
	const usage = "catool dockerd start|stop|status (--test NAME | --main) [--purge]"
	if len(args) == 0 {
		return usagef(usage)
	}
	fs := newFlagSet(usage)
	test := fs.String("test", "", "a test daemon, as hack/start-test-dockerd.sh NAME")
	mainDaemon := fs.Bool("main", false, "the project's own daemon, as hack/ensure-docker.sh")
	purge := fs.Bool("purge", false, "stop: also delete the state dir")
	if err := parse(fs, args[1:], 0); err != nil {
		return err
	}
	if (*test == "") == !*mainDaemon {
		return usagef("%s: one of --test NAME and --main", usage)
	}
	var d *hostenv.Dockerd
	var err error
	if *mainDaemon {
		d, err = hostenv.MainDockerd()
	} else {
		d, err = hostenv.TestDockerd(*test)
	}
	if err != nil {
		return err
	}
	d.Logf = logf
	switch args[0] {
	case "start":
		if *purge {
			return usagef("start takes no --purge")
		}
		host, err := d.Ensure(ctx)
		if err != nil {
			return err
		}
		if d.Name != "" {
			_, err = fmt.Fprintf(stdout, "PIDFILE=%s\n%s\n", d.Pidfile(), host)
		} else {
			_, err = fmt.Fprintln(stdout, host)
		}
		return err
	case "stop":
		return d.Stop(ctx, *purge)
	case "status":
		if pid, ok := d.PID(); ok {
			_, err = fmt.Fprintln(stdout, "running "+strconv.Itoa(pid))
		} else {
			_, err = fmt.Fprintln(stdout, "stopped")
		}
		return err
	default:
		return usagef(usage)
	}
}

func newFlagSet(usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(usage, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // the error says what is wrong; main prints it once
	return fs
}

// parse parses flags and wants exactly n positional arguments.
func parse(fs *flag.FlagSet, args []string, n int) error {
	if err := fs.Parse(args); err != nil {
		return usagef("%s: %v", fs.Name(), err)
	}
	if fs.NArg() != n {
		return usagef("%s", fs.Name())
	}
	return nil
}
