#!/usr/bin/env bash
# Build the control plane the cluster tests run against (etcd + kube-apiserver) and the kubectl
# they drive it with, from Go module sources, because kind, k3s and setup-envtest fetch prebuilt
# binaries from hosts this machine cannot reach. Only the Go module proxy is needed.
#
#   bash scripts/control-plane-toolchain.sh   # prints the bin dir on stdout, progress on stderr
#
# Binaries land in ${GH_RUNNER_TOOLCHAIN:-$HOME/.cache/gh-runner-toolchain}/bin, a directory shared
# with scripts/pulumi-toolchain.sh: only etcd, kube-apiserver and kubectl are written there. Each
# is reused while control-plane.stamp records its pin and it exists; change a pin to rebuild it.
# Structure, logging, locking and stamps: scripts/toolchain/common.sh.
set -euo pipefail
shopt -s inherit_errexit

# etcd: newest 3.6.x patch. Kubernetes 1.34 is tested against the 3.6 line (kubeadm 1.34 ships
# 3.6.5); later patches of the same minor only carry fixes.
ETCD_VERSION=v3.6.16
# Kubernetes: the 1.34 minor GKE runs today, newest patch. kube-apiserver and kubectl are built
# from it; kube-apiserver reports it on /version, which kubectl and the Pulumi kubernetes provider
# read. The schema tests validate against its minor (tests/test_toolchain_pins.py).
KUBERNETES_VERSION=v1.34.4

# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/toolchain/common.sh"

# A fresh module that depends on the release: `go install pkg@version` refuses modules whose
# go.mod has replace directives, and both releases have them.
new_wrapper() {
    local dir=$1 module=$2
    mkdir -p "$dir"
    go -C "$dir" mod init "$module"
}

# Kubernetes' go.mod points every k8s.io staging module at ./staging/src/..., which the module
# zip does not contain. Each staging module is published on its own at v0.<minor>.<patch>, so
# the wrapper replaces them with that, read from the release's own go.mod rather than listed
# here. The release's go and godebug lines are kept so the binaries run with its GODEBUG defaults.
wire_kubernetes_wrapper() {
    local dir=$1 gomod staging_version listed edits
    gomod=$(module_field k8s.io/kubernetes "$KUBERNETES_VERSION" GoMod)
    staging_version=v0.${KUBERNETES_VERSION#v1.}
    listed=$(
        go mod edit -json "$gomod" | jq -er --arg v "$staging_version" '
            (.Go | "-go=\(.)"),
            (.GoDebug // [] | .[] | "-godebug=\(.Key)=\(.Value)"),
            (.Replace[] | select(.New.Path | startswith("./staging/"))
                | "-replace=\(.Old.Path)=\(.Old.Path)@\($v)")'
    )
    mapfile -t edits <<<"$listed"
    if [ "${#edits[@]}" -lt 3 ]; then
        echo "no staging replaces found in $gomod" >&2
        return 1
    fi
    go -C "$dir" mod edit "${edits[@]}"
    cat "$dir/go.mod"
}

kubernetes_ldflags() {
    local info built major minor
    info=$(module_field k8s.io/kubernetes "$KUBERNETES_VERSION" Info)
    # The release's tag time, so rebuilding the same pin gives the same binary.
    built=$(jq -er .Time "$info")
    IFS=. read -r major minor _ <<<"${KUBERNETES_VERSION#v}"
    local flags="-s -w" pkg key value
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        for key in gitVersion gitMajor gitMinor buildDate; do
            case $key in
                gitVersion) value=$KUBERNETES_VERSION ;;
                gitMajor) value=$major ;;
                gitMinor) value=$minor ;;
                buildDate) value=$built ;;
            esac
            flags+=" -X $pkg.$key=$value"
        done
    done
    printf '%s' "$flags"
}

build_etcd() {
    local dir=$SCRATCH/etcd
    step "etcd $ETCD_VERSION: wrapper module" new_wrapper "$dir" gh-runner.local/etcd-build
    # The server module's root package is the etcd binary's main (a wrapper of etcdmain).
    step "etcd $ETCD_VERSION: resolve modules" \
        go -C "$dir" get "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
    step "etcd $ETCD_VERSION: build" \
        go -C "$dir" build -trimpath -ldflags="-s -w" -o "$SCRATCH/out/etcd" go.etcd.io/etcd/server/v3
    step "etcd $ETCD_VERSION: check" check_etcd_version
}

check_etcd_version() {
    local reported
    reported=$("$SCRATCH/out/etcd" --version)
    echo "$reported"
    grep -qxF "etcd Version: ${ETCD_VERSION#v}" <<<"$reported"
}

# kube-apiserver and kubectl share one wrapper module, set up once per run and resolved for both
# commands, so either builds against the same module graph whichever the run needs.
kubernetes_wrapper() {
    local dir=$SCRATCH/kubernetes
    if [ -f "$dir/go.mod" ]; then
        return 0
    fi
    step "kubernetes $KUBERNETES_VERSION: wrapper module" \
        new_wrapper "$dir" gh-runner.local/kubernetes-build
    step "kubernetes $KUBERNETES_VERSION: replace staging modules" \
        wire_kubernetes_wrapper "$dir"
    step "kubernetes $KUBERNETES_VERSION: resolve modules" \
        go -C "$dir" get "k8s.io/kubernetes/cmd/kube-apiserver@$KUBERNETES_VERSION" \
        "k8s.io/kubernetes/cmd/kubectl@$KUBERNETES_VERSION"
}

# A command of k8s.io/kubernetes, with the tags upstream release builds use (hack/lib/golang.sh).
build_kubernetes_command() {
    local name=$1 ldflags
    ldflags=$(kubernetes_ldflags)
    go -C "$SCRATCH/kubernetes" build -trimpath -tags=selinux,notest,grpcnotrace \
        -ldflags="$ldflags" -o "$SCRATCH/out/$name" "k8s.io/kubernetes/cmd/$name"
}

build_kube_apiserver() {
    kubernetes_wrapper
    step "kube-apiserver $KUBERNETES_VERSION: build" build_kubernetes_command kube-apiserver
    step "kube-apiserver $KUBERNETES_VERSION: check" check_kube_apiserver_version
}

check_kube_apiserver_version() {
    local reported
    reported=$("$SCRATCH/out/kube-apiserver" --version)
    echo "$reported"
    [ "$reported" = "Kubernetes $KUBERNETES_VERSION" ]
}

build_kubectl() {
    kubernetes_wrapper
    step "kubectl $KUBERNETES_VERSION: build" build_kubernetes_command kubectl
    step "kubectl $KUBERNETES_VERSION: check" check_kubectl_version
}

check_kubectl_version() {
    local reported
    # --client: the version compiled in, without looking for a cluster or a kubeconfig.
    reported=$("$SCRATCH/out/kubectl" version --client -o json)
    echo "$reported"
    [ "$(jq -er .clientVersion.gitVersion <<<"$reported")" = "$KUBERNETES_VERSION" ]
}

main() {
    toolchain_init control-plane
    preflight go jq flock awk sort cut tr mktemp
    lock
    component "etcd $ETCD_VERSION" build_etcd "etcd=$ETCD_VERSION" etcd
    component "kube-apiserver $KUBERNETES_VERSION" build_kube_apiserver \
        "kube-apiserver=$KUBERNETES_VERSION" kube-apiserver
    component "kubectl $KUBERNETES_VERSION" build_kubectl "kubectl=$KUBERNETES_VERSION" kubectl
    finish
}

main "$@"
