// Package e2e is llmroute's end-to-end suite: the chart installed with Helm
// on a real single-node Kubernetes, an LLMRoute applied with kubectl, and an
// app pod calling LLMs through the injected sidecar with the official SDKs,
// each step checked by what a user would see.
//
// The tests carry the build tag e2e and need the cluster `make e2e` brings
// up (hack/e2e), which also builds the images they run:
//
//	make e2e
//
// They read KUBECONFIG, E2E_KUBECTL, E2E_HELM, E2E_IMAGE, E2E_MOCKLLM_IMAGE
// and E2E_APP_IMAGE from the environment, and fail (never skip) without them.
package e2e
