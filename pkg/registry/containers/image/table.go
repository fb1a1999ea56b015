package image

import (
	"context"
	"fmt"
	"strings"
	"time"

	units "github.com/docker/go-units"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
	"github.com/rancher-sandbox/containers-apiserver/pkg/engine"
	"github.com/rancher-sandbox/containers-apiserver/pkg/registry"
)

// tableColumns are what `kubectl get` shows, like `docker images`; Priority 1
// columns appear with -o wide.
var tableColumns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: "img- and a hash of the image ID and the tag."},
	{Name: "Tag", Type: "string", Description: "The tag (repository:tag); <none> for an untagged image."},
	{Name: "Image ID", Type: "string", Description: "The short image ID."},
	{Name: "Size", Type: "string", Description: "The image's size."},
	{Name: "Created", Type: "string", Description: "Time since the image was built."},
	{Name: "Platform", Type: "string", Priority: 1, Description: "The image's OS and architecture."},
	{Name: "Digests", Type: "string", Priority: 1, Description: "The image's repository digests."},
}

// tableConvertor renders Images as rows like `docker images`.
type tableConvertor struct{}

func (tableConvertor) ConvertToTable(_ context.Context, obj runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	now := time.Now()
	return registry.NewTable(obj, tableOptions, tableColumns, func(o runtime.Object) ([]any, error) {
		img, ok := o.(*containers.Image)
		if !ok {
			return nil, fmt.Errorf("cannot render %T as an image table", o)
		}
		s := img.Status
		tag := s.RepoTag
		if tag == "" {
			tag = "<none>"
		}
		platform := ""
		if s.OS != "" || s.Architecture != "" {
			platform = s.OS + "/" + s.Architecture
		}
		return []any{img.Name, tag, engine.ShortID(s.ID), units.HumanSizeWithPrecision(float64(s.Size), 3),
			registry.Age(s.CreatedAt, now), platform, strings.Join(s.RepoDigests, ",")}, nil
	})
}
