#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The .deb: built by CPack from the build tree, no lintian errors, installs with dpkg -i, puts a
# working host manifest in every system folder, and dpkg --purge removes all of it. Needs root.
set -euo pipefail
# shellcheck source=tests/installer/lib.sh
source "$(dirname "$0")/lib.sh"
build_dir="${1:?usage: test-deb.sh BUILD_DIR}"

require_root
hold_system_folders
command -v lintian >/dev/null || fail "lintian is not installed (installer/deps.sh --test installs it)"
make_test_home
if dpkg-query -W -f='${Status}' smime-host 2>/dev/null | grep -q "install ok installed"; then
    fail "the smime-host package is already installed here; not touching it"
fi
[[ ! -e /usr/local/lib/smime-host ]] || fail "a system install from install.sh is here; not touching it"
installed=false
cleanup_hook=undo
undo() { if $installed; then dpkg --purge smime-host >/dev/null 2>&1; fi; }

(cd "$build_dir" && cpack -G DEB -B "$work/pkg") >"$work/cpack.log" 2>&1 || { cat "$work/cpack.log"; fail "cpack failed"; }
deb="$(find "$work/pkg" -maxdepth 1 -name 'smime-host_*.deb' | head -1)"
[[ -n "$deb" ]] || fail "cpack made no .deb"
pass "cpack built $(basename "$deb")"

lintian --fail-on error --display-info "$deb" >"$work/lintian.log" 2>&1 || lintian_status=$?
grep -v "running with root privileges" "$work/lintian.log" || true
((${lintian_status:-0} == 0)) || fail "lintian reports errors"
! grep -q '^E:' "$work/lintian.log" || fail "lintian reports errors"
pass "lintian: no errors"

before="$(system_snapshot)"
dpkg -i "$deb" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "dpkg -i failed"; }
installed=true
for dir in "${system_chromium_dirs[@]}"; do check_manifest "$dir/$host_name.json" chromium; done
check_manifest "$system_mozilla_dir/$host_name.json" mozilla
[[ "$(jq -r .path "$system_mozilla_dir/$host_name.json")" == /usr/bin/smime-host ]] || fail "manifests do not point at /usr/bin/smime-host"
/usr/bin/smime-host self-test || fail "the packaged host fails its self-test"
status_out="$("$installer" --status --system)" || { echo "$status_out"; fail "--status --system after dpkg -i"; }
for name in Chrome Chromium Edge Brave Vivaldi Firefox Thunderbird; do
    grep -Eq "^  $name +system +ok " <<<"$status_out" || fail "--status --system does not report $name ok"
done
pass "dpkg -i: every system manifest present and working"

dpkg --purge smime-host >"$work/purge.log" 2>&1 || { cat "$work/purge.log"; fail "dpkg --purge failed"; }
installed=false
while read -r path; do
    [[ ! -f "$path" ]] || fail "dpkg --purge left $path"
done < <(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ { sub(/^\./, "", $6); print $6 }')
# dpkg also drops empty folders that existed before but that no package owns (/etc/opt on a
# fresh system): put those back, so the machine is left as it was.
while read -r type mode path; do
    if [[ "$type" == d && ! -e "$path" ]]; then
        mkdir -m "$mode" "$path"
        echo "note: dpkg removed the pre-existing empty folder $path; restored"
    fi
done <<<"$before"
after="$(system_snapshot)"
if [[ "$before" != "$after" ]]; then
    diff <(echo "$before") <(echo "$after") || true
    fail "dpkg --purge did not restore the system folders"
fi
pass "dpkg --purge removes the host and every manifest"
