package v1alpha1

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
)

// ContainerSelectableFields are the field selectors containers accept besides
// metadata.name and metadata.namespace.
var ContainerSelectableFields = []string{"status.name", "status.status", "status.image"}

// addFieldLabelConversions teaches the scheme the container field selectors;
// without it the API machinery rejects them with 400 before storage sees them.
func addFieldLabelConversions(scheme *runtime.Scheme) error {
	return scheme.AddFieldLabelConversionFunc(SchemeGroupVersion.WithKind("Container"),
		func(label, value string) (string, string, error) {
			switch label {
			case "metadata.name", "metadata.namespace":
				return label, value, nil
			}
			for _, f := range ContainerSelectableFields {
				if label == f {
					return label, value, nil
				}
			}
			return "", "", fmt.Errorf("field label %q is not supported for containers; use one of metadata.name, metadata.namespace, %v", label, ContainerSelectableFields)
		})
}
