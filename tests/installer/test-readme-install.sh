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
# The user is left with an extension to load, and told how (CI has Chromium and Firefox ESR).
ext="$HOME/.local/lib/smime-host/extensions"
jq -e --arg key "$(jq -r .chromium_key "$ids")" '.key == $key and .manifest_version == 3' \
    "$ext/chromium/manifest.json" >/dev/null || fail "no loadable Chromium extension with the fixed key in $ext/chromium"
[[ -s "$ext/smime-host-firefox.xpi" && -s "$ext/smime-host-thunderbird.xpi" ]] || fail "no Firefox or Thunderbird add-on in $ext"
grep -q '"Load unpacked" and pick' "$work/install.log" || fail "the installer did not say how to load the extension in Chromium"
grep -q '"Install Add-on From File", pick' "$work/install.log" || fail "the installer did not say how to load the add-on in Firefox"
(hold_system_folders && "$installer" --status) || fail "--status after the README install"
"$installer" --uninstall || fail "--uninstall"
[[ "$(snapshot "$HOME")" == "$before" ]] || fail "--uninstall did not restore HOME"
pass "the README's install command ends with a passing self-test and an extension to load; --uninstall restores HOME"
