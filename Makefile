# llmroute: an operator and a sidecar that make LLM calls from Kubernetes pods reliable.

IMG ?= ghcr.io/osmen-ai/llmroute:dev
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

# Tools are pinned and built from the Go module proxy into bin/, once.
LOCALBIN ?= $(CURDIR)/bin
CONTROLLER_GEN_VERSION ?= v0.23.0
KUSTOMIZE_VERSION ?= v5.8.2
HELM_VERSION ?= v3.22.0
GOLANGCI_LINT_VERSION ?= v2.15.0
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen-$(CONTROLLER_GEN_VERSION)
KUSTOMIZE ?= $(LOCALBIN)/kustomize-$(KUSTOMIZE_VERSION)
HELM ?= $(LOCALBIN)/helm-$(HELM_VERSION)
GOLANGCI_LINT ?= $(LOCALBIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)
ENVTEST_ASSETS ?= $(LOCALBIN)/k8s

GO_TEST_FLAGS ?= -race -count=1
# 'make test' builds envtest's kube-apiserver and etcd into bin/k8s and runs
# the envtest suites against them. SKIP_ENVTEST=1 skips those suites (and
# says so at the end); nothing else does.
SKIP_ENVTEST ?=
ifeq ($(SKIP_ENVTEST),1)
export KUBEBUILDER_ASSETS =
TEST_ENVTEST =
else
export KUBEBUILDER_ASSETS ?= $(ENVTEST_ASSETS)
TEST_ENVTEST = envtest
endif

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Demo

.PHONY: demo
demo: envtest build ## Run the whole chain on this machine: API server, operator, webhook, fake providers, sidecar.
	go run ./hack/demo -assets $(ENVTEST_ASSETS) -manager $(LOCALBIN)/manager -sidecar $(LOCALBIN)/llmroute-sidecar

