#!/usr/bin/env bash
# Build the Cloud Storage emulator the state tier runs `pulumi login gs://...` against
# (fake-gcs-server), from Go module sources: its releases ship as container images and GitHub
# downloads, neither of which this machine can reach. Only the Go module proxy is needed.
#
#   bash scripts/gcs-emulator-toolchain.sh   # prints the bin dir on stdout, progress on stderr
#
# The binary lands in ${GH_RUNNER_TOOLCHAIN:-$HOME/.cache/gh-runner-toolchain}/bin, a directory
# shared with scripts/pulumi-toolchain.sh and scripts/control-plane-toolchain.sh: only
# fake-gcs-server is written there. It is reused while gcs-emulator.stamp records its pin and it
# exists; change the pin to rebuild it. Structure, logging, locking and stamps:
# scripts/toolchain/common.sh.
set -euo pipefail
shopt -s inherit_errexit

# fake-gcs-server: the newest release the Go module proxy serves (`go list -m -versions
# github.com/fsouza/fake-gcs-server`). Object versioning, which the state tier's restore from a
# noncurrent generation needs, works with its memory backend.
FAKE_GCS_SERVER_VERSION=v1.56.1

# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/toolchain/common.sh"

FAKE_GCS_SERVER_MODULE=github.com/fsouza/fake-gcs-server

# Its go.mod has no replace directives, so `go install module@version` builds it with exactly
# the release's module graph; the main package is the module root.
install_fake_gcs_server() {
    GOBIN=$SCRATCH/out go install -trimpath -ldflags="-s -w" \
        "$FAKE_GCS_SERVER_MODULE@$FAKE_GCS_SERVER_VERSION"
}

# The server has no --version flag; the build info the Go toolchain embeds names the module
# and version it was built from.
check_fake_gcs_server_version() {
    local reported
    reported=$(go version -m "$SCRATCH/out/fake-gcs-server")
    echo "$reported"
    awk -v want="$FAKE_GCS_SERVER_MODULE $FAKE_GCS_SERVER_VERSION" '
        $1 == "mod" && ($2 " " $3) == want { found = 1 } END { exit !found }' <<<"$reported"
}

build_fake_gcs_server() {
    step "fake-gcs-server $FAKE_GCS_SERVER_VERSION: build" install_fake_gcs_server
    step "fake-gcs-server $FAKE_GCS_SERVER_VERSION: check" check_fake_gcs_server_version
}

main() {
    toolchain_init gcs-emulator
    preflight go jq flock awk sort cut tr mktemp
    lock
    component "fake-gcs-server $FAKE_GCS_SERVER_VERSION" build_fake_gcs_server \
        "fake-gcs-server=$FAKE_GCS_SERVER_VERSION" fake-gcs-server
    finish
}

main "$@"
