//go:build tools

// Package containerdbuild pins the containerd commands the end-to-end node
// runs, so that `go mod tidy` keeps their dependencies in go.sum.
package containerdbuild

import (
	_ "github.com/containerd/containerd/v2/cmd/containerd"
	_ "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2"
	_ "github.com/containerd/containerd/v2/cmd/ctr"
)
