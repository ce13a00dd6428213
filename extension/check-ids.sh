#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Checks extension/ids.json: chromium_id must be the id Chromium derives from chromium_key.
set -euo pipefail

ids="${1:-$(dirname "$0")/ids.json}"

field() {
    sed -n "s/^[[:space:]]*\"$1\"[[:space:]]*:[[:space:]]*\"\([^\"]*\)\".*/\1/p" "$ids"
}

key="$(field chromium_key)"
id="$(field chromium_id)"
[[ -n "$key" && -n "$id" ]] || { echo "check-ids: chromium_key or chromium_id missing in $ids" >&2; exit 1; }

der="$(mktemp)"
trap 'rm -f "$der"' EXIT
printf '%s' "$key" | base64 -d >"$der"
# The key must be a public key (SubjectPublicKeyInfo), never a private one.
if ! openssl pkey -pubin -inform DER -in "$der" -noout 2>/dev/null; then
    echo "check-ids: chromium_key is not a DER SubjectPublicKeyInfo" >&2
    exit 1
fi
# Chromium: SHA-256 of the DER public key, first 32 hex digits, 0-9a-f mapped to a-p.
derived="$(sha256sum "$der" | cut -c1-32 | tr '0-9a-f' 'a-p')"
if [[ "$derived" != "$id" ]]; then
    echo "check-ids: chromium_id is $id but chromium_key gives $derived" >&2
    exit 1
fi
for gecko in firefox_id thunderbird_id; do
    value="$(field "$gecko")"
    if [[ ! "$value" =~ ^[A-Za-z0-9._+-]+@[A-Za-z0-9.-]+$ ]]; then
        echo "check-ids: $gecko '$value' is not a gecko id (name@domain)" >&2
        exit 1
    fi
done
echo "check-ids: chromium_id $id matches chromium_key; gecko ids well-formed"
