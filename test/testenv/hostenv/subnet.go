package hostenv

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
)

// Prefix is an IPv4 network or address in use on the host: a route's
// destination or an interface's address, with its prefix length (32 for a
// bare address).
type Prefix struct {
	Addr uint32
	Len  int
}

// ParsePrefix parses "A.B.C.D" or "A.B.C.D/N".
func ParsePrefix(s string) (Prefix, bool) {
	addr, lenStr, hasLen := strings.Cut(s, "/")
	ip, ok := parseIPv4(addr)
	if !ok {
		return Prefix{}, false
	}
	p := Prefix{Addr: ip, Len: 32}
	if hasLen {
		n, err := strconv.Atoi(lenStr)
		if err != nil || n < 0 || n > 32 || lenStr != strconv.Itoa(n) {
			return Prefix{}, false
		}
		p.Len = n
	}
	return p, true
}

func parseIPv4(s string) (uint32, bool) {
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return 0, false
	}
	var ip uint32
	for _, part := range parts {
		n, err := strconv.Atoi(part)
		if err != nil || n < 0 || n > 255 || part == "" || part[0] == '+' || part[0] == '-' {
			return 0, false
		}
		ip = ip<<8 | uint32(n)
	}
	return ip, true
}

func (p Prefix) String() string {
	return fmt.Sprintf("%d.%d.%d.%d/%d", p.Addr>>24, p.Addr>>16&0xff, p.Addr>>8&0xff, p.Addr&0xff, p.Len)
}

// UsedPrefixes reads the output of `ip -4 -o route show table all` and
// `ip -4 -o addr show`: of each route, the first field that is an address
// (the destination; "local 10.0.0.5 dev ..." and "broadcast ..." lines
// count, default routes do not), and of each address line its fourth field.
func UsedPrefixes(routes, addrs string) []Prefix {
	var used []Prefix
	for _, line := range strings.Split(routes, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] == "default" {
			continue
		}
		for _, field := range f {
			if p, ok := ParsePrefix(field); ok {
				used = append(used, p)
				break
			}
		}
	}
	for _, line := range strings.Split(addrs, "\n") {
		if f := strings.Fields(line); len(f) >= 4 {
			if p, ok := ParsePrefix(f[3]); ok {
				used = append(used, p)
			}
		}
	}
	return used
}

// HostPrefixes is UsedPrefixes of this host, read with ip(8): routes in every
// table (a VPN's policy routes too) and every interface address.
func HostPrefixes(ctx context.Context) ([]Prefix, error) {
	routes, err := ipOutput(ctx, "-4", "-o", "route", "show", "table", "all")
	if err != nil {
		return nil, err
	}
	addrs, err := ipOutput(ctx, "-4", "-o", "addr", "show")
	if err != nil {
		return nil, err
	}
	return UsedPrefixes(routes, addrs), nil
}

func ipOutput(ctx context.Context, args ...string) (string, error) {
	cmd, err := command(ctx, "ip", args...)
	if err != nil {
		return "", err
	}
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("ip %s: %w%s", strings.Join(args, " "), err, stderrOf(err))
	}
	return string(out), nil
}

func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) && len(ee.Stderr) > 0 {
		return ": " + strings.TrimSpace(string(ee.Stderr))
	}
	return ""
}

// Subnet24Free reports whether the /24 holding cand overlaps none of used:
// a used prefix overlaps when the two agree on the shorter of the two
// prefix lengths. A /0 (what a default route would be) is ignored.
func Subnet24Free(cand uint32, used []Prefix) bool {
	for _, p := range used {
		if p.Len <= 0 {
			continue
		}
		m := min(p.Len, 24)
		mask := uint32(0xFFFFFFFF) << (32 - m)
		if cand&mask == p.Addr&mask {
			return false
		}
	}
	return true
}

// subnetSecondOctets are the 10.B.0.0/16 blocks the daemons' bridges come
// from: far from Docker's own 172.17/16 and from the usual home and office
// 10.0-10.10 ranges.
var subnetSecondOctets = []uint32{213, 214, 215, 216, 217, 218, 219}

// PickSubnet returns a free "10.B.C.1/24" (the gateway address and prefix)
// for a bridge, or false when every candidate is taken. seed (the bridge's
// name) chooses where the search starts, so daemons with different names
// rarely contend for one subnet; it is hashed with POSIX cksum, as the bash
// this replaces did, so a name keeps the subnet it had.
func PickSubnet(seed string, used []Prefix) (string, bool) {
	start := Cksum([]byte(seed)) % 256
	for _, b := range subnetSecondOctets {
		for i := range uint32(256) {
			c := (start + i) % 256
			if Subnet24Free(10<<24|b<<16|c<<8, used) {
				return fmt.Sprintf("10.%d.%d.1/24", b, c), true
			}
		}
	}
	return "", false
}

// gatewayRE is what PickSubnet hands out, and so what a bridge.cidr file may
// hold.
var gatewayRE = regexp.MustCompile(`^10\.[0-9]+\.[0-9]+\.1/24$`)

// subnetOf returns the network address of a "10.B.C.1/24" gateway.
func subnetOf(gateway string) (uint32, bool) {
	if !gatewayRE.MatchString(gateway) {
		return 0, false
	}
	p, ok := ParsePrefix(gateway)
	if !ok {
		return 0, false
	}
	return p.Addr &^ 0xff, true
}

// cksumTable is CRC-32 with the polynomial 0x04C11DB7, most significant bit
// first: the CRC of POSIX cksum(1).
var cksumTable = func() (t [256]uint32) {
	for i := range t {
		c := uint32(i) << 24
		for range 8 {
			if c&0x80000000 != 0 {
				c = c<<1 ^ 0x04C11DB7
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

// Cksum is the checksum POSIX cksum(1) prints: the CRC of the data followed
// by its length (least significant byte first, no more bytes than needed),
// complemented.
func Cksum(data []byte) uint32 {
	var crc uint32
	for _, c := range data {
		crc = crc<<8 ^ cksumTable[byte(crc>>24)^c]
	}
	for n := len(data); n > 0; n >>= 8 {
		crc = crc<<8 ^ cksumTable[byte(crc>>24)^byte(n)]
	}
	return ^crc
}
