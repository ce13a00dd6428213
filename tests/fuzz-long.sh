#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A long fuzzing run, apart from CI: builds the fuzzers of the sanitize preset (clang, libFuzzer,
# ASan+UBSan) and runs them side by side for SMIME_FUZZ_SECONDS (default an hour) each, keeping
# the corpus in build/sanitize between runs. Crashes are written to build/sanitize/tests/fuzz/ and
# fail the run.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${SMIME_FUZZ_SECONDS:-3600}"
jobs="$(nproc 2>/dev/null || echo 2)"

export CMAKE_GENERATOR="${CMAKE_GENERATOR:-Ninja}"  # as tests/run.sh, which may have made the tree
cmake --preset sanitize -DSMIME_FUZZ_SECONDS="$seconds"
cmake --build --preset sanitize -j "$jobs" --target fuzz_session fuzz_engine
echo "== fuzzers, ${seconds} s each, side by side"
ctest --preset sanitize -j "$jobs" -R '^fuzz_'
