# SPDX-License-Identifier: MIT
# Shared helpers of the installer tests (sourced): a throwaway HOME, checks, loud failures.
# shellcheck shell=bash disable=SC2034  # the variables are for the scripts that source this

source_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
installer="$source_dir/installer/install.sh"
ids="$source_dir/extension/ids.json"
host_name="org.smimehost.native"

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

pass() {
    echo "ok: $*"
}

# A fresh temporary directory with an empty HOME inside, removed on exit. The XDG variables are
# cleared so nothing can reach the real ~/.config or ~/.local of whoever runs the tests.
make_test_home() {
    work="$(mktemp -d "${TMPDIR:-/tmp}/smime-installer-test.XXXXXX")"
    trap 'cleanup_test_home' EXIT
    export HOME="$work/home"
    mkdir -p "$HOME"
    unset XDG_CONFIG_HOME XDG_DATA_HOME XDG_CACHE_HOME XDG_RUNTIME_DIR SMIME_HOST_HOME
}

cleanup_test_home() {
    local status=$?
    if [[ -n "${cleanup_hook:-}" ]]; then "$cleanup_hook" || true; fi
    rm -rf "$work"
    return "$status"
}

id_of() {
    jq -r --arg k "$1" '.[$k]' "$ids"
}

# Every path under a folder, relative, sorted (with type and mode, so a changed mode shows).
snapshot() {
    (cd "$1" && find . -printf '%y %m %p\n' | sort)
}

# check_manifest FILE FAMILY: valid JSON, the right allow-list, absolute path to a host answering hello.
check_manifest() {
    local file="$1" family="$2" path answer
    [[ -f "$file" ]] || fail "$file missing"
    jq -e 'type == "object"' "$file" >/dev/null || fail "$file is not valid JSON"
    [[ "$(jq -r .name "$file")" == "$host_name" ]] || fail "$file: wrong name"
    [[ "$(jq -r .type "$file")" == stdio ]] || fail "$file: type is not stdio"
    if [[ "$family" == chromium ]]; then
        jq -e --arg o "chrome-extension://$(id_of chromium_id)/" '.allowed_origins == [$o]' "$file" >/dev/null ||
            fail "$file: allowed_origins is not [chrome-extension://<chromium_id>/]"
        jq -e 'has("allowed_extensions") | not' "$file" >/dev/null || fail "$file: Chromium manifest with allowed_extensions"
    else
        jq -e --arg f "$(id_of firefox_id)" --arg t "$(id_of thunderbird_id)" \
            '.allowed_extensions == [$f, $t]' "$file" >/dev/null ||
            fail "$file: allowed_extensions is not [firefox_id, thunderbird_id]"
        jq -e 'has("allowed_origins") | not' "$file" >/dev/null || fail "$file: Mozilla manifest with allowed_origins"
    fi
    path="$(jq -r .path "$file")"
    [[ "$path" == /* ]] || fail "$file: path '$path' is not absolute"
    [[ -f "$path" && -x "$path" ]] || fail "$file: $path is not an executable file"
    answer="$("$path" hello)" || fail "$path hello failed"
    jq -e '.name == "smime-host" and .protocol == 2' <<<"$answer" >/dev/null || fail "$path hello answered: $answer"
    pass "$file ($family) -> $path answers hello"
}

# The system-wide manifest folders (Linux), and what the tests compare before and after. Left
# out: Chromium's managed policies, which the installer never touches and the extension's page API
# test writes while these tests run.
system_chromium_dirs=(/etc/chromium/native-messaging-hosts /etc/opt/chrome/native-messaging-hosts
    /etc/opt/edge/native-messaging-hosts)
system_mozilla_dir=/usr/lib/mozilla/native-messaging-hosts

system_snapshot() {
    local d
    for d in /etc/chromium /etc/opt /usr/lib/mozilla /usr/local/lib /usr/local/bin /usr/bin/smime-host; do
        if [[ -e "$d" ]]; then find "$d" -path /etc/chromium/policies -prune -o -printf '%y %m %p\n'; fi
    done | sort
}

# The tests that change the system-wide manifest folders hold this lock while they run (ctest also
# runs them one at a time); the README install test, which runs beside ctest in tests/run.sh,
# takes it around its --status, which reads those folders too.
system_folders_lock="${TMPDIR:-/tmp}/smime-host-system-folders.lock"

hold_system_folders() {
    exec 8>"$system_folders_lock"
    flock 8
}

require_root() {
    [[ "$(id -u)" -eq 0 ]] || fail "this test installs system-wide and must run as root (CI does)"
}
