#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs smime-host for the current user (or all users) and registers it with every browser.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: installer/install.sh [options]

Builds smime-host (Release), installs it and registers its native messaging host manifest
(org.smimehost.native.json) for Chrome, Chromium, Edge, Brave, Vivaldi, Firefox and Thunderbird,
then runs `smime-host self-test`. Running it again upgrades in place.

  --system           install for all users (needs root): binary in /usr/local/lib/smime-host,
                     manifests in the browsers' system folders
  --uninstall        remove exactly what the install put in place (its record lists it);
                     the key store stays
  --purge            with --uninstall: also delete the key store (asks first)
  --yes              confirm --purge without asking
  --status           per browser: is the manifest there, valid, and does its program answer?
  --browser LIST     only these browsers (comma-separated, or repeat the option):
                     chrome, chromium, edge, brave, vivaldi, firefox, thunderbird
  --prefix DIR       install under DIR/lib/smime-host and DIR/bin (default ~/.local,
                     /usr/local with --system)
  --no-build         install the binary already built in build/release
  --binary FILE      install this smime-host binary instead of building one
  --no-deps          do not install build dependencies with apt-get
  --no-extension     do not build the browser extension and Thunderbird add-on
  -h, --help         this text
EOF
}

# Associative arrays need bash 4 (macOS ships 3.2 as /bin/bash: brew install bash).
((BASH_VERSINFO[0] >= 4)) || { echo "install: needs bash 4 or later" >&2; exit 1; }

readonly host_name="org.smimehost.native"
readonly all_browsers=(chrome chromium edge brave vivaldi firefox thunderbird)
source_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly source_dir
readonly build_dir="$source_dir/build/release"

die() {
    echo "install: $*" >&2
    exit 1
}

# ---------------------------------------------------------------------------------------------
# Options

action=install
scope=user
prefix=""
binary=""
build=1
deps=1
extension=1
purge=0
assume_yes=0
selected=()

while (($# > 0)); do
    case "$1" in
        --system) scope=system ;;
        --uninstall) action=uninstall ;;
        --status) action=status ;;
        --purge) purge=1 ;;
        --yes | -y) assume_yes=1 ;;
        --browser | --browsers)
            (($# >= 2)) || die "$1 needs a value"
            IFS=',' read -r -a more <<<"$2"
            selected+=("${more[@]}")
            shift
            ;;
        --browser=* | --browsers=*)
            IFS=',' read -r -a more <<<"${1#*=}"
            selected+=("${more[@]}")
            ;;
        --prefix)
            (($# >= 2)) || die "--prefix needs a value"
            prefix="$2"
            shift
            ;;
        --prefix=*) prefix="${1#*=}" ;;
        --binary)
            (($# >= 2)) || die "--binary needs a value"
            binary="$2"
            shift
            ;;
        --binary=*) binary="${1#*=}" ;;
        --no-build) build=0 ;;
        --no-deps) deps=0 ;;
        --no-extension) extension=0 ;;
        -h | --help)
            usage
            exit 0
            ;;
        *)
            usage >&2
            die "unknown option '$1'"
            ;;
    esac
    shift
done

if ((${#selected[@]} == 0)); then
    selected=("${all_browsers[@]}")
else
    for b in "${selected[@]}"; do
        [[ " ${all_browsers[*]} " == *" $b "* ]] || die "unknown browser '$b' (one of: ${all_browsers[*]})"
    done
    [[ "$action" != uninstall ]] || die "--uninstall removes everything the install recorded; it takes no --browser"
fi
((purge == 0)) || [[ "$action" == uninstall ]] || die "--purge goes with --uninstall"

case "$(uname -s)" in
    Linux) os=linux ;;
    Darwin) os=macos ;;
    *) die "this script is for Linux and macOS; on Windows use installer\\install.ps1" ;;
esac

[[ -n "${HOME:-}" ]] || die "HOME is not set"
if [[ "$scope" == system ]]; then
    prefix="${prefix:-/usr/local}"
