#!/usr/bin/env bash
# The real tray app on a headless Linux desktop: ci/desktop/tray.test.mjs inside a private D-Bus
# session (dbus-run-session) and a private X display (xvfb-run -a picks a free one).
#
# Needs, already built: ui/dist and ui/node_modules (`npm --prefix ui ci && npm --prefix ui run
# build`, before building exai-tray, which embeds ui/dist), then
# `cargo build -p exai-tray -p exai-shim -p exai-cli -p exai-testkit --bins`; and the packages
# scripts/deps.sh installs for tests (Xvfb, D-Bus tools, status-notifier-watcher, ImageMagick,
# python3-gi with the AT-SPI typelib).
#
# Everything runs with a fresh HOME and XDG directories, so nothing touches the user's settings.
# Afterwards no process of this run may be left: each carries CI_DESKTOP_RUN in its environment,
# and any that still runs is reported (and ended by pid) as a failure.
# Prints `desktop-ok: N checks in Ts` last; exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
target="${CARGO_TARGET_DIR:-target}"

fail() { echo "ci/desktop: $*" >&2; exit 1; }

for tool in xvfb-run:xvfb xauth:xauth dbus-run-session:dbus dbus-monitor:dbus gdbus:libglib2.0-bin \
    status-notifier-watcher:haskell-status-notifier-item-utils xwininfo:x11-utils import:imagemagick \
    compare:imagemagick node:nodejs; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || fail "${tool%%:*} is missing: install the Debian package ${tool#*:} (scripts/deps.sh test)"
done
/usr/bin/python3 -c 'import gi; gi.require_version("Atspi", "2.0"); from gi.repository import Atspi, Gio' 2>/dev/null ||
    fail "/usr/bin/python3 cannot load GLib's Gio and AT-SPI: install python3-gi and gir1.2-atspi-2.0"
command -v /usr/libexec/at-spi-bus-launcher >/dev/null 2>&1 || fail "the accessibility bus is missing: install at-spi2-core"
for bin in exai-tray exai-tray-host exai-shim exai exai-fake-daemon; do
    [ -x "$target/debug/$bin" ] || fail "$target/debug/$bin is missing: run \`cargo build -p exai-tray -p exai-shim -p exai-cli -p exai-testkit --bins\`"
done
[ -d ui/node_modules/@modelcontextprotocol/sdk ] || fail "ui/node_modules is missing the MCP SDK: run \`npm --prefix ui ci\`"

run_dir="$(mktemp -d "${TMPDIR:-/tmp}/exai-desktop-run.XXXXXX")"
chmod 700 "$run_dir"
mkdir -m 700 "$run_dir"/{home,config,data,cache,state,runtime}
cleanup() { rm -rf "$run_dir"; }
trap cleanup EXIT

started_at=$(date +%s)
status=0
(
    export HOME="$run_dir/home" XDG_CONFIG_HOME="$run_dir/config" XDG_DATA_HOME="$run_dir/data"
    export XDG_CACHE_HOME="$run_dir/cache" XDG_STATE_HOME="$run_dir/state" XDG_RUNTIME_DIR="$run_dir/runtime"
    export CI_DESKTOP_RUN="$run_dir" EXAI_DESKTOP_CHECKS="$run_dir/checks"
    unset DISPLAY WAYLAND_DISPLAY DBUS_SESSION_BUS_ADDRESS XAUTHORITY SESSION_MANAGER
    # The test bounds itself at 200 s; this only stops a hang outside it.
    exec timeout --kill-after=10 240 \
        dbus-run-session -- \
        xvfb-run -a -s '-screen 0 1280x800x24' \
        node --test --test-reporter=spec ci/desktop/tray.test.mjs
) || status=$?

# Nothing of this run may outlive it: not the app, its WebKit processes, the services D-Bus
# started for it (the accessibility bus), Xvfb or the bus itself.
leftovers() {
    local pid
    for pid in $(ls /proc | grep -E '^[0-9]+$'); do
        [ "$pid" = "$$" ] && continue
        { tr '\0' '\n' <"/proc/$pid/environ"; } 2>/dev/null | grep -qxF "CI_DESKTOP_RUN=$run_dir" && echo "$pid"
    done
    return 0
}
left=""
for _ in $(seq 50); do
    left="$(leftovers)"
    [ -z "$left" ] && break
    # A process that is still ending gets a moment; this is a bounded look, not a sync point.
    sleep 0.1
done
if [ -n "$left" ]; then
    for pid in $left; do
        echo "ci/desktop: left running: pid $pid: $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" >&2
        kill -KILL "$pid" 2>/dev/null || true
    done
    [ "$status" -eq 0 ] && status=1
fi

elapsed=$(( $(date +%s) - started_at ))
if [ "$status" -ne 0 ]; then
    echo "ci/desktop: FAILED after ${elapsed}s (exit $status); each process's output is in $target/desktop-logs/, screenshots so far in $target/screenshots/" >&2
    exit "$status"
fi
[ -s "$run_dir/checks" ] || fail "the test passed but counted no checks"
echo "desktop-ok: $(cat "$run_dir/checks") checks in ${elapsed}s; screenshots in $target/screenshots/tray-*.png"
