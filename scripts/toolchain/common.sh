# shellcheck shell=bash
# Sourced by scripts/pulumi-toolchain.sh and scripts/control-plane-toolchain.sh: progress
# lines and timed steps. The sourcing script sets TOOLCHAIN_NAME (the progress prefix) and,
# to keep each step's output in a file rather than on stderr, STEP_LOG.

# Scratch modules live outside any repository: no go.work above them may leak in.
export GOWORK=off CGO_ENABLED=0

say() { printf '[%s] %s\n' "$TOOLCHAIN_NAME" "$*" >&2; }

now() { printf '%s' "${EPOCHREALTIME/,/.}"; }

elapsed() { awk -v start="$1" -v end="$(now)" 'BEGIN { printf "%.1fs", end - start }'; }

# Run one named step and report its duration. A failing command inside it ends the script
# (errexit); CURRENT_STEP then names the step for the exit trap, and STEP_MARK tells where the
# step's output starts in STEP_LOG.
CURRENT_STEP=
step() {
    CURRENT_STEP=$1
    shift
    STEP_START=$(now)
    say "$CURRENT_STEP ..."
    if [ -n "${STEP_LOG:-}" ]; then
        # shellcheck disable=SC2034  # read by the sourcing script's exit trap
        STEP_MARK=$(wc -l <"$STEP_LOG")
        printf '\n=== %s\n' "$CURRENT_STEP" >>"$STEP_LOG"
        "$@" >>"$STEP_LOG" 2>&1
    else
        "$@" >&2
    fi
    say "$CURRENT_STEP done in $(elapsed "$STEP_START")"
    CURRENT_STEP=
}
