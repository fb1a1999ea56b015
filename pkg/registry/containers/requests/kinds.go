package requests

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
)

// kind describes one request kind to the shared strategy and table code.
type kind struct {
	resource, singular string
	short              []string
	newFunc            func() runtime.Object
	newListFunc        func() runtime.Object
	// validate checks a new object's spec.
	validate func(obj runtime.Object) field.ErrorList
	// parts returns the spec and the status (pointers into obj).
	parts func(obj runtime.Object) (spec, status any)
	// clearStatus empties the status of a new object.
	clearStatus func(obj runtime.Object)
	// summary returns what the table shows of obj.
	summary func(obj runtime.Object) summary
}

// summary is what the table shows of a request.
type summary struct {
	target     string
	result     string
	conditions []metav1.Condition
	progress   *containers.TransferProgress
}

var kinds = []*kind{
	{
		resource: ContainerCreateRequests, singular: "containercreaterequest", short: []string{"ctrreq"},
		newFunc:     func() runtime.Object { return &containers.ContainerCreateRequest{} },
		newListFunc: func() runtime.Object { return &containers.ContainerCreateRequestList{} },
		validate: func(obj runtime.Object) field.ErrorList {
			return ValidateContainerCreateRequestSpec(&obj.(*containers.ContainerCreateRequest).Spec, field.NewPath("spec"))
		},
		parts: func(obj runtime.Object) (any, any) {
			o := obj.(*containers.ContainerCreateRequest)
			return &o.Spec, &o.Status
		},
		clearStatus: func(obj runtime.Object) {
			obj.(*containers.ContainerCreateRequest).Status = containers.ContainerCreateRequestStatus{}
		},
		summary: func(obj runtime.Object) summary {
			o := obj.(*containers.ContainerCreateRequest)
			target := o.Spec.Image
			if o.Spec.Name != "" {
				target = o.Spec.Name + " (" + o.Spec.Image + ")"
			}
			return summary{target: target, result: o.Status.ContainerID, conditions: o.Status.Conditions}
		},
	},
	{
		resource: ImagePullRequests, singular: "imagepullrequest", short: []string{"pullreq"},
		newFunc:     func() runtime.Object { return &containers.ImagePullRequest{} },
		newListFunc: func() runtime.Object { return &containers.ImagePullRequestList{} },
		validate: func(obj runtime.Object) field.ErrorList {
			return ValidateImagePullRequestSpec(&obj.(*containers.ImagePullRequest).Spec, field.NewPath("spec"))
		},
		parts: func(obj runtime.Object) (any, any) {
			o := obj.(*containers.ImagePullRequest)
			return &o.Spec, &o.Status
		},
		clearStatus: func(obj runtime.Object) {
			obj.(*containers.ImagePullRequest).Status = containers.ImagePullRequestStatus{}
		},
		summary: func(obj runtime.Object) summary {
			o := obj.(*containers.ImagePullRequest)
			return summary{target: o.Spec.RepoTag, result: o.Status.ImageID, conditions: o.Status.Conditions, progress: o.Status.Progress}
		},
	},
	{
		resource: ImagePushRequests, singular: "imagepushrequest", short: []string{"pushreq"},
		newFunc:     func() runtime.Object { return &containers.ImagePushRequest{} },
		newListFunc: func() runtime.Object { return &containers.ImagePushRequestList{} },
		validate: func(obj runtime.Object) field.ErrorList {
			return ValidateImagePushRequestSpec(&obj.(*containers.ImagePushRequest).Spec, field.NewPath("spec"))
		},
		parts: func(obj runtime.Object) (any, any) {
			o := obj.(*containers.ImagePushRequest)
			return &o.Spec, &o.Status
		},
		clearStatus: func(obj runtime.Object) {
			obj.(*containers.ImagePushRequest).Status = containers.ImagePushRequestStatus{}
		},
		summary: func(obj runtime.Object) summary {
			o := obj.(*containers.ImagePushRequest)
			return summary{target: o.Spec.ImageRef, result: o.Status.Digest, conditions: o.Status.Conditions, progress: o.Status.Progress}
		},
	},
	{
		resource: VolumeCreateRequests, singular: "volumecreaterequest", short: []string{"volreq"},
		newFunc:     func() runtime.Object { return &containers.VolumeCreateRequest{} },
		newListFunc: func() runtime.Object { return &containers.VolumeCreateRequestList{} },
		validate: func(obj runtime.Object) field.ErrorList {
			return ValidateVolumeCreateRequestSpec(&obj.(*containers.VolumeCreateRequest).Spec, field.NewPath("spec"))
		},
		parts: func(obj runtime.Object) (any, any) {
			o := obj.(*containers.VolumeCreateRequest)
			return &o.Spec, &o.Status
		},
		clearStatus: func(obj runtime.Object) {
			obj.(*containers.VolumeCreateRequest).Status = containers.VolumeCreateRequestStatus{}
		},
		summary: func(obj runtime.Object) summary {
			o := obj.(*containers.VolumeCreateRequest)
			target := o.Spec.Name
			if target == "" {
				target = "<generated>"
			}
			return summary{target: target, result: o.Status.VolumeName, conditions: o.Status.Conditions}
		},
	},
}
