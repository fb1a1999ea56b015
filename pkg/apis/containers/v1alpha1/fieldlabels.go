package v1alpha1

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
)

// ContainerSelectableFields are the field selectors containers accept besides
// metadata.name and metadata.namespace (containers.ContainerFields).
var ContainerSelectableFields = slices.Sorted(maps.Keys(containers.ContainerFields))

// ImageSelectableFields are the field selectors images accept besides
// metadata.name and metadata.namespace (containers.ImageFields).
var ImageSelectableFields = slices.Sorted(maps.Keys(containers.ImageFields))

// VolumeSelectableFields are the field selectors volumes accept besides
// metadata.name and metadata.namespace (containers.VolumeFields).
var VolumeSelectableFields = slices.Sorted(maps.Keys(containers.VolumeFields))

// ContainerStatsSelectableFields are the field selectors containerstats
// accept besides metadata.name and metadata.namespace
// (containers.ContainerStatsFields).
var ContainerStatsSelectableFields = slices.Sorted(maps.Keys(containers.ContainerStatsFields))

// addFieldLabelConversions teaches the scheme the field selectors of each
// kind; without it the API machinery rejects them with 400 before storage
// sees them.
func addFieldLabelConversions(scheme *runtime.Scheme) error {
	for kind, extra := range map[string][]string{
		"Container":              ContainerSelectableFields,
		"Image":                  ImageSelectableFields,
		"Volume":                 VolumeSelectableFields,
		"ContainerStats":         ContainerStatsSelectableFields,
		"ContainerCreateRequest": nil,
		"ImagePullRequest":       nil,
		"ImagePushRequest":       nil,
		"VolumeCreateRequest":    nil,
	} {
		resource := strings.ToLower(kind) + "s"
		if kind == "ContainerStats" {
			resource = "containerstats"
		}
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
