//go:build tools

// Package hack pins the code generators to the version in go.mod.
package hack

import _ "k8s.io/code-generator"
