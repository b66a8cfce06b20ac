# syntax=docker/dockerfile:1
# One image for both binaries: the operator runs /manager, and the sidecar it
# injects runs /llmroute-sidecar from the same image, so the two always match.
#
#   docker build --build-arg VERSION=v0.1.0 -t ghcr.io/osmen-ai/llmroute:v0.1.0 .

FROM --platform=$BUILDPLATFORM golang:1.26 AS builder
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
WORKDIR /workspace

# Dependencies first, so that a source change does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download

COPY . .
ENV CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH}
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/manager . && \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/llmroute-sidecar ./sidecar

# Static binaries on distroless: no shell, no package manager, non-root.
FROM gcr.io/distroless/static:nonroot
ARG VERSION=dev
LABEL org.opencontainers.image.title="llmroute" \
      org.opencontainers.image.description="Operator and sidecar that make LLM calls from Kubernetes pods reliable" \
      org.opencontainers.image.source="https://github.com/osmen-ai/llmroute" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"
WORKDIR /
COPY --from=builder /out/manager /manager
COPY --from=builder /out/llmroute-sidecar /llmroute-sidecar
USER 65532:65532
ENTRYPOINT ["/manager"]
