#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The whole test suite from a clean checkout: dependencies, the C++ layout check, the C++ suites
# (each run once: under ASan+UBSan where the sanitizers find things, the rest in the default
# build), installer tests, the browser extension's checks and browser tests (and the other browser
# stages under tests/*/run.sh), the README's install command, then a short bounded run of the
# fuzzers (tests/fuzz-long.sh runs them for longer). Exits non-zero on any failure.
#
# What building needs is installed first. The host's build (the default build's program, as users
# get it) and the extension's build (npm ci, the three packages) run next, side by side, while the
# rest of the test tools install (browsers, peers, Roundcube); then four lanes, because much of the
# test time is spent waiting on browsers and child processes (each waits for the test tools before
# its first stage that uses them):
#   sanitize:  the sanitize build (clang; the suites and the fuzzers in one tree), then its suites
#              and the fuzzers' run side by side: the longest chain
#   default:   the rest of the default build (only the suites that cannot run under the
#              sanitizers: SMIME_HOST_SUITES=unsanitized), then ctest there: the installer tests
#              (those that share the system-wide manifest folders one at a time), the key store's
#              multi-process suite and the end-to-end cases on real memory limits and multi-MiB
#              payloads; then the benchmark programs are compiled there (never run here: they
#              print figures)
#   extension: tests/extension/run.sh
#   mail:      tests/webmail/run.sh, then tests/thunderbird/run.sh (when present); they write
#              nothing outside their temporary folders. Then the README's install command in a
#              copy of the tree (it runs npm ci and builds in its own folders)
# The browser stages use the extension build (and its checks) made once up front
# (SMIME_EXTENSION_PREBUILT=1).
# Each stage's output goes to build/ci-logs/<stage>.log (printed when it fails); every stage
# prints its wall time and the CPU time (user + system) of everything it ran, and a table of them
# closes the run.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZ_SECONDS="${SMIME_FUZZ_SECONDS:-30}"
# Ninja (installer/deps.sh) schedules the builds' compilations better than make.
export CMAKE_GENERATOR="${CMAKE_GENERATOR:-Ninja}"
JOBS="$(nproc 2>/dev/null || echo 2)"
logs="build/ci-logs"
started=$SECONDS

rm -rf "$logs"
mkdir -p "$logs"

# The README's install builds the host again, in Release in a copy of the tree, with the compiler
# and flags of the default build but for -Werror. A compiler cache, emptied at the start of every
# run, hands it the default build's objects: paths under the checkout are hashed relative to each
# build folder, and __FILE__ is relative to the source tree (-fmacro-prefix-map, whose
# tree-specific argument is left out of the hash), so the copy's compilations match the
# checkout's. The base is the checkout's real path, as CMake hands the compiler real paths. The
# sanitize build has flags of its own and does not use the cache.
checkout="$(pwd -P)"
export CCACHE_DIR="$checkout/build/ccache" CCACHE_BASEDIR="$checkout" CCACHE_IGNOREOPTIONS="-Werror -fmacro-prefix-map=*"
rm -rf "$CCACHE_DIR"

# stage NAME COMMAND...: runs COMMAND with its output in the stage's log; records the wall time
# and the CPU time of the command and every process it waited for. The clock runs in a subshell of
# its own: a shell that also has other stages in the background would count those that end
# meanwhile. COMMAND runs on the left of `||`, where `set -e` does not apply: a function staged
# here chains its steps with &&.
stage() {
    local name="$1" begin=$SECONDS cpu result=ok
    shift
    echo "== $name: started"
    (TIMEFORMAT='%U %S' && time "$@" >"$logs/$name.log" 2>&1) 2>"$logs/$name.cpu" || result=FAILED
    cpu="$(awk '{ printf "%d", $1 + $2 }' "$logs/$name.cpu")"
    echo "$name $result $((SECONDS - begin)) $cpu" >>"$logs/timings"
    if [[ "$result" == ok ]]; then
        echo "== $name: passed in $((SECONDS - begin)) s (CPU $cpu s)"
        return 0
    fi
    echo "== $name: FAILED after $((SECONDS - begin)) s; the end of $logs/$name.log:" >&2
    tail -n 80 "$logs/$name.log" >&2
    return 1
}

# fresh_build PRESET TARGET JOBS [CMAKE_OPTION...]: configures from scratch and builds TARGET
# ("all": everything) with JOBS compilations at a time.
fresh_build() {
    local preset="$1" target="$2" jobs="$3"
    shift 3
    rm -rf "build/$preset" && cmake --preset "$preset" "$@" && cmake --build --preset "$preset" -j "$jobs" --target "$target"
}

# The README's install command as a user runs it from a clone: in a copy of the tracked files, so
# its npm ci and Release build touch nothing the other stages use. Its compilations go through the
# compiler cache (see above); the log ends with how many the cache answered.
readme_install() {
    local copy="build/readme-install"
    rm -rf "$copy" && mkdir -p "$copy" &&
        git ls-files -z | tar --null --ignore-failed-read -T - -cf - | tar -xf - -C "$copy" &&
        CMAKE_CXX_COMPILER_LAUNCHER=ccache "$copy/tests/installer/test-readme-install.sh" &&
        ccache --show-stats
}

