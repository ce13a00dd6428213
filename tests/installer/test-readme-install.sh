#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The README's install command exactly as a user runs it (dependencies, Release build, install,
# self-test), into a temporary HOME; then --status, and --uninstall restores HOME. Takes minutes
# (a Release build), so tests/run.sh runs it as a stage rather than ctest.
set -euo pipefail
# shellcheck source=tests/installer/lib.sh
source "$(dirname "$0")/lib.sh"

make_test_home
before="$(snapshot "$HOME")"
"$installer" </dev/null 2>&1 | tee "$work/install.log" || fail "installer/install.sh failed"
grep -q "^self-test passed" "$work/install.log" || fail "installer/install.sh did not end with a passing self-test"
"$installer" --status || fail "--status after the README install"
"$installer" --uninstall || fail "--uninstall"
[[ "$(snapshot "$HOME")" == "$before" ]] || fail "--uninstall did not restore HOME"
pass "the README's install command ends with a passing self-test; --uninstall restores HOME"
