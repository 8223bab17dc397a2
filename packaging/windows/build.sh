#!/usr/bin/env bash
# Builds EXAI Tray for Windows on Debian (x86_64-pc-windows-gnu, mingw-w64) and packages it:
#   target/dist/EXAI-Tray-<version>-setup.exe         the per-user installer (makensis, exai.nsi)
#   target/dist/EXAI-Tray-<version>-windows-x64.zip   the same files, portable
#   packaging/windows/build.sh [--debug]               (--debug: target/dist/debug/, CI's build)
# Needs the mingw cross compiler and the Rust target (ci/wine/setup.sh installs both) and
# Debian's nsis package (installed here when missing; as root or with sudo).
#
# The tray built with mingw loads WebView2 through WebView2Loader.dll (webview2-com-sys links
# the DLL's import library on the gnu target; the static loader is MSVC-only), so the DLL goes
# next to exai-tray.exe: it is the copy webview2-com-sys ships, from Microsoft's WebView2 SDK,
# which allows redistributing it. Without the WebView2 runtime the tray still runs (see
# ARCHITECTURE.md, "Windows, and what is proven how").
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../tools.sh"
cd "$EXAI_REPO"
target=x86_64-pc-windows-gnu
profile=release
cargo_profile=(--release)
# The debug build (CI's) is four times larger: packed quickly rather than small.
fast=()
zip_level=-9
case "${1:-}" in
    --debug) profile=debug; cargo_profile=(); fast=(-DFAST); zip_level=-1 ;;
    "") ;;
    *) echo "usage: $0 [--debug]" >&2; exit 2 ;;
esac
started=$SECONDS
say() { echo "packaging/windows/build.sh: $*" >&2; }

if ! command -v makensis >/dev/null 2>&1; then
    sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    say "installing Debian's nsis"
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends nsis >/dev/null
fi
if [ ! -f ui/dist/index.html ]; then
    say "ui/dist is not built; run npm --prefix ui ci && npm --prefix ui run build"
    exit 1
fi

cargo build --locked --target "$target" "${cargo_profile[@]}" -p exai-tray -p exai-cli -p exai-shim
bin="$CARGO_TARGET_DIR/$target/$profile"

# WebView2Loader.dll from the webview2-com-sys crate the tray was built with.
webview2_dir="$(cargo metadata --locked --format-version 1 --filter-platform "$target" | python3 -c '
import json, os, sys
meta = json.load(sys.stdin)
paths = [p["manifest_path"] for p in meta["packages"] if p["name"] == "webview2-com-sys"]
print(os.path.dirname(paths[0]) if paths else "")
')"
loader="$webview2_dir/x64/WebView2Loader.dll"
[ -f "$loader" ] || { say "no WebView2Loader.dll in the webview2-com-sys crate ($loader)"; exit 1; }

version="$(exai_version)"
dist="$EXAI_DIST"
[ "$profile" = release ] || dist="$EXAI_DIST/$profile"
stage="$dist/windows-stage/EXAI"
rm -rf "$dist/windows-stage"
mkdir -p "$stage"
cp "$bin/exai-tray.exe" "$bin/exai.exe" "$bin/exai-shim.exe" "$loader" "$stage/"

installer="$dist/EXAI-Tray-$version-setup.exe"
makensis -V2 -NOCD "${fast[@]}" \
    "-DVERSION=$version" "-DBIN_DIR=$stage" \
    "-DICON=$EXAI_REPO/icons/icon.ico" "-DPNG=$EXAI_REPO/icons/128x128.png" \
    "-DOUT_FILE=$installer" \
    "$EXAI_REPO/packaging/windows/exai.nsi"

zip_file="$dist/EXAI-Tray-$version-windows-x64.zip"
rm -f "$zip_file"
(cd "$dist/windows-stage" && zip -q "$zip_level" -r "$zip_file" EXAI)
say "$installer ($(du -h "$installer" | cut -f1)) and $zip_file ($(du -h "$zip_file" | cut -f1)), $profile build, in $((SECONDS - started))s"
