#!/usr/bin/env bash
# Builds and runs EXAI: the tray app on a desktop, or `exai hub --dashboard` where there is no
# display (SSH, servers, containers). Installs missing Debian packages first (scripts/deps.sh).
# Flags go to `exai hub` in the headless case, e.g. scripts/run.sh --upstream ws://127.0.0.1:3010;
# the tray app reads the same settings from the environment (EXAI_WS_URL, ...) and config.toml.
set -euo pipefail
cd "$(dirname "$0")/.."

has_display() {
    case "$(uname -s)" in
        Linux | *BSD) [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ] ;;
        *) true ;;
    esac
}

if has_display && [ "${EXAI_HEADLESS:-}" != 1 ]; then mode=tray; else mode=headless; fi
bash scripts/deps.sh "$mode"

# The dashboard is built once, then embedded in exai and shown in the tray's window. It is
# rebuilt only when one of its inputs is newer than the last build (ui/dist/index.html): a build
# rewrites ui/dist, and a rewritten ui/dist makes cargo rebuild exai and exai-tray in release,
# so an unchanged UI must leave it alone for a start in seconds.
if [ ! -d ui/node_modules ] || [ ui/package-lock.json -nt ui/node_modules ]; then
    npm --prefix ui ci --no-audit --no-fund
fi
ui_changed() {
    [ -f ui/dist/index.html ] || return 0
    [ -n "$(find ui/src ui/public ui/index.html ui/package.json ui/package-lock.json ui/vite.config.ts ui/tsconfig.json \
        -newer ui/dist/index.html -print -quit 2>/dev/null)" ]
}
if ui_changed; then
    npm --prefix ui run build >/dev/null
fi

if [ "$mode" = tray ]; then
    cargo build --release --locked -p exai-tray -p exai-cli -p exai-shim
    printf 'exai-shim is at %s/target/release/exai-shim: the dashboard'"'"'s "Connect an editor" page has ready-to-paste snippets\n' "$(pwd)" >&2
    if [ $# -gt 0 ]; then
        echo "scripts/run.sh: flags are for exai hub; the tray app reads EXAI_WS_URL and config.toml (see README)" >&2
    fi
    exec target/release/exai-tray
fi

echo "scripts/run.sh: no display (DISPLAY and WAYLAND_DISPLAY are unset), so running the hub headless with its dashboard in your browser: exai hub --dashboard" >&2
cargo build --release --locked -p exai-cli -p exai-shim
printf 'exai-shim is at %s/target/release/exai-shim: `target/release/exai config vscode` prints a ready-to-paste snippet\n' "$(pwd)" >&2
exec target/release/exai hub --dashboard "$@"
