#!/usr/bin/env bash
# Build the Pulumi CLI, its Python language host and the Kubernetes provider from Go modules,
# because these machines cannot download Pulumi's release binaries. Only the Go module proxy
# is needed.
#
#   bash scripts/pulumi-toolchain.sh   # prints the bin dir on stdout, progress on stderr
#
# Binaries land in ${GH_RUNNER_TOOLCHAIN:-$HOME/.cache/gh-runner-toolchain}/bin, a directory
# shared with scripts/control-plane-toolchain.sh: only pulumi, pulumi-language-python,
# pulumi-language-python-exec and pulumi-resource-kubernetes are written there. They are reused
# while pulumi.stamp records the pins below (and the language host's source) and all exist.
#
# How the engine finds them: pulumi-language-python sits beside pulumi, where the CLI looks for
# its bundled language hosts. pulumi-resource-kubernetes is found on PATH (the engine then warns
# "using pulumi-resource-kubernetes from $PATH"), or, to resolve it by the version the Python
# SDK asks for and keep output warning-free, install it into PULUMI_HOME:
#   pulumi plugin install resource kubernetes "$KUBERNETES_PLUGIN_VERSION" --file "$BIN/pulumi-resource-kubernetes"
# and run with PULUMI_IGNORE_AMBIENT_PLUGINS=true.
set -euo pipefail
shopt -s inherit_errexit

