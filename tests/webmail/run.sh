#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The Roundcube plugin's end-to-end tests: Roundcube from Debian's packages, Dovecot and an SMTP
# sink on loopback (env.sh), then headless Chromium and Firefox ESR with the built extension and
# the real host. Needs installer/deps.sh --test, the host built (SMIME_HOST_BINARY or
# build/default/host/smime-host) and the extension built (tests/extension/run.sh builds it).
# Screenshots land in build/webmail-artifacts/; the tests print the timings.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
export SMIME_HOST_BINARY="${SMIME_HOST_BINARY:-$root/build/default/host/smime-host}"
[[ -x "$SMIME_HOST_BINARY" ]] || { echo "webmail tests: no host at $SMIME_HOST_BINARY; build it first" >&2; exit 1; }
for tool in php8.2 dovecot python3 cmsutil openssl; do
    command -v "$tool" >/dev/null || { echo "webmail tests: $tool is missing (installer/deps.sh --test)" >&2; exit 1; }
done
[[ -d /usr/share/roundcube/program ]] || { echo "webmail tests: Roundcube is missing (installer/deps.sh --test)" >&2; exit 1; }
cd "$root/extension"
[[ -d node_modules ]] || npm ci --no-audit --no-fund
[[ -f dist/page-api/smime-webmail.js && -f dist/smime-host-firefox.xpi ]] || npm run build
cd "$root"
node tests/webmail/chromium.mjs
node tests/webmail/firefox.mjs
