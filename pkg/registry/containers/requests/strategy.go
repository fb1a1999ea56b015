package requests

import (
	"context"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/storage/names"
)

var namesGenerator = names.SimpleNameGenerator

// strategy holds the create rules of one request kind: users write the spec,
// the server the status, and neither changes through the API afterwards.
type strategy struct {
	runtime.ObjectTyper
	names.NameGenerator
	kind *kind
	// namespace is the only namespace requests may live in; empty allows any.
	namespace string
}

func (strategy) NamespaceScoped() bool { return true }

// PrepareForCreate drops any status a user sent: only the server reports.
func (s strategy) PrepareForCreate(_ context.Context, obj runtime.Object) { s.kind.clearStatus(obj) }

// PrepareForUpdate keeps both sides as they are, so ValidateUpdate can refuse
// a change instead of silently dropping it.
func (strategy) PrepareForUpdate(context.Context, runtime.Object, runtime.Object) {}

// Validate checks a new request. Names follow the rules of most Kubernetes
// objects (a DNS-1123 subdomain; generateName a prefix of one), so they are
// safe in URLs, labels and kubectl output. Finalizers are refused: a request
// cannot be updated, so nothing could ever remove one, and the request would
// never be deleted (neither by the user nor after --request-ttl).
// ownerReferences are allowed: when the garbage collector deletes a request
// only the request goes; the engine object it made stays.
func (s strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	m, err := meta.Accessor(obj)
	if err != nil {
		return field.ErrorList{field.InternalError(field.NewPath("metadata"), err)}
	}
	metaPath := field.NewPath("metadata")
	errs := apimachineryvalidation.ValidateObjectMetaAccessor(m, true, apimachineryvalidation.NameIsDNSSubdomain, metaPath)
	if s.namespace != "" && m.GetNamespace() != s.namespace {
		errs = append(errs, field.NotSupported(metaPath.Child("namespace"), m.GetNamespace(), []string{s.namespace}))
	}
	if rv := m.GetResourceVersion(); rv != "" {
		// The store would refuse a number with a bare error (a 500) and
		// ignore anything else; the server assigns it.
		errs = append(errs, field.Invalid(metaPath.Child("resourceVersion"), rv, "must be empty: the server sets it on create"))
	}
	if len(m.GetFinalizers()) > 0 {
		errs = append(errs, field.Forbidden(metaPath.Child("finalizers"),
			"a request cannot be updated, so nothing could remove a finalizer and the request would never be deleted"))
	}
	return append(errs, s.kind.validate(obj)...)
}

func (strategy) WarningsOnCreate(context.Context, runtime.Object) []string { return nil }
func (strategy) AllowCreateOnUpdate(context.Context) bool                  { return false }
func (strategy) AllowUnconditionalUpdate(context.Context) bool             { return false }
func (strategy) Canonicalize(runtime.Object)                               {}

// ValidateUpdate refuses any change to spec or status. The resources do not
// serve updates today; this keeps the rule if they ever do (e.g. to let
// users change labels).
func (s strategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	newSpec, newStatus := s.kind.parts(obj)
	oldSpec, oldStatus := s.kind.parts(old)
	var errs field.ErrorList
	if !equality.Semantic.DeepEqual(newSpec, oldSpec) {
		errs = append(errs, field.Forbidden(field.NewPath("spec"), "a request's spec cannot change after creation; create a new request"))
	}
	if !equality.Semantic.DeepEqual(newStatus, oldStatus) {
		errs = append(errs, field.Forbidden(field.NewPath("status"), "status is written by the server as it carries the request out"))
	}
	return errs
}

func (strategy) WarningsOnUpdate(context.Context, runtime.Object, runtime.Object) []string {
	return nil
}
