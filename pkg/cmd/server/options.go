// Package server turns command-line options into a running containers-apiserver.
package server

import (
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apimachinery/pkg/util/sets"
	openapinamer "k8s.io/apiserver/pkg/endpoints/openapi"
	genericapiserver "k8s.io/apiserver/pkg/server"
	genericfilters "k8s.io/apiserver/pkg/server/filters"
	genericoptions "k8s.io/apiserver/pkg/server/options"
	utilcompatibility "k8s.io/apiserver/pkg/util/compatibility"
	cliflag "k8s.io/component-base/cli/flag"
	netutils "k8s.io/utils/net"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers/v1alpha1"
	"github.com/rancher-sandbox/containers-apiserver/pkg/apiserver"
	"github.com/rancher-sandbox/containers-apiserver/pkg/controller/stats"
	"github.com/rancher-sandbox/containers-apiserver/pkg/engine"
	generatedopenapi "github.com/rancher-sandbox/containers-apiserver/pkg/generated/openapi"
	"github.com/rancher-sandbox/containers-apiserver/pkg/stream"
)

// Flag defaults: the documented contract (README, "Flags"). They live here
// rather than in the engine packages because they are the command line's; the
// engines keep their own fallbacks only for callers that pass zero values.
const (
	fallbackDockerHost    = "unix:///var/run/docker.sock"
	defaultNamespace      = "rancher-desktop"
	defaultResyncInterval = 5 * time.Minute
	defaultActionTimeout  = 2 * time.Minute
	defaultRequestTTL     = time.Minute
	defaultStatsInterval  = stats.DefaultInterval
	defaultStatsHistory   = stats.DefaultHistory
	defaultPingInterval   = 30 * time.Second
	defaultPongTimeout    = 60 * time.Second
)

// Options are the command-line options of containers-apiserver: the generic
// server's recommended options, and one struct per concern of our own, each
// with its flags (in its own --help section) and its checks.
//
// The concerns are embedded, and the stream's is named Stream, so that
// o.DockerHost, o.Namespace, o.Stream.PingInterval and the like keep working
// for the tests and tools that build Options in Go rather than from flags.
type Options struct {
	RecommendedOptions *genericoptions.RecommendedOptions

	DockerOptions
	StandaloneOptions
	MirrorOptions
	Stream StreamOptions

	// Engine, if set, is served instead of the Docker engine at DockerHost
	// (not a flag: for tests, which pass pkg/engine/fake, and embedders).
	Engine *engine.Engine

	// generic holds the recommended options' flags once Flags has run.
	// Complete asks it which of them the user set, because standalone
	// defaults must not override an explicit --bind-address or --secure-port.
	generic *pflag.FlagSet
}

// NewOptions returns the defaults.
func NewOptions() *Options {
	o := &Options{
		RecommendedOptions: genericoptions.NewRecommendedOptions("/registry/containers.rancherdesktop.io",
			apiserver.Codecs.LegacyCodec(v1alpha1.SchemeGroupVersion)),
		DockerOptions:     NewDockerOptions(),
		StandaloneOptions: NewStandaloneOptions(),
		MirrorOptions:     NewMirrorOptions(),
		Stream:            NewStreamOptions(),
	}
	// State lives in memory: no etcd. Admission plugins need a core API
	// informer we do not have; our own checks live in the registry strategies.
	o.RecommendedOptions.Etcd = nil
	o.RecommendedOptions.Admission = nil
	// Priority and fairness needs a core Kubernetes client; the max-in-flight
	// filter takes its place.
	o.RecommendedOptions.Features.EnablePriorityAndFairness = false
	return o
}

// Flags registers every flag of the options, one named set per concern, so
// that --help prints them in sections. Add the sets to the command's flags.
func (o *Options) Flags() cliflag.NamedFlagSets {
	var fss cliflag.NamedFlagSets
	o.StandaloneOptions.AddFlags(fss.FlagSet("standalone"))
	o.DockerOptions.AddFlags(fss.FlagSet("docker"))
	o.MirrorOptions.AddFlags(fss.FlagSet("mirror"))
	o.Stream.AddFlags(fss.FlagSet("stream"))
	o.generic = fss.FlagSet("generic apiserver")
	o.RecommendedOptions.AddFlags(o.generic)
	return fss
}

