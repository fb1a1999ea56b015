package requests

import (
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"

	"github.com/distribution/reference"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
)

// Container states a ContainerCreateRequest may ask for.
const (
	StateRunning = "running"
	StateCreated = "created"
)

var (
	// Docker's own rules (daemon/names, volume/local).
	containerNameRE = regexp.MustCompile(`^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)
	volumeNameRE    = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)
	// imageRefRE is the name of an Image object: "img-" and a hex SHA-256.
	imageRefRE = regexp.MustCompile(`^img-[0-9a-f]{64}$`)
	portNameRE = regexp.MustCompile(`^([0-9]+)/(tcp|udp|sctp)$`)
)

func validateEngineNamespace(ns string, p *field.Path) field.ErrorList {
	if ns == "" || ns == containers.MobyNamespace {
		return nil
	}
	return field.ErrorList{field.NotSupported(p, ns, []string{containers.MobyNamespace})}
}

func validateLabels(labels map[string]string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for k := range labels {
		if strings.TrimSpace(k) == "" {
			errs = append(errs, field.Invalid(p.Key(k), k, "a label key must not be empty"))
		}
	}
	return errs
}

// ValidateContainerCreateRequestSpec checks what Docker would refuse, so the
// user learns it at once (422) instead of from a Failed condition.
func ValidateContainerCreateRequestSpec(s *containers.ContainerCreateRequestSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if s.Name != "" && !containerNameRE.MatchString(s.Name) {
		errs = append(errs, field.Invalid(p.Child("name"), s.Name,
			"a container name must match [a-zA-Z0-9][a-zA-Z0-9_.-]+ (at least two characters)"))
	}
	errs = append(errs, validateEngineNamespace(s.Namespace, p.Child("namespace"))...)
	switch s.State {
	case "", StateRunning, StateCreated:
	default:
		errs = append(errs, field.NotSupported(p.Child("state"), s.State, []string{StateRunning, StateCreated}))
	}
	if s.Image == "" {
		errs = append(errs, field.Required(p.Child("image"), "the image to run: an image ID or a reference present in the engine, e.g. busybox:latest"))
	} else if _, err := reference.ParseAnyReference(s.Image); err != nil {
		errs = append(errs, field.Invalid(p.Child("image"), s.Image, "not an image ID or reference: "+err.Error()))
	}
	seen := map[string]bool{}
	for i, port := range s.Ports {
		pp := p.Child("ports").Index(i)
		if m := portNameRE.FindStringSubmatch(port.Name); m == nil {
			errs = append(errs, field.Invalid(pp.Child("name"), port.Name, `must be PORT/PROTOCOL, e.g. "80/tcp" (tcp, udp or sctp)`))
		} else if n, err := strconv.Atoi(m[1]); err != nil || n < 1 || n > 65535 {
			errs = append(errs, field.Invalid(pp.Child("name"), port.Name, "the port must be 1-65535"))
		} else if seen[port.Name] {
			errs = append(errs, field.Duplicate(pp.Child("name"), port.Name))
		}
		seen[port.Name] = true
		for j, b := range port.Bindings {
			bp := pp.Child("bindings").Index(j)
			if b.HostIP != "" && net.ParseIP(b.HostIP) == nil {
				errs = append(errs, field.Invalid(bp.Child("hostIP"), b.HostIP, "must be an IP address, or empty for all addresses"))
			}
			if b.HostPort < 0 || b.HostPort > 65535 {
				errs = append(errs, field.Invalid(bp.Child("hostPort"), b.HostPort, "must be 0-65535 (0: Docker picks a free port)"))
			}
		}
	}
	return append(errs, validateLabels(s.Labels, p.Child("labels"))...)
}

// ValidateImagePullRequestSpec checks the reference to pull.
func ValidateImagePullRequestSpec(s *containers.ImagePullRequestSpec, p *field.Path) field.ErrorList {
	errs := validateEngineNamespace(s.Namespace, p.Child("namespace"))
	if s.RepoTag == "" {
		return append(errs, field.Required(p.Child("repoTag"), `the reference to pull, e.g. "busybox:latest" or "127.0.0.1:5000/app:v1"`))
	}
	if _, err := reference.ParseNormalizedNamed(s.RepoTag); err != nil {
		errs = append(errs, field.Invalid(p.Child("repoTag"), s.RepoTag, fmt.Sprintf("not a valid image reference: %v", err)))
	}
	return errs
}

// ValidateImagePushRequestSpec checks that imageRef names an Image object.
func ValidateImagePushRequestSpec(s *containers.ImagePushRequestSpec, p *field.Path) field.ErrorList {
	if s.ImageRef == "" {
		return field.ErrorList{field.Required(p.Child("imageRef"), "the name of the Image (img-...) whose tag to push")}
	}
	if !imageRefRE.MatchString(s.ImageRef) {
		return field.ErrorList{field.Invalid(p.Child("imageRef"), s.ImageRef,
			`must be the name of an Image object, "img-" and 64 hex digits (see kubectl get images)`)}
	}
	return nil
}

// ValidateVolumeCreateRequestSpec checks the volume to create.
func ValidateVolumeCreateRequestSpec(s *containers.VolumeCreateRequestSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if s.Name != "" && !volumeNameRE.MatchString(s.Name) {
		errs = append(errs, field.Invalid(p.Child("name"), s.Name,
			"a volume name must match [a-zA-Z0-9][a-zA-Z0-9_.-]+ (at least two characters)"))
	}
	errs = append(errs, validateEngineNamespace(s.Namespace, p.Child("namespace"))...)
	if s.Driver != "" && s.Driver != "local" {
		errs = append(errs, field.NotSupported(p.Child("driver"), s.Driver, []string{"local"}))
	}
	return append(errs, validateLabels(s.Labels, p.Child("labels"))...)
}
