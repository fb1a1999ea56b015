//go:build race

package install

// iterations is lower under the race detector, which slows the encoders
// about tenfold (the roundtrip package does the same: 5 instead of 20).
const iterations = 40
