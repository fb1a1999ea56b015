package registry

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/storage"
)

// AttrsFunc returns the storage.AttrFunc of a kind: its labels and the fields
// fieldsOf says a field selector may use.
func AttrsFunc[T interface {
	runtime.Object
	metav1.Object
}](fieldsOf func(T) fields.Set) storage.AttrFunc {
	return func(obj runtime.Object) (labels.Set, fields.Set, error) {
		o, ok := obj.(T)
		if !ok {
			var want T
			return nil, nil, fmt.Errorf("given object is a %T, not a %T", obj, want)
		}
		return labels.Set(o.GetLabels()), fieldsOf(o), nil
	}
}

// FieldsSet is an object's metadata fields plus the selectable fields of its
// kind (a map of containers.*Fields), for AttrsFunc.
func FieldsSet[T metav1.Object](extra map[string]func(T) string) func(T) fields.Set {
	return func(o T) fields.Set {
		f := fields.Set{"metadata.name": o.GetName(), "metadata.namespace": o.GetNamespace()}
		for name, get := range extra {
			f[name] = get(o)
		}
		return f
	}
}