##@ Development

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate the CRD, RBAC and webhook manifests from the Go markers (and the chart's CRD copy).
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd:allowDangerousTypes=true webhook paths="./api/...;./controllers/..." output:crd:artifacts:config=config/crd/bases
	cp config/crd/bases/llm.osmen.ai_llmroutes.yaml charts/llmroute/crds/llm.osmen.ai_llmroutes.yaml

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate DeepCopy methods for the API types.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: fmt
fmt: ## Format the code.
	go fmt ./...

.PHONY: vet
vet: ## Run go vet (the end-to-end suite, behind its build tag, included).
	go vet ./...
	go vet -tags e2e ./test/e2e/...

.PHONY: lint
lint: $(GOLANGCI_LINT) ## Run golangci-lint (govet, staticcheck, errcheck, unused, ineffassign; see .golangci.yml).
	$(GOLANGCI_LINT) run ./...

.PHONY: check-generated
check-generated: manifests generate ## Fail when generated files are not current.
	@git diff --exit-code -- api config charts/llmroute/crds || { echo "generated files are stale: run 'make manifests generate' and commit the result" >&2; exit 1; }

.PHONY: test
test: $(TEST_ENVTEST) vet check-generated helm-lint ## Run every test with -race, envtest suites and brief fuzzing included; builds the tools it needs first.
	HELM=$(HELM) go test $(GO_TEST_FLAGS) ./...
	$(MAKE) --no-print-directory fuzz
	@if [ "$(SKIP_ENVTEST)" = 1 ]; then \
		echo "" >&2; \
		echo "########################################################################" >&2; \
		echo "## SKIP_ENVTEST=1: the envtest suites were SKIPPED. The CRD validation," >&2; \
		echo "## reconciler and webhook tests did not run. Run 'make test' without it." >&2; \
		echo "########################################################################" >&2; \
	fi

FUZZTIME ?= 5s
# Each fuzz target runs briefly on every 'make test' (go test -fuzz takes one target at a time).
FUZZ_TARGETS = sidecar/sse:FuzzReader sidecar/translate:FuzzReadRequest sidecar/translate:FuzzChatToMessagesRequest sidecar/translate:FuzzMessagesToChatRequest sidecar/translate:FuzzResponsesToChatRequest sidecar/translate:FuzzResponsesToMessagesRequest sidecar/translate:FuzzStreamEvents sidecar/translate:FuzzResponses

.PHONY: fuzz
fuzz: ## Run each fuzz target for FUZZTIME (default 5s).
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "go test -run=^$$ -fuzz=^$${t#*:}$$ -fuzztime=$(FUZZTIME) ./$${t%%:*}"; \
		go test -run='^$$' -fuzz="^$${t#*:}$$" -fuzztime=$(FUZZTIME) ./$${t%%:*}; \
	done

.PHONY: envtest
envtest: ## Build kube-apiserver and etcd for envtest into bin/k8s (first time: about 10 minutes).
	bash hack/envtest/build.sh $(ENVTEST_ASSETS)

##@ Build

.PHONY: build
build: ## Build the manager and llmroute-sidecar into bin/.
	go build -ldflags "-X main.version=$(VERSION)" -o $(LOCALBIN)/manager .
	go build -ldflags "-X main.version=$(VERSION)" -o $(LOCALBIN)/llmroute-sidecar ./sidecar

.PHONY: docker-build
docker-build: ## Build the image holding the manager and llmroute-sidecar (IMG, VERSION).
	docker build --build-arg VERSION=$(VERSION) -t $(IMG) .

IMAGE_TARBALL ?= dist/llmroute-image.tar

.PHONY: image-tarball
image-tarball: ## Build the same image without Docker, as a docker-save tarball IMAGE_TARBALL (IMG, VERSION) to load or push.
	go run ./hack/e2e image -o $(IMAGE_TARBALL) -tag $(IMG) -version $(VERSION)

.PHONY: docker-push
docker-push: ## Push the image IMG.
	docker push $(IMG)

##@ Deploy

CHART ?= charts/llmroute

.PHONY: chart-crd
chart-crd: ## Copy the generated CRD into the Helm chart's crds/.
	cp config/crd/bases/llm.osmen.ai_llmroutes.yaml $(CHART)/crds/llm.osmen.ai_llmroutes.yaml

.PHONY: helm-lint
helm-lint: $(HELM) ## Lint the Helm chart and check what it renders with default and CI values.
	$(HELM) lint --strict $(CHART)
	@set -e; for f in '' $(CHART)/ci/*.yaml; do \
		if [ -n "$$f" ]; then echo "$(HELM) lint --strict $(CHART) -f $$f"; $(HELM) lint --strict $(CHART) -f $$f; fi; \
		echo "$(HELM) template llmroute $(CHART) --namespace llmroute-system $${f:+-f $$f}"; \
		out=$$($(HELM) template llmroute $(CHART) --namespace llmroute-system $${f:+-f $$f}); \
		for k in MutatingWebhookConfiguration ValidatingWebhookConfiguration; do \
			printf '%s\n' "$$out" | grep -q "^kind: $$k\$$" || { echo "$${f:-default values}: no $$k rendered" >&2; exit 1; }; \
		done; \
	done

KUBECTL ?= kubectl

.PHONY: build-installer
build-installer: manifests $(KUSTOMIZE) ## Render the operator for image IMG (CRD, RBAC, manager, webhook, certificate) into dist/install.yaml.
	mkdir -p dist
	cd config/manager && $(KUSTOMIZE) edit set image controller=$(IMG)
	$(KUSTOMIZE) build config/default > dist/install.yaml

.PHONY: deploy
deploy: manifests $(KUSTOMIZE) ## Deploy the operator with image IMG to the current kubeconfig's cluster (needs cert-manager).
	cd config/manager && $(KUSTOMIZE) edit set image controller=$(IMG)
	$(KUSTOMIZE) build config/default | $(KUBECTL) apply -f -

.PHONY: undeploy
undeploy: $(KUSTOMIZE) ## Remove what 'make deploy' installed, the CRD and every LLMRoute included.
	$(KUSTOMIZE) build config/default | $(KUBECTL) delete --ignore-not-found -f -

##@ End-to-end

# A real single-node cluster on this machine (root needed), in a network
# namespace of its own; see hack/e2e. Its state lives in E2E_STATE and is
# removed on the way out; the daemons' logs stay in E2E_LOGS.
E2E_STATE ?= /tmp/llmroute-e2e
E2E_LOGS ?= $(E2E_STATE)-logs
E2E_IMG ?= localhost/llmroute:e2e
E2E_IMAGE_TARBALL ?= $(LOCALBIN)/e2e/llmroute-image.tar
E2E_TEST_FLAGS ?= -test.v -test.timeout=30m

.PHONY: e2e
e2e: e2e-tools ## Bring up a single-node Kubernetes (needs root), run the end-to-end suite on it, tear it down.
	@echo "e2e: building the operator's image tarball, the suite and the node runner"
	$(MAKE) --no-print-directory image-tarball IMG=$(E2E_IMG) IMAGE_TARBALL=$(E2E_IMAGE_TARBALL) VERSION=e2e
	go test -tags e2e -c -o $(LOCALBIN)/e2e/e2e.test ./test/e2e
	go build -o $(LOCALBIN)/e2e/llmroute-e2e ./hack/e2e
	E2E_HELM=$(HELM) $(LOCALBIN)/e2e/llmroute-e2e -bin $(LOCALBIN) -state $(E2E_STATE) -logs $(E2E_LOGS) \
		-image $(E2E_IMAGE_TARBALL) -image-tag $(E2E_IMG) run -- $(LOCALBIN)/e2e/e2e.test $(E2E_TEST_FLAGS)

.PHONY: e2e-tools
e2e-tools: $(HELM) ## Build the node's binaries into bin/ and install runc and the CNI plugins (first time: about 12 minutes).
	bash hack/e2e/build.sh $(LOCALBIN)

.PHONY: e2e-down
e2e-down: ## Tear down what an interrupted 'make e2e' left behind.
	go run ./hack/e2e -state $(E2E_STATE) down

##@ Benchmarks

# The sidecar against a direct call, a bare httputil.ReverseProxy and (when
# installed) nginx, all on loopback; writes BENCHMARKS.md and bench.json.
BENCH_FLAGS ?=
SOAK_DURATION ?= 10m

.PHONY: bench
bench: ## Benchmark the sidecar (about 3 minutes) into BENCHMARKS.md and bench.json (BENCH_FLAGS, e.g. -quick).
	go run ./hack/bench $(BENCH_FLAGS)

.PHONY: soak
soak: ## Soak the sidecar at 500 req/s with 5% faults for SOAK_DURATION (10m) and add it to BENCHMARKS.md.
	go run ./hack/bench -soak $(SOAK_DURATION) $(BENCH_FLAGS)

##@ Tools

.PHONY: controller-gen kustomize golangci-lint
controller-gen: $(CONTROLLER_GEN) ## Build controller-gen into bin/.
kustomize: $(KUSTOMIZE) ## Build kustomize into bin/.
golangci-lint: $(GOLANGCI_LINT) ## Build golangci-lint into bin/ (first time: several minutes).

.PHONY: helm
helm: $(HELM) ## Build helm into bin/ (the first time takes a few minutes).

$(LOCALBIN):
	mkdir -p $(LOCALBIN)

$(CONTROLLER_GEN): | $(LOCALBIN)
	@echo "building controller-gen $(CONTROLLER_GEN_VERSION) (about a minute the first time)..."
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_GEN_VERSION)
	mv $(LOCALBIN)/controller-gen $@

$(KUSTOMIZE): | $(LOCALBIN)
	@echo "building kustomize $(KUSTOMIZE_VERSION) (about a minute the first time)..."
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)
	mv $(LOCALBIN)/kustomize $@

$(GOLANGCI_LINT): | $(LOCALBIN)
	@echo "building golangci-lint $(GOLANGCI_LINT_VERSION) (several minutes the first time)..."
	GOBIN=$(LOCALBIN) go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	mv $(LOCALBIN)/golangci-lint $@

# Without these ldflags a helm built from source assumes Kubernetes v1.20 and
# refuses the chart's kubeVersion in 'helm template' and 'helm lint'.
HELM_KUBE_MINOR ?= 37
HELM_LDFLAGS = -s -w \
	-X helm.sh/helm/v3/internal/version.version=$(HELM_VERSION) \
	-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 \
	-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$(HELM_KUBE_MINOR) \
	-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 \
	-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$(HELM_KUBE_MINOR)

$(HELM): | $(LOCALBIN)
	@echo "building helm $(HELM_VERSION) (2 to 4 minutes the first time)..."
	GOBIN=$(LOCALBIN) go install -ldflags "$(HELM_LDFLAGS)" helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)
	mv $(LOCALBIN)/helm $@