// userSet reports whether the user gave the generic flag name. Without
// flags (options built in Go), nothing was set.
func (o *Options) userSet(name string) bool {
	return o.generic != nil && o.generic.Changed(name)
}

// Complete applies the mode's defaults after parsing.
func (o *Options) Complete() error {
	if o.Standalone {
		o.StandaloneOptions.applyTo(o.RecommendedOptions, o.userSet)
	} else if o.RecommendedOptions.CoreAPI != nil && o.RecommendedOptions.CoreAPI.CoreAPIKubeconfigPath == "" &&
		os.Getenv("KUBERNETES_SERVICE_HOST") == "" {
		// Nothing here needs the core API; without --kubeconfig outside a
		// cluster, do without it rather than fail.
		o.RecommendedOptions.CoreAPI = nil
	}
	return nil
}

// Validate checks the options after Complete and returns every problem at
// once, so a user fixes the command line in one go.
func (o *Options) Validate() error {
	var errs []error
	errs = append(errs, o.RecommendedOptions.Validate()...)
	errs = append(errs, o.StandaloneOptions.Validate()...)
	errs = append(errs, o.DockerOptions.Validate()...)
	errs = append(errs, o.MirrorOptions.Validate()...)
	errs = append(errs, o.Stream.Validate()...)
	return utilerrors.NewAggregate(errs)
}

// Config builds the server configuration from the completed, valid options.
func (o *Options) Config() (*apiserver.Config, error) {
	ss := o.RecommendedOptions.SecureServing
	if err := ss.MaybeDefaultWithSelfSignedCerts("localhost", nil,
		[]net.IP{netutils.ParseIPSloppy("127.0.0.1"), netutils.ParseIPSloppy("::1")}); err != nil {
		return nil, fmt.Errorf("creating self-signed certificates: %w", err)
	}

	gc := genericapiserver.NewRecommendedConfig(apiserver.Codecs)
	gc.EffectiveVersion = utilcompatibility.DefaultBuildEffectiveVersion()

	namer := openapinamer.NewDefinitionNamer(apiserver.Scheme)
	gc.OpenAPIConfig = genericapiserver.DefaultOpenAPIConfig(generatedopenapi.GetOpenAPIDefinitions, namer)
	gc.OpenAPIConfig.Info.Title = "containers-apiserver"
	gc.OpenAPIConfig.Info.Version = "v1alpha1"
	gc.OpenAPIV3Config = genericapiserver.DefaultOpenAPIV3Config(generatedopenapi.GetOpenAPIDefinitions, namer)
	gc.OpenAPIV3Config.Info.Title = "containers-apiserver"
	gc.OpenAPIV3Config.Info.Version = "v1alpha1"

	// Log and exec streams run as long as the client wants, like watches.
	gc.LongRunningFunc = genericfilters.BasicLongRunningRequestCheck(
		sets.NewString("watch"), sets.NewString("log", "logs", "exec", "stats"))

	if err := o.RecommendedOptions.ApplyTo(gc); err != nil {
		return nil, err
	}

	cfg := &apiserver.Config{
		GenericConfig: gc,
		ExtraConfig: apiserver.ExtraConfig{
			DockerHost:     o.DockerHost,
			Engine:         o.Engine,
			Namespace:      o.Namespace,
			ResyncInterval: o.ResyncInterval,
			RequestTTL:     o.RequestTTL,
			ActionTimeout:  o.ActionTimeout,
			StatsInterval:  o.StatsInterval,
			StatsHistory:   o.StatsHistory,
			Stream:         o.Stream.config(),
		},
	}
	if o.Standalone {
		if err := o.applyStandalone(cfg); err != nil {
			return nil, err
		}
	}
	return cfg, nil
}

