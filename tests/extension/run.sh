#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The extension's checks and browser tests: npm ci, type check, lint, the three builds,
# `web-ext lint` of the Mozilla builds, the node tests (host client against a fake port and
# against the real host), then headless Chromium and Firefox ESR with the built extension and the
# real host, and the webmail page API on a test page in both browsers.
# Screenshots land in build/extension-artifacts/. Needs the host built (SMIME_HOST_BINARY or
# build/default/host/smime-host), Chromium and Firefox ESR (installer/deps.sh --test).
# SMIME_EXTENSION_PREBUILT=1 (tests/run.sh) uses the npm ci, build and static checks already made
# in extension/ (tests/run.sh runs them up front, beside the default build) and goes on from the
# node tests, which need the host.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
export SMIME_HOST_BINARY="${SMIME_HOST_BINARY:-$root/build/default/host/smime-host}"
[[ -x "$SMIME_HOST_BINARY" ]] || { echo "extension tests: no host at $SMIME_HOST_BINARY; build it first" >&2; exit 1; }
cd "$root/extension"
if [[ "${SMIME_EXTENSION_PREBUILT:-}" != 1 ]]; then
    "$root/extension/check-ids.sh"
    npm ci --no-audit --no-fund
    npm run typecheck
    npm run lint
    npm run build
    npm run lint:mozilla
fi
npm test
node tests/browser/chromium.mjs
node tests/browser/firefox.mjs
node tests/browser/page-api-chromium.mjs
node tests/browser/page-api-firefox.mjs
