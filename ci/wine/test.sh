#!/usr/bin/env bash
# Builds the Windows binaries and proves them under Wine (run ci/wine/setup.sh first):
#   1. `cargo build` of exai.exe, exai-shim.exe and exai-tray.exe for x86_64-pc-windows-gnu
#      (ci/install packages these, so each is built once);
#   2. `cargo test -p exai-ipc` for that target, run under Wine (the target runner, run.sh);
#   3. the end-to-end tests in crates/exai-cli/tests/it/wine.rs (native test process, daemon
#      and SDK client; hub and shims are the .exe files under Wine), checking that each one
#      really ran rather than skipped.
# The Wine server of the test prefix is stopped on exit, whatever happens.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/env.sh"
cd "$EXAI_REPO"
target=x86_64-pc-windows-gnu
WINESERVER="$(find_wine_tool wineserver)"
stop_wine() { "$WINESERVER" -k 2>/dev/null || true; }
trap stop_wine EXIT
started=$SECONDS
step() { echo "ci/wine/test.sh: $* (at $((SECONDS - started))s)"; }

[ -f "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" ] || {
    echo "ci/wine/test.sh: no prepared Wine prefix at $WINEPREFIX; run ci/wine/setup.sh" >&2
    exit 2
}

step "building exai.exe, exai-shim.exe and exai-tray.exe"
cargo build --locked --target "$target" -p exai-cli -p exai-shim -p exai-tray
bin_dir="$CARGO_TARGET_DIR/$target/debug"

step "cargo test -p exai-ipc under Wine"
cargo test --locked --target "$target" -p exai-ipc

step "end-to-end tests under Wine"
# The Linux test binary is built for the host; only the hub and shims are Windows programs.
expected="$(cargo test --locked -p exai-cli --test it -- --list wine:: 2>/dev/null | grep -c ': test$')"
log="$CARGO_TARGET_DIR/wine-e2e.log"
EXAI_WINE_BIN_DIR="$bin_dir" EXAI_WINE="$here/run.sh" \
    EXAI_WINE_PARENT_EXE="$CARGO_TARGET_DIR/wine-stub/exai-test-parent.exe" \
    EXAI_WINE_TERMINATE_EXE="$CARGO_TARGET_DIR/wine-stub/exai-test-terminate.exe" \
    EXAI_WINE_MCP_SERVER_EXE="$CARGO_TARGET_DIR/wine-stub/exai-test-mcp-server.exe" \
    cargo test --locked -p exai-cli --test it wine:: -- --nocapture --test-threads "${EXAI_WINE_TEST_THREADS:-2}" 2>&1 | tee "$log"
ran="$(grep -c '^wine-ok: ' "$log" || true)"
if [ "$expected" -eq 0 ] || [ "$ran" -ne "$expected" ]; then
    echo "ci/wine/test.sh: only $ran of $expected Wine end-to-end tests reported wine-ok" >&2
    exit 1
fi
step "all $ran Wine end-to-end tests ran and passed"
