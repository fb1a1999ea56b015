package registry

import (
	"errors"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/rancher-sandbox/containers-apiserver/pkg/engine"
)

// StatusError turns an engine error into the API status a client sees. It is
// the one place where engine failures get their HTTP codes:
//
//	NotFound        404
//	Conflict        409, with the engine's reason
//	Unavailable     503 (the engine is not connected or not reachable)
//	InvalidArgument 400
//	NotImplemented  501
//	Deadline        504
//	anything else   500
//
// An error that already is an API status is returned as it is; nil stays nil.
func StatusError(err error, resource schema.GroupResource, name string) error {
	var status apierrors.APIStatus
	switch {
	case err == nil:
		return nil
	case errors.As(err, &status):
		return err
	}
	msg := err.Error()
	switch engine.KindOf(err) {
	case engine.NotFound:
		e := apierrors.NewNotFound(resource, name)
		e.ErrStatus.Message = msg
		return e
	case engine.Conflict:
		return apierrors.NewConflict(resource, name, err)
	case engine.Unavailable:
		return apierrors.NewServiceUnavailable(msg)
	case engine.InvalidArgument:
		return apierrors.NewBadRequest(msg)
	case engine.NotImplemented:
		return &apierrors.StatusError{ErrStatus: metav1.Status{
			Status: metav1.StatusFailure, Code: http.StatusNotImplemented, Reason: "NotImplemented", Message: msg,
			Details: &metav1.StatusDetails{Group: resource.Group, Kind: resource.Resource, Name: name},
		}}
	case engine.Deadline:
		return apierrors.NewTimeoutError(msg, 0)
	}
	return apierrors.NewInternalError(err)
}

// NotConnected is the 503 of a write while the engine is not connected:
// ready is the engine side's readiness (nil when connected).
func NotConnected(ready func() error) error {
	if err := ready(); err != nil {
		return apierrors.NewServiceUnavailable("the engine is not connected: " + err.Error())
	}
	return nil
}
