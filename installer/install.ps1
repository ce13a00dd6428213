# SPDX-License-Identifier: MIT
# Installs smime-host on Windows for the current user and registers it with every browser (HKCU).
<#
.SYNOPSIS
  Installs smime-host for the current user and registers its native messaging host.
.DESCRIPTION
  Copies smime-host.exe to %LOCALAPPDATA%\Programs\smime-host, writes the host manifests next to it
  (one for the Chromium family, one for Firefox and Thunderbird) and points the browsers' registry
  keys at them: Chrome (also read by Brave and Vivaldi), Chromium, Edge and Mozilla (Firefox and
  Thunderbird). Ends with `smime-host self-test`. Running it again upgrades in place.
.EXAMPLE
  powershell -ExecutionPolicy Bypass -File installer\install.ps1
  powershell -ExecutionPolicy Bypass -File installer\install.ps1 -Status
  powershell -ExecutionPolicy Bypass -File installer\install.ps1 -Uninstall [-Purge [-Yes]]
#>
[CmdletBinding()]
param(
    [string]$Binary = "",          # an already built smime-host.exe (default: build it)
    [string]$Prefix = "$env:LOCALAPPDATA\Programs\smime-host",
    [string[]]$Browser = @(),      # chrome, chromium, edge, brave, vivaldi, firefox, thunderbird
    [switch]$Uninstall,
    [switch]$Purge,
    [switch]$Yes,
    [switch]$Status
)
Set-StrictMode -Version Latest
$ErrorActionPreference = "Stop"

$HostName = "org.smimehost.native"
$SourceDir = Split-Path -Parent $PSScriptRoot
$Ids = Get-Content -Raw (Join-Path $SourceDir "extension\ids.json") | ConvertFrom-Json
$InstalledBinary = Join-Path $Prefix "smime-host.exe"
$DataDir = if ($env:SMIME_HOST_HOME) { $env:SMIME_HOST_HOME } else { Join-Path $env:LOCALAPPDATA "smime-host" }

# Browser -> family and registry key (HKCU; the key's default value is the manifest's path).
# Brave and Vivaldi read Chrome's key.
$Browsers = [ordered]@{
    chrome      = @{ Name = "Chrome";      Family = "chromium"; Key = "Software\Google\Chrome\NativeMessagingHosts\$HostName" }
    chromium    = @{ Name = "Chromium";    Family = "chromium"; Key = "Software\Chromium\NativeMessagingHosts\$HostName" }
    edge        = @{ Name = "Edge";        Family = "chromium"; Key = "Software\Microsoft\Edge\NativeMessagingHosts\$HostName" }
    brave       = @{ Name = "Brave";       Family = "chromium"; Key = "Software\Google\Chrome\NativeMessagingHosts\$HostName" }
    vivaldi     = @{ Name = "Vivaldi";     Family = "chromium"; Key = "Software\Google\Chrome\NativeMessagingHosts\$HostName" }
    firefox     = @{ Name = "Firefox";     Family = "mozilla";  Key = "Software\Mozilla\NativeMessagingHosts\$HostName" }
    thunderbird = @{ Name = "Thunderbird"; Family = "mozilla";  Key = "Software\Mozilla\NativeMessagingHosts\$HostName" }
}
$Selected = if ($Browser.Count -gt 0) { $Browser | ForEach-Object { $_ -split "," } } else { $Browsers.Keys }
foreach ($b in $Selected) {
    if (-not $Browsers.Contains($b)) { throw "unknown browser '$b' (one of: $($Browsers.Keys -join ', '))" }
}

# The manifest a registry key points at (its default value), or $null.
function Get-Registered([string]$Key) {
    $item = Get-Item -Path $Key -ErrorAction SilentlyContinue
    if ($item) { return $item.GetValue("") }
    return $null
}

function Manifest-Path([string]$Family) { Join-Path $Prefix "$HostName.$Family.json" }

