//go:build tools

// Package k8sbuild pins the Kubernetes commands built from k8s.io/kubernetes:
// kube-apiserver for envtest, and the rest of a node for the end-to-end suite
// (hack/e2e). `go mod tidy` then keeps all their dependencies in go.sum.
package k8sbuild

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
