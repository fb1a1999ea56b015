package server

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/group"
	"k8s.io/apiserver/pkg/authentication/request/bearertoken"
	"k8s.io/apiserver/pkg/authentication/request/union"
	"k8s.io/apiserver/pkg/authentication/request/websocket"
	"k8s.io/apiserver/pkg/authentication/token/tokenfile"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizerfactory"
	"k8s.io/apiserver/pkg/authorization/path"
	authzunion "k8s.io/apiserver/pkg/authorization/union"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/spf13/pflag"
	genericoptions "k8s.io/apiserver/pkg/server/options"
	netutils "k8s.io/utils/net"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apiserver"
)

// Standalone serving defaults differ from delegated ones: a laptop server
// listens on loopback only, on a port that needs no root.
const (
	standaloneBindAddress = "127.0.0.1"
	standalonePort        = 9443
)

// StandaloneOptions run the server without kube-apiserver.
type StandaloneOptions struct {
	// Standalone runs without kube-apiserver: own certificate, bearer token.
	Standalone bool
	// TokenFile holds the standalone bearer token; created when missing.
	TokenFile string
	// WriteKubeconfig is where the standalone server writes a kubeconfig once it listens.
	WriteKubeconfig string
}

// NewStandaloneOptions returns the defaults.
func NewStandaloneOptions() StandaloneOptions {
	return StandaloneOptions{TokenFile: "apiserver.local.config/token"}
}

// AddFlags registers the standalone flags.
func (o *StandaloneOptions) AddFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&o.Standalone, "standalone", o.Standalone,
		"Run without kube-apiserver: self-signed certificate in --cert-dir, bearer token from --token-file, "+
			"--bind-address "+standaloneBindAddress+" and --secure-port "+strconv.Itoa(standalonePort)+" unless set.")
	fs.StringVar(&o.TokenFile, "token-file", o.TokenFile,
		"Standalone: file holding the bearer token; a random token is generated there when it does not exist.")
	fs.StringVar(&o.WriteKubeconfig, "write-kubeconfig", o.WriteKubeconfig,
		"Standalone: once listening, write a kubeconfig for this server (URL, CA, token) to this path.")
}

// Validate refuses standalone flags that could not take effect.
func (o *StandaloneOptions) Validate() []error {
	var errs []error
	if o.Standalone && o.TokenFile == "" {
		errs = append(errs, fmt.Errorf("--token-file must not be empty with --standalone"))
	}
	if !o.Standalone && o.WriteKubeconfig != "" {
		errs = append(errs, fmt.Errorf("--write-kubeconfig needs --standalone"))
	}
	return errs
}

// applyTo gives ro the standalone serving defaults, for the flags userSet
// says the user did not give, and drops what needs a cluster.
func (o *StandaloneOptions) applyTo(ro *genericoptions.RecommendedOptions, userSet func(flag string) bool) {
	if !userSet("bind-address") {
		ro.SecureServing.BindAddress = netutils.ParseIPSloppy(standaloneBindAddress)
	}
	if !userSet("secure-port") {
		ro.SecureServing.BindPort = standalonePort
	}
	// Standalone has no cluster to ask: our own token and authorizer take
	// the place of the delegating ones.
	ro.Authentication = nil
	ro.Authorization = nil
	ro.CoreAPI = nil
}

// StandaloneUser is who the standalone token authenticates as.
const StandaloneUser = "containers-apiserver-admin"

// healthPaths answer without credentials, so probes need no token.
var healthPaths = []string{"/healthz", "/healthz/*", "/livez", "/livez/*", "/readyz", "/readyz/*"}