// DockerOptions choose the Docker engine to mirror.
type DockerOptions struct {
	// DockerHost is the Docker endpoint. NewDockerOptions resolves the
	// default, and Validate refuses an empty value, so nothing downstream
	// falls back to $DOCKER_HOST on its own.
	DockerHost string

	// envHost is $DOCKER_HOST as read by NewDockerOptions, to say where a bad
	// default came from.
	envHost string
}

// NewDockerOptions returns the default endpoint: $DOCKER_HOST, else
// unix:///var/run/docker.sock. This is the only place the server reads
// $DOCKER_HOST.
func NewDockerOptions() DockerOptions {
	o := DockerOptions{DockerHost: os.Getenv("DOCKER_HOST")}
	o.envHost = o.DockerHost
	if o.DockerHost == "" {
		o.DockerHost = fallbackDockerHost
	}
	return o
}

// AddFlags registers --docker-host.
func (o *DockerOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.DockerHost, "docker-host", o.DockerHost,
		"Docker endpoint; default $DOCKER_HOST, else "+fallbackDockerHost+".")
}

// Validate refuses an endpoint the Docker client could not parse, so the
// mistake shows with the other flag errors rather than when the server starts.
func (o *DockerOptions) Validate() []error {
	if o.DockerHost == "" {
		return []error{fmt.Errorf("--docker-host must not be empty; leave it out to use $DOCKER_HOST, else %s",
			fallbackDockerHost)}
	}
	// The Docker client's own rule: scheme://address.
	if scheme, addr, ok := strings.Cut(o.DockerHost, "://"); !ok || scheme == "" || addr == "" {
		from := ""
		if o.DockerHost == o.envHost {
			from = " (from $DOCKER_HOST)"
		}
		return []error{fmt.Errorf("--docker-host %q%s is not a Docker endpoint URL "+
			"(scheme://address such as unix:///var/run/docker.sock or tcp://127.0.0.1:2375)", o.DockerHost, from)}
	}
	return nil
}

// MirrorOptions tune the mirror of Docker's objects and the work done on them.
type MirrorOptions struct {
	// Namespace is the Kubernetes namespace that holds every mirror.
	Namespace string
	// ResyncInterval is the mirror's full-sync period.
	ResyncInterval time.Duration
	// ActionTimeout bounds one container action.
	ActionTimeout time.Duration
	// RequestTTL is how long an ended request object stays before it is deleted.
	RequestTTL time.Duration
	// StatsInterval is how often each running container is sampled; 0
	// turns the stats collector off.
	StatsInterval time.Duration
	// StatsHistory is how much of each container's samples is kept.
	StatsHistory time.Duration
}

// NewMirrorOptions returns the defaults.
func NewMirrorOptions() MirrorOptions {
	return MirrorOptions{
		Namespace:      defaultNamespace,
		ResyncInterval: defaultResyncInterval,
		ActionTimeout:  defaultActionTimeout,
		RequestTTL:     defaultRequestTTL,
		StatsInterval:  defaultStatsInterval,
		StatsHistory:   defaultStatsHistory,
	}
}

// AddFlags registers the mirror's flags.
func (o *MirrorOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Namespace, "namespace", o.Namespace, "Kubernetes namespace that holds every mirror.")
	fs.DurationVar(&o.ResyncInterval, "resync-interval", o.ResyncInterval,
		"How often the mirror re-lists Docker while connected, to repair anything an event missed.")
	fs.DurationVar(&o.ActionTimeout, "action-timeout", o.ActionTimeout,
		"How long a container action (the containers.rancherdesktop.io/action annotation) may take before it is recorded as Failed.")
	fs.DurationVar(&o.RequestTTL, "request-ttl", o.RequestTTL,
		"How long a request object (containercreaterequests, imagepullrequests, ...) stays after it is Complete or Failed before it is deleted.")
	fs.DurationVar(&o.StatsInterval, "stats-interval", o.StatsInterval,
		fmt.Sprintf("How often each running container's resource use is sampled (containerstats); 0 turns the collector off. At least %s.", stats.MinInterval))
	fs.DurationVar(&o.StatsHistory, "stats-history", o.StatsHistory,
		fmt.Sprintf("How much of each running container's samples the containers/stats subresource keeps (at most %d samples).", stats.MaxSamples))
}

