package container

import (
	"context"
	"fmt"
	"net/http"
	"path"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
	"github.com/rancher-sandbox/containers-apiserver/pkg/engine"
	"github.com/rancher-sandbox/containers-apiserver/pkg/registry"
	"github.com/rancher-sandbox/containers-apiserver/pkg/stream"
)

// ExecREST serves containers/exec: a command in a running container, over a
// WebSocket (see stream.ServeExec for the protocol).
type ExecREST struct {
	// Store finds the Container mirror, so unknown names get a 404 before the
	// engine is asked.
	Store *genericregistry.Store
	// Ready is nil while the engine is connected; a request gets 503 otherwise.
	Ready func() error
	// Source runs the commands.
	Source engine.Exec
	// Authorizer, when set, is asked once more for the create verb on a GET
	// upgrade (see Connect); nil skips that check.
	Authorizer authorizer.Authorizer
	// Stream tunes the transport (keep-alive, limits).
	Stream stream.Options
}

var (
	_ rest.Connecter       = &ExecREST{}
	_ rest.StorageMetadata = &ExecREST{}
)

// New returns the kind the subresource belongs to, as pods/exec does.
func (r *ExecREST) New() runtime.Object { return &containers.Container{} }

func (r *ExecREST) Destroy() {}

func (r *ExecREST) NewConnectOptions() (runtime.Object, bool, string) {
	return &containers.ContainerExecOptions{}, false, ""
}

// ConnectMethods: client-go's WebSocket executor upgrades a GET; older
// clients POST (their SPDY upgrade gets a 400 that says what to use).
func (r *ExecREST) ConnectMethods() []string { return []string{http.MethodGet, http.MethodPost} }

func (r *ExecREST) ProducesMIMETypes(string) []string { return []string{"application/octet-stream"} }

func (r *ExecREST) ProducesObject(string) interface{} { return "" }

// Connect checks the options and the container, then returns the handler
// that checks the request, prepares the command in the engine (so that a
// stopped container is a 409 before the upgrade), and serves the session.
func (r *ExecREST) Connect(ctx context.Context, name string, options runtime.Object, responder rest.Responder) (http.Handler, error) {
	opts, ok := options.(*containers.ContainerExecOptions)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid options object %T", options))
	}
	if err := findContainer(ctx, r.Store, name, ValidateExecOptions(opts)); err != nil {
		return nil, err
	}
	// The namespace is in ctx only: the handler's request does not carry it.
	ns, _ := genericapirequest.NamespaceFrom(ctx)
	resource := containers.Resource("containers")
	eopts := engine.ExecOptions{
		Command: opts.Command, Stdin: opts.Stdin, Stdout: opts.Stdout, Stderr: opts.Stderr && !opts.TTY,
		TTY: opts.TTY, User: opts.User, WorkingDir: opts.WorkingDir, Env: opts.Env,
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if err := r.authorizeCreate(req, ns, name); err != nil {
			responder.Error(err)
			return
		}
		if err := stream.CheckExecRequest(req); err != nil {
			responder.Error(err)
			return
		}
		if err := registry.NotConnected(r.Ready); err != nil {
			responder.Error(err)
			return
		}
		process, err := r.Source.CreateExec(req.Context(), name, eopts)
		if err != nil {
			responder.Error(registry.StatusError(err, resource, name))
			return
		}
		stream.ServeExec(w, req, r.Stream, stream.ExecSession{
			Stdin: eopts.Stdin, Stdout: eopts.Stdout, Stderr: eopts.Stderr, TTY: eopts.TTY,
			Run: func(ctx context.Context, streams engine.ExecStreams) (int, error) {
				code, err := process.Run(ctx, streams)
				if ctx.Err() != nil {
					return code, err // the client left: nothing to tell it
				}
				return code, registry.StatusError(err, resource, name)
			},
		})
	}), nil
}

// authorizeCreate asks for the create verb on a GET upgrade. The request's
// own check was get (a WebSocket upgrade is a GET), but running a command
// writes to the container: as for pods/exec since Kubernetes 1.35, a role
// that grants only get on containers/exec must not open a shell. ns is the
// request's namespace from Connect's ctx: the apiserver adds it there, not to
// req's context, and without it the check would be cluster-wide (a RoleBinding
// of the exec role in the namespace would not count).
func (r *ExecREST) authorizeCreate(req *http.Request, ns, name string) error {
	if r.Authorizer == nil || req.Method != http.MethodGet {
		return nil
	}
	ctx := req.Context()
	u, ok := genericapirequest.UserFrom(ctx)
	if !ok {
		return nil // unauthenticated paths are refused before here
	}
	attrs := authorizer.AttributesRecord{
		User: u, Verb: "create", Namespace: ns, APIGroup: containers.GroupName, APIVersion: "v1alpha1",
		Resource: "containers", Subresource: "exec", Name: name, ResourceRequest: true, Path: req.URL.Path,
	}
	decision, reason, err := r.Authorizer.Authorize(ctx, attrs)
	if decision == authorizer.DecisionAllow {
		return nil
	}
	why := "exec needs both get and create on containers/exec (see artifacts/rbac/exec.yaml)"
	if reason != "" {
		why += ": " + reason
	}
	if err != nil {
		why += ": " + err.Error()
	}
	return apierrors.NewForbidden(containers.Resource("containers/exec"), name, fmt.Errorf("%s", why))
}

// ValidateExecOptions rejects what no engine could run, before the engine is
// asked.
func ValidateExecOptions(o *containers.ContainerExecOptions) error {
	var problems []string
	if len(o.Command) == 0 || o.Command[0] == "" {
		problems = append(problems, "command is required: give the program and its arguments as repeated command parameters (command=sh&command=-c&command=...)")
	}
	if !o.Stdin && !o.Stdout && !o.Stderr {
		problems = append(problems, "at least one of stdin, stdout and stderr must be true")
	}
	for _, e := range o.Env {
		if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
			problems = append(problems, fmt.Sprintf("env entries must be NAME=value, got %q", e))
		}
	}
	if o.WorkingDir != "" && !path.IsAbs(o.WorkingDir) {
		problems = append(problems, fmt.Sprintf("workingDir must be an absolute path, got %q", o.WorkingDir))
	}
	all := append(append(append([]string{}, o.Command...), o.Env...), o.User, o.WorkingDir)
	for _, s := range all {
		if strings.ContainsRune(s, 0) {
			problems = append(problems, "command, env, user and workingDir cannot contain NUL characters")
			break
		}
	}
	if len(problems) > 0 {
		return apierrors.NewBadRequest("invalid exec options: " + strings.Join(problems, "; "))
	}
	return nil
}
