package engine_test

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/rancher-sandbox/containers-apiserver/pkg/engine"
)

const (
	testID      = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	testImageID = "sha256:" + testID
)

func TestImageAndVolumeNames(t *testing.T) {
	sum := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
	if got, want := engine.ImageName(testImageID, "busybox:latest"), "img-"+sum(testImageID+"\x00busybox:latest"); got != want {
		t.Errorf("tagged: got %s, want %s", got, want)
	}
	if got, want := engine.ImageName(testImageID, ""), "img-"+sum(testImageID); got != want {
		t.Errorf("untagged: got %s, want %s", got, want)
	}
	if got, want := engine.VolumeName("my vol"), "vol-"+sum("my vol"); got != want {
		t.Errorf("volume: got %s, want %s", got, want)
	}
	for _, n := range []string{engine.ImageName(testImageID, "a/b:c"), engine.VolumeName("x")} {
		if errs := validation.IsDNS1123Subdomain(n); len(errs) > 0 {
			t.Errorf("%s is not a valid object name: %v", n, errs)
		}
	}
}

func TestIsContainerID(t *testing.T) {
	if !engine.IsContainerID(testID) {
		t.Error("a full ID is not accepted")
	}
	for _, s := range []string{"", "0123", strings.ToUpper(testID), testID + "0", "web", testID[:63] + "g"} {
		if engine.IsContainerID(s) {
			t.Errorf("IsContainerID(%q) = true", s)
		}
	}
}

func TestUIDIsStableAndWellFormed(t *testing.T) {
	a, b := engine.UID(testID), engine.UID(testID)
	if a != b || len(a) != 36 || strings.Count(string(a), "-") != 4 {
		t.Fatalf("UID = %q, %q", a, b)
	}
	if engine.UID(strings.Repeat("f", 64)) == a {
		t.Fatal("different IDs give the same UID")
	}
}

func TestShortIDAndKubeLabels(t *testing.T) {
	if got := engine.ShortID(testImageID); got != testID[:12] {
		t.Errorf("ShortID = %q", got)
	}
	if got := engine.ShortID("abc"); got != "abc" {
		t.Errorf("ShortID(abc) = %q", got)
	}
	got := engine.KubeLabels(map[string]string{"app": "web", "bad key!": "x", "ok": "bad value!", "com.docker.compose.project": "p"})
	if len(got) != 2 || got["app"] != "web" || got["com.docker.compose.project"] != "p" {
		t.Errorf("KubeLabels = %v", got)
	}
	if engine.KubeLabels(map[string]string{"bad key!": "x"}) != nil {
		t.Error("KubeLabels of no valid label is not nil")
	}
}
