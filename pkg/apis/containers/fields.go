package containers

// The fields a field selector may use on each kind, besides metadata.name and
// metadata.namespace, and how to read each from an object. They are the one
// source for both the API's field label conversions (v1alpha1) and the
// registry's selection (pkg/registry).

// ContainerFields are the selectable fields of a Container.
var ContainerFields = map[string]func(*Container) string{
	"status.name":   func(c *Container) string { return c.Status.Name },
	"status.status": func(c *Container) string { return c.Status.Status },
	"status.image":  func(c *Container) string { return c.Status.Image },
}

// ImageFields are the selectable fields of an Image.
var ImageFields = map[string]func(*Image) string{
	"status.id":      func(i *Image) string { return i.Status.ID },
	"status.repoTag": func(i *Image) string { return i.Status.RepoTag },
}

// VolumeFields are the selectable fields of a Volume.
var VolumeFields = map[string]func(*Volume) string{
	"status.name": func(v *Volume) string { return v.Status.Name },
}
