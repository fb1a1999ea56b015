package hostenv

import (
	"fmt"
	"slices"
	"testing"
)

func TestParsePrefix(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // "" = not a prefix
	}{
		{"10.213.20.0/24", "10.213.20.0/24"},
		{"10.213.20.1", "10.213.20.1/32"},
		{"0.0.0.0/0", "0.0.0.0/0"},
		{"255.255.255.255/32", "255.255.255.255/32"},
		{"127.0.0.0/8", "127.0.0.0/8"},
		{"10.0.0.256", ""},
		{"10.0.0", ""},
		{"10.0.0.1/33", ""},
		{"10.0.0.1/", ""},
		{"10.0.0.1/+8", ""},
		{"10.0.0.-1", ""},
		{"10..0.1", ""},
		{"dev", ""},
		{"fe80::1/64", ""},
	} {
		p, ok := ParsePrefix(tc.in)
		got := ""
		if ok {
			got = p.String()
		}
		if got != tc.want {
			t.Errorf("ParsePrefix(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// routes and addrs are `ip -4 -o route show table all` and `ip -4 -o addr
// show` on a host with the project's main dockerd (cadocker0) and a VPN
// policy route.
const (
	routes = `default via 192.0.2.1 dev eth0 
10.213.20.0/24 dev cadocker0 proto kernel scope link src 10.213.20.1 linkdown 
192.0.2.0/24 dev eth0 proto kernel scope link src 192.0.2.2 
10.214.0.0/16 via 192.0.2.9 dev eth0 table 100 
default via 192.0.2.9 dev eth0 table 100 
unreachable 10.215.7.0/24 
local 10.213.20.1 dev cadocker0 table local proto kernel scope host src 10.213.20.1 
broadcast 10.213.20.255 dev cadocker0 table local proto kernel scope link src 10.213.20.1 linkdown 
local 127.0.0.0/8 dev lo table local proto kernel scope host src 127.0.0.1 
local 127.0.0.1 dev lo table local proto kernel scope host src 127.0.0.1 
broadcast 127.255.255.255 dev lo table local proto kernel scope link src 127.0.0.1 
`
	addrs = `1: lo    inet 127.0.0.1/8 scope host lo\       valid_lft forever preferred_lft forever
4: eth0    inet 192.0.2.2/24 brd 192.0.2.255 scope global eth0\       valid_lft forever preferred_lft forever
5: cadocker0    inet 10.213.20.1/24 scope global cadocker0\       valid_lft forever preferred_lft forever
7: wg0    inet 10.216.3.4/32 scope global wg0\       valid_lft forever preferred_lft forever
`
)

func TestUsedPrefixes(t *testing.T) {
	var got []string
	for _, p := range UsedPrefixes(routes, addrs) {
		got = append(got, p.String())
	}
	want := []string{
		"10.213.20.0/24", "192.0.2.0/24", "10.214.0.0/16", "10.215.7.0/24",
		"10.213.20.1/32", "10.213.20.255/32", "127.0.0.0/8", "127.0.0.1/32", "127.255.255.255/32",
		"127.0.0.1/8", "192.0.2.2/24", "10.213.20.1/24", "10.216.3.4/32",
	}
	if !slices.Equal(got, want) {
		t.Errorf("UsedPrefixes:\n got %q\nwant %q", got, want)
	}
	if p := UsedPrefixes("", ""); len(p) != 0 {
		t.Errorf("UsedPrefixes of nothing = %v", p)
	}
}

func mustPrefixes(t *testing.T, ss ...string) []Prefix {
	t.Helper()
	var ps []Prefix
	for _, s := range ss {
		p, ok := ParsePrefix(s)
		if !ok {
			t.Fatalf("bad prefix %q", s)
		}
		ps = append(ps, p)
	}
	return ps
}

func TestSubnet24Free(t *testing.T) {
	for _, tc := range []struct {
		cand string
		used []string
		free bool
	}{
		{"10.213.5.0", nil, true},
		{"10.213.5.0", []string{"10.213.5.0/24"}, false},
		{"10.213.5.0", []string{"10.213.5.77"}, false},              // an address inside
		{"10.213.5.0", []string{"10.213.5.128/25"}, false},          // a smaller network inside
		{"10.213.5.0", []string{"10.213.0.0/16"}, false},            // inside a larger one
		{"10.213.5.0", []string{"10.0.0.0/8"}, false},               //
		{"10.213.5.0", []string{"10.213.4.0/24"}, true},             // the neighbour
		{"10.213.5.0", []string{"10.213.4.0/23"}, false},            // .4-.5
		{"10.213.6.0", []string{"10.213.4.0/22"}, false},            // .4-.7
		{"10.213.5.0", []string{"0.0.0.0/0"}, true},                 // a default route is ignored
		{"10.213.5.0", []string{"192.0.2.0/24", "127.0.0.1"}, true}, //
	} {
		cand := mustPrefixes(t, tc.cand)[0].Addr
		if got := Subnet24Free(cand, mustPrefixes(t, tc.used...)); got != tc.free {
			t.Errorf("Subnet24Free(%s, %v) = %v, want %v", tc.cand, tc.used, got, tc.free)
		}
	}
}

func TestPickSubnet(t *testing.T) {
	// Every 10.213.C.0/24: the search moves on to 10.214.
	var all213 []string
	for c := range 256 {
		all213 = append(all213, fmt.Sprintf("10.213.%d.0/24", c))
	}
	for _, tc := range []struct {
		name string
		seed string
		used []string
		want string // "" = none free
	}{
		// cksum("cadocker0") % 256 = 20: the main daemon's usual subnet.
		{"seeded start", "cadocker0", nil, "10.213.20.1/24"},
		{"next when taken", "cadocker0", []string{"10.213.20.0/24", "10.213.21.5"}, "10.213.22.1/24"},
		// cksum("") % 256 = 255: wraps around to 10.213.0.
		{"wraps", "", []string{"10.213.255.0/24"}, "10.213.0.1/24"},
		{"next block", "cat-api", all213, "10.214.172.1/24"},
		{"a /16 skips its block", "cat-api", []string{"10.213.0.0/16"}, "10.214.172.1/24"},
		{"10/8 leaves nothing", "cat-api", []string{"10.0.0.0/8"}, ""},
		{"host routes elsewhere", "cat-faults", mustStrings(UsedPrefixes(routes, addrs)), "10.213.206.1/24"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := PickSubnet(tc.seed, mustPrefixes(t, tc.used...))
			if ok != (tc.want != "") || got != tc.want {
				t.Errorf("PickSubnet(%q) = %q, %v; want %q", tc.seed, got, ok, tc.want)
			}
		})
	}
}

func mustStrings(ps []Prefix) []string {
	var ss []string
	for _, p := range ps {
		ss = append(ss, p.String())
	}
	return ss
}

func TestSubnetOf(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
	}{
		{"10.213.20.1/24", "10.213.20.0/32"},
		{"10.213.20.2/24", ""},
		{"10.213.20.1/16", ""},
		{"192.168.1.1/24", ""},
		{"", ""},
	} {
		got := ""
		if n, ok := subnetOf(tc.in); ok {
			got = Prefix{Addr: n, Len: 32}.String()
		}
		if got != tc.want {
			t.Errorf("subnetOf(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestCksum checks against what GNU cksum(1) prints.
func TestCksum(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint32
	}{
		{"", 4294967295},
		{"a", 1220704766},
		{"cat-api", 955594156},
		{"cat-faults", 362051278},
		{"cadocker0", 2810918932},
		{"cat-hostile", 1947672749},
		{"cat-apir1b2c3d4", 3460882358},
		{"cat-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 2052893786},
	} {
		if got := Cksum([]byte(tc.in)); got != tc.want {
			t.Errorf("Cksum(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}
