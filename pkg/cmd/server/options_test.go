package server

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/tools/clientcmd"
)

// hermetic clears the environment the options read, so the host's Docker or
// cluster never shows through; env then sets what the test case wants.
func hermetic(t *testing.T, env map[string]string) {
	t.Helper()
	t.Setenv("DOCKER_HOST", "")
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	for k, v := range env {
		t.Setenv(k, v)
	}
}

// parse gives the completed options for args, parsed by the command itself
// (not run), as containers-apiserver would see them.
func parse(t *testing.T, env map[string]string, args ...string) *Options {
	t.Helper()
	hermetic(t, env)
	o := NewOptions()
	if err := newCommand(context.Background(), o).ParseFlags(args); err != nil {
		t.Fatalf("parsing %q: %v", args, err)
	}
	if err := o.Complete(); err != nil {
		t.Fatal(err)
	}
	return o
}

// values are the server's own options, comparable as a whole.
type values struct {
	DockerHost      string
	Standalone      bool
	TokenFile       string
	WriteKubeconfig string
	Namespace       string
	ResyncInterval  time.Duration
	ActionTimeout   time.Duration
	RequestTTL      time.Duration
	StatsInterval   time.Duration
	StatsHistory    time.Duration
	PingInterval    time.Duration
	PongTimeout     time.Duration
}

func valuesOf(o *Options) values {
	return values{
		DockerHost: o.DockerHost, Standalone: o.Standalone, TokenFile: o.TokenFile,
		WriteKubeconfig: o.WriteKubeconfig, Namespace: o.Namespace, ResyncInterval: o.ResyncInterval,
		ActionTimeout: o.ActionTimeout, RequestTTL: o.RequestTTL,
		StatsInterval: o.StatsInterval, StatsHistory: o.StatsHistory,
		PingInterval: o.Stream.PingInterval, PongTimeout: o.Stream.PongTimeout,
	}
}

// defaults are the README's documented defaults.
func defaults() values {
	return values{
		DockerHost:     "unix:///var/run/docker.sock",
		TokenFile:      "apiserver.local.config/token",
		Namespace:      "rancher-desktop",
		ResyncInterval: 5 * time.Minute,
		ActionTimeout:  2 * time.Minute,
		RequestTTL:     time.Minute,
		StatsInterval:  2 * time.Second,
		StatsHistory:   15 * time.Minute,
		PingInterval:   30 * time.Second,
		PongTimeout:    60 * time.Second,
	}
}

func TestDefaults(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want func(*values)
	}{
		{name: "no DOCKER_HOST", want: func(*values) {}},
		{
			name: "DOCKER_HOST set",
			env:  map[string]string{"DOCKER_HOST": "tcp://10.0.0.1:2375"},
			want: func(v *values) { v.DockerHost = "tcp://10.0.0.1:2375" },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := parse(t, tc.env)
			want := defaults()
			tc.want(&want)
			if got := valuesOf(o); got != want {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
			if err := o.Validate(); err != nil {
				t.Errorf("the defaults do not validate: %v", err)
			}
		})
	}
}

// TestRecommendedOptions: the generic server's options keep the choices the
// README documents.
func TestRecommendedOptions(t *testing.T) {
	ro := parse(t, nil).RecommendedOptions
	if ro.Etcd != nil || ro.Admission != nil {
		t.Errorf("etcd and admission options must be absent: etcd %v, admission %v", ro.Etcd, ro.Admission)
	}
	if ro.Features.EnablePriorityAndFairness {
		t.Error("priority and fairness must be off")
	}
	if got := ro.SecureServing.HTTP2MaxStreamsPerConnection; got != 1000 {
		t.Errorf("--http2-max-streams-per-connection default = %d, want 1000", got)
	}
}

func TestFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want func(*values)
	}{
		{[]string{"--docker-host=tcp://127.0.0.1:2375"}, func(v *values) { v.DockerHost = "tcp://127.0.0.1:2375" }},
		{[]string{"--standalone"}, func(v *values) { v.Standalone = true }},
		{[]string{"--token-file=/tmp/t"}, func(v *values) { v.TokenFile = "/tmp/t" }},
		{[]string{"--write-kubeconfig=/tmp/kc"}, func(v *values) { v.WriteKubeconfig = "/tmp/kc" }},
		{[]string{"--namespace=containers"}, func(v *values) { v.Namespace = "containers" }},
		{[]string{"--resync-interval=1h"}, func(v *values) { v.ResyncInterval = time.Hour }},
		{[]string{"--action-timeout=10s"}, func(v *values) { v.ActionTimeout = 10 * time.Second }},
		{[]string{"--request-ttl=90s"}, func(v *values) { v.RequestTTL = 90 * time.Second }},
		{[]string{"--stats-interval=0"}, func(v *values) { v.StatsInterval = 0 }},
		{[]string{"--stats-interval=500ms"}, func(v *values) { v.StatsInterval = 500 * time.Millisecond }},
		{[]string{"--stats-history=1h"}, func(v *values) { v.StatsHistory = time.Hour }},
		{[]string{"--stream-ping-interval=5s"}, func(v *values) { v.PingInterval = 5 * time.Second }},
		{[]string{"--stream-pong-timeout=2m"}, func(v *values) { v.PongTimeout = 2 * time.Minute }},
		{
			// Several at once, values as separate arguments.
			[]string{"--docker-host", "ssh://me@host", "--namespace", "ns-2", "--stream-ping-interval", "200ms",
				"--stream-pong-timeout", "1s"},
			func(v *values) {
				v.DockerHost, v.Namespace = "ssh://me@host", "ns-2"
				v.PingInterval, v.PongTimeout = 200*time.Millisecond, time.Second
			},
		},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			want := defaults()
			tc.want(&want)
			if got := valuesOf(parse(t, nil, tc.args...)); got != want {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestServingDefaults(t *testing.T) {
	for _, tc := range []struct {
		name     string
		args     []string
		wantAddr string
		wantPort int
	}{
		{"delegated keeps the generic defaults", nil, "0.0.0.0", 443},
		{"standalone", []string{"--standalone"}, "127.0.0.1", 9443},
		{"standalone, address set", []string{"--standalone", "--bind-address=0.0.0.0"}, "0.0.0.0", 9443},
		{"standalone, port set", []string{"--standalone", "--secure-port=8443"}, "127.0.0.1", 8443},
		// Set to the delegated default's value: still the user's choice.
		{"standalone, port set to 443", []string{"--standalone", "--secure-port=443"}, "127.0.0.1", 443},
		{"delegated, both set", []string{"--bind-address=::1", "--secure-port=6443"}, "::1", 6443},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ss := parse(t, nil, tc.args...).RecommendedOptions.SecureServing
			if got := ss.BindAddress.String(); got != tc.wantAddr {
				t.Errorf("bind address %s, want %s", got, tc.wantAddr)
			}
			if ss.BindPort != tc.wantPort {
				t.Errorf("port %d, want %d", ss.BindPort, tc.wantPort)
			}
		})
	}

	// Options built in Go (test/testenv) have no flags: standalone defaults apply.
	t.Run("without flags", func(t *testing.T) {
		hermetic(t, nil)
		o := NewOptions()
		o.Standalone = true
		if err := o.Complete(); err != nil {
			t.Fatal(err)
		}
		ss := o.RecommendedOptions.SecureServing
		if ss.BindAddress.String() != "127.0.0.1" || ss.BindPort != 9443 {
			t.Errorf("got %s:%d, want 127.0.0.1:9443", ss.BindAddress, ss.BindPort)
		}
	})
}

// TestCompleteClusterOptions: standalone drops every option that asks a
// cluster; delegated drops only the core API, and only when nothing says
// where a cluster is.
func TestCompleteClusterOptions(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		env                  map[string]string
		args                 []string
		wantAuthn, wantAuthz bool
		wantCoreAPI          bool
	}{
		{"standalone", nil, []string{"--standalone", "--kubeconfig=/k"}, false, false, false},
		{"delegated outside a cluster", nil, nil, true, true, false},
		{"delegated with --kubeconfig", nil, []string{"--kubeconfig=/k"}, true, true, true},
		{"delegated in a cluster", map[string]string{"KUBERNETES_SERVICE_HOST": "10.0.0.1"}, nil, true, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ro := parse(t, tc.env, tc.args...).RecommendedOptions
			if got := ro.Authentication != nil; got != tc.wantAuthn {
				t.Errorf("delegated authentication present: %v, want %v", got, tc.wantAuthn)
			}
			if got := ro.Authorization != nil; got != tc.wantAuthz {
				t.Errorf("delegated authorization present: %v, want %v", got, tc.wantAuthz)
			}
			if got := ro.CoreAPI != nil; got != tc.wantCoreAPI {
				t.Errorf("core API options present: %v, want %v", got, tc.wantCoreAPI)
			}
		})
	}
}

// errorStrings lists the messages of Validate's aggregate.
func errorStrings(err error) []string {
	if err == nil {
		return nil
	}
	var agg utilerrors.Aggregate
	if !errors.As(err, &agg) {
		return []string{"not an aggregate: " + err.Error()}
	}
	var out []string
	for _, e := range agg.Errors() {
		out = append(out, e.Error())
	}
	return out
}

