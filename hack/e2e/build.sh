#!/usr/bin/env bash
# Builds everything the end-to-end node runs into $1 (default bin/), from the
# Go module proxy and Debian's packages alone, pinned. Idempotent: a binary
# that already reports its pinned version is kept, so a second run takes
# seconds.
#
#   bin/k8s/         kube-apiserver and etcd (hack/envtest/build.sh), kubelet,
#                    kube-controller-manager, kube-scheduler, kube-proxy, kubectl
#   bin/containerd/  containerd, containerd-shim-runc-v2, ctr
#   bin/coredns/     coredns, the cluster DNS
#   Debian packages  runc, containernetworking-plugins (the CNI bridge),
#                    iptables and conntrack (kube-proxy), when missing
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
dest=$(mkdir -p "${1:-bin}" && cd "${1:-bin}" && pwd)
# The versions are pinned once, in the wrapper modules' go.mod files.
containerd_version=$(cd "$here/tools/containerd" && go list -m -f '{{.Version}}' github.com/containerd/containerd/v2)
coredns_version=$(cd "$here/tools/coredns" && go list -m -f '{{.Version}}' github.com/coredns/coredns)

log() { echo "e2e-build: $*"; }

# The node needs root (a network namespace, a veth pair, routes, cgroups,
# mounts): say so now rather than after minutes of building.
if [ "$(id -u)" != 0 ]; then
  echo "e2e-build: make e2e needs root: it runs a Kubernetes node in a network namespace of its own" >&2
  exit 1
fi
if ! unshare --net true 2>/dev/null; then
  echo "e2e-build: this machine cannot create network namespaces (unshare --net failed): make e2e cannot run here" >&2
  exit 1
fi
# Not grep -q: it would stop reading early, and under pipefail the command's
# SIGPIPE would then count as a wrong version.
has_version() { [ -x "$1" ] && "$1" --version 2>/dev/null | grep -- "$2" >/dev/null; }

# build NAME SECONDS CMD...: runs a long build with a progress line every 30 s,
# so that a first build is not mistaken for a hang.
build() {
  local name=$1 estimate=$2 start=$SECONDS pid
  shift 2
  log "building $name (about $estimate the first time)..."
  "$@" &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    if kill -0 "$pid" 2>/dev/null; then log "still building $name ($((SECONDS - start))s)"; fi
  done
  wait "$pid"
  log "$name built in $((SECONDS - start))s"
}

# Debian packages: the OCI runtime, the CNI plugins and kube-proxy's tools.
# Only what is missing is installed, so a prepared machine needs no apt.
need=()
command -v runc >/dev/null || need+=(runc)
[ -x /usr/lib/cni/bridge ] || need+=(containernetworking-plugins)
command -v iptables >/dev/null || need+=(iptables)
command -v conntrack >/dev/null || need+=(conntrack)
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]} with apt-get (about a minute)..."
  start=$SECONDS
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  log "installed ${need[*]} in $((SECONDS - start))s"
else
  log "runc, CNI plugins, iptables and conntrack already installed"
fi

# kube-apiserver and etcd, shared with envtest.
bash "$here/../envtest/build.sh" "$dest/k8s" | sed 's/^envtest: /e2e-build: /'

# The rest of the node, from the same wrapper module and with the same flags
# as kube-apiserver, so the Go build cache of that build is reused.
kube_version=$(cd "$here/../envtest/kube" && go list -m -f '{{.Version}}' k8s.io/kubernetes)
kube_minor=$(echo "$kube_version" | cut -d. -f2)
missing=()
for cmd in kubelet kube-controller-manager kube-scheduler kube-proxy; do
  has_version "$dest/k8s/$cmd" "$kube_version" || missing+=("k8s.io/kubernetes/cmd/$cmd")
done
[ -x "$dest/k8s/kubectl" ] && "$dest/k8s/kubectl" version --client 2>/dev/null | grep -- "$kube_version" >/dev/null ||
  missing+=(k8s.io/kubernetes/cmd/kubectl)
if [ ${#missing[@]} -eq 0 ]; then
  log "kubelet, kube-controller-manager, kube-scheduler, kube-proxy, kubectl $kube_version already built"
else
  ldflags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$kube_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$kube_minor -X $pkg.gitTreeState=clean"
  done
  build "${missing[*]##*/} $kube_version" "4 minutes after kube-apiserver, 7 from scratch" \
    bash -c 'cd "$1" && shift && go build -ldflags "$1" -o "$2/" "${@:3}"' _ "$here/../envtest/kube" "$ldflags" "$dest/k8s" "${missing[@]}"
fi

# containerd 2: static, without the cgo-only snapshotters (btrfs needs cgo;
# devmapper and zfs are left out by tag, erofs is disabled in its config).
cdir="$dest/containerd"
if has_version "$cdir/containerd" "$containerd_version" && [ -x "$cdir/containerd-shim-runc-v2" ] && [ -x "$cdir/ctr" ]; then
  log "containerd $containerd_version already built"
else
  pkg=github.com/containerd/containerd/v2
  build "containerd $containerd_version" "1 minute" bash -c '
    cd "$1" && mkdir -p "$2" &&
    CGO_ENABLED=0 go build -tags "no_btrfs no_devmapper no_zfs urfave_cli_no_docs" \
      -ldflags "-s -w -X $3/version.Version=$4" -o "$2/" $3/cmd/containerd $3/cmd/ctr &&
    CGO_ENABLED=0 go build -tags "no_btrfs no_devmapper no_zfs urfave_cli_no_docs no_grpc" \
      -ldflags "-s -w -X $3/version.Version=$4" -o "$2/" $3/cmd/containerd-shim-runc-v2' \
    _ "$here/tools/containerd" "$cdir" "$pkg" "$containerd_version"
fi

# CoreDNS, run as a pod from an image made of this binary.
if has_version "$dest/coredns/coredns" "CoreDNS-${coredns_version#v}"; then
  log "CoreDNS $coredns_version already built"
else
  build "CoreDNS $coredns_version" "2 minutes" bash -c \
    'cd "$1" && CGO_ENABLED=0 go build -ldflags "-s -w" -o "$2/coredns" github.com/coredns/coredns' \
    _ "$here/tools/coredns" "$dest/coredns"
fi
log "done"
