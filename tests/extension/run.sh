#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The extension's checks and browser tests: npm ci, type check, lint, the three builds,
# `web-ext lint` of the Mozilla builds, the node tests (host client against a fake port and
# against the real host), then headless Chromium and Firefox ESR with the built extension and the
# real host, and the webmail page API on a test page in both browsers.
# Screenshots land in build/extension-artifacts/. Needs the host built (SMIME_HOST_BINARY or
# build/default/host/smime-host), Chromium and Firefox ESR (installer/deps.sh --test).
# `run.sh --prepare` runs only what needs neither a browser nor the host (npm ci, ids, type check,
# lint, the builds, web-ext lint); tests/run.sh runs it up front, beside the default build, and
# then this script with SMIME_EXTENSION_PREBUILT=1, which goes on from the node tests.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root/extension"
if [[ "${1:-}" == --prepare || "${SMIME_EXTENSION_PREBUILT:-}" != 1 ]]; then
    "$root/extension/check-ids.sh"
    npm ci --no-audit --no-fund
    npm run typecheck
    npm run lint
    npm run build
    npm run lint:mozilla
fi
if [[ "${1:-}" == --prepare ]]; then exit 0; fi
export SMIME_HOST_BINARY="${SMIME_HOST_BINARY:-$root/build/default/host/smime-host}"
[[ -x "$SMIME_HOST_BINARY" ]] || { echo "extension tests: no host at $SMIME_HOST_BINARY; build it first" >&2; exit 1; }
npm test
node tests/browser/chromium.mjs
node tests/browser/firefox.mjs
node tests/browser/page-api-chromium.mjs
node tests/browser/page-api-firefox.mjs
