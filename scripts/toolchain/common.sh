# shellcheck shell=bash
# Sourced by scripts/pulumi-toolchain.sh and scripts/control-plane-toolchain.sh, which share one
# structure:
#
#   main() {
#       toolchain_init NAME         # paths below, the exit trap
#       preflight TOOL...           # every tool the script runs is on PATH, or one message
#       lock                        # one run per script and toolchain dir at a time
#       component LABEL BUILD STAMP_LINES BINARY...   # reuse, or build and install; repeated
#       finish
#   }
#
# Under ROOT=${GH_RUNNER_TOOLCHAIN:-$HOME/.cache/gh-runner-toolchain}, for a script named NAME:
#   bin/          the binaries, shared by both scripts (each writes only its own)
#   NAME.lock     held (flock) for the whole run; a second run waits, then finds the stamp current
#   NAME.stamp    KEY=VALUE lines: what each installed component was built from
#   NAME.log      the last build's step output (a run that only reuses leaves it alone)
#   tmp/NAME.*    one run's scratch: sources, wrapper modules, binaries before they are installed
#
# Progress goes to stderr, one timed line per step; the bin dir is the only line on stdout. A
# failure prints the failing step's log tail and one line `FAILED: step '...'`.

# Scratch modules live outside any repository: no go.work above them may leak in.
export GOWORK=off CGO_ENABLED=0

say() { printf '[%s] %s\n' "$TOOLCHAIN_NAME" "$*" >&2; }

now() { printf '%s' "${EPOCHREALTIME/,/.}"; }

elapsed() { awk -v start="$1" -v end="$(now)" 'BEGIN { printf "%.1fs", end - start }'; }

toolchain_init() {
    TOOLCHAIN_NAME=$1
    ROOT=${GH_RUNNER_TOOLCHAIN:-$HOME/.cache/gh-runner-toolchain}
    BIN=$ROOT/bin
    STAMP=$ROOT/$TOOLCHAIN_NAME.stamp
    LOG=$ROOT/$TOOLCHAIN_NAME.log
    SCRATCH=
    CURRENT_STEP=
    FAILURE=
    LOG_STARTED=
    RUN_START=$(now)
    trap on_exit EXIT
    # Turn signals into an exit, so on_exit cleans the scratch and names the interrupted step.
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

on_exit() {
    local status=$?
    if [ "$status" -ne 0 ]; then
        if [ -n "$CURRENT_STEP" ]; then
            # The step's own output: from the line after its `=== step` header.
            tail -n +"$((STEP_MARK + 3))" "$LOG" | tail -n 25 >&2
            say "FAILED: step '$CURRENT_STEP' (exit $status after $(elapsed "$STEP_START"));" \
                "full log: $LOG"
        else
            say "FAILED: ${FAILURE:-exit $status outside any step}"
        fi
    fi
    remove_scratch
}

# How to get a tool the scripts run, for the preflight message.
install_hint() {
    case $1 in
        go) printf 'install Go from https://go.dev/dl (or apt-get install golang-go if new enough)' ;;
        jq) printf 'apt-get install jq' ;;
        flock) printf 'apt-get install util-linux' ;;
        awk) printf 'apt-get install mawk' ;;
        sed) printf 'apt-get install sed' ;;
        *) printf 'apt-get install coreutils' ;;
    esac
}

# Check every tool up front, so a missing one is named before any minute is spent building.
preflight() {
    local tool missing=()
    for tool in "$@"; do
        command -v "$tool" >/dev/null || missing+=("$tool ($(install_hint "$tool"))")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        FAILURE="step 'preflight': not on PATH: $(printf '%s; ' "${missing[@]}")"
        FAILURE=${FAILURE%; }
        exit 1
    fi
}

lock() {
    mkdir -p "$BIN" "$ROOT/tmp"
    exec 9>"$ROOT/$TOOLCHAIN_NAME.lock"
    if ! flock -n 9; then
        say "another $TOOLCHAIN_NAME run holds $ROOT/$TOOLCHAIN_NAME.lock; waiting"
        flock 9
    fi
}

