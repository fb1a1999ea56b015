package v1alpha1

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
)

// ContainerSelectableFields are the field selectors containers accept besides
// metadata.name and metadata.namespace.
var ContainerSelectableFields = []string{"status.name", "status.status", "status.image"}

// ImageSelectableFields are the field selectors images accept besides
// metadata.name and metadata.namespace.
var ImageSelectableFields = []string{"status.id", "status.repoTag"}

// VolumeSelectableFields are the field selectors volumes accept besides
// metadata.name and metadata.namespace.
var VolumeSelectableFields = []string{"status.name"}

// addFieldLabelConversions teaches the scheme the field selectors of each
// kind; without it the API machinery rejects them with 400 before storage
// sees them.
func addFieldLabelConversions(scheme *runtime.Scheme) error {
	for kind, extra := range map[string][]string{
		"Container":              ContainerSelectableFields,
		"Image":                  ImageSelectableFields,
		"Volume":                 VolumeSelectableFields,
		"ContainerCreateRequest": nil,
		"ImagePullRequest":       nil,
		"ImagePushRequest":       nil,
		"VolumeCreateRequest":    nil,
	} {
		resource := strings.ToLower(kind) + "s"
		err := scheme.AddFieldLabelConversionFunc(SchemeGroupVersion.WithKind(kind),
			func(label, value string) (string, string, error) {
				if label == "metadata.name" || label == "metadata.namespace" || slices.Contains(extra, label) {
					return label, value, nil
				}
				return "", "", fmt.Errorf("field label %q is not supported for %s; use one of %s",
					label, resource, strings.Join(append([]string{"metadata.name", "metadata.namespace"}, extra...), ", "))
			})
		if err != nil {
			return err
		}
	}
	return nil
}
