#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The Thunderbird add-on in headless Thunderbird ESR: builds the add-on, then runs
# tests/thunderbird/thunderbird.mjs (fresh profile, add-on sideloaded, the real host on a temporary
# key store, an SMTP sink on loopback). Needs the host built (SMIME_HOST_BINARY or
# build/default/host/smime-host), thunderbird, gpgsm and openssl (installer/deps.sh --test).
# Screenshots land in build/thunderbird-artifacts/. SMIME_EXTENSION_PREBUILT=1 (tests/run.sh) uses
# the add-on already built in extension/dist.
set -euo pipefail
echo "== the Thunderbird add-on in headless Thunderbird ESR (reading, compose, protected send)"
root="$(cd "$(dirname "$0")/../.." && pwd)"
export SMIME_HOST_BINARY="${SMIME_HOST_BINARY:-$root/build/default/host/smime-host}"
[[ -x "$SMIME_HOST_BINARY" ]] || { echo "thunderbird tests: no host at $SMIME_HOST_BINARY; build it first" >&2; exit 1; }
for tool in thunderbird gpgsm openssl node; do
    command -v "$tool" >/dev/null || { echo "thunderbird tests: $tool is missing (installer/deps.sh --test)" >&2; exit 1; }
done
cd "$root/extension"
if [[ "${SMIME_EXTENSION_PREBUILT:-}" != 1 ]]; then
    [[ -d node_modules ]] || npm ci --no-audit --no-fund
    node build.mjs thunderbird
fi
thunderbird --version
node "$root/tests/thunderbird/thunderbird.mjs"