func TestValidate(t *testing.T) {
	badNamespace := "--namespace \"Rancher_Desktop\" is not a valid namespace name: " +
		strings.Join(apivalidation.ValidateNamespaceName("Rancher_Desktop", false), "; ")
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want []string
	}{
		{name: "defaults"},
		{name: "short ping and pong", args: []string{"--stream-ping-interval=200ms", "--stream-pong-timeout=1s"}},
		{name: "standalone", args: []string{"--standalone", "--write-kubeconfig=/tmp/kc"}},
		{name: "npipe host", args: []string{"--docker-host=npipe:////./pipe/docker_engine"}},

		{
			name: "empty docker host", args: []string{"--docker-host="},
			want: []string{"--docker-host must not be empty; leave it out to use $DOCKER_HOST, else unix:///var/run/docker.sock"},
		},
		{
			name: "docker host without scheme", args: []string{"--docker-host=/var/run/docker.sock"},
			want: []string{`--docker-host "/var/run/docker.sock" is not a Docker endpoint URL ` +
				`(scheme://address such as unix:///var/run/docker.sock or tcp://127.0.0.1:2375)`},
		},
		{
			name: "docker host without address", args: []string{"--docker-host=tcp://"},
			want: []string{`--docker-host "tcp://" is not a Docker endpoint URL ` +
				`(scheme://address such as unix:///var/run/docker.sock or tcp://127.0.0.1:2375)`},
		},
		{
			name: "bad DOCKER_HOST", env: map[string]string{"DOCKER_HOST": "localhost:2375"},
			want: []string{`--docker-host "localhost:2375" (from $DOCKER_HOST) is not a Docker endpoint URL ` +
				`(scheme://address such as unix:///var/run/docker.sock or tcp://127.0.0.1:2375)`},
		},
		{
			name: "bad DOCKER_HOST replaced by the flag", env: map[string]string{"DOCKER_HOST": "localhost:2375"},
			args: []string{"--docker-host=tcp://localhost:2375"},
		},

		{name: "empty namespace", args: []string{"--namespace="}, want: []string{"--namespace must not be empty"}},
		{name: "invalid namespace", args: []string{"--namespace=Rancher_Desktop"}, want: []string{badNamespace}},
		{
			name: "zero resync interval", args: []string{"--resync-interval=0"},
			want: []string{"--resync-interval must be positive (the default is 5m0s); got 0s"},
		},
		{
			name: "negative resync interval", args: []string{"--resync-interval=-1m"},
			want: []string{"--resync-interval must be positive (the default is 5m0s); got -1m0s"},
		},
		{
			name: "zero action timeout", args: []string{"--action-timeout=0s"},
			want: []string{"--action-timeout must be positive (the default is 2m0s); got 0s"},
		},
		{
			name: "zero request ttl", args: []string{"--request-ttl=0"},
			want: []string{"--request-ttl must be positive (the default is 1m0s); got 0s"},
		},
		{
			name: "negative request ttl", args: []string{"--request-ttl=-5s"},
			want: []string{"--request-ttl must be positive (the default is 1m0s); got -5s"},
		},
		{
			name: "stats interval too short", args: []string{"--stats-interval=10ms"},
			want: []string{"--stats-interval 10ms is too short: give 0 (no stats) or at least 250ms (each sample is one Docker call per container)"},
		},
		{
			name: "negative stats interval", args: []string{"--stats-interval=-1s"},
			want: []string{"--stats-interval -1s is too short: give 0 (no stats) or at least 250ms (each sample is one Docker call per container)"},
		},
		{
			name: "zero stats history", args: []string{"--stats-history=0"},
			want: []string{"--stats-history must be positive (the default is 15m0s); got 0s"},
		},

		{
			name: "zero ping interval", args: []string{"--stream-ping-interval=0"},
			want: []string{"--stream-ping-interval must be positive (the default is 30s); got 0s"},
		},
		{
			name: "zero pong timeout", args: []string{"--stream-pong-timeout=0"},
			want: []string{"--stream-pong-timeout must be positive (the default is 1m0s); got 0s"},
		},
		{
			name: "pong timeout equal to the ping interval", args: []string{"--stream-pong-timeout=30s"},
			want: []string{"--stream-pong-timeout (30s) must be longer than --stream-ping-interval (30s) " +
				"so that a client has time to answer a ping; twice the interval (1m0s) lets it miss one"},
		},
		{
			name: "ping interval raised to the default pong timeout", args: []string{"--stream-ping-interval=1m"},
			want: []string{"--stream-pong-timeout (1m0s) must be longer than --stream-ping-interval (1m0s) " +
				"so that a client has time to answer a ping; twice the interval (2m0s) lets it miss one"},
		},
		{
			name: "pong timeout below the ping interval", args: []string{"--stream-ping-interval=10s", "--stream-pong-timeout=5s"},
			want: []string{"--stream-pong-timeout (5s) must be longer than --stream-ping-interval (10s) " +
				"so that a client has time to answer a ping; twice the interval (20s) lets it miss one"},
		},

		{
			name: "standalone without a token file", args: []string{"--standalone", "--token-file="},
			want: []string{"--token-file must not be empty with --standalone"},
		},
		{
			name: "kubeconfig without standalone", args: []string{"--write-kubeconfig=/tmp/kc"},
			want: []string{"--write-kubeconfig needs --standalone"},
		},
		{
			name: "the generic server's own checks still run", args: []string{"--secure-port=70000"},
			want: []string{"--secure-port 70000 must be between 1 and 65535, inclusive. It cannot be turned off with 0"},
		},

		{
			name: "several at once, in section order",
			args: []string{"--write-kubeconfig=/tmp/kc", "--docker-host=", "--namespace=", "--action-timeout=-1s",
				"--stream-ping-interval=0", "--stream-pong-timeout=0"},
			want: []string{
				"--write-kubeconfig needs --standalone",
				"--docker-host must not be empty; leave it out to use $DOCKER_HOST, else unix:///var/run/docker.sock",
				"--namespace must not be empty",
				"--action-timeout must be positive (the default is 2m0s); got -1s",
				"--stream-ping-interval must be positive (the default is 30s); got 0s",
				"--stream-pong-timeout must be positive (the default is 1m0s); got 0s",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := errorStrings(parse(t, tc.env, tc.args...).Validate())
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("errors:\n got  %q\n want %q", got, tc.want)
			}
		})
	}
}

