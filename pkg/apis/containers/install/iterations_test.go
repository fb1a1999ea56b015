//go:build !race

package install

// iterations is how many random objects of each kind every round trip in
// roundtrip_test.go makes. The roundtrip package's own default (20) is sized
// for Kubernetes' hundreds of kinds; this group has 18, and 200 of each take
// about 2 s.
const iterations = 200
