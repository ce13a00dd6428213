#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs what smime-host needs from Debian/Ubuntu packages: `deps.sh` for building (the host and
# the browser extension), `deps.sh --test` adds what the test suite uses. `deps.sh --test-build`
# adds only what building the tests needs (the test libraries; clang and lld for the sanitizer
# build and fuzzing; ccache, through which the README's install in the test run reuses the default
# build's objects; clang-format for the layout check), so the test run can build while the rest
# installs: the interoperability peers; for the installer tests: the browsers, lintian and file for
# the .deb, shellcheck; for the webmail tests: Roundcube from Debian's packages, PHP's command-line
# server (php8.2-cgi keeps the "php" dependency from pulling in Apache) and Dovecot.
set -euo pipefail

# ninja-build: the CMake generator install.sh and the tests use. jq: install.sh --status reads the
# host manifests with it. nodejs, npm: the browser extension's build (extension/, npm ci with the
# committed package-lock.json).
build_packages=(build-essential cmake ninja-build pkg-config libssl-dev openssl nlohmann-json3-dev libsqlite3-dev jq)
# Node.js may come from elsewhere than Debian (NodeSource's nodejs bundles npm and conflicts with
# Debian's npm package): what counts is a node of version 18 or later and an npm command.
node_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if ! command -v npm >/dev/null || ((node_major < 18)); then
    build_packages+=(nodejs npm)
fi
# sqlite3 is here, not with the rest: it requires exactly its own version of libsqlite3-0, so installing it
# may upgrade the library (and libsqlite3-dev) that the builds compile and link against.
test_build_packages=(doctest-dev libboost-dev libboost-filesystem-dev clang libclang-rt-14-dev lld ccache clang-format-14 sqlite3)
test_run_packages=(gpgsm libnss3-tools chromium firefox-esr thunderbird lintian file shellcheck
    roundcube-core roundcube-sqlite3 php8.2-cli php8.2-cgi dovecot-imapd python3)

wanted=("${build_packages[@]}")
case "${1:-}" in
    "") ;;
    --test-build) wanted+=("${test_build_packages[@]}") ;;
    --test) wanted+=("${test_build_packages[@]}" "${test_run_packages[@]}") ;;
    *)
        echo "usage: deps.sh [--test-build | --test]" >&2
        exit 2
        ;;
esac

missing=()
for pkg in "${wanted[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done

if ((${#missing[@]} == 0)); then
    echo "deps: everything needed is installed"
    exit 0
fi

if ! command -v apt-get >/dev/null; then
    echo "deps: missing ${missing[*]} and no apt-get here; install them with your package manager" >&2
    exit 1
fi

sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null; then
        sudo_cmd=(sudo)
    else
        echo "deps: need root (or sudo) to install: ${missing[*]}" >&2
        exit 1
    fi
fi

echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# The webmail tests start Dovecot and PHP themselves; the packaged services must not start
# (Debian's policy-rc.d convention: exit status 101 forbids starting them).
if [[ " ${missing[*]} " == *" dovecot-imapd "* && ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo_cmd[@]}" tee /usr/sbin/policy-rc.d >/dev/null
    "${sudo_cmd[@]}" chmod 755 /usr/sbin/policy-rc.d
    policy_rc_d_added=1
fi
# Through env: sudo's env_reset would drop DEBIAN_FRONTEND.
"${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
if [[ -n "${policy_rc_d_added:-}" ]]; then
    "${sudo_cmd[@]}" rm -f /usr/sbin/policy-rc.d
fi
