#!/usr/bin/env bash
# Build the Pulumi CLI, its Python language host and the Kubernetes provider from Go modules,
# because these machines cannot download Pulumi's release binaries. Only the Go module proxy
# is needed.
#
#   bash scripts/pulumi-toolchain.sh   # prints the bin dir on stdout, progress on stderr
#
# Binaries land in ${GH_RUNNER_TOOLCHAIN:-$HOME/.cache/gh-runner-toolchain}/bin, a directory
# shared with scripts/control-plane-toolchain.sh: only pulumi, pulumi-language-python,
# pulumi-language-python-exec and pulumi-resource-kubernetes are written there. The CLI with its
# language host, and the provider, are each reused while pulumi.stamp records their pins (and the
# language host's source) and their binaries exist. Structure, logging, locking and stamps:
# scripts/toolchain/common.sh.
#
# How the engine finds them: pulumi-language-python sits beside pulumi, where the CLI looks for
# its bundled language hosts. pulumi-resource-kubernetes is found on PATH (the engine then warns
# "using pulumi-resource-kubernetes from $PATH"), or, to resolve it by the version the Python
# SDK asks for and keep output warning-free, install it into PULUMI_HOME:
#   pulumi plugin install resource kubernetes "$KUBERNETES_PLUGIN_VERSION" --file "$BIN/pulumi-resource-kubernetes"
# and run with PULUMI_IGNORE_AMBIENT_PLUGINS=true.
set -euo pipefail
shopt -s inherit_errexit

# The pins' relations to uv.lock are held by tests/test_toolchain_pins.py.
#
# The Pulumi CLI: modules github.com/pulumi/pulumi/pkg/v3 and, beside it, sdk/v3 (the language
# host is built from the same sdk/v3). It may be a little newer than uv.lock's Python SDK
# (`pulumi`, 3.272.0): the proxy does not serve every pkg/v3 release (not v3.272.0 or v3.273.0),
# so this is the nearest release it serves at or above the SDK, in the same major.
PULUMI_VERSION=v3.274.0
# The Kubernetes provider production runs: the version uv.lock locks the Python SDK
# (`pulumi-kubernetes`) at, which is also the plugin version that SDK's pulumi-plugin.json asks
# the engine for. The Go module proxy serves the provider module only at a pre-4.29 snapshot, so
# it is built from the upstream tag's source archive in ../shared/toolchain (see its README),
# checked against the SHA256SUMS beside it. The binary reports exactly this version.
KUBERNETES_PLUGIN_VERSION=4.32.0
PROVIDER_ARCHIVE_NAME=pulumi-kubernetes-v$KUBERNETES_PLUGIN_VERSION-src.tar.gz

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# The archive sits in the shared/ folder laid beside a clone; GH_RUNNER_PROVIDER_SOURCE_DIR
# points elsewhere.
PROVIDER_SOURCE_DIR=${GH_RUNNER_PROVIDER_SOURCE_DIR:-$HERE/../../shared/toolchain}
LANGUAGE_HOST_SOURCE=$HERE/toolchain/pulumi-language-python/main.go

# shellcheck source-path=SCRIPTDIR
source "$HERE/toolchain/common.sh"

sha256() { sha256sum <"$1" | cut -d' ' -f1; }

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
    source=$(module_field "$module" "$version" Dir)
    mkdir -p "$(dirname "$dest")"
    cp -R "$source" "$dest"
    chmod -R u+w "$dest"
    while read -r sibling path; do
        sibling_version=$(required_version "$dest/go.mod" "$sibling")
        if [ -z "$sibling_version" ]; then
            echo "$module@$version replaces $sibling with $path but does not require a version of it"
            return 1
        fi
        echo "  $sibling@$sibling_version -> $path"
        source=$(module_field "$sibling" "$sibling_version" Dir)
        cp -R "$source" "$dest/$path"
        chmod -R u+w "$dest/$path"
    done < <(local_replaces "$dest/go.mod")
}

build_cli() {
    go -C "$SCRATCH/pulumi/pkg" build -trimpath \
        -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" \
        -o "$SCRATCH/out/pulumi" ./cmd/pulumi
}

# The host is compiled as a package of the sdk/v3 module laid out beside pkg/v3, so it builds
# against exactly the SDK the CLI does, with that module's go.mod and go.sum. The stamp records
# the source's hash as main() read it; a copy edited since would make the stamp lie.
build_language_host() {
    local sdk=$SCRATCH/pulumi/sdk main
    main=$sdk/python/cmd/pulumi-language-python/main.go
    mkdir -p "$(dirname "$main")"
    cp "$LANGUAGE_HOST_SOURCE" "$main"
    if [ "$(sha256 "$main")" != "$LANGUAGE_HOST_SHA256" ]; then
        echo "$LANGUAGE_HOST_SOURCE changed during the build; run again"
        return 1
    fi
    go -C "$sdk" build -trimpath \
        -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" \
        -o "$SCRATCH/out/pulumi-language-python" ./python/cmd/pulumi-language-python
    install -m 0755 "$sdk/python/cmd/pulumi-language-python-exec" "$SCRATCH/out/pulumi-language-python-exec"
}

