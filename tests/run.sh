#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The whole test suite from a clean checkout: dependencies, a fresh build, unit, end-to-end and
# installer tests, the browser extension's checks and browser tests, the README's install command,
# the same under ASan+UBSan, then the fuzzers for a bounded time. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZ_SECONDS="${SMIME_FUZZ_SECONDS:-60}"
JOBS="$(nproc 2>/dev/null || echo 2)"

./installer/deps.sh --test

echo "== default build (RelWithDebInfo, warnings as errors)"
rm -rf build/default
cmake --preset default
cmake --build --preset default -j "$JOBS"
ctest --preset default

echo "== the browser extension: type check, lint, builds, web-ext lint, node tests, headless Chromium and Firefox"
tests/extension/run.sh

echo "== the Roundcube plugin: Roundcube, Dovecot and an SMTP sink on loopback, Chromium and Firefox ESR"
tests/webmail/run.sh

echo "== the README's install command (Release build, install into a temporary HOME, self-test)"
tests/installer/test-readme-install.sh

echo "== sanitize build (ASan + UBSan)"
rm -rf build/sanitize
cmake --preset sanitize
cmake --build --preset sanitize -j "$JOBS"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --preset sanitize

echo "== fuzzers (${FUZZ_SECONDS} s each)"
rm -rf build/fuzz
cmake --preset fuzz -DSMIME_FUZZ_SECONDS="$FUZZ_SECONDS"
cmake --build --preset fuzz -j "$JOBS"
ctest --preset fuzz

echo "== all test stages passed"
