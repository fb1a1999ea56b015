// Package server turns command-line options into a running containers-apiserver.
package server

import (
	"fmt"
	"net"
	"os"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/util/sets"
	openapinamer "k8s.io/apiserver/pkg/endpoints/openapi"
	genericapiserver "k8s.io/apiserver/pkg/server"
	genericfilters "k8s.io/apiserver/pkg/server/filters"
	genericoptions "k8s.io/apiserver/pkg/server/options"
	utilcompatibility "k8s.io/apiserver/pkg/util/compatibility"
	netutils "k8s.io/utils/net"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers/v1alpha1"
	"github.com/rancher-sandbox/containers-apiserver/pkg/apiserver"
	"github.com/rancher-sandbox/containers-apiserver/pkg/engine/docker"
	generatedopenapi "github.com/rancher-sandbox/containers-apiserver/pkg/generated/openapi"
	"github.com/rancher-sandbox/containers-apiserver/pkg/stream"
)

// Standalone defaults differ from delegated ones: a laptop server listens on loopback only.
const (
	standaloneBindAddress = "127.0.0.1"
	standalonePort        = 9443
)

// Options are the command-line options of containers-apiserver.
type Options struct {
	RecommendedOptions *genericoptions.RecommendedOptions

	// Standalone runs without kube-apiserver: own certificate, bearer token.
	Standalone bool
	// TokenFile holds the standalone bearer token; created when missing.
	TokenFile string
	// WriteKubeconfig is where the standalone server writes a kubeconfig once it listens.
	WriteKubeconfig string
	// DockerHost is the Docker endpoint.
	DockerHost string
	// Namespace holds every mirror.
	Namespace string
	// ResyncInterval is the mirror's full-sync period.
	ResyncInterval time.Duration
	// RequestTTL is how long an ended request object stays before it is deleted.
	RequestTTL time.Duration
	// ActionTimeout bounds one container action.
	ActionTimeout time.Duration
	// Stream tunes the log WebSocket keep-alive.
	Stream stream.Options

	// flags remembers which flags the user set, to apply standalone defaults.
	flags *pflag.FlagSet
}

// NewOptions returns the defaults.
func NewOptions() *Options {
	o := &Options{
		RecommendedOptions: genericoptions.NewRecommendedOptions("/registry/containers.rancherdesktop.io",
			apiserver.Codecs.LegacyCodec(v1alpha1.SchemeGroupVersion)),
		TokenFile:  "apiserver.local.config/token",
		DockerHost: os.Getenv("DOCKER_HOST"),
		Namespace:  docker.DefaultNamespace,
	}
	if o.DockerHost == "" {
		o.DockerHost = docker.DefaultHost
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

// AddFlags registers every flag, the generic server's included.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	o.flags = fs
	o.RecommendedOptions.AddFlags(fs)
	fs.BoolVar(&o.Standalone, "standalone", o.Standalone,
		"Run without kube-apiserver: self-signed certificate in --cert-dir, bearer token from --token-file, "+
			"--bind-address 127.0.0.1 and --secure-port 9443 unless set.")
	fs.StringVar(&o.TokenFile, "token-file", o.TokenFile,
		"Standalone: file holding the bearer token; a random token is generated there when it does not exist.")
	fs.StringVar(&o.WriteKubeconfig, "write-kubeconfig", o.WriteKubeconfig,
		"Standalone: once listening, write a kubeconfig for this server (URL, CA, token) to this path.")
	fs.StringVar(&o.DockerHost, "docker-host", o.DockerHost, "Docker endpoint; default $DOCKER_HOST, else "+docker.DefaultHost+".")
	fs.StringVar(&o.Namespace, "namespace", o.Namespace, "Kubernetes namespace that holds every mirror.")
	fs.DurationVar(&o.Stream.PingInterval, "stream-ping-interval", 30*time.Second,
		"How often a log or exec WebSocket client is pinged.")
	fs.DurationVar(&o.Stream.PongTimeout, "stream-pong-timeout", 60*time.Second,
		"How long a WebSocket client may stay silent (no pong, no message) before it is disconnected.")
	fs.DurationVar(&o.ResyncInterval, "resync-interval", docker.DefaultResyncInterval,
		"How often the mirror re-lists Docker while connected, to repair anything an event missed.")
	fs.DurationVar(&o.RequestTTL, "request-ttl", docker.DefaultRequestTTL,
		"How long a request object (containercreaterequests, imagepullrequests, ...) stays after it is Complete or Failed before it is deleted.")
	fs.DurationVar(&o.ActionTimeout, "action-timeout", docker.DefaultActionTimeout,
		"How long a container action (the containers.rancherdesktop.io/action annotation) may take before it is recorded as Failed.")
}

// Complete applies the mode's defaults after parsing.
func (o *Options) Complete() error {
	if o.Standalone {
		if o.flags == nil || !o.flags.Changed("bind-address") {
			o.RecommendedOptions.SecureServing.BindAddress = netutils.ParseIPSloppy(standaloneBindAddress)
		}
		if o.flags == nil || !o.flags.Changed("secure-port") {
			o.RecommendedOptions.SecureServing.BindPort = standalonePort
		}
		// Standalone has no cluster to ask: our own token and authorizer take
		// the place of the delegating ones.
		o.RecommendedOptions.Authentication = nil
		o.RecommendedOptions.Authorization = nil
		o.RecommendedOptions.CoreAPI = nil
	} else if o.RecommendedOptions.CoreAPI != nil && o.RecommendedOptions.CoreAPI.CoreAPIKubeconfigPath == "" &&
		os.Getenv("KUBERNETES_SERVICE_HOST") == "" {
		// Nothing here needs the core API; without --kubeconfig outside a
		// cluster, do without it rather than fail.
		o.RecommendedOptions.CoreAPI = nil
	}
	return nil
}

// Validate checks the options.
func (o *Options) Validate() error {
	var errs []error
	errs = append(errs, o.RecommendedOptions.Validate()...)
	if o.Namespace == "" {
		errs = append(errs, fmt.Errorf("--namespace must not be empty"))
	}
	if o.Standalone && o.TokenFile == "" {
		errs = append(errs, fmt.Errorf("--token-file must not be empty with --standalone"))
	}
	if !o.Standalone && o.WriteKubeconfig != "" {
		errs = append(errs, fmt.Errorf("--write-kubeconfig needs --standalone"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid options: %v", errs)
	}
	return nil
}

// Config builds the server configuration from the options.
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
		sets.NewString("watch"), sets.NewString("log", "logs", "exec"))

	if err := o.RecommendedOptions.ApplyTo(gc); err != nil {
		return nil, err
	}

	cfg := &apiserver.Config{
		GenericConfig: gc,
		ExtraConfig: apiserver.ExtraConfig{
			DockerHost:     o.DockerHost,
			Namespace:      o.Namespace,
			ResyncInterval: o.ResyncInterval,
			RequestTTL:     o.RequestTTL,
			ActionTimeout:  o.ActionTimeout,
			Stream:         o.Stream,
		},
	}
	if o.Standalone {
		if err := o.applyStandalone(cfg); err != nil {
			return nil, err
		}
	}
	return cfg, nil
}
