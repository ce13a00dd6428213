#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Per-user install into a temporary HOME: every manifest checked, --status agrees, a second run
# upgrades in place, --uninstall leaves HOME exactly as it was.
set -euo pipefail
# shellcheck source=tests/installer/lib.sh
source "$(dirname "$0")/lib.sh"
binary="${1:?usage: test-user-install.sh SMIME_HOST_BINARY}"

make_test_home
# Something of the user's own that must survive, next to where the manifests go.
mkdir -p "$HOME/.config/chromium/Default" "$HOME/.local/share"
echo "keep me" >"$HOME/.config/chromium/Default/Preferences"
# A Flatpak Firefox's data folder: the installer must notice it and explain what to do.
mkdir -p "$HOME/.var/app/org.mozilla.firefox"
before="$(snapshot "$HOME")"

"$installer" --binary "$binary" >"$work/install.log" 2>&1 || { cat "$work/install.log"; fail "install.sh failed"; }
grep -q "self-test passed" "$work/install.log" || { cat "$work/install.log"; fail "install did not end with a passing self-test"; }
pass "install.sh --binary: exit 0, self-test passed"
grep -q "org.mozilla.firefox is a Flatpak" "$work/install.log" || { cat "$work/install.log"; fail "no advice for the Flatpak Firefox"; }
pass "the Flatpak Firefox is detected and explained"

declare -A folders=(
    [chromium:chrome]="$HOME/.config/google-chrome/NativeMessagingHosts"
    [chromium:chromium]="$HOME/.config/chromium/NativeMessagingHosts"
    [chromium:edge]="$HOME/.config/microsoft-edge/NativeMessagingHosts"
    [chromium:brave]="$HOME/.config/BraveSoftware/Brave-Browser/NativeMessagingHosts"
    [chromium:vivaldi]="$HOME/.config/vivaldi/NativeMessagingHosts"
    [mozilla:firefox+thunderbird]="$HOME/.mozilla/native-messaging-hosts"
)
for key in "${!folders[@]}"; do
    check_manifest "${folders[$key]}/$host_name.json" "${key%%:*}"
done
installed="$HOME/.local/lib/smime-host/smime-host"
[[ "$(jq -r .path "$HOME/.mozilla/native-messaging-hosts/$host_name.json")" == "$installed" ]] ||
    fail "manifests do not point at $installed"
[[ "$(readlink "$HOME/.local/bin/smime-host")" == "$installed" ]] || fail "HOME/.local/bin/smime-host is not a link to the host"
[[ "$(cat "$HOME/.config/chromium/Default/Preferences")" == "keep me" ]] || fail "the user's own file was touched"

status_out="$("$installer" --status)" || { echo "$status_out"; fail "--status failed after install"; }
echo "$status_out"
for name in Chrome Chromium Edge Brave Vivaldi Firefox Thunderbird; do
    grep -Eq "^  $name +user +ok " <<<"$status_out" || fail "--status does not report $name ok"
done
pass "--status reports all seven browsers ok"

# A broken manifest is reported as such.
chrome_manifest="$HOME/.config/google-chrome/NativeMessagingHosts/$host_name.json"
cp "$chrome_manifest" "$work/saved.json"
jq '.path = "smime-host"' "$work/saved.json" >"$chrome_manifest"
if status_out="$("$installer" --status --browser chrome)"; then fail "--status accepted a relative path"; fi
grep -q "is not absolute" <<<"$status_out" || { echo "$status_out"; fail "--status did not say why"; }
echo '{"name":' >"$chrome_manifest"
status_out="$("$installer" --status --browser chrome)" && fail "--status accepted broken JSON"
grep -q "not valid JSON" <<<"$status_out" || { echo "$status_out"; fail "--status did not report invalid JSON"; }
pass "--status reports a relative path and invalid JSON"

# Running it again upgrades in place: same files, the record lists each once.
files_once="$(snapshot "$HOME")"
"$installer" --binary "$binary" >"$work/install2.log" 2>&1 || { cat "$work/install2.log"; fail "second install failed"; }
[[ "$(snapshot "$HOME")" == "$files_once" ]] || fail "a second install changed the set of files"
check_manifest "$chrome_manifest" chromium
record="$HOME/.local/lib/smime-host/install-record.txt"
[[ -z "$(sort "$record" | uniq -d)" ]] || fail "the install record lists something twice"
pass "second run upgrades in place"

"$installer" --uninstall >"$work/uninstall.log" 2>&1 || { cat "$work/uninstall.log"; fail "--uninstall failed"; }
cat "$work/uninstall.log"
after="$(snapshot "$HOME")"
if [[ "$before" != "$after" ]]; then
    diff <(echo "$before") <(echo "$after") || true
    fail "--uninstall did not restore HOME"
fi
pass "--uninstall leaves HOME exactly as before ($(wc -l <<<"$before") entries)"

"$installer" --status >"$work/status.log" 2>&1 && fail "--status exit 0 with nothing installed"
grep -Eq "^  Firefox +user +absent" "$work/status.log" || { cat "$work/status.log"; fail "--status after uninstall"; }
pass "--status after uninstall reports nothing registered (exit 1)"

# --purge: refused without a terminal or --yes, then deletes only the key store.
mkdir -p "$HOME/.local/share/smime-host" && echo x >"$HOME/.local/share/smime-host/store"
"$installer" --binary "$binary" --browser firefox >/dev/null 2>&1 || fail "install for --purge"
"$installer" --uninstall --purge </dev/null >/dev/null 2>&1 && fail "--purge went ahead without confirmation"
[[ -f "$HOME/.local/share/smime-host/store" ]] || fail "unconfirmed --purge deleted the key store"
"$installer" --uninstall --purge --yes >/dev/null || fail "--uninstall --purge --yes"
[[ ! -e "$HOME/.local/share/smime-host" ]] || fail "--purge --yes kept the key store"
[[ "$(snapshot "$HOME")" == "$before" ]] || fail "--purge removed more than the key store"
pass "--purge needs confirmation, then deletes the key store only"