// Validate refuses a namespace no object could live in and durations that
// are not positive (the engine would otherwise quietly use its default).
func (o *MirrorOptions) Validate() []error {
	var errs []error
	if o.Namespace == "" {
		errs = append(errs, fmt.Errorf("--namespace must not be empty"))
	} else if msgs := apivalidation.ValidateNamespaceName(o.Namespace, false); len(msgs) > 0 {
		errs = append(errs, fmt.Errorf("--namespace %q is not a valid namespace name: %s",
			o.Namespace, strings.Join(msgs, "; ")))
	}
	errs = appendPositive(errs, "resync-interval", o.ResyncInterval, defaultResyncInterval)
	errs = appendPositive(errs, "action-timeout", o.ActionTimeout, defaultActionTimeout)
	errs = appendPositive(errs, "request-ttl", o.RequestTTL, defaultRequestTTL)
	if o.StatsInterval != 0 && o.StatsInterval < stats.MinInterval {
		errs = append(errs, fmt.Errorf("--stats-interval %s is too short: give 0 (no stats) or at least %s (each sample is one Docker call per container)",
			o.StatsInterval, stats.MinInterval))
	}
	errs = appendPositive(errs, "stats-history", o.StatsHistory, defaultStatsHistory)
	return errs
}

// StreamOptions tune the keep-alive of log and exec WebSockets.
type StreamOptions struct {
	// PingInterval is how often a WebSocket client is pinged.
	PingInterval time.Duration
	// PongTimeout is how long a WebSocket client may stay silent before it is
	// disconnected; longer than PingInterval.
	PongTimeout time.Duration
}

// NewStreamOptions returns the defaults.
func NewStreamOptions() StreamOptions {
	return StreamOptions{PingInterval: defaultPingInterval, PongTimeout: defaultPongTimeout}
}

// AddFlags registers the stream's flags.
func (o *StreamOptions) AddFlags(fs *pflag.FlagSet) {
	fs.DurationVar(&o.PingInterval, "stream-ping-interval", o.PingInterval,
		"How often a log or exec WebSocket client is pinged.")
	fs.DurationVar(&o.PongTimeout, "stream-pong-timeout", o.PongTimeout,
		"How long a WebSocket client may stay silent (no pong, no message) before it is disconnected; "+
			"must be longer than --stream-ping-interval.")
}

// Validate refuses what pkg/stream would otherwise rewrite quietly: a
// non-positive interval, and a pong timeout that gives a client no time to
// answer a ping.
func (o *StreamOptions) Validate() []error {
	var errs []error
	errs = appendPositive(errs, "stream-ping-interval", o.PingInterval, defaultPingInterval)
	errs = appendPositive(errs, "stream-pong-timeout", o.PongTimeout, defaultPongTimeout)
	if o.PingInterval > 0 && o.PongTimeout > 0 && o.PongTimeout <= o.PingInterval {
		errs = append(errs, fmt.Errorf("--stream-pong-timeout (%v) must be longer than --stream-ping-interval (%v) "+
			"so that a client has time to answer a ping; twice the interval (%v) lets it miss one",
			o.PongTimeout, o.PingInterval, 2*o.PingInterval))
	}
	return errs
}

// config gives the stream options the server passes on; the other fields
// of stream.Options keep their package defaults.
func (o *StreamOptions) config() stream.Options {
	return stream.Options{PingInterval: o.PingInterval, PongTimeout: o.PongTimeout}
}

// appendPositive appends an error to errs when the duration given by --flag
// is zero or negative.
func appendPositive(errs []error, flag string, d, def time.Duration) []error {
	if d > 0 {
		return errs
	}
	return append(errs, fmt.Errorf("--%s must be positive (the default is %v); got %v", flag, def, d))
}
