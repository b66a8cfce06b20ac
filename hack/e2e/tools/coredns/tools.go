//go:build tools

// Package corednsbuild pins CoreDNS, so that `go mod tidy` keeps its
// dependencies in go.sum.
package corednsbuild

import _ "github.com/coredns/coredns"
