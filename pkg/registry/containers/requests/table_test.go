package requests

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
)

// A list renders one row per item and keeps the list's resourceVersion; a
// single object renders one row.
func TestConvertToTable(t *testing.T) {
	var pull *kind
	for _, k := range kinds {
		if k.resource == ImagePullRequests {
			pull = k
		}
	}
	c := tableConvertor{kind: pull}
	done := containers.ImagePullRequest{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Spec: containers.ImagePullRequestSpec{RepoTag: "busybox:1"}}
	done.Status.Conditions = []metav1.Condition{{Type: "Complete", Status: metav1.ConditionTrue, Reason: "ImagePulled"}}
	list := &containers.ImagePullRequestList{ListMeta: metav1.ListMeta{ResourceVersion: "42"}, Items: []containers.ImagePullRequest{
		done, {ObjectMeta: metav1.ObjectMeta{Name: "b"}, Spec: containers.ImagePullRequestSpec{RepoTag: "busybox:2"}},
	}}
	table, err := c.ConvertToTable(context.Background(), list, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(table.Rows) != 2 || table.ResourceVersion != "42" {
		t.Fatalf("list: %d rows, resourceVersion %q", len(table.Rows), table.ResourceVersion)
	}
	if got := table.Rows[0].Cells[:3]; got[0] != "a" || got[1] != "busybox:1" || got[2] != "Complete" {
		t.Errorf("row 0: %v", got)
	}
	if got := table.Rows[1].Cells[2]; got != "Pending" {
		t.Errorf("row 1 status %v, want Pending", got)
	}
	table, err = c.ConvertToTable(context.Background(), &list.Items[1], nil)
	if err != nil || len(table.Rows) != 1 || table.Rows[0].Cells[0] != "b" {
		t.Fatalf("one object: %v %+v", err, table)
	}
}
