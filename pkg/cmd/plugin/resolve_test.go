package plugin

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers/v1alpha1"
)

func TestFind(t *testing.T) {
	ctr := func(id, name string) v1alpha1.Container {
		return v1alpha1.Container{ObjectMeta: metav1.ObjectMeta{Name: id}, Status: v1alpha1.ContainerStatus{Name: "/" + name}}
	}
	a := ctr("abc1230000000000000000000000000000000000000000000000000000000000", "web")
	b := ctr("abc4560000000000000000000000000000000000000000000000000000000000", "db")
	// A container whose name is another's ID prefix: the name wins, as in docker.
	c := ctr("fff0000000000000000000000000000000000000000000000000000000000000", "abc4")
	all := []v1alpha1.Container{a, b, c}
	for _, tc := range []struct{ name, want, err string }{
		{name: "web", want: a.Name},
		{name: "/db", want: b.Name},
		{name: a.Name, want: a.Name},
		{name: "abc1", want: a.Name},
		{name: "ABC1", want: a.Name},
		{name: "abc4", want: c.Name},
		{name: "abc45", want: b.Name},
		{name: "abc", err: `"abc" is ambiguous: it begins the IDs of 2 containers (db, web)`},
		{name: "nope", err: "no such container: nope"},
		{name: "", err: "an empty container name"},
	} {
		got, err := find(all, tc.name)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("find(%q): error %v, want %q", tc.name, err, tc.err)
			}
		case err != nil:
			t.Errorf("find(%q): %v", tc.name, err)
		case got.Name != tc.want:
			t.Errorf("find(%q) = %s, want %s", tc.name, got.Name, tc.want)
		}
	}
}