function Render-Manifest([string]$Family) {
    $text = Get-Content -Raw (Join-Path $SourceDir "manifests\$Family.json.in")
    $path = $InstalledBinary.Replace("\", "\\").Replace('"', '\"')
    $text = $text.Replace("@HOST_PATH@", $path).Replace("@CHROMIUM_ID@", $Ids.chromium_id)
    $text.Replace("@FIREFOX_ID@", $Ids.firefox_id).Replace("@THUNDERBIRD_ID@", $Ids.thunderbird_id)
}

function Test-Manifest([string]$File, [string]$BrowserId) {
    if (-not (Test-Path -LiteralPath $File)) { return "manifest $File missing" }
    try { $m = Get-Content -Raw -LiteralPath $File | ConvertFrom-Json } catch { return "not valid JSON" }
    if ($m.name -ne $HostName -or $m.type -ne "stdio") { return "wrong name or type" }
    if ($Browsers[$BrowserId].Family -eq "chromium") {
        if (-not ($m.PSObject.Properties.Name -contains "allowed_origins") -or
            -not ($m.allowed_origins -contains "chrome-extension://$($Ids.chromium_id)/")) { return "allowed_origins lacks the extension" }
    } else {
        $id = if ($BrowserId -eq "thunderbird") { $Ids.thunderbird_id } else { $Ids.firefox_id }
        if (-not ($m.PSObject.Properties.Name -contains "allowed_extensions") -or
            -not ($m.allowed_extensions -contains $id)) { return "allowed_extensions lacks $id" }
    }
    if (-not [System.IO.Path]::IsPathRooted($m.path) -or -not (Test-Path -LiteralPath $m.path)) { return "path $($m.path) does not exist" }
    $answer = & $m.path hello 2>$null | Out-String
    try { $hello = $answer | ConvertFrom-Json } catch { return "$($m.path) does not answer hello" }
    if ($hello.name -ne "smime-host") { return "$($m.path) does not answer hello" }
    return "ok $($hello.version)"
}

if ($Status) {
    $bad = 0
    foreach ($b in $Selected) {
        $manifest = Get-Registered "HKCU:\$($Browsers[$b].Key)"
        $result = if ($manifest) { Test-Manifest $manifest $b } else { "not registered" }
        if (-not $result.StartsWith("ok")) { $bad++ }
        "{0,-12} {1}  {2}" -f $Browsers[$b].Name, $result, $manifest
    }
    exit ([int]($bad -gt 0))
}

if ($Uninstall) {
    if ($Purge -and -not $Yes) {
        $answer = Read-Host "Delete the key store $DataDir with every private key in it? Type 'delete' to confirm"
        if ($answer -ne "delete") { throw "not confirmed; nothing removed" }
    }
    # Remove only keys that point at our manifests, and only our files.
    foreach ($b in $Browsers.Keys) {
        $key = "HKCU:\$($Browsers[$b].Key)"
        $value = Get-Registered $key
        if ($value -and $value.StartsWith($Prefix, [System.StringComparison]::OrdinalIgnoreCase)) {
            Remove-Item -Path $key -Recurse
            "removed HKCU:\$($Browsers[$b].Key)"
        }
    }
    foreach ($f in @($InstalledBinary, (Manifest-Path "chromium"), (Manifest-Path "mozilla"))) {
        if (Test-Path -LiteralPath $f) { Remove-Item -LiteralPath $f; "removed $f" }
    }
    if ((Test-Path -LiteralPath $Prefix) -and -not (Get-ChildItem -LiteralPath $Prefix)) { Remove-Item -LiteralPath $Prefix }
    if ($Purge -and (Test-Path -LiteralPath $DataDir)) { Remove-Item -LiteralPath $DataDir -Recurse; "key store $DataDir deleted" }
    elseif (Test-Path -LiteralPath $DataDir) { "key store kept at $DataDir (-Uninstall -Purge deletes it)" }
    exit 0
}

# Install: build unless given a binary (needs CMake, a C++20 compiler and OpenSSL 3, nlohmann-json
# and SQLite 3, e.g. from vcpkg).
if (-not $Binary) {
    Push-Location $SourceDir
    try {
        cmake --preset release -DSMIME_HOST_WARNINGS_AS_ERRORS=OFF
        if ($LASTEXITCODE -ne 0) { throw "cmake configure failed" }
        cmake --build --preset release --config Release
        if ($LASTEXITCODE -ne 0) { throw "build failed" }
    } finally { Pop-Location }
    $Binary = @("build\release\host\Release\smime-host.exe", "build\release\host\smime-host.exe") |
        ForEach-Object { Join-Path $SourceDir $_ } | Where-Object { Test-Path $_ } | Select-Object -First 1
    if (-not $Binary) { throw "the build made no smime-host.exe" }
}

New-Item -ItemType Directory -Force -Path $Prefix | Out-Null
Copy-Item -LiteralPath $Binary -Destination $InstalledBinary -Force
"$(& $InstalledBinary --version) installed in $Prefix"
foreach ($family in @("chromium", "mozilla")) {
    # UTF-8 without a byte order mark: browsers parse the file as plain JSON.
    [System.IO.File]::WriteAllText((Manifest-Path $family), (Render-Manifest $family), (New-Object System.Text.UTF8Encoding $false))
}
"Browsers (registry key under HKCU -> manifest):"
foreach ($b in $Selected) {
    $key = "HKCU:\$($Browsers[$b].Key)"
    New-Item -Path $key -Force | Out-Null
    Set-Item -Path $key -Value (Manifest-Path $Browsers[$b].Family)
    "  {0,-12} {1}" -f $Browsers[$b].Name, $Browsers[$b].Key
}
""
& $InstalledBinary self-test
exit $LASTEXITCODE
