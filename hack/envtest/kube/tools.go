//go:build tools

// Package k8sbuild pins the Kubernetes commands that envtest needs, so that
// `go mod tidy` keeps their dependencies in go.sum.
package k8sbuild

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
)