# The archive's own checksum line must match: a truncated or swapped archive stops here, before
# ten minutes of building.
check_provider_archive() {
    local sums=$PROVIDER_SOURCE_DIR/SHA256SUMS
    [ -f "$sums" ] || { echo "$sums is missing"; return 1; }
    (cd "$PROVIDER_SOURCE_DIR" && grep -F " $PROVIDER_ARCHIVE_NAME" SHA256SUMS | sha256sum -c -)
}

unpack_provider() {
    mkdir -p "$SCRATCH/pulumi-kubernetes"
    tar -xzf "$PROVIDER_ARCHIVE" -C "$SCRATCH/pulumi-kubernetes" --strip-components=1
    go -C "$SCRATCH/pulumi-kubernetes/provider" mod download
}

# The provider embeds schema-embed.json and terraform-mapping-embed.json, which its own
# `go:generate go run ./generate.go` derives from the shipped schema.json (stamping VERSION
# into it) and terraform-mapping.json.
generate_provider_schema() {
    VERSION=$KUBERNETES_PLUGIN_VERSION \
        go -C "$SCRATCH/pulumi-kubernetes/provider" generate ./cmd/pulumi-resource-kubernetes
}

build_provider() {
    go -C "$SCRATCH/pulumi-kubernetes/provider" build -trimpath \
        -ldflags "-s -w -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$KUBERNETES_PLUGIN_VERSION" \
        -o "$SCRATCH/out/pulumi-resource-kubernetes" ./cmd/pulumi-resource-kubernetes
}

# Adoption of kubectl-made objects rests on this option (client-side create since 4.29); a
# binary without it is not the provider production runs.
check_provider() {
    local binary=$SCRATCH/out/pulumi-resource-kubernetes
    if ! grep -q upsertExistingObjects "$binary"; then
        echo "$binary lacks the upsertExistingObjects option"
        return 1
    fi
}

check_cli_version() {
    local reported
    reported=$(PULUMI_HOME=$SCRATCH/pulumi-home PULUMI_SKIP_UPDATE_CHECK=true "$SCRATCH/out/pulumi" version)
    if [ "$reported" != "$PULUMI_VERSION" ]; then
        echo "built pulumi reports version '$reported', expected $PULUMI_VERSION"
        return 1
    fi
}

build_pulumi() {
    step "pulumi $PULUMI_VERSION: download sources" \
        lay_out github.com/pulumi/pulumi/pkg/v3 "$PULUMI_VERSION" "$SCRATCH/pulumi/pkg"
    step "pulumi $PULUMI_VERSION: build" build_cli
    step "pulumi $PULUMI_VERSION: check" check_cli_version
    step "pulumi-language-python $PULUMI_VERSION: build" build_language_host
}

build_kubernetes_provider() {
    local label="pulumi-resource-kubernetes $KUBERNETES_PLUGIN_VERSION"
    step "$label: check source archive" check_provider_archive
    step "$label: unpack and download modules" unpack_provider
    step "$label: generate schema" generate_provider_schema
    step "$label: build" build_provider
    step "$label: check" check_provider
}

main() {
    toolchain_init pulumi
    preflight go jq flock awk sed sort cut tr mktemp sha256sum install tar grep
    lock
    LANGUAGE_HOST_SHA256=$(sha256 "$LANGUAGE_HOST_SOURCE")
    component "pulumi $PULUMI_VERSION" build_pulumi \
        "$(printf 'pulumi=%s\nlanguage-host-source=%s' "$PULUMI_VERSION" "$LANGUAGE_HOST_SHA256")" \
        pulumi pulumi-language-python pulumi-language-python-exec
    PROVIDER_ARCHIVE=$PROVIDER_SOURCE_DIR/$PROVIDER_ARCHIVE_NAME
    if [ ! -f "$PROVIDER_ARCHIVE" ]; then
        if [ -n "${GH_RUNNER_REQUIRE_TOOLCHAIN:-}" ]; then
            FAILURE="the provider source $PROVIDER_ARCHIVE is missing (GH_RUNNER_REQUIRE_TOOLCHAIN is set)"
            exit 1
        fi
        say "skipping pulumi-resource-kubernetes: $PROVIDER_ARCHIVE is missing" \
            "(set GH_RUNNER_PROVIDER_SOURCE_DIR to the folder that holds it)"
    else
        component "pulumi-resource-kubernetes $KUBERNETES_PLUGIN_VERSION" \
            build_kubernetes_provider \
            "$(printf 'kubernetes-provider-version=%s\nkubernetes-provider-source=%s' \
                "$KUBERNETES_PLUGIN_VERSION" "$(sha256 "$PROVIDER_ARCHIVE")")" \
            pulumi-resource-kubernetes
    fi
    finish
}

main "$@"
