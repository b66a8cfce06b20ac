#!/usr/bin/env bash
# Builds the envtest control plane (kube-apiserver and etcd) into $1 (default
# bin/k8s) from the Go module proxy alone, so the envtest suites run on a
# machine with no access to envtest's download bucket. Idempotent: a binary
# that already reports the pinned version is kept.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
dest=$(mkdir -p "${1:-bin/k8s}" && cd "${1:-bin/k8s}" && pwd)
kube_version=v1.37.2 # matches k8s.io/api v0.37.x in go.mod
etcd_version=3.7.3

# Not grep -q: it would stop reading early, and under pipefail the command's
# SIGPIPE would then count as a wrong version and rebuild it.
has_version() { [ -x "$1" ] && "$1" --version 2>/dev/null | grep -- "$2" >/dev/null; }

if has_version "$dest/etcd" "etcd Version: $etcd_version"; then
  echo "envtest: etcd $etcd_version already built"
else
  echo "envtest: building etcd $etcd_version (about 2 minutes the first time)..."
  start=$SECONDS
  (cd "$here/etcd" && go build -o "$dest/etcd" .)
  echo "envtest: etcd built in $((SECONDS - start))s"
fi

if has_version "$dest/kube-apiserver" "Kubernetes $kube_version"; then
  echo "envtest: kube-apiserver $kube_version already built"
else
  echo "envtest: building kube-apiserver $kube_version from k8s.io/kubernetes"
  echo "envtest: the first build takes about 10 minutes on 2 cores; later ones reuse the Go build cache"
  start=$SECONDS
  # Default build flags (no -trimpath): the k8s.io/* packages compiled here are
  # then reused from the build cache when the envtest suites compile.
  ldflags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$kube_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=37 -X $pkg.gitTreeState=clean"
  done
  (cd "$here/kube" && go build -ldflags "$ldflags" -o "$dest/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver) &
  build=$!
  # A progress line every 30 s, so a long first build is not mistaken for a hang.
  while kill -0 "$build" 2>/dev/null; do
    for _ in $(seq 30); do kill -0 "$build" 2>/dev/null || break; sleep 1; done
    kill -0 "$build" 2>/dev/null && echo "envtest: still building kube-apiserver ($((SECONDS - start))s)"
  done
  wait "$build"
  echo "envtest: kube-apiserver built in $((SECONDS - start))s"
fi
echo "envtest: KUBEBUILDER_ASSETS=$dest"