// applyStandalone installs token authentication, an authorizer that lets the
// token's user do everything, and the kubeconfig writer.
func (o *Options) applyStandalone(cfg *apiserver.Config) error {
	token, err := loadOrCreateToken(o.TokenFile)
	if err != nil {
		return err
	}
	tokens := tokenfile.New(map[string]*user.DefaultInfo{
		token: {Name: StandaloneUser, Groups: []string{user.SystemPrivilegedGroup}},
	})
	// Browsers cannot set Authorization on a WebSocket, so the token is also
	// accepted as the base64url.bearer.authorization.k8s.io subprotocol.
	authn := group.NewAuthenticatedGroupAdder(union.New(bearertoken.New(tokens), websocket.NewProtocolAuthenticator(tokens)))
	cfg.GenericConfig.Authentication.Authenticator = healthProbeAuthenticator{authn}

	healthz, err := path.NewAuthorizer(healthPaths)
	if err != nil {
		return err
	}
	cfg.GenericConfig.Authorization.Authorizer, err = authzunion.New(
		authzunion.NamedAuthorizer{AuthorizerName: "health", Authorizer: healthz},
		authzunion.NamedAuthorizer{AuthorizerName: "token", Authorizer: authorizerfactory.NewPrivilegedGroups(user.SystemPrivilegedGroup)},
	)
	if err != nil {
		return err
	}

	if o.WriteKubeconfig != "" {
		ss := o.RecommendedOptions.SecureServing
		host := ss.BindAddress.String()
		if ss.BindAddress.IsUnspecified() {
			host = "127.0.0.1"
		}
		server := "https://" + net.JoinHostPort(host, strconv.Itoa(ss.BindPort))
		caFile := ss.ServerCert.CertKey.CertFile
		dest := o.WriteKubeconfig
		ns := o.Namespace
		cfg.ExtraConfig.OnListening = func() error { return writeKubeconfig(dest, server, caFile, token, ns) }
	}
	return nil
}

// healthProbeAuthenticator lets requests without credentials reach the health
// endpoints as anonymous; everything else needs the token (401 otherwise).
type healthProbeAuthenticator struct{ authenticator.Request }

func (a healthProbeAuthenticator) AuthenticateRequest(req *http.Request) (*authenticator.Response, bool, error) {
	resp, ok, err := a.Request.AuthenticateRequest(req)
	if ok || err != nil || req.Header.Get("Authorization") != "" || !isHealthPath(req.URL.Path) {
		return resp, ok, err
	}
	return &authenticator.Response{User: &user.DefaultInfo{
		Name: user.Anonymous, Groups: []string{user.AllUnauthenticated},
	}}, true, nil
}

func isHealthPath(p string) bool {
	for _, h := range healthPaths {
		if p == h || (strings.HasSuffix(h, "/*") && strings.HasPrefix(p, strings.TrimSuffix(h, "*"))) {
			return true
		}
	}
	return false
}

// loadOrCreateToken reads the token file, or writes a new random token there.
func loadOrCreateToken(file string) (string, error) {
	data, err := os.ReadFile(file) //nolint:gosec // G304: the path is the operator's --token-file flag
	if err == nil {
		token := strings.TrimSpace(string(data))
		if token == "" {
			return "", fmt.Errorf("token file %s is empty; delete it to have a new token generated", file)
		}
		return token, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("reading token file: %w", err)
	}
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	token := base64.RawURLEncoding.EncodeToString(buf)
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return "", err
	}
	// Write a private temporary file, then link it into place: the link fails
	// if another server created the token first, and no reader ever sees a
	// half-written file.
	tmp, err := os.CreateTemp(filepath.Dir(file), ".token-*")
	if err != nil {
		return "", fmt.Errorf("creating token file: %w", err)
	}
	// The temporary name is removed whether the link succeeded or not; a
	// failed remove leaves only a dot-file beside the token.
	defer func() { _ = os.Remove(tmp.Name()) }()
	if _, err := tmp.WriteString(token + "\n"); err != nil {
		_ = tmp.Close() // the write error is the one to report
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := os.Link(tmp.Name(), file); errors.Is(err, os.ErrExist) {
		return loadOrCreateToken(file)
	} else if err != nil {
		return "", fmt.Errorf("creating token file: %w", err)
	}
	return token, nil
}

// writeKubeconfig writes a kubeconfig for server, trusting the serving
// certificate in caFile, authenticating with token, in the mirrors' namespace
// so plain `kubectl get containers` works. It writes to a
// temporary file first so a reader never sees half a file.
func writeKubeconfig(dest, server, caFile, token, namespace string) error {
	ca, err := os.ReadFile(caFile) //nolint:gosec // G304: the serving certificate the server itself wrote or was given by flag
	if err != nil {
		return fmt.Errorf("reading serving certificate for the kubeconfig: %w", err)
	}
	const name = "containers-apiserver"
	kc := clientcmdapi.NewConfig()
	kc.Clusters[name] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: ca}
	kc.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: token}
	kc.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name, Namespace: namespace}
	kc.CurrentContext = name
	if err := os.MkdirAll(filepath.Dir(dest), 0o700); err != nil {
		return err
	}
	tmp := dest + ".tmp"
	if err := clientcmd.WriteToFile(*kc, tmp); err != nil {
		return err
	}
	return os.Rename(tmp, dest)
}
