package requests

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
)

// fieldsOf returns "field:type" of each error, to compare with what a test wants.
func fieldsOf(errs field.ErrorList) []string {
	out := make([]string, 0, len(errs))
	for _, e := range errs {
		out = append(out, e.Field+":"+string(e.Type))
	}
	return out
}

func check(t *testing.T, name string, errs field.ErrorList, want ...string) {
	t.Helper()
	got := strings.Join(fieldsOf(errs), ",")
	if got != strings.Join(want, ",") {
		t.Errorf("%s: errors %q (%v), want %q", name, got, errs, want)
	}
	for _, e := range errs {
		if e.Detail == "" && e.Type != field.ErrorTypeNotSupported && e.Type != field.ErrorTypeDuplicate {
			t.Errorf("%s: %s has no detail to act on", name, e.Field)
		}
	}
}

func TestValidateContainerCreateRequest(t *testing.T) {
	p := field.NewPath("spec")
	ok := containers.ContainerCreateRequestSpec{Image: "busybox:latest", Name: "web-1", State: "created",
		Ports: []containers.ContainerPort{{Name: "80/tcp", Bindings: []containers.PortBinding{{HostIP: "127.0.0.1", HostPort: 8080}}}}}
	check(t, "valid", ValidateContainerCreateRequestSpec(&ok, p))
	check(t, "image ID", ValidateContainerCreateRequestSpec(&containers.ContainerCreateRequestSpec{Image: "sha256:" + strings.Repeat("a", 64)}, p))
	check(t, "no image", ValidateContainerCreateRequestSpec(&containers.ContainerCreateRequestSpec{}, p), "spec.image:FieldValueRequired")
	check(t, "bad image", ValidateContainerCreateRequestSpec(&containers.ContainerCreateRequestSpec{Image: "Busy Box"}, p), "spec.image:FieldValueInvalid")
	check(t, "bad state", ValidateContainerCreateRequestSpec(&containers.ContainerCreateRequestSpec{Image: "bb", State: "paused"}, p), "spec.state:FieldValueNotSupported")
	check(t, "bad namespace", ValidateContainerCreateRequestSpec(&containers.ContainerCreateRequestSpec{Image: "bb", Namespace: "k8s.io"}, p), "spec.namespace:FieldValueNotSupported")
	check(t, "bad name", ValidateContainerCreateRequestSpec(&containers.ContainerCreateRequestSpec{Image: "bb", Name: "a b"}, p), "spec.name:FieldValueInvalid")
	check(t, "ports", ValidateContainerCreateRequestSpec(&containers.ContainerCreateRequestSpec{Image: "bb", Ports: []containers.ContainerPort{
		{Name: "80"}, {Name: "70000/tcp"}, {Name: "53/udp", Bindings: []containers.PortBinding{{HostIP: "nope", HostPort: -1}}}, {Name: "53/udp"},
	}}, p), "spec.ports[0].name:FieldValueInvalid", "spec.ports[1].name:FieldValueInvalid",
		"spec.ports[2].bindings[0].hostIP:FieldValueInvalid", "spec.ports[2].bindings[0].hostPort:FieldValueInvalid",
		"spec.ports[3].name:FieldValueDuplicate")
}

func TestValidateImageRequests(t *testing.T) {
	p := field.NewPath("spec")
	check(t, "pull valid", ValidateImagePullRequestSpec(&containers.ImagePullRequestSpec{RepoTag: "127.0.0.1:5000/app:v1", Namespace: "moby"}, p))
	check(t, "pull no tag", ValidateImagePullRequestSpec(&containers.ImagePullRequestSpec{RepoTag: "busybox"}, p))
	check(t, "pull empty", ValidateImagePullRequestSpec(&containers.ImagePullRequestSpec{}, p), "spec.repoTag:FieldValueRequired")
	check(t, "pull bad", ValidateImagePullRequestSpec(&containers.ImagePullRequestSpec{RepoTag: "library/BusyBox:v1"}, p), "spec.repoTag:FieldValueInvalid")
	check(t, "pull id", ValidateImagePullRequestSpec(&containers.ImagePullRequestSpec{RepoTag: strings.Repeat("a", 64)}, p), "spec.repoTag:FieldValueInvalid")
	check(t, "push valid", ValidateImagePushRequestSpec(&containers.ImagePushRequestSpec{ImageRef: "img-" + strings.Repeat("0f", 32)}, p))
	check(t, "push empty", ValidateImagePushRequestSpec(&containers.ImagePushRequestSpec{}, p), "spec.imageRef:FieldValueRequired")
	check(t, "push tag", ValidateImagePushRequestSpec(&containers.ImagePushRequestSpec{ImageRef: "busybox:latest"}, p), "spec.imageRef:FieldValueInvalid")
}

