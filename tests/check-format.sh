#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Checks that every tracked C++ file is laid out as .clang-format says (clang-format 14, as
# Debian 12 ships it); prints the offending places and fails otherwise. `clang-format -i` fixes them.
set -euo pipefail
cd "$(dirname "$0")/.."

format="${CLANG_FORMAT:-}"
if [[ -z "$format" ]]; then
    for candidate in clang-format-14 clang-format; do
        if command -v "$candidate" >/dev/null; then
            format="$candidate"
            break
        fi
    done
fi
[[ -n "$format" ]] || { echo "check-format: no clang-format (installer/deps.sh --test installs it)" >&2; exit 1; }
version="$("$format" --version)"
[[ "$version" =~ version\ 14\. ]] || { echo "check-format: needs clang-format 14, found: $version" >&2; exit 1; }

mapfile -t files < <(git ls-files -- '*.cpp' '*.cc' '*.h' '*.hpp')
((${#files[@]} > 0)) || { echo "check-format: no C++ files found (not a git checkout?)" >&2; exit 1; }
if "$format" --style=file --dry-run -Werror "${files[@]}"; then
    echo "check-format: ${#files[@]} files laid out as .clang-format says"
else
    echo "check-format: run '$format -i' on the files above" >&2
    exit 1
fi
