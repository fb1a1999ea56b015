package container

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
)

func TestValidateUpdate(t *testing.T) {
	old := &containers.Container{
		ObjectMeta: metav1.ObjectMeta{Name: strings.Repeat("a", 64), Labels: map[string]string{"app": "web"}},
		Status:     containers.ContainerStatus{Name: "web", Status: "running"},
	}
	for _, tc := range []struct {
		name   string
		change func(c *containers.Container)
		want   string // "" for no error, else a part of the error
	}{
		{"a user annotation", func(c *containers.Container) { c.Annotations = map[string]string{"example.com/x": "y"} }, ""},
		{"each valid action", nil, ""},
		{"an invalid action", func(c *containers.Container) { c.Annotations = map[string]string{containers.ActionAnnotation: "Pause"} }, "Unsupported value"},
		{"status", func(c *containers.Container) { c.Status.Status = "exited" }, "status: Forbidden"},
		{"lastAction", func(c *containers.Container) { c.Status.LastAction = &containers.ContainerAction{Action: "stop"} }, "status: Forbidden"},
		{"labels", func(c *containers.Container) { c.Labels["app"] = "db" }, "metadata.labels: Forbidden"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			changes := []func(*containers.Container){tc.change}
			if tc.change == nil {
				changes = nil
				for _, a := range containers.Actions {
					changes = append(changes, func(c *containers.Container) {
						c.Annotations = map[string]string{containers.ActionAnnotation: a}
					})
				}
			}
			for _, change := range changes {
				c := old.DeepCopy()
				change(c)
				errs := updateStrategy{}.ValidateUpdate(context.Background(), c, old)
				switch {
				case tc.want == "" && len(errs) > 0:
					t.Errorf("refused: %v", errs)
				case tc.want != "" && !strings.Contains(errs.ToAggregate().Error(), tc.want):
					t.Errorf("got %v, want an error with %q", errs, tc.want)
				}
			}
		})
	}
}