# The Pulumi CLI: modules github.com/pulumi/pulumi/pkg/v3 and, beside it, sdk/v3 (the language
# host is built from the same sdk/v3). uv.lock pins the Python SDK at 3.272.0, but the proxy does
# not serve pkg/v3 v3.272.0 or v3.273.0; v3.274.0 is the nearest release it serves.
PULUMI_VERSION=v3.274.0
# github.com/pulumi/pulumi-kubernetes/provider/v4: the proxy serves no release tag of it, only
# this pseudo-version (a commit of January 2026, between releases 4.24.0 and 4.29.0; uv.lock's
# Python SDK is 4.34.2). Its sdk/v4 sibling is taken at the version its go.mod requires.
KUBERNETES_PROVIDER_MODULE_VERSION=v4.0.0-20260115033456-f47bc2d6f199
# The plugin version the Python SDK pulumi-kubernetes 4.34.2 requests (its pulumi-plugin.json).
# The provider reports it, with the commit it was built from as semver build metadata
# (4.34.2+f47bc2d6f199): the engine warns "resource plugin kubernetes is expected to have version
# >=4.34.2" for any lower report, and build metadata keeps the real origin visible.
KUBERNETES_PLUGIN_VERSION=4.34.2
KUBERNETES_PROVIDER_BUILD_VERSION=$KUBERNETES_PLUGIN_VERSION+${KUBERNETES_PROVIDER_MODULE_VERSION##*-}

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LANGUAGE_HOST_SOURCE=$HERE/toolchain/pulumi-language-python/main.go
ROOT=${GH_RUNNER_TOOLCHAIN:-$HOME/.cache/gh-runner-toolchain}
BIN=$ROOT/bin
STAMP=$ROOT/pulumi.stamp
BINARIES=(pulumi pulumi-language-python pulumi-language-python-exec pulumi-resource-kubernetes)

TOOLCHAIN_NAME=pulumi-toolchain
# shellcheck source-path=SCRIPTDIR
source "$HERE/toolchain/common.sh"

SCRATCH=
finish() {
    local status=$?
    if [ -n "$SCRATCH" ]; then
        chmod -R u+w "$SCRATCH" 2>/dev/null || true
        rm -rf "$SCRATCH"
    fi
    if [ "$status" -ne 0 ]; then
        say "FAILED: step '${CURRENT_STEP:-setup}' (exit $status)"
    fi
}
trap finish EXIT
# Turn signals into an exit, so `finish` cleans the scratch and names the interrupted step.
trap 'exit 130' INT
trap 'exit 143' TERM

# What a build is made of (the pins and the language host source given); the stamp must match
# it exactly for the binaries to be reused.
expected_stamp() {
    printf 'pulumi=%s\n' "$PULUMI_VERSION"
    printf 'kubernetes-provider-module=%s\n' "$KUBERNETES_PROVIDER_MODULE_VERSION"
    printf 'kubernetes-provider-version=%s\n' "$KUBERNETES_PROVIDER_BUILD_VERSION"
    printf 'language-host-source=%s\n' "$(sha256sum <"$1" | cut -d' ' -f1)"
}

stamp_current() {
    [ "$(cat "$STAMP" 2>/dev/null)" = "$(expected_stamp "$LANGUAGE_HOST_SOURCE")" ] || return 1
    local name
    for name in "${BINARIES[@]}"; do
        [ -x "$BIN/$name" ] || return 1
    done
}

# The module's directory in the module cache, downloading it if needed.
module_dir() {
    local json
    json=$(go mod download -json "$1@$2") || {
        printf '%s\n' "$json" >&2
        return 1
    }
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' <<<"$json"
}

# `replace MODULE => ../dir` directives of a go.mod, as "MODULE ../dir" lines: the siblings a
# release builds against from its own repository.
local_replaces() {
    awk '
        /^replace \($/ { block = 1; next }
        block && /^\)$/ { block = 0; next }
        {
            line = $0
            sub(/^[[:space:]]+/, "", line)
            if (!block) { if (line !~ /^replace /) next; sub(/^replace /, "", line) }
            n = split(line, f, /[[:space:]]+/)
            for (i = 1; i <= n; i++) if (f[i] == "=>" && f[i + 1] ~ /^\.\.?\//) print f[1], f[i + 1]
        }' "$1"
}

# The version a go.mod requires of a module.
required_version() {
    awk -v module="$2" '
        { sub(/^require /, "") }
        $1 == module && $2 ~ /^v/ { print $2; exit }' "$1"
}

# Lay a release module out at DEST as it sits in its repository, with each sibling it replaces
# by a relative path copied beside it at the version its go.mod requires. `go install mod@version`
# refuses modules with replace directives; this builds them exactly as their own CI does.
lay_out() {
    local module=$1 version=$2 dest=$3 source sibling path sibling_version
    source=$(module_dir "$module" "$version")
    mkdir -p "$(dirname "$dest")"
    cp -R "$source" "$dest"
    chmod -R u+w "$dest"
    while read -r sibling path; do
        sibling_version=$(required_version "$dest/go.mod" "$sibling")
        if [ -z "$sibling_version" ]; then
            say "$module@$version replaces $sibling with $path but does not require a version of it"
            return 1
        fi
        say "  $sibling@$sibling_version -> $path"
        source=$(module_dir "$sibling" "$sibling_version")
        cp -R "$source" "$dest/$path"
        chmod -R u+w "$dest/$path"
    done < <(local_replaces "$dest/go.mod")
}

download_sources() {
    lay_out github.com/pulumi/pulumi/pkg/v3 "$PULUMI_VERSION" "$SCRATCH/pulumi/pkg"
    lay_out github.com/pulumi/pulumi-kubernetes/provider/v4 "$KUBERNETES_PROVIDER_MODULE_VERSION" \
        "$SCRATCH/pulumi-kubernetes/provider"
}

build_cli() {
    go -C "$SCRATCH/pulumi/pkg" build -trimpath \
        -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" \
        -o "$SCRATCH/out/pulumi" ./cmd/pulumi
}

# The host is compiled as a package of the sdk/v3 module laid out beside pkg/v3, so it builds
# against exactly the SDK the CLI does, with that module's go.mod and go.sum.
build_language_host() {
    local sdk=$SCRATCH/pulumi/sdk
    mkdir -p "$sdk/python/cmd/pulumi-language-python"
    cp "$SCRATCH/language-host.go" "$sdk/python/cmd/pulumi-language-python/main.go"
    go -C "$sdk" build -trimpath \
        -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" \
        -o "$SCRATCH/out/pulumi-language-python" ./python/cmd/pulumi-language-python
    install -m 0755 "$sdk/python/cmd/pulumi-language-python-exec" "$SCRATCH/out/pulumi-language-python-exec"
}

# The provider embeds schema-embed.json and terraform-mapping-embed.json, which its own
# `go:generate go run ./generate.go` derives from the committed schema.json (stamping VERSION
# into it) and terraform-mapping.json.
generate_provider_schema() {
    VERSION=$KUBERNETES_PROVIDER_BUILD_VERSION \
        go -C "$SCRATCH/pulumi-kubernetes/provider" generate ./cmd/pulumi-resource-kubernetes
}

build_provider() {
    go -C "$SCRATCH/pulumi-kubernetes/provider" build -trimpath \
        -ldflags "-s -w -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$KUBERNETES_PROVIDER_BUILD_VERSION" \
        -o "$SCRATCH/out/pulumi-resource-kubernetes" ./cmd/pulumi-resource-kubernetes
}

check_cli_version() {
    local reported
    reported=$(PULUMI_HOME=$SCRATCH/pulumi-home PULUMI_SKIP_UPDATE_CHECK=true "$SCRATCH/out/pulumi" version)
    if [ "$reported" != "$PULUMI_VERSION" ]; then
        say "built pulumi reports version '$reported', expected $PULUMI_VERSION"
        return 1
    fi
}

# Rename into place (same file system) so the bin dir never holds a half-written binary, then
# record the stamp last: an interrupted run leaves no stamp that claims a build it did not finish.
install_binaries() {
    local name
    rm -f "$STAMP"
    for name in "${BINARIES[@]}"; do
        mv -f "$SCRATCH/out/$name" "$BIN/$name"
    done
    expected_stamp "$SCRATCH/language-host.go" >"$STAMP.tmp"
    mv -f "$STAMP.tmp" "$STAMP"
}

command -v go >/dev/null || { say "FAILED: go is not on PATH"; exit 1; }
mkdir -p "$BIN" "$ROOT/tmp"

# One build at a time per cache root; a second run waits, then finds the stamp current.
if command -v flock >/dev/null; then
    exec 9>"$ROOT/pulumi.lock"
    flock 9
fi

if stamp_current; then
    say "reusing $BIN: pulumi.stamp matches the pins"
    printf '%s\n' "$BIN"
    exit 0
fi

# Scratch left by an interrupted run holds nothing worth keeping: the module cache has the sources.
rm -rf "$ROOT"/tmp/pulumi.*
SCRATCH=$(mktemp -d "$ROOT/tmp/pulumi.XXXXXX")
mkdir -p "$SCRATCH/out"
# The stamp must describe the source that was compiled, even if the file is edited mid-build.
cp "$LANGUAGE_HOST_SOURCE" "$SCRATCH/language-host.go"
say "building into $BIN with $(go version | cut -d' ' -f3)"
TOTAL_START=$(now)

step "download sources" download_sources
step "build pulumi $PULUMI_VERSION" build_cli
step "check pulumi version" check_cli_version
step "build pulumi-language-python" build_language_host
step "generate kubernetes provider schema" generate_provider_schema
step "build pulumi-resource-kubernetes $KUBERNETES_PROVIDER_BUILD_VERSION" build_provider
step "install binaries" install_binaries

say "done in $(elapsed "$TOTAL_START")"
printf '%s\n' "$BIN"