func TestValidateVolumeCreateRequest(t *testing.T) {
	p := field.NewPath("spec")
	check(t, "valid", ValidateVolumeCreateRequestSpec(&containers.VolumeCreateRequestSpec{Name: "data_1", Driver: "local", Labels: map[string]string{"a": "b"}}, p))
	check(t, "generated name", ValidateVolumeCreateRequestSpec(&containers.VolumeCreateRequestSpec{}, p))
	check(t, "driver", ValidateVolumeCreateRequestSpec(&containers.VolumeCreateRequestSpec{Driver: "nfs"}, p), "spec.driver:FieldValueNotSupported")
	check(t, "name", ValidateVolumeCreateRequestSpec(&containers.VolumeCreateRequestSpec{Name: "x"}, p), "spec.name:FieldValueInvalid")
	check(t, "label", ValidateVolumeCreateRequestSpec(&containers.VolumeCreateRequestSpec{Labels: map[string]string{"": "v"}}, p), "spec.labels[]:FieldValueInvalid")
}

func TestStrategy(t *testing.T) {
	var k *kind
	for _, kk := range kinds {
		if kk.resource == ImagePullRequests {
			k = kk
		}
	}
	s := strategy{kind: k, namespace: "rancher-desktop"}
	obj := &containers.ImagePullRequest{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default"},
		Spec:       containers.ImagePullRequestSpec{RepoTag: "busybox"},
		Status:     containers.ImagePullRequestStatus{ImageID: "sha256:forged"},
	}
	s.PrepareForCreate(context.Background(), obj)
	if obj.Status.ImageID != "" {
		t.Errorf("PrepareForCreate kept the status: %+v", obj.Status)
	}
	check(t, "other namespace", s.Validate(context.Background(), obj), "metadata.namespace:FieldValueNotSupported")

	meta := obj.DeepCopy()
	meta.Namespace = "rancher-desktop"
	check(t, "valid metadata", s.Validate(context.Background(), meta))
	meta.Name, meta.ResourceVersion, meta.Finalizers = "Bad_Name", "5", []string{"example.com/x"}
	check(t, "bad metadata", s.Validate(context.Background(), meta),
		"metadata.name:FieldValueInvalid", "metadata.resourceVersion:FieldValueInvalid", "metadata.finalizers:FieldValueForbidden")
	meta = obj.DeepCopy()
	meta.Namespace, meta.GenerateName, meta.Name = "rancher-desktop", "Gen_", "Gen_abcde"
	check(t, "bad generateName", s.Validate(context.Background(), meta), "metadata.generateName:FieldValueInvalid", "metadata.name:FieldValueInvalid")

	old := obj.DeepCopy()
	changed := obj.DeepCopy()
	changed.Spec.RepoTag = "alpine"
	changed.Status.ImageID = "sha256:x"
	check(t, "update", s.ValidateUpdate(context.Background(), changed, old), "spec:FieldValueForbidden", "status:FieldValueForbidden")
	labelled := obj.DeepCopy()
	labelled.Labels = map[string]string{"a": "b"}
	check(t, "metadata update", s.ValidateUpdate(context.Background(), labelled, old))
}

func TestPhase(t *testing.T) {
	cases := []struct {
		conds    []metav1.Condition
		progress *containers.TransferProgress
		want     string
	}{
		{nil, nil, "Pending"},
		{nil, &containers.TransferProgress{Message: "Downloading"}, "Running"},
		{[]metav1.Condition{{Type: containers.RequestFailed, Status: metav1.ConditionTrue, Message: "boom"}}, &containers.TransferProgress{}, "Failed"},
		{[]metav1.Condition{{Type: containers.RequestComplete, Status: metav1.ConditionTrue}}, nil, "Complete"},
	}
	for _, c := range cases {
		if got, _ := Phase(c.conds, c.progress); got != c.want {
			t.Errorf("Phase(%v, %v) = %s, want %s", c.conds, c.progress, got, c.want)
		}
	}
}
