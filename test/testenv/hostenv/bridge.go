package hostenv

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// TestBridgeName is the bridge of test daemon name: "cat-NAME" when NAME is
// short and plain enough for an interface name (at most 15 bytes), else
// "cat-" + its first 4 characters (made safe) + 7 hex digits of its SHA-256.
// It never is cadocker0, the project's main daemon's bridge.
func TestBridgeName(name string) string {
	safe := []byte(name)
	for i, c := range safe {
		if !interfaceNameChar(c) {
			safe[i] = '-'
		}
	}
	if string(safe) == name && len(safe) <= 11 {
		return "cat-" + name
	}
	sum := sha256.Sum256([]byte(name))
	return "cat-" + string(safe[:min(4, len(safe))]) + hex.EncodeToString(sum[:])[:7]
}

// interfaceNameChar reports whether c may stay in a bridge name as it is.
func interfaceNameChar(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// wordBridge finds "bridge" as a word in `ip -d link show` output: the link
// kind of a bridge.
var wordBridge = regexp.MustCompile(`\bbridge\b`)

// EnsureBridge makes sure bridge name exists, is up and has an IPv4 /24 that
// collides with no route or address on the host, and returns its
// gateway/prefix ("10.B.C.1/24"). A bridge that already has an address keeps
// it. Otherwise the subnet in cidrFile (the last one used) is preferred, so a
// daemon keeps its addresses across restarts; the choice is written back to
// cidrFile. Callers are serialised host-wide on stateBase/.network.lock so
// that two never pick the same subnet.
func EnsureBridge(ctx context.Context, name, cidrFile, stateBase string, logf func(string, ...any)) (string, error) {
	unlock, err := lockFile(filepath.Join(stateBase, ".network.lock"), 120*time.Second)
	if err != nil {
		return "", err
	}
	defer unlock()

	addr := ""
	if linkExists(ctx, name) {
		out, err := ipOutput(ctx, "-d", "link", "show", "dev", name)
		if err != nil {
			return "", err
		}
		if !wordBridge.MatchString(out) {
			return "", fmt.Errorf("interface %s exists but is not a bridge", name)
		}
		if addr, err = bridgeAddr(ctx, name); err != nil {
			return "", err
		}
	} else if _, err := ipOutput(ctx, "link", "add", "name", name, "type", "bridge"); err != nil {
		return "", fmt.Errorf("cannot create bridge %s: %w", name, err)
	}

	if addr == "" {
		used, err := HostPrefixes(ctx)
		if err != nil {
			return "", err
		}
		want := ""
		if b, err := os.ReadFile(cidrFile); err == nil {
			want = strings.TrimSpace(string(b))
		}
		net, wantOK := subnetOf(want)
		switch {
		case wantOK && Subnet24Free(net, used):
			addr = want
		case wantOK && exists(filepath.Join(filepath.Dir(cidrFile), "data", "network", "files", "local-kv.db")):
			// dockerd re-applies the subnet stored in its network db to the
			// bridge on restart, whatever we put there: keep it, but say so.
			addr = want
			logf("WARNING: %s (bridge %s) now overlaps a host route; dockerd keeps it because it is stored in %s (delete that dir, or --purge, for a new subnet)",
				want, name, filepath.Join(filepath.Dir(cidrFile), "data", "network"))
		default:
			var ok bool
			if addr, ok = PickSubnet(name, used); !ok {
				return "", fmt.Errorf("no free 10.213-219.x.0/24 subnet for bridge %s", name)
			}
		}
		if _, err := ipOutput(ctx, "addr", "add", addr, "dev", name); err != nil {
			return "", fmt.Errorf("cannot add %s to bridge %s: %w", addr, name, err)
		}
	}
	if _, err := ipOutput(ctx, "link", "set", "dev", name, "up"); err != nil {
		return "", fmt.Errorf("cannot bring bridge %s up: %w", name, err)
	}
	if err := os.WriteFile(cidrFile, []byte(addr+"\n"), 0o644); err != nil {
		return "", err
	}
	return addr, nil
}

// bridgeAddr is the first IPv4 address/prefix of an interface, "" if none.
func bridgeAddr(ctx context.Context, name string) (string, error) {
	out, err := ipOutput(ctx, "-4", "-o", "addr", "show", "dev", name)
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 4 {
			return f[3], nil
		}
	}
	return "", nil
}

// RemoveBridge deletes bridge name if it exists. Only call it for a bridge
// this project owns.
func RemoveBridge(ctx context.Context, name string) error {
	if _, err := LookPath("ip"); err != nil {
		return err
	}
	if !linkExists(ctx, name) {
		return nil
	}
	if _, err := ipOutput(ctx, "link", "del", "dev", name); err != nil {
		return fmt.Errorf("cannot delete bridge %s: %w", name, err)
	}
	return nil
}

// linkExists reports whether a network interface exists (ip(8) says
// "Device does not exist" otherwise).
func linkExists(ctx context.Context, name string) bool {
	_, err := ipOutput(ctx, "link", "show", "dev", name)
	return err == nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
