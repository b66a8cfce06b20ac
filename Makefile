# llmroute: an operator and a sidecar that make LLM calls from Kubernetes pods reliable.

IMG ?= ghcr.io/osmen-ai/llmroute:dev
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

# Tools are pinned and built from the Go module proxy into bin/, once.
LOCALBIN ?= $(CURDIR)/bin
CONTROLLER_GEN_VERSION ?= v0.23.0
KUSTOMIZE_VERSION ?= v5.8.2
HELM_VERSION ?= v3.22.0
STATICCHECK_VERSION ?= 2026.1
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen-$(CONTROLLER_GEN_VERSION)
KUSTOMIZE ?= $(LOCALBIN)/kustomize-$(KUSTOMIZE_VERSION)
HELM ?= $(LOCALBIN)/helm-$(HELM_VERSION)
STATICCHECK ?= $(LOCALBIN)/staticcheck-$(STATICCHECK_VERSION)
ENVTEST_ASSETS ?= $(LOCALBIN)/k8s

GO_TEST_FLAGS ?= -race -count=1
# The envtest suites find kube-apiserver and etcd here; without them they skip
# (outside CI only).
export KUBEBUILDER_ASSETS ?= $(if $(wildcard $(ENVTEST_ASSETS)/kube-apiserver),$(ENVTEST_ASSETS))

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate the CRD, RBAC and webhook manifests from the Go markers.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd:allowDangerousTypes=true webhook paths="./api/...;./controllers/..." output:crd:artifacts:config=config/crd/bases

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate DeepCopy methods for the API types.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: fmt
fmt: ## Format the code.
	go fmt ./...

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

.PHONY: lint
lint: $(STATICCHECK) ## Run staticcheck.
	$(STATICCHECK) ./...

.PHONY: check-generated
check-generated: manifests generate ## Fail when generated files are not current.
	@git diff --exit-code -- api config || { echo "generated files are stale: run 'make manifests generate' and commit the result" >&2; exit 1; }

.PHONY: test
test: vet check-generated ## Run every test with -race (envtest suites need 'make envtest').
	@if [ -z "$(KUBEBUILDER_ASSETS)" ]; then echo "note: KUBEBUILDER_ASSETS unset, envtest suites skip; run 'make envtest' first" >&2; fi
	go test $(GO_TEST_FLAGS) ./...

.PHONY: envtest
envtest: ## Build kube-apiserver and etcd for envtest into bin/k8s (first time: about 10 minutes).
	bash hack/envtest/build.sh $(ENVTEST_ASSETS)

##@ Build

.PHONY: build
build: ## Build the manager and llmroute-sidecar into bin/.
	go build -ldflags "-X main.version=$(VERSION)" -o $(LOCALBIN)/manager .
	go build -ldflags "-X main.version=$(VERSION)" -o $(LOCALBIN)/llmroute-sidecar ./sidecar

##@ Tools

.PHONY: controller-gen kustomize staticcheck
controller-gen: $(CONTROLLER_GEN) ## Build controller-gen into bin/.
kustomize: $(KUSTOMIZE) ## Build kustomize into bin/.
staticcheck: $(STATICCHECK) ## Build staticcheck into bin/.

$(LOCALBIN):
	mkdir -p $(LOCALBIN)

$(CONTROLLER_GEN): | $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_GEN_VERSION)
	mv $(LOCALBIN)/controller-gen $@

$(KUSTOMIZE): | $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)
	mv $(LOCALBIN)/kustomize $@

$(STATICCHECK): | $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	mv $(LOCALBIN)/staticcheck $@