# The suites where the sanitizers find things: everything that runs our code on untrusted or
# hand-managed memory, in process or in a host or command line it starts. The default build has
# the rest: the installer's checks, the self-test (a round trip through engine code the engine
# suite covers), the key store's multi-process suite (SQLite locking and killed processes; its
# store code runs under the sanitizers in the other key store suites, its command line in the
# policy suite) and the end-to-end cases on real memory limits, which AddressSanitizer's shadow
# memory defeats.
sanitize_tests() {
    ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
        ctest --preset sanitize -E '^(installer_.*|keystore_process|fuzz_.*)$'
}

# wait_for_deps: waits until the background install of the test tools (deps_pid) has ended; fails
# if it failed or ended without saying.
wait_for_deps() {
    while [[ ! -e "$logs/deps.status" ]] && kill -0 "$deps_pid" 2>/dev/null; do sleep 1; done
    [[ "$(cat "$logs/deps.status" 2>/dev/null)" == 0 ]] && return 0
    echo "== the test tools did not install (see $logs/deps.log)" >&2
    return 1
}

# A lane goes on after a failed stage where the next one does not depend on it, so one run
# reports every failure; its exit status says whether any stage failed.
mail_lane() {
    local status=0 suite
    wait_for_deps || return 1
    for suite in webmail thunderbird; do
        if [[ -e "tests/$suite/run.sh" ]]; then
            stage "$suite" "tests/$suite/run.sh" || status=1
        fi
    done
    stage readme-install readme_install || status=1
    return "$status"
}

# The benchmark programs are compiled (never run here: they print figures) after the tests of the
# default build, as the .deb test's cpack brings that tree up to date and must not build in it
# at the same time.
default_lane() {
    local status=0
    if stage default-build cmake --build --preset default -j "$JOBS" && wait_for_deps; then
        stage default-tests ctest --preset default || status=1
    else
        status=1
    fi
    stage benchmarks-build cmake --build --preset default -j "$JOBS" --target benchmarks || status=1
    return "$status"
}

sanitize_lane() {
    local pids=() status=0 pid
    stage sanitize-build fresh_build sanitize all "$JOBS" -DSMIME_HOST_BENCHMARKS=OFF -DSMIME_FUZZ_SECONDS="$FUZZ_SECONDS" || return 1
    wait_for_deps || return 1
    stage sanitize-tests sanitize_tests &
    pids+=($!)
    stage fuzz-run ctest --preset sanitize -R '^fuzz_' &
    pids+=($!)
    for pid in "${pids[@]}"; do wait "$pid" || status=1; done
    return "$status"
}

summary() {
    echo "== stage timings (wall and CPU seconds; the lanes overlap)"
    if [[ -f "$logs/timings" ]]; then
        awk '{ printf "   %-16s %-7s %6d s  CPU %6d s\n", $1, $2, $3, $4; cpu += $4 }
             END { printf "   %-24s       CPU %6d s\n", "all stages", cpu }' "$logs/timings"
    fi
    echo "== total: $((SECONDS - started)) s"
}
trap summary EXIT

# What building needs is installed first; the rest (browsers, peers, Roundcube: most of the
# download and unpacking, on one processor) installs while the builds run, and the stages that
# use it wait for it (wait_for_deps).
stage deps-build ./installer/deps.sh --test-build

status=0
pids=()
(
    rc=0
    stage deps ./installer/deps.sh --test || rc=1
    echo "$rc" >"$logs/deps.status.new" && mv "$logs/deps.status.new" "$logs/deps.status"
    exit "$rc"
) &
deps_pid=$!
pids+=("$deps_pid")
stage format tests/check-format.sh &
pids+=($!)
# The extension and the add-on built once for every browser stage, with the checks that need
# neither a browser nor the host, while the host's build leaves a processor partly idle.
stage extension-build tests/extension/run.sh --prepare &
extension_build_pid=$!
stage host-build fresh_build default smime-host "$JOBS" -DSMIME_HOST_SUITES=unsanitized -DSMIME_HOST_BENCHMARKS=OFF -DCMAKE_CXX_COMPILER_LAUNCHER=ccache || { wait; exit 1; }
wait "$extension_build_pid" || { wait; exit 1; }

export SMIME_EXTENSION_PREBUILT=1
sanitize_lane &
pids+=($!)
default_lane &
pids+=($!)
{ wait_for_deps && stage extension tests/extension/run.sh; } &
pids+=($!)
mail_lane &
pids+=($!)
for pid in "${pids[@]}"; do wait "$pid" || status=1; done

if ((status != 0)); then
    echo "== some test stages FAILED" >&2
    exit 1
fi
echo "== all test stages passed"