// TestCommandRefusesInvalidFlags: the command stops at validation, listing
// every problem, one per line, before anything starts.
func TestCommandRefusesInvalidFlags(t *testing.T) {
	hermetic(t, nil)
	// Cancelled, so that a server started by mistake stops at once.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	certs := filepath.Join(t.TempDir(), "certs")
	cmd := NewCommand(ctx)
	cmd.SetArgs([]string{"--cert-dir=" + certs, "--stream-ping-interval=1m", "--request-ttl=0"})
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	err := cmd.Execute()
	want := "invalid flags:\n" +
		"  --request-ttl must be positive (the default is 1m0s); got 0s\n" +
		"  --stream-pong-timeout (1m0s) must be longer than --stream-ping-interval (1m0s) " +
		"so that a client has time to answer a ping; twice the interval (2m0s) lets it miss one"
	if err == nil || err.Error() != want {
		t.Fatalf("error:\n%v\nwant:\n%s", err, want)
	}
	if _, err := os.Stat(certs); !os.IsNotExist(err) {
		t.Errorf("the server got as far as its certificates (%v)", err)
	}
}

func TestHelpSections(t *testing.T) {
	hermetic(t, nil)
	cmd := NewCommand(context.Background())
	cmd.SetArgs([]string{"--help"})
	var out bytes.Buffer
	cmd.SetOut(&out)
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}

	// Which section each flag is listed in, and the sections in order.
	header := regexp.MustCompile(`^(\S.*) flags:$`)
	flag := regexp.MustCompile(`^\s+(?:-\w, )?--([\w-]+)`)
	var sections []string
	in := map[string]string{}
	for _, line := range strings.Split(out.String(), "\n") {
		if m := header.FindStringSubmatch(line); m != nil {
			sections = append(sections, m[1])
		} else if m := flag.FindStringSubmatch(line); m != nil && len(sections) > 0 {
			in[m[1]] = sections[len(sections)-1]
		}
	}
	wantSections := []string{"Standalone", "Docker", "Mirror", "Stream", "Generic apiserver", "Logs"}
	if !reflect.DeepEqual(sections, wantSections) {
		t.Errorf("sections %q, want %q", sections, wantSections)
	}
	for flag, want := range map[string]string{
		"standalone": "Standalone", "token-file": "Standalone", "write-kubeconfig": "Standalone",
		"docker-host": "Docker",
		"namespace":   "Mirror", "resync-interval": "Mirror", "action-timeout": "Mirror", "request-ttl": "Mirror",
		"stats-interval": "Mirror", "stats-history": "Mirror",
		"stream-ping-interval": "Stream", "stream-pong-timeout": "Stream",
		"bind-address": "Generic apiserver", "secure-port": "Generic apiserver", "cert-dir": "Generic apiserver",
		"authentication-kubeconfig": "Generic apiserver", "kubeconfig": "Generic apiserver",
		"http2-max-streams-per-connection": "Generic apiserver",
		"v":                                "Logs",
	} {
		if in[flag] != want {
			t.Errorf("--%s listed in section %q, want %q", flag, in[flag], want)
		}
	}
	for _, absent := range []string{"etcd-servers", "admission-control-config-file"} {
		if s, ok := in[absent]; ok {
			t.Errorf("--%s is listed (in %q) but the server has no etcd or admission", absent, s)
		}
	}
}

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want func(*values)
	}{
		{name: "defaults", want: func(*values) {}},
		{
			name: "host from DOCKER_HOST", env: map[string]string{"DOCKER_HOST": "tcp://10.0.0.1:2375"},
			want: func(v *values) { v.DockerHost = "tcp://10.0.0.1:2375" },
		},
		{
			name: "every flag",
			args: []string{"--docker-host=unix:///run/user/1000/docker.sock", "--namespace=ns-1", "--resync-interval=7m",
				"--action-timeout=9s", "--request-ttl=11s", "--stream-ping-interval=2s", "--stream-pong-timeout=5s",
				"--stats-interval=3s", "--stats-history=4m"},
			want: func(v *values) {
				v.DockerHost, v.Namespace = "unix:///run/user/1000/docker.sock", "ns-1"
				v.ResyncInterval, v.ActionTimeout, v.RequestTTL = 7*time.Minute, 9*time.Second, 11*time.Second
				v.PingInterval, v.PongTimeout = 2*time.Second, 5*time.Second
				v.StatsInterval, v.StatsHistory = 3*time.Second, 4*time.Minute
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Standalone, with a given certificate and no port: the
			// delegated mode would need a cluster, and a port a socket.
			dir := t.TempDir()
			cert := filepath.Join(dir, "tls.crt")
			for _, f := range []string{cert, filepath.Join(dir, "tls.key")} {
				if err := os.WriteFile(f, []byte("not checked without a port\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			args := append([]string{"--standalone", "--tls-cert-file=" + cert, "--tls-private-key-file=" + filepath.Join(dir, "tls.key"),
				"--token-file=" + filepath.Join(dir, "token"), "--write-kubeconfig=" + filepath.Join(dir, "kubeconfig")}, tc.args...)
			o := parse(t, tc.env, args...)
			if err := o.Validate(); err != nil {
				t.Fatal(err)
			}
			o.RecommendedOptions.SecureServing.BindPort = 0
			cfg, err := o.Config()
			if err != nil {
				t.Fatal(err)
			}

			x := cfg.ExtraConfig
			got := valuesOf(o)
			got.DockerHost, got.Namespace = x.DockerHost, x.Namespace
			got.ResyncInterval, got.ActionTimeout, got.RequestTTL = x.ResyncInterval, x.ActionTimeout, x.RequestTTL
			got.PingInterval, got.PongTimeout = x.Stream.PingInterval, x.Stream.PongTimeout
			got.StatsInterval, got.StatsHistory = x.StatsInterval, x.StatsHistory
			want := defaults()
			want.Standalone = true
			want.TokenFile, want.WriteKubeconfig = o.TokenFile, o.WriteKubeconfig
			tc.want(&want)
			if got != want {
				t.Errorf("ExtraConfig gives\n got  %+v\n want %+v", got, want)
			}
			if x.Stream.ReadLimit != 0 || x.Stream.WriteTimeout != 0 || x.Stream.Sessions != nil {
				t.Errorf("stream options beyond the flags are set: %+v", x.Stream)
			}

			// The kubeconfig written once listening selects the namespace
			// and carries the token.
			if x.OnListening == nil {
				t.Fatal("no OnListening with --write-kubeconfig")
			}
			if err := x.OnListening(); err != nil {
				t.Fatal(err)
			}
			kc, err := clientcmd.LoadFromFile(o.WriteKubeconfig)
			if err != nil {
				t.Fatal(err)
			}
			token, err := os.ReadFile(o.TokenFile)
			if err != nil {
				t.Fatal(err)
			}
			ctx := kc.Contexts[kc.CurrentContext]
			if ctx == nil || ctx.Namespace != want.Namespace || kc.AuthInfos[ctx.AuthInfo].Token != strings.TrimSpace(string(token)) {
				t.Errorf("kubeconfig context %+v does not select namespace %s with the token", ctx, want.Namespace)
			}
		})
	}
}
