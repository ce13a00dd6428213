#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# install.sh --system: manifests in every browser's system folder, --status --system agrees, and
# --uninstall --system puts the system folders back exactly as they were. Needs root.
set -euo pipefail
# shellcheck source=tests/installer/lib.sh
source "$(dirname "$0")/lib.sh"
binary="${1:?usage: test-system-install.sh SMIME_HOST_BINARY}"

require_root
hold_system_folders
make_test_home
[[ ! -e /usr/local/lib/smime-host ]] || fail "/usr/local/lib/smime-host exists: a real system install is here; not touching it"
if dpkg-query -W -f='${Status}' smime-host 2>/dev/null | grep -q "install ok installed"; then
    fail "the smime-host package is installed; not touching it"
fi
before="$(system_snapshot)"
installed=false
cleanup_hook=undo
undo() { if $installed; then "$installer" --system --uninstall >/dev/null 2>&1; fi; }

"$installer" --system --binary "$binary" >"$work/install.log" 2>&1 || { cat "$work/install.log"; fail "install.sh --system failed"; }
installed=true
grep -q "self-test passed" "$work/install.log" || { cat "$work/install.log"; fail "no passing self-test"; }
for dir in "${system_chromium_dirs[@]}"; do check_manifest "$dir/$host_name.json" chromium; done
check_manifest "$system_mozilla_dir/$host_name.json" mozilla
[[ "$(jq -r .path "$system_mozilla_dir/$host_name.json")" == /usr/local/lib/smime-host/smime-host ]] ||
    fail "system manifests do not point at /usr/local/lib/smime-host/smime-host"
[[ "$(snapshot "$HOME")" == "$(cd "$HOME" && find . -printf '%y %m %p\n' | sort)" && -z "$(ls -A "$HOME")" ]] ||
    fail "--system wrote into HOME"

status_out="$("$installer" --status --system)" || { echo "$status_out"; fail "--status --system failed"; }
echo "$status_out"
for name in Chrome Chromium Edge Brave Vivaldi Firefox Thunderbird; do
    grep -Eq "^  $name +system +ok " <<<"$status_out" || fail "--status --system does not report $name ok"
done
pass "--status --system reports all seven browsers ok"

"$installer" --system --uninstall >"$work/uninstall.log" 2>&1 || { cat "$work/uninstall.log"; fail "--uninstall --system failed"; }
installed=false
after="$(system_snapshot)"
if [[ "$before" != "$after" ]]; then
    diff <(echo "$before") <(echo "$after") || true
    fail "--uninstall --system did not restore the system folders"
fi
pass "--uninstall --system leaves the system folders as before"
