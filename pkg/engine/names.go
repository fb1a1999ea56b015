package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
)

// The names of mirrors (see the README's API reference). Every engine names
// its objects this way, so clients see the same names whichever runs.

// IsContainerID reports whether s is a full, lowercase 64-hex container ID,
// the name of every Container.
func IsContainerID(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := range len(s) {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// ShortID is the 12-character form of an ID that engines print, without a
// "sha256:" prefix.
func ShortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	return id[:min(len(id), 12)]
}

// ImageName is the name of the Image mirroring tag repoTag of image id: "img-"
// and the hex SHA-256 of id, NUL, repoTag; of id alone when repoTag is "" (an
// untagged image).
func ImageName(id, repoTag string) string {
	s := id
	if repoTag != "" {
		s += "\x00" + repoTag
	}
	sum := sha256.Sum256([]byte(s))
	return "img-" + hex.EncodeToString(sum[:])
}

// VolumeName is the name of the Volume mirroring the volume called name.
func VolumeName(name string) string {
	sum := sha256.Sum256([]byte(name))
	return "vol-" + hex.EncodeToString(sum[:])
}

// UID derives a stable metadata.uid from what identifies a mirror (a
// container ID; "image\x00" or "volume\x00" and the object's name), so a
// mirror keeps its UID across server restarts (the storage is in memory).
func UID(identity string) types.UID {
	sum := sha256.Sum256([]byte("containers.rancherdesktop.io/container\x00" + identity))
	h := fmt.Sprintf("%x", sum[:16])
	return types.UID(h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32])
}

// KubeLabels returns the engine labels that are valid Kubernetes labels (key
// a qualified name, value a label value), or nil when there are none: they
// are copied into metadata.labels so label selectors work.
func KubeLabels(in map[string]string) map[string]string {
	var out map[string]string
	for k, v := range in {
		if len(validation.IsQualifiedName(k)) > 0 || len(validation.IsValidLabelValue(v)) > 0 {
			continue
		}
		if out == nil {
			out = make(map[string]string)
		}
		out[k] = v
	}
	return out
}