# Run one named step, its output into the log, and report its duration. A failing command inside
# it ends the script (errexit); CURRENT_STEP then names the step for on_exit, and STEP_MARK tells
# where the step's output starts in the log.
step() {
    CURRENT_STEP=$1
    shift
    STEP_START=$(now)
    if [ -z "$LOG_STARTED" ]; then
        : >"$LOG"
        LOG_STARTED=1
    fi
    STEP_MARK=$(wc -l <"$LOG")
    say "$CURRENT_STEP ..."
    printf '\n=== %s\n' "$CURRENT_STEP" >>"$LOG"
    "$@" >>"$LOG" 2>&1
    say "$CURRENT_STEP done in $(elapsed "$STEP_START")"
    CURRENT_STEP=
}

# The run's scratch directory, made on first use. What an interrupted run left there holds
# nothing worth keeping (the module cache has the sources); the lock makes removing it safe.
make_scratch() {
    [ -z "$SCRATCH" ] || return 0
    chmod -R u+w "$ROOT/tmp" 2>/dev/null || true
    rm -rf "$ROOT/tmp/$TOOLCHAIN_NAME".*
    SCRATCH=$(mktemp -d "$ROOT/tmp/$TOOLCHAIN_NAME.XXXXXX")
    mkdir -p "$SCRATCH/out"
}

remove_scratch() {
    [ -n "$SCRATCH" ] || return 0
    # Copies of module-cache directories are read-only until made writable.
    chmod -R u+w "$SCRATCH" 2>/dev/null || true
    rm -rf "$SCRATCH"
}

# --- components and the stamp ---------------------------------------------------------------
# A component is what one build makes: its binaries, and KEY=VALUE lines (one per line) saying
# what it is built from. It is reused while the stamp holds every one of its lines and each of
# its binaries is in the bin dir.

component_current() {
    local lines=$1 line name
    shift
    while IFS= read -r line; do
        grep -qxF -- "$line" "$STAMP" 2>/dev/null || return 1
    done <<<"$lines"
    for name in "$@"; do
        [ -x "$BIN/$name" ] || return 1
    done
}

# Rewrite the stamp without the keys of LINES, then add NEW (empty: only drop them).
rewrite_stamp() {
    local keys
    keys=$(cut -d= -f1 <<<"$1" | tr '\n' ' ')
    {
        if [ -f "$STAMP" ]; then
            awk -F= -v keys="$keys" '
                BEGIN { n = split(keys, k, " "); for (i = 1; i <= n; i++) drop[k[i]] = 1 }
                !($1 in drop)' "$STAMP"
        fi
        if [ -n "$2" ]; then printf '%s\n' "$2"; fi
    } | sort >"$STAMP.tmp"
    mv -f "$STAMP.tmp" "$STAMP"
}

# Move a component's binaries from $SCRATCH/out into the bin dir (a rename on one file system,
# so the bin dir never holds a half-written binary). Its stamp lines are dropped first and
# recorded last: an interrupted run leaves no line claiming a binary it did not install.
install_component() {
    local lines=$1 name
    shift
    rewrite_stamp "$lines" ""
    for name in "$@"; do
        mv -f "$SCRATCH/out/$name" "$BIN/$name"
        printf 'installed %s\n' "$BIN/$name"
    done
    rewrite_stamp "$lines" "$lines"
}

# component LABEL BUILD STAMP_LINES BINARY...: reuse the binaries, or run BUILD (whose steps
# leave them in $SCRATCH/out) and install them.
component() {
    local label=$1 build=$2 lines=$3
    shift 3
    if component_current "$lines" "$@"; then
        say "$label: reusing $* in $BIN"
        return 0
    fi
    make_scratch
    "$build"
    step "$label: install" install_component "$lines" "$@"
}

finish() {
    say "ready in $(elapsed "$RUN_START")"
    printf '%s\n' "$BIN"
}

# --- Go modules -----------------------------------------------------------------------------

# One field of `go mod download -json MODULE@VERSION` (Dir, GoMod, Info, ...), downloading the
# module into the module cache if needed.
module_field() {
    local json
    json=$(go mod download -json "$1@$2") || {
        printf '%s\n' "$json" >&2
        return 1
    }
    jq -er --arg field "$3" '.[$field]' <<<"$json"
}
