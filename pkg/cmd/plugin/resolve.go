package plugin

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers/v1alpha1"
)

// list returns the namespace's containers matching selector ("" all).
func (e *env) list(ctx context.Context, selector string) ([]v1alpha1.Container, error) {
	l, err := e.client.Containers(e.namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}

// resolve finds the containers named by names, each a Docker name, a full ID
// or an ID prefix only one container has, in docker's order of precedence
// (ID, then name, then prefix). One unknown or ambiguous name fails them all,
// before anything is done.
func (e *env) resolve(ctx context.Context, names []string) ([]v1alpha1.Container, error) {
	all, err := e.list(ctx, "")
	if err != nil {
		return nil, err
	}
	out := make([]v1alpha1.Container, 0, len(names))
	for _, n := range names {
		c, err := find(all, n)
		if err != nil {
			return nil, &exitError{code: 1, err: err}
		}
		out = append(out, *c)
	}
	return out, nil
}

// resolveID is the ID of the container name refers to, as resolve finds it.
// A full ID is taken as it is when the user may not list containers: a
// log reader, who may read logs but not list, names containers by ID.
func (e *env) resolveID(ctx context.Context, name string) (string, error) {
	cs, err := e.resolve(ctx, []string{name})
	if apierrors.IsForbidden(err) && fullID.MatchString(name) {
		return name, nil
	}
	if err != nil {
		return "", err
	}
	return cs[0].Name, nil
}

// fullID is a whole Docker container ID.
var fullID = regexp.MustCompile(`^[0-9a-f]{64}$`)

// find is the container of all that name refers to.
func find(all []v1alpha1.Container, name string) (*v1alpha1.Container, error) {
	name = strings.TrimPrefix(name, "/")
	if name == "" {
		return nil, fmt.Errorf("an empty container name")
	}
	for i := range all {
		if all[i].Name == name {
			return &all[i], nil
		}
	}
	for i := range all {
		if dockerName(&all[i]) == name {
			return &all[i], nil
		}
	}
	var matches []string
	var found *v1alpha1.Container
	for i := range all {
		if strings.HasPrefix(all[i].Name, strings.ToLower(name)) {
			matches = append(matches, dockerName(&all[i]))
			found = &all[i]
		}
	}
	switch len(matches) {
	case 0:
		return nil, fmt.Errorf("no such container: %s", name)
	case 1:
		return found, nil
	default:
		sort.Strings(matches)
		return nil, fmt.Errorf("%q is ambiguous: it begins the IDs of %d containers (%s); give more of the ID, or the name",
			name, len(matches), strings.Join(matches, ", "))
	}
}

// dockerName is c's Docker name, without Docker's leading slash.
func dockerName(c *v1alpha1.Container) string { return strings.TrimPrefix(c.Status.Name, "/") }

// running says whether c runs (paused and restarting count, as in docker ps).
func running(c *v1alpha1.Container) bool {
	switch c.Status.Status {
	case "running", "paused", "restarting":
		return true
	}
	return false
}