else
    prefix="${prefix:-$HOME/.local}"
fi
[[ "$prefix" == /* ]] || prefix="$PWD/$prefix"
readonly libdir="$prefix/lib/smime-host"
readonly installed_binary="$libdir/smime-host"
readonly command_link="$prefix/bin/smime-host"
readonly record="$libdir/install-record.txt"
# Where the browser extension and the Thunderbird add-on are put for the user to load.
readonly extensions_dir="$libdir/extensions"

# The per-user key store the host uses (docs/protocol.md section 5).
if [[ "$os" == macos ]]; then
    data_dir="$HOME/Library/Application Support/smime-host"
else
    data_dir="${XDG_DATA_HOME:-$HOME/.local/share}/smime-host"
fi
data_dir="${SMIME_HOST_HOME:-$data_dir}"

# ---------------------------------------------------------------------------------------------
# Browsers: names, families and manifest folders (see NATIVE-MESSAGING notes in the docs)

display_name() {
    case "$1" in
        chrome) echo "Chrome" ;;
        chromium) echo "Chromium" ;;
        edge) echo "Edge" ;;
        brave) echo "Brave" ;;
        vivaldi) echo "Vivaldi" ;;
        firefox) echo "Firefox" ;;
        thunderbird) echo "Thunderbird" ;;
    esac
}

family() {
    case "$1" in
        firefox | thunderbird) echo mozilla ;;
        *) echo chromium ;;
    esac
}

# manifest_dir BROWSER SCOPE: the folder the browser reads host manifests from.
manifest_dir() {
    local config="${XDG_CONFIG_HOME:-$HOME/.config}"
    local support="$HOME/Library/Application Support"
    case "$os/$2/$1" in
        linux/user/chrome) echo "$config/google-chrome/NativeMessagingHosts" ;;
        linux/user/chromium) echo "$config/chromium/NativeMessagingHosts" ;;
        linux/user/edge) echo "$config/microsoft-edge/NativeMessagingHosts" ;;
        linux/user/brave) echo "$config/BraveSoftware/Brave-Browser/NativeMessagingHosts" ;;
        linux/user/vivaldi) echo "$config/vivaldi/NativeMessagingHosts" ;;
        # Thunderbird reads ~/.mozilla too (~/.thunderbird/native-messaging-hosts is not read).
        linux/user/firefox | linux/user/thunderbird) echo "$HOME/.mozilla/native-messaging-hosts" ;;
        # Brave and Vivaldi read Chrome's system folder.
        linux/system/chrome | linux/system/brave | linux/system/vivaldi) echo "/etc/opt/chrome/native-messaging-hosts" ;;
        linux/system/chromium) echo "/etc/chromium/native-messaging-hosts" ;;
        linux/system/edge) echo "/etc/opt/edge/native-messaging-hosts" ;;
        linux/system/firefox | linux/system/thunderbird) echo "/usr/lib/mozilla/native-messaging-hosts" ;;
        macos/user/chrome) echo "$support/Google/Chrome/NativeMessagingHosts" ;;
        macos/user/chromium) echo "$support/Chromium/NativeMessagingHosts" ;;
        macos/user/edge) echo "$support/Microsoft Edge/NativeMessagingHosts" ;;
        macos/user/brave) echo "$support/BraveSoftware/Brave-Browser/NativeMessagingHosts" ;;
        macos/user/vivaldi) echo "$support/Vivaldi/NativeMessagingHosts" ;;
        macos/user/firefox) echo "$support/Mozilla/NativeMessagingHosts" ;;
        # Thunderbird on macOS differs from Firefox.
        macos/user/thunderbird) echo "$HOME/Library/Mozilla/NativeMessagingHosts" ;;
        macos/system/chrome | macos/system/brave | macos/system/vivaldi) echo "/Library/Google/Chrome/NativeMessagingHosts" ;;
        macos/system/chromium) echo "/Library/Application Support/Chromium/NativeMessagingHosts" ;;
        macos/system/edge) echo "/Library/Microsoft/Edge/NativeMessagingHosts" ;;
        macos/system/firefox | macos/system/thunderbird) echo "/Library/Application Support/Mozilla/NativeMessagingHosts" ;;
        *) die "no manifest folder for $1 ($2, $os)" ;;
    esac
}

# Whether the browser seems to be installed here (for the report only: every browser is
# registered, so one installed later finds the host too).
browser_found() {
    local candidates=()
    if [[ "$os" == macos ]]; then
        case "$1" in
            chrome) candidates=("Google Chrome") ;;
            chromium) candidates=("Chromium") ;;
            edge) candidates=("Microsoft Edge") ;;
            brave) candidates=("Brave Browser") ;;
            vivaldi) candidates=("Vivaldi") ;;
            firefox) candidates=("Firefox") ;;
            thunderbird) candidates=("Thunderbird") ;;
        esac
        [[ -d "/Applications/${candidates[0]}.app" || -d "$HOME/Applications/${candidates[0]}.app" ]]
        return
    fi
    case "$1" in
        chrome) candidates=(google-chrome google-chrome-stable google-chrome-beta) ;;
        chromium) candidates=(chromium chromium-browser) ;;
        edge) candidates=(microsoft-edge microsoft-edge-stable) ;;
        brave) candidates=(brave-browser brave) ;;
        vivaldi) candidates=(vivaldi vivaldi-stable) ;;
        firefox) candidates=(firefox firefox-esr) ;;
        thunderbird) candidates=(thunderbird) ;;
    esac
    local c
    for c in "${candidates[@]}"; do
        # Snap wrappers in /snap/bin are reported separately (sandboxed_browser_notes).
        if command -v "$c" >/dev/null 2>&1 && [[ "$(command -v "$c")" != /snap/* ]]; then return 0; fi
    done
    return 1
}

# Shortens paths under HOME for the report.
pretty() {
    local path="$1" tilde="~"
    if [[ "$path" == "$HOME"/* ]]; then path="$tilde/${path#"$HOME"/}"; fi
    echo "$path"
}

# ---------------------------------------------------------------------------------------------
# The extension ids (extension/ids.json) and the manifests built from manifests/*.json.in

ids_file="$source_dir/extension/ids.json"
manifests_src="$source_dir/manifests"

id_field() {
    local value
    value="$(sed -n "s/^[[:space:]]*\"$1\"[[:space:]]*:[[:space:]]*\"\([^\"]*\)\".*/\1/p" "$ids_file")"
    [[ -n "$value" ]] || die "$1 missing in $ids_file"
    echo "$value"
}

json_escape() {
    local s="$1"
    s="${s//\\/\\\\}"
    s="${s//\"/\\\"}"
    echo "$s"
}

# render_manifest FAMILY HOST_PATH: the manifest text for a browser family.
render_manifest() {
    local text path
    text="$(<"$manifests_src/$1.json.in")"
    path="$(json_escape "$2")"
    text="${text//@HOST_PATH@/"$path"}"
    text="${text//@CHROMIUM_ID@/"$chromium_id"}"
    text="${text//@FIREFOX_ID@/"$firefox_id"}"
    text="${text//@THUNDERBIRD_ID@/"$thunderbird_id"}"
    printf '%s\n' "$text"
}

# ---------------------------------------------------------------------------------------------
# The install record: every file written and every folder created, so --uninstall removes
# exactly those. Lines are "file<TAB>path" or "dir<TAB>path".

declare -A recorded=()
record_lines=()

load_record() {
    [[ -f "$record" ]] || return 0
    local kind path
    while IFS=$'\t' read -r kind path; do
        [[ -n "$path" ]] || continue
        remember "$kind" "$path"
    done <"$record"
}

# Records a path; the record is rewritten at once, so an interrupted install can still be undone.
remember() {
    if [[ -z "${recorded["$1:$2"]:-}" ]]; then
        recorded["$1:$2"]=1
        record_lines+=("$1"$'\t'"$2")
        if [[ "$action" == install && -d "$libdir" ]]; then save_record; fi
    fi
}

save_record() {
    local tmp="$record.new"
    { printf '%s\n' "${record_lines[@]}" && printf 'file\t%s\n' "$record"; } | awk '!seen[$0]++' >"$tmp"
    mv -f "$tmp" "$record"
}

# Creates a folder and its missing parents, recording those it created.
make_dir() {
    local dir="$1" missing=()
    while [[ ! -d "$dir" ]]; do
        missing+=("$dir")
        dir="$(dirname "$dir")"
    done
    local i
    for ((i = ${#missing[@]} - 1; i >= 0; i--)); do
        mkdir "${missing[i]}"
        remember dir "${missing[i]}"
    done
}

# Writes a file atomically (temporary file, then rename) and records it.
put_file() {
    local target="$1" mode="$2" source="$3"
    make_dir "$(dirname "$target")"
    cp "$source" "$target.new"
    chmod "$mode" "$target.new"
    mv -f "$target.new" "$target"
    remember file "$target"
}

# ---------------------------------------------------------------------------------------------
# Checks shared by --status and the install report

# check_manifest FILE BROWSER: prints "ok <version>" or the problems found, one per line.
check_manifest() {
    local file="$1" browser="$2" problems=()
    if ! command -v jq >/dev/null 2>&1; then
        echo "cannot check: jq is not installed (apt-get install jq)"
        return 1
    fi
    if ! jq -e 'type == "object"' "$file" >/dev/null 2>&1; then
        echo "not valid JSON"
        return 1
    fi
    local name type path
    name="$(jq -r '.name // ""' "$file")"
    type="$(jq -r '.type // ""' "$file")"
    path="$(jq -r '.path // ""' "$file")"
    [[ "$name" == "$host_name" ]] || problems+=("name is '$name', expected $host_name")
    [[ "$type" == stdio ]] || problems+=("type is '$type', expected stdio")
    if [[ "$(family "$browser")" == chromium ]]; then
        local origin="chrome-extension://$chromium_id/"
        jq -e --arg o "$origin" '(.allowed_origins // []) | index($o) != null' "$file" >/dev/null ||
            problems+=("allowed_origins lacks $origin")
    else
        local id="$firefox_id"
        [[ "$browser" != thunderbird ]] || id="$thunderbird_id"
        jq -e --arg id "$id" '(.allowed_extensions // []) | index($id) != null' "$file" >/dev/null ||
            problems+=("allowed_extensions lacks $id")
    fi
    local version=""
    if [[ "$path" != /* ]]; then
        problems+=("path '$path' is not absolute")
    elif [[ ! -f "$path" || ! -x "$path" ]]; then
        problems+=("path $path is not an executable file")
    else
        local answer
        local limit=()
        if command -v timeout >/dev/null 2>&1; then limit=(timeout 10); fi
        answer="$("${limit[@]}" "$path" hello 2>/dev/null || true)"
        version="$(jq -r 'select(.name == "smime-host") | .version' <<<"$answer" 2>/dev/null || true)"
        [[ -n "$version" ]] || problems+=("$path does not answer hello")
    fi
    if ((${#problems[@]} > 0)); then
        printf '%s\n' "${problems[@]}"
        return 1
    fi
    echo "ok $version $path"
}

# ---------------------------------------------------------------------------------------------
# Snap and Flatpak browsers cannot use a host installed this way without help: say what to do.

sandboxed_browser_notes() {
    local notes=() snap
    for snap in firefox thunderbird chromium brave vivaldi; do
        [[ -d "/snap/$snap" ]] || continue
        case "$snap" in
            firefox | thunderbird)
                notes+=("$(display_name "$snap") is installed as a Snap. Snap $(display_name "$snap") starts native hosts only through
    the WebExtensions portal: keep xdg-desktop-portal up to date and allow the prompt the first
    time the extension connects; the manifest it reads is the one in ~/.mozilla/native-messaging-hosts.
    If the extension still reports that the host is missing, install $(display_name "$snap") from a .deb package.") ;;
            *)
                notes+=("$(display_name "$snap") is installed as a Snap, which cannot start programs outside its sandbox,
    so it cannot reach smime-host. Install it from a .deb package (or use another browser).") ;;
        esac
    done
    local app_ids=(org.mozilla.firefox org.mozilla.Thunderbird org.chromium.Chromium com.google.Chrome
        com.microsoft.Edge com.brave.Browser com.vivaldi.Vivaldi)
    local flatpaks="" id
    if command -v flatpak >/dev/null 2>&1; then
        flatpaks="$(flatpak list --app --columns=application 2>/dev/null || true)"
    fi
    local folder
    for id in "${app_ids[@]}"; do
        if grep -qx "$id" <<<"$flatpaks" || [[ -d "$HOME/.var/app/$id" ]]; then
            case "$id" in
                org.mozilla.*) folder="$HOME/.var/app/$id/.mozilla/native-messaging-hosts" ;;
                org.chromium.Chromium) folder="$HOME/.var/app/$id/config/chromium/NativeMessagingHosts" ;;
                com.google.Chrome) folder="$HOME/.var/app/$id/config/google-chrome/NativeMessagingHosts" ;;
                com.microsoft.Edge) folder="$HOME/.var/app/$id/config/microsoft-edge/NativeMessagingHosts" ;;
                com.brave.Browser) folder="$HOME/.var/app/$id/config/BraveSoftware/Brave-Browser/NativeMessagingHosts" ;;
                *) folder="$HOME/.var/app/$id/config/vivaldi/NativeMessagingHosts" ;;
            esac
            notes+=("$id is a Flatpak: it neither sees the manifests above nor can start smime-host directly.
    1. let it start programs outside its sandbox:
         flatpak override --user --talk-name=org.freedesktop.Flatpak $id
    2. create $(pretty "$HOME/.var/app/$id/smime-host-wrapper") (executable) containing:
         #!/bin/sh
         exec flatpak-spawn --host $installed_binary \"\$@\"
    3. copy the host manifest into $(pretty "$folder")/
       and set its \"path\" to $HOME/.var/app/$id/smime-host-wrapper")
        fi
    done
    if ((${#notes[@]} > 0)); then
        echo
        echo "Sandboxed browsers found:"
        local note
        for note in "${notes[@]}"; do echo "  * $note"; done
    fi
}

# ---------------------------------------------------------------------------------------------
# Actions

need_root_for_system() {
    if [[ "$scope" == system && "$(id -u)" -ne 0 ]]; then
        die "--system writes to system folders: run it as root (sudo $0 --system ...)"
    fi
}

# Builds extension/ (npm ci, then its build script) when the install builds from source; with
# --binary or --no-build it uses a build already in extension/dist. Prints where the log is.
build_extension() {
    local ext_dir="$source_dir/extension" log="$build_dir/extension-build.log"
    if ((extension == 0)); then return 1; fi
    if ((build == 1)) && [[ -z "$binary" ]]; then
        if ! command -v npm >/dev/null 2>&1; then
            echo "Extension: npm is not installed (installer/deps.sh installs nodejs and npm); not built"
            return 1
        fi
        mkdir -p "$build_dir"
        echo "Building the browser extension in $(pretty "$ext_dir/dist") (log: $(pretty "$log"))"
        # npm's cache goes to the build folder, so an install leaves nothing else in HOME.
        if ! (cd "$ext_dir" && npm_config_cache="$build_dir/npm-cache" npm ci --no-audit --no-fund &&
            node build.mjs) >"$log" 2>&1; then
            tail -n 20 "$log" >&2
            echo "Extension: the build failed (the host is installed all the same); the log is in $(pretty "$log")"
            return 1
        fi
    fi
    [[ -f "$ext_dir/dist/chromium/manifest.json" ]]
}

# Copies the built extension next to the program: the unpacked Chromium folder (what "Load
# unpacked" takes), the .zip and the .xpi files; installs the Thunderbird add-on into the user's
# Thunderbird profiles; says for each browser found how to load it.
install_extensions() {
    local dist="$source_dir/extension/dist"
    if ! build_extension; then
        echo "Extensions: not installed (build them with: cd extension && npm ci && npm run build)"
        return 0
    fi
    local f rel
    while IFS= read -r f; do
        rel="${f#"$dist"/}"
        put_file "$extensions_dir/$rel" 644 "$f"
    done < <(find "$dist/chromium" "$dist"/*.zip "$dist"/*.xpi -type f | sort)
    echo "Extensions copied to $(pretty "$extensions_dir"):"
    local b shown=0
    for b in "${selected[@]}"; do
        browser_found "$b" || continue
        shown=1
        case "$b" in
            chrome | chromium | edge | brave | vivaldi)
                local page="chrome://extensions"
                [[ "$b" != edge ]] || page="edge://extensions"
                printf '  %-12s open %s, turn on "Developer mode", "Load unpacked" and pick %s\n' \
                    "$(display_name "$b")" "$page" "$(pretty "$extensions_dir/chromium")"
                ;;
            firefox)
                printf '  %-12s about:addons, gear menu, "Install Add-on From File", pick %s\n' "Firefox" \
                    "$(pretty "$extensions_dir/smime-host-firefox.xpi")"
                printf '  %-12s (until it is signed by Mozilla: ESR and Developer Edition with xpinstall.signatures.required=false in about:config,\n' ""
                printf '  %-12s  or for this session only: about:debugging, "Load Temporary Add-on")\n' ""
                ;;
            thunderbird) install_thunderbird_addon ;;
        esac
    done
    ((shown == 1)) || echo "  no supported browser found here; load the extension when one is installed"
}

# Thunderbird loads add-ons a user puts in a profile's extensions folder (named after the add-on
# id) and asks on its next start whether to enable them; no store is involved.
install_thunderbird_addon() {
    local xpi="$extensions_dir/smime-host-thunderbird.xpi" id profiles=() p
    id="$(id_field thunderbird_id)"
    if [[ "$scope" == user && -f "$HOME/.thunderbird/profiles.ini" ]]; then
        while IFS= read -r p; do
            [[ "$p" == /* ]] || p="$HOME/.thunderbird/$p"
            [[ -d "$p" ]] && profiles+=("$p")
        done < <(sed -n 's/^Path=//p' "$HOME/.thunderbird/profiles.ini")
    fi
    if ((${#profiles[@]} == 0)); then
        printf '  %-12s Add-ons and Themes, gear menu, "Install Add-on From File", pick %s\n' "Thunderbird" "$(pretty "$xpi")"
        return
    fi
    for p in "${profiles[@]}"; do
        put_file "$p/extensions/$id.xpi" 644 "$xpi"
        printf '  %-12s installed in profile %s; Thunderbird asks to enable it on its next start\n' "Thunderbird" "$(pretty "$p")"
    done
}

do_install() {
    need_root_for_system
    if [[ "$scope" == system && "$os" == linux ]] &&
        dpkg-query -W -f='${Status}' smime-host 2>/dev/null | grep -q "install ok installed"; then
        die "the smime-host package is installed and owns the system manifests; remove it first (apt-get remove smime-host)"
    fi

    # 1. Build (or take the given binary).
    local built="$binary"
    if [[ -z "$built" ]]; then
        built="$build_dir/host/smime-host"
        if ((build == 1)); then
            if ((deps == 1)); then
                if command -v apt-get >/dev/null 2>&1; then
                    "$source_dir/installer/deps.sh"
                else
                    echo "install: no apt-get here; make sure cmake, a C++20 compiler, OpenSSL 3, nlohmann-json," \
                        "SQLite 3 and jq are installed"
                fi
            fi
            # A user's compiler may warn where ours does not: warnings do not stop an install.
            local log="$build_dir/install-build.log"
            mkdir -p "$build_dir"
            # Ninja where it is installed (installer/deps.sh installs it), else CMake's default.
            # CMake will not switch the generator of a build folder in place: a folder made with
            # another one loses its cache (its objects are rebuilt).
            if [[ -z "${CMAKE_GENERATOR:-}" ]] && command -v ninja >/dev/null 2>&1; then
                export CMAKE_GENERATOR=Ninja
            fi
            if [[ -f "$build_dir/CMakeCache.txt" ]] &&
                ! grep -qx "CMAKE_GENERATOR:INTERNAL=${CMAKE_GENERATOR:-Unix Makefiles}" "$build_dir/CMakeCache.txt"; then
                rm -rf "$build_dir/CMakeCache.txt" "$build_dir/CMakeFiles"
            fi
            echo "Building smime-host (Release) in $(pretty "$build_dir") (a minute or two; log: $(pretty "$log"))"
            if ! (cd "$source_dir" && cmake --preset release -DSMIME_HOST_WARNINGS_AS_ERRORS=OFF &&
                cmake --build --preset release -j "$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)") >"$log" 2>&1; then
                tail -n 30 "$log" >&2
                die "the build failed; the whole log is in $log"
            fi
        fi
    fi
    [[ -x "$built" ]] || die "no smime-host binary at $built (build it, or drop --no-build)"
    "$built" --version >/dev/null || die "$built does not run"

    # 2. The binary, upgraded in place by an atomic rename (a running host keeps its old file).
    load_record
    local previous=""
    [[ -x "$installed_binary" ]] && previous="$("$installed_binary" --version 2>/dev/null || true)"
    make_dir "$libdir"
    put_file "$installed_binary" 755 "$built"
    local now
    now="$("$installed_binary" --version)"
    echo
    echo "$now installed for $([[ "$scope" == system ]] && echo "all users" || echo "user $(id -un)")"
    if [[ -z "$previous" ]]; then
        echo "  program      $(pretty "$installed_binary")"
    elif [[ "$previous" == "$now" ]]; then
        echo "  program      $(pretty "$installed_binary") (reinstalled)"
    else
        echo "  program      $(pretty "$installed_binary") (upgraded from ${previous#smime-host })"
    fi

    # A command on PATH, unless something else already has the name.
    make_dir "$(dirname "$command_link")"
    if [[ -L "$command_link" && "$(readlink "$command_link")" == "$installed_binary" ]] || [[ ! -e "$command_link" && ! -L "$command_link" ]]; then
        ln -sfn "$installed_binary" "$command_link"
        remember file "$command_link"
        echo "  command      $(pretty "$command_link")"
    else
        echo "  command      $(pretty "$command_link") exists and is not ours: left alone"
    fi

    # 3. A manifest per browser; browsers sharing a folder share the file.
    echo "Browsers (host manifest $host_name.json written to):"
    local tmp
    tmp="$(mktemp)"
    declare -A written=()
    local b dir file note
    for b in "${selected[@]}"; do
        dir="$(manifest_dir "$b" "$scope")"
        file="$dir/$host_name.json"
        note=""
        if [[ -n "${written[$file]:-}" ]]; then
            note=" (same file as ${written[$file]})"
        else
            render_manifest "$(family "$b")" "$installed_binary" >"$tmp"
            put_file "$file" 644 "$tmp"
            written[$file]="$(display_name "$b")"
        fi
        browser_found "$b" || note+=" (browser not found here; registered for when it is)"
        printf '  %-12s %s/%s\n' "$(display_name "$b")" "$(pretty "$dir")" "$note"
    done
    rm -f "$tmp"

    # 4. The browser extension and the Thunderbird add-on (extension/, built with npm), copied
    #    next to the program, then how to load them in each browser found.
    install_extensions

    save_record
    local again="installer/install.sh --uninstall"
    [[ "$scope" == user ]] || again+=" --system"
    [[ "$prefix" == "$HOME/.local" || "$prefix" == /usr/local ]] || again+=" --prefix $prefix"
    echo "Installed files are listed in $(pretty "$record"); to remove them: $again"

    sandboxed_browser_notes

    # 5. Prove it works: a round trip through the installed binary.
    echo
    "$installed_binary" self-test
}

do_uninstall() {
    need_root_for_system
    if ((purge == 1 && assume_yes == 0)); then
        if [[ -t 0 ]]; then
            local answer
            read -r -p "Delete the key store $(pretty "$data_dir") with every private key in it? Type 'delete' to confirm: " answer
            [[ "$answer" == delete ]] || die "not confirmed; nothing removed"
        else
            die "--purge deletes the key store: confirm with --yes (no terminal to ask on)"
        fi
    fi

    if [[ ! -f "$record" ]]; then
        echo "smime-host is not installed under $(pretty "$prefix") (no record at $(pretty "$record"))"
    else
        load_record
        local line kind path dirs=()
        for line in "${record_lines[@]}"; do
            kind="${line%%$'\t'*}"
            path="${line#*$'\t'}"
            case "$kind" in
                file)
                    if [[ -f "$path" || -L "$path" ]]; then
                        rm -f "$path"
                        echo "  removed $(pretty "$path")"
                    fi
                    ;;
                dir) dirs+=("$path") ;;
            esac
        done
        # Folders the install created, deepest first, and only if nothing else has moved in.
        local dir
        while IFS= read -r dir; do
            [[ -n "$dir" && -d "$dir" ]] || continue
            if rmdir "$dir" 2>/dev/null; then
                echo "  removed $(pretty "$dir")/"
            else
                echo "  kept $(pretty "$dir")/ (not empty)"
            fi
        done < <(printf '%s\n' "${dirs[@]}" | awk '{ print gsub("/", "/"), $0 }' | sort -rn | cut -d' ' -f2-)
        echo "smime-host uninstalled from $(pretty "$prefix")"
    fi

    if ((purge == 1)); then
        if [[ -d "$data_dir" ]]; then
            rm -rf "$data_dir"
            echo "key store $(pretty "$data_dir") deleted"
        fi
    elif [[ -d "$data_dir" ]]; then
        echo "key store kept at $(pretty "$data_dir") (--uninstall --purge deletes it)"
    fi
}

do_status() {
    local scopes=(user system) broken=0 unserved=0 s b dir file result line version path
    [[ "$scope" == user ]] || scopes=(system)
    echo "smime-host: host manifest $host_name.json per browser"
    for b in "${selected[@]}"; do
        local good=0
        for s in "${scopes[@]}"; do
            dir="$(manifest_dir "$b" "$s")"
            file="$dir/$host_name.json"
            if [[ ! -e "$file" ]]; then
                printf '  %-12s %-7s %-7s %s/\n' "$(display_name "$b")" "$s" "absent" "$(pretty "$dir")"
                continue
            fi
            if result="$(check_manifest "$file" "$b")"; then
                read -r _ version path <<<"$result"
                printf '  %-12s %-7s %-7s %s/ -> smime-host %s (%s)\n' "$(display_name "$b")" "$s" ok \
                    "$(pretty "$dir")" "$version" "$(pretty "$path")"
                good=1
            else
                printf '  %-12s %-7s %-7s %s\n' "$(display_name "$b")" "$s" BROKEN "$(pretty "$file")"
                while IFS= read -r line; do printf '  %-28s - %s\n' "" "$line"; done <<<"$result"
                broken=$((broken + 1))
            fi
        done
        ((good == 1)) || unserved=$((unserved + 1))
    done
    if ((broken + unserved > 0)); then
        echo "status: $broken broken manifest(s), $unserved browser(s) without a working host;" \
            "installer/install.sh (re)installs"
        return 1
    fi
    echo "status: every browser finds a working host"
}

chromium_id="$(id_field chromium_id)"
firefox_id="$(id_field firefox_id)"
thunderbird_id="$(id_field thunderbird_id)"

case "$action" in
    install) do_install ;;
    uninstall) do_uninstall ;;
    status) do_status ;;
esac
