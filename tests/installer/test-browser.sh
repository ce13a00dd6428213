#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A real browser finds the installed host: install.sh into a temporary HOME, then headless
# Chromium, Firefox ESR or Thunderbird loads a test extension (with the fixed ids of extension/ids.json) that
# calls the host (hello, then a chunked echo through a port) and hands what it saw to a reporter
# host this test controls. A missing browser is a failure, never a skip.
set -euo pipefail
# shellcheck source=tests/installer/lib.sh
source "$(dirname "$0")/lib.sh"
usage="usage: test-browser.sh chromium|firefox|thunderbird SMIME_HOST_BINARY"
browser="${1:?$usage}"
binary="${2:?$usage}"
timeout_s="${SMIME_BROWSER_TIMEOUT:-60}"

case "$browser" in
    chromium)
        exe=/usr/lib/chromium/chromium
        [[ -x "$exe" ]] || exe="$(command -v chromium || true)"
        ;;
    firefox) exe="$(command -v firefox-esr || command -v firefox || true)" ;;
    thunderbird) exe="$(command -v thunderbird || true)" ;;
    *) fail "unknown browser $browser" ;;
esac
[[ -n "$exe" && -x "$exe" ]] ||
    fail "$browser is not installed: this test needs it (installer/deps.sh --test installs it)"

make_test_home
browser_pid=""
stop_browser() {
    if [[ -n "$browser_pid" ]]; then
        kill -TERM -- "-$browser_pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$browser_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL -- "-$browser_pid" 2>/dev/null || true
        browser_pid=""
    fi
}
cleanup_hook=stop_browser

"$source_dir/installer/install.sh" --binary "$binary" --browser "$browser" >"$work/install.log" 2>&1 ||
    { cat "$work/install.log"; fail "install.sh failed"; }
if [[ "$browser" == chromium ]]; then
    hosts_dir="$HOME/.config/chromium/NativeMessagingHosts"
else
    hosts_dir="$HOME/.mozilla/native-messaging-hosts"
fi
[[ -f "$hosts_dir/$host_name.json" ]] || fail "install.sh wrote no manifest in $hosts_dir"

# The Mozilla add-on id this browser's test extension carries.
gecko_id="$(id_of firefox_id)"
[[ "$browser" != thunderbird ]] || gecko_id="$(id_of thunderbird_id)"

# The reporter host: a second native host, allowed for the same extension, that writes the report.
report="$work/report.json"
sed "s|@REPORT_FILE@|$report|" "$source_dir/tests/installer/reporter.sh.in" >"$work/reporter"
chmod 755 "$work/reporter"
if [[ "$browser" == chromium ]]; then
    allow="$(jq -n --arg o "chrome-extension://$(id_of chromium_id)/" '{allowed_origins: [$o]}')"
else
    allow="$(jq -n --arg id "$gecko_id" '{allowed_extensions: [$id]}')"
fi
jq -n --arg path "$work/reporter" --argjson allow "$allow" \
    '{name: "org.smimehost.test_report", description: "test reporter", path: $path, type: "stdio"} + $allow' \
    >"$hosts_dir/org.smimehost.test_report.json"

# The test extension, with the project's fixed ids.
ext="$work/extension"
mkdir -p "$ext"
cp "$source_dir/tests/installer/extension/background.js" "$ext/"
sed -e "s|@CHROMIUM_KEY@|$(id_of chromium_key)|" -e "s|@FIREFOX_ID@|$(id_of firefox_id)|" \
    -e "s|@THUNDERBIRD_ID@|$(id_of thunderbird_id)|" \
    "$source_dir/tests/installer/extension/manifest.$browser.json" >"$ext/manifest.json"

log="$work/browser.log"
started=$(date +%s)
if [[ "$browser" == chromium ]]; then
    # With --user-data-dir, Chromium reads <dir>/NativeMessagingHosts: here the folder install.sh used.
    setsid "$exe" --headless=new --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$HOME/.config/chromium" --load-extension="$ext" \
        --disable-extensions-except="$ext" about:blank >"$log" 2>&1 &
    browser_pid=$!
else
    profile="$work/profile"
    mkdir -p "$profile/extensions"
    (cd "$ext" && cmake -E tar cf "$profile/extensions/$gecko_id.xpi" --format=zip manifest.json background.js)
    cat >"$profile/user.js" <<'PREFS'
user_pref("xpinstall.signatures.required", false);
user_pref("extensions.autoDisableScopes", 0);
user_pref("extensions.enabledScopes", 15);
user_pref("browser.shell.checkDefaultBrowser", false);
user_pref("browser.startup.homepage_override.mstone", "ignore");
user_pref("datareporting.policy.dataSubmissionEnabled", false);
user_pref("toolkit.telemetry.reportingpolicy.firstRun", false);
user_pref("app.update.enabled", false);
user_pref("extensions.update.enabled", false);
user_pref("network.captive-portal-service.enabled", false);
user_pref("mailnews.start_page.enabled", false);
user_pref("mail.provider.enabled", false);
user_pref("mail.shell.checkDefaultClient", false);
PREFS
    page=(about:blank)
    [[ "$browser" != thunderbird ]] || page=()
    setsid "$exe" --headless --no-remote --profile "$profile" "${page[@]}" >"$log" 2>&1 &
    browser_pid=$!
fi

for _ in $(seq $((timeout_s * 10))); do
    [[ -f "$report" ]] && break
    kill -0 "$browser_pid" 2>/dev/null || { cat "$log"; fail "$browser exited before reporting"; }
    sleep 0.1
done
if [[ ! -f "$report" ]]; then
    tail -40 "$log"
    fail "no report from the test extension within ${timeout_s} s"
fi
seconds=$(($(date +%s) - started))
stop_browser
jq . "$report"

jq -e '.hello.ok == true and .hello.result.name == "smime-host"' "$report" >/dev/null ||
    fail "$browser: the extension did not get hello from smime-host: $(jq -c '{hello, hello_error}' "$report")"
if [[ "$browser" == chromium ]]; then
    jq -e --arg o "chrome-extension://$(id_of chromium_id)/" \
        '.hello.result.caller == {kind: "chromium", origin: $o}' "$report" >/dev/null ||
        fail "the host saw caller $(jq -c .hello.result.caller "$report")"
else
    jq -e --arg id "$gecko_id" '.hello.result.caller == {kind: "mozilla", addon_id: $id}' \
        "$report" >/dev/null || fail "the host saw caller $(jq -c .hello.result.caller "$report")"
fi
pass "$browser found the installed host and got hello (caller $(jq -c .hello.result.caller "$report"))"
jq -e '.echo.same == true and .echo.size == 1000000 and .echo.reply_chunks == 2' "$report" >/dev/null ||
    fail "$browser: chunked echo through a port failed: $(jq -c '{echo, echo_error}' "$report")"
pass "$browser: 1,000,000 bytes echoed through a port, in 2 chunks each way, unaltered (${seconds} s)"
