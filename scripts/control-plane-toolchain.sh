#!/usr/bin/env bash
# Build the control plane the cluster tests run against (etcd + kube-apiserver) from Go module
# sources, because kind, k3s and setup-envtest fetch prebuilt binaries from hosts this machine
# cannot reach. Only the Go module proxy is needed.
#
#   bash scripts/control-plane-toolchain.sh   # prints the bin dir on stdout, progress on stderr
#
# Binaries land in ${GH_RUNNER_TOOLCHAIN:-$HOME/.cache/gh-runner-toolchain}/bin, a directory shared
# with scripts/pulumi-toolchain.sh: only etcd and kube-apiserver are written there. A binary is
# reused while control-plane.stamp records its pin and it exists; change a pin to rebuild it.
set -euo pipefail
shopt -s inherit_errexit

# etcd: newest 3.6.x patch. Kubernetes 1.34 is tested against the 3.6 line (kubeadm 1.34 ships
# 3.6.5); later patches of the same minor only carry fixes.
ETCD_VERSION=v3.6.16
# Kubernetes: the 1.34 minor GKE runs today, newest patch. kube-apiserver is built from it and
# reports it on /version, which kubectl and the Pulumi kubernetes provider read.
KUBERNETES_VERSION=v1.34.4

ROOT=${GH_RUNNER_TOOLCHAIN:-$HOME/.cache/gh-runner-toolchain}
BIN=$ROOT/bin
STAMP=$ROOT/control-plane.stamp
WORK=$ROOT/control-plane-build
LOG=$WORK/build.log

TOOLCHAIN_NAME=control-plane
STEP_LOG=$LOG
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/toolchain/common.sh"

report_failure() {
    local status=$?
    if [ "$status" -ne 0 ] && [ -n "$CURRENT_STEP" ]; then
        tail -n +"$((STEP_MARK + 3))" "$LOG" | tail -n 25 >&2
        say "FAILED: step '$CURRENT_STEP' (exit $status after $(elapsed "$STEP_START"));" \
            "full log: $LOG"
    fi
}

pinned() { grep -qxF "$1=$2" "$STAMP" 2>/dev/null && [ -x "$BIN/$1" ]; }

# Record one binary's pin, keeping the other's line, so an interrupted run never claims a
# binary it did not finish.
record_pin() {
    local name=$1 version=$2
    {
        grep -v "^$name=" "$STAMP" 2>/dev/null || true
        printf '%s=%s\n' "$name" "$version"
    } | sort >"$STAMP.tmp"
    mv -f "$STAMP.tmp" "$STAMP"
}

# A fresh module that depends on the release: `go install pkg@version` refuses modules whose
# go.mod has replace directives, and both releases have them.
new_wrapper() {
    local dir=$1 module=$2
    rm -rf "$dir"
    mkdir -p "$dir"
    go -C "$dir" mod init "$module"
}

# Kubernetes' go.mod points every k8s.io staging module at ./staging/src/..., which the module
# zip does not contain. Each staging module is published on its own at v0.<minor>.<patch>, so
# the wrapper replaces them with that, read from the release's own go.mod rather than listed
# here. The release's go and godebug lines are kept so the binary runs with its GODEBUG defaults.
wire_kubernetes_wrapper() {
    local dir=$1 gomod staging_version listed edits
    gomod=$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | jq -er .GoMod)
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
    info=$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | jq -er .Info)
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

# Build to a temporary name and move into place, so an interrupted build never leaves a
# half-written binary under the real name.
build_into_bin() {
    local dir=$1 name=$2 package=$3
    shift 3
    go -C "$dir" build -trimpath -o "$BIN/.$name.partial" "$@" "$package"
    mv -f "$BIN/.$name.partial" "$BIN/$name"
}

build_etcd() {
    local dir=$WORK/etcd
    step "etcd $ETCD_VERSION: wrapper module" new_wrapper "$dir" gh-runner.local/etcd-build
    # The server module's root package is the etcd binary's main (a wrapper of etcdmain).
    step "etcd $ETCD_VERSION: resolve modules" \
        go -C "$dir" get "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
    step "etcd $ETCD_VERSION: build" \
        build_into_bin "$dir" etcd go.etcd.io/etcd/server/v3 -ldflags="-s -w"
    step "etcd $ETCD_VERSION: check" "$BIN/etcd" --version
    record_pin etcd "$ETCD_VERSION"
}

build_kube_apiserver() {
    local dir=$WORK/kube-apiserver
    step "kube-apiserver $KUBERNETES_VERSION: wrapper module" \
        new_wrapper "$dir" gh-runner.local/kube-apiserver-build
    step "kube-apiserver $KUBERNETES_VERSION: replace staging modules" \
        wire_kubernetes_wrapper "$dir"
    step "kube-apiserver $KUBERNETES_VERSION: resolve modules" \
        go -C "$dir" get "k8s.io/kubernetes/cmd/kube-apiserver@$KUBERNETES_VERSION"
    step "kube-apiserver $KUBERNETES_VERSION: build" build_kube_apiserver_binary "$dir"
    step "kube-apiserver $KUBERNETES_VERSION: check" check_kube_apiserver_version
    record_pin kube-apiserver "$KUBERNETES_VERSION"
}

build_kube_apiserver_binary() {
    local dir=$1 ldflags
    ldflags=$(kubernetes_ldflags)
    # The tags upstream release builds use (hack/lib/golang.sh).
    build_into_bin "$dir" kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver \
        -tags=selinux,notest,grpcnotrace -ldflags="$ldflags"
}

check_kube_apiserver_version() {
    local reported
    reported=$("$BIN/kube-apiserver" --version)
    echo "$reported"
    [ "$reported" = "Kubernetes $KUBERNETES_VERSION" ]
}

main() {
    for tool in go jq; do
        if ! command -v "$tool" >/dev/null; then
            say "FAILED: step 'preflight': $tool is not on PATH"
            exit 1
        fi
    done
    mkdir -p "$BIN" "$WORK"
    # One build at a time per toolchain dir: two would share the wrapper modules and the log.
    exec 9>"$ROOT/control-plane.lock"
    if ! flock -n 9; then
        say "another control-plane build holds $ROOT/control-plane.lock; waiting"
        flock 9
    fi
    : >"$LOG"
    trap report_failure EXIT
    local start
    start=$(now)
    if pinned etcd "$ETCD_VERSION"; then
        say "etcd $ETCD_VERSION: reusing $BIN/etcd"
    else
        build_etcd
    fi
    if pinned kube-apiserver "$KUBERNETES_VERSION"; then
        say "kube-apiserver $KUBERNETES_VERSION: reusing $BIN/kube-apiserver"
    else
        build_kube_apiserver
    fi
    say "ready in $(elapsed "$start")"
    printf '%s\n' "$BIN"
}

main "$@"
