//go:build integration

package requests

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers/v1alpha1"
	"github.com/rancher-sandbox/containers-apiserver/test/testenv"
)

// imageObjectName is the contract's name of an Image: "img-" + hex
// sha256(id + "\0" + repoTag), or of the id alone when untagged.
func imageObjectName(id, repoTag string) string {
	s := id
	if repoTag != "" {
		s += "\x00" + repoTag
	}
	sum := sha256.Sum256([]byte(s))
	return "img-" + hex.EncodeToString(sum[:])
}

// TestImagePushPull pushes a tag to the local registry through an
// ImagePushRequest, removes it from Docker, and pulls it back through an
// ImagePullRequest.
func TestImagePushPull(t *testing.T) {
	registry := testRegistry(t)
	s, host := startServer(t)
	cli := testenv.DockerClient(t, host)
	c := ctx(t)
	pushes := s.Client.ContainersV1alpha1().ImagePushRequests(s.Namespace)
	pulls := s.Client.ContainersV1alpha1().ImagePullRequests(s.Namespace)
	pw, err := pushes.Watch(c, metav1.ListOptions{})
	pushWatch := newWatch(t, pw, err)
	lw, err := pulls.Watch(c, metav1.ListOptions{})
	pullWatch := newWatch(t, lw, err)

	// An image of its own (busybox plus one unique layer), so that after the
	// rmi Docker lacks a layer and the pull has something to transfer.
	tag := registry + "/" + lowerName(t, "bb") + ":v1"
	ctr := testenv.UniqueName(t, "commit")
	testenv.MustDocker(t, host, "run", "--name", ctr, testenv.BusyboxImage, "sh", "-c", "echo "+ctr+" > /unique")
	testenv.MustDocker(t, host, "commit", ctr, tag)
	testenv.MustDocker(t, host, "rm", ctr)
	t.Cleanup(func() { _, _ = testenv.Docker(c, host, "rmi", tag) })
	insp, err := cli.ImageInspect(c, tag)
	if err != nil {
		t.Fatal(err)
	}

	push, err := pushes.Create(c, &v1alpha1.ImagePushRequest{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "push-"},
		Spec:       v1alpha1.ImagePushRequestSpec{ImageRef: imageObjectName(insp.ID, tag)},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pobj := pushWatch.waitEnded(push.Name).(*v1alpha1.ImagePushRequest)
	expectOutcome(t, pobj, v1alpha1.RequestComplete, "ImagePushed", tag)
	if !strings.HasPrefix(pobj.Status.Digest, "sha256:") {
		t.Fatalf("status.digest = %q", pobj.Status.Digest)
	}
	if p := pushWatch.progressBeforeEnd(push.Name); p == nil {
		t.Fatal("no progress in the push's status before it ended")
	}
	if p := pobj.Status.Progress; p == nil || p.Layers < 1 || p.LayersDone != p.Layers || p.UpdatedAt == nil {
		t.Fatalf("final push progress = %+v", p)
	}

	testenv.MustDocker(t, host, "rmi", tag)
	pull, err := pulls.Create(c, &v1alpha1.ImagePullRequest{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "pull-"},
		Spec:       v1alpha1.ImagePullRequestSpec{RepoTag: tag},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	lobj := pullWatch.waitEnded(pull.Name).(*v1alpha1.ImagePullRequest)
	expectOutcome(t, lobj, v1alpha1.RequestComplete, "ImagePulled", tag)
	if lobj.Status.ImageID != insp.ID {
		t.Fatalf("status.imageID = %q, want %q", lobj.Status.ImageID, insp.ID)
	}
	if p := pullWatch.progressBeforeEnd(pull.Name); p == nil {
		t.Fatal("no progress in the pull's status before it ended")
	}
	if p := lobj.Status.Progress; p == nil || p.Layers < 1 || p.LayersDone != p.Layers {
		t.Fatalf("final pull progress = %+v", p)
	}
	if _, err := cli.ImageInspect(c, tag); err != nil {
		t.Fatalf("the pulled tag is not in Docker: %v", err)
	}

	pushWatch.waitDeleted(push.Name)
	pullWatch.waitDeleted(pull.Name)
}

func TestImageRequestFailures(t *testing.T) {
	registry := testRegistry(t)
	s, host := startServer(t)
	cli := testenv.DockerClient(t, host)
	c := ctx(t)
	pushes := s.Client.ContainersV1alpha1().ImagePushRequests(s.Namespace)
	pulls := s.Client.ContainersV1alpha1().ImagePullRequests(s.Namespace)
	pw, err := pushes.Watch(c, metav1.ListOptions{})
	pushWatch := newWatch(t, pw, err)
	lw, err := pulls.Watch(c, metav1.ListOptions{})
	pullWatch := newWatch(t, lw, err)

	bb, err := cli.ImageInspect(c, testenv.BusyboxImage)
	if err != nil {
		t.Fatal(err)
	}
	push := func(t *testing.T, ref string) *v1alpha1.ImagePushRequest {
		t.Helper()
		p, err := pushes.Create(c, &v1alpha1.ImagePushRequest{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "push-"}, Spec: v1alpha1.ImagePushRequestSpec{ImageRef: ref},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return pushWatch.waitEnded(p.Name).(*v1alpha1.ImagePushRequest)
	}

	t.Run("PullMissingTag", func(t *testing.T) {
		p, err := pulls.Create(c, &v1alpha1.ImagePullRequest{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "pull-"},
			Spec:       v1alpha1.ImagePullRequestSpec{RepoTag: registry + "/" + lowerName(t, "nope") + ":v1"},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		obj := pullWatch.waitEnded(p.Name)
		expectOutcome(t, obj, v1alpha1.RequestFailed, "ImageNotFound", "manifest unknown")
		pullWatch.waitDeleted(p.Name)
	})

	t.Run("PushUntagged", func(t *testing.T) {
		// The untagged name of an image: there is no tag to push.
		obj := push(t, imageObjectName(bb.ID, ""))
		expectOutcome(t, obj, v1alpha1.RequestFailed, "NotTagged", "no tag")
	})

	t.Run("PushUnknownImage", func(t *testing.T) {
		obj := push(t, imageObjectName("sha256:"+strings.Repeat("0", 64), "nothing:here"))
		expectOutcome(t, obj, v1alpha1.RequestFailed, "ImageNotFound", "no image tag")
	})

	t.Run("PushNoRegistry", func(t *testing.T) {
		// Nothing listens on port 1.
		tag := "127.0.0.1:1/" + lowerName(t, "bb") + ":v1"
		testenv.MustDocker(t, host, "tag", testenv.BusyboxImage, tag)
		t.Cleanup(func() { _, _ = testenv.Docker(c, host, "rmi", tag) })
		obj := push(t, imageObjectName(bb.ID, tag))
		c := expectOutcome(t, obj, v1alpha1.RequestFailed, "PushFailed", "")
		if !strings.Contains(c.Message, "connection refused") && !strings.Contains(c.Message, "127.0.0.1:1") {
			t.Fatalf("message %q does not say the registry is not there", c.Message)
		}
	})
}
