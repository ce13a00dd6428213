#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A long fuzzing run, apart from CI: builds the fuzz preset (clang, libFuzzer, ASan+UBSan) and runs
# every fuzzer side by side for SMIME_FUZZ_SECONDS (default an hour) each, keeping the corpus in
# build/fuzz between runs. Crashes are written to build/fuzz/tests/fuzz/ and fail the run.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${SMIME_FUZZ_SECONDS:-3600}"
jobs="$(nproc 2>/dev/null || echo 2)"

cmake --preset fuzz -DSMIME_FUZZ_SECONDS="$seconds"
cmake --build --preset fuzz -j "$jobs"
echo "== fuzzers, ${seconds} s each, side by side"
ctest --preset fuzz -j "$jobs"
