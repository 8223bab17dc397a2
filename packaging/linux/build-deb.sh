#!/usr/bin/env bash
# Builds the Debian package of EXAI Tray: target/dist/exai-tray_<version>_amd64.deb
# (target/dist/debug/... with --debug).
#   packaging/linux/build-deb.sh [--debug]
# It holds exai-tray, exai and exai-shim in /usr/bin, the desktop entry and the icons, and
# depends on the WebKitGTK, GTK and appindicator libraries the tray links against.
#
# The package is made by Tauri's bundler (`cargo tauri bundle --bundles deb`), which bundles
# binaries that are already built: the three are built here with a plain `cargo build`, the
# same build scripts/run.sh makes, so nothing is compiled twice. tauri-cli is installed once
# per machine from crates.io into $CARGO_HOME/exai-tools. The bundler needs no network for a .deb (only its AppImage
# and Windows paths download tools). exai and exai-shim are added through the deb's `files`
# map in a config overlay written here, so src-tauri/tauri.conf.json stays the app's own; so is
# the tray's appindicator library (the bundler adds it only when it sees Tauri's tray-icon
# feature in src-tauri/Cargo.toml, which inherits it from the workspace).
# --debug packages the debug build (CI does, to reuse the binaries its tests built).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../tools.sh"
cd "$EXAI_REPO"
profile=release
cargo_profile=(--release)
bundle_profile=()
case "${1:-}" in
    --debug) profile=debug; cargo_profile=(); bundle_profile=(--debug) ;;
    "") ;;
    *) echo "usage: $0 [--debug]" >&2; exit 2 ;;
esac
: "${TAURI_CLI_VERSION:=2.12.4}"
started=$SECONDS

# The tray embeds the dashboard (ui/dist) when it is compiled.
if [ ! -f ui/dist/index.html ]; then
    echo "packaging/linux/build-deb.sh: ui/dist is not built; run npm --prefix ui ci && npm --prefix ui run build" >&2
    exit 1
fi

cargo_tauri="$EXAI_TOOLS/bin/cargo-tauri"
if ! "$cargo_tauri" --version 2>/dev/null | grep -qx "tauri-cli $TAURI_CLI_VERSION"; then
    echo "packaging/linux/build-deb.sh: installing tauri-cli $TAURI_CLI_VERSION into $EXAI_TOOLS (once; a few minutes)" >&2
    cargo install tauri-cli --version "=$TAURI_CLI_VERSION" --locked --root "$EXAI_TOOLS"
fi

cargo build --locked "${cargo_profile[@]}" -p exai-tray -p exai-cli -p exai-shim
bin="$CARGO_TARGET_DIR/$profile"
shim="$(static_shim "$profile")"

# A debug package goes to target/dist/debug, never mistaken for the real one.
dist="$EXAI_DIST"
[ "$profile" = release ] || dist="$EXAI_DIST/$profile"
mkdir -p "$dist"
overlay="$dist/tauri.deb.json"
cat >"$overlay" <<JSON
{
  "bundle": {
    "targets": ["deb"],
    "linux": {
      "deb": {
        "section": "devel",
        "depends": ["libayatana-appindicator3-1"],
        "files": {
          "/usr/bin/exai": "$bin/exai",
          "/usr/bin/exai-shim": "$shim"
        }
      }
    }
  }
}
JSON

# The bundler finds the app from the working directory (src-tauri/tauri.conf.json).
out_dir="$bin/bundle/deb"
rm -rf "$out_dir"
(cd src-tauri && CI=true "$cargo_tauri" bundle --bundles deb --config "$overlay" "${bundle_profile[@]}")
built=("$out_dir"/*.deb)
[ -f "${built[0]}" ] || { echo "packaging/linux/build-deb.sh: the bundler made no .deb in $out_dir" >&2; exit 1; }
deb="$dist/exai-tray_$(exai_version)_amd64.deb"
cp "${built[0]}" "$deb"
echo "packaging/linux/build-deb.sh: $deb ($profile build, $(du -h "$deb" | cut -f1), in $((SECONDS - started))s)" >&2
dpkg-deb --field "$deb" Package Version Depends >&2
