#!/usr/bin/env bash
# Prepares this machine to build the Windows binaries and run them under Wine. Idempotent.
#   - apt: wine64 (Debian 12: Wine 8.0) and the mingw-w64 cross compiler (needs root);
#   - rustup: the x86_64-pc-windows-gnu target;
#   - a fresh Wine prefix in $CARGO_TARGET_DIR/wine-prefix (default target/wine-prefix) with
#     our bcryptprimitives.dll stub in system32 (see bcryptprimitives.c for why);
#   - target/wine-stub/exai-test-parent.exe, exai-test-terminate.exe and
#     exai-test-mcp-server.exe, test helpers (see parent.c, terminate.c and mcp-server.c).
# Set EXAI_WINE_KEEP_PREFIX=1 to reuse an existing prefix instead of recreating it.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/env.sh"
started=$SECONDS

need_apt=()
[ -x /usr/lib/wine/wine64 ] || command -v wine64 >/dev/null 2>&1 || need_apt+=(wine64)
command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1 || need_apt+=(gcc-mingw-w64-x86-64)
if [ ${#need_apt[@]} -gt 0 ]; then
    sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    echo "ci/wine/setup.sh: installing ${need_apt[*]}"
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

if ! rustup target list --installed | grep -qx x86_64-pc-windows-gnu; then
    rustup target add x86_64-pc-windows-gnu
fi

WINE64="$(find_wine_tool wine64)"
WINESERVER="$(find_wine_tool wineserver)"

dll_dir="$CARGO_TARGET_DIR/wine-stub"
mkdir -p "$dll_dir"
x86_64-w64-mingw32-gcc -Wall -Wextra -Werror -shared -O2 -s \
    -o "$dll_dir/bcryptprimitives.dll" \
    "$here/bcryptprimitives.c" "$here/bcryptprimitives.def" -ladvapi32
# The stand-in editor process for the parent-death test (see parent.c).
x86_64-w64-mingw32-gcc -Wall -Wextra -Werror -municode -O2 -s \
    -o "$dll_dir/exai-test-parent.exe" "$here/parent.c"
# Ends the hub a shim autostarted, by its Windows pid (see terminate.c).
x86_64-w64-mingw32-gcc -Wall -Wextra -Werror -municode -O2 -s \
    -o "$dll_dir/exai-test-terminate.exe" "$here/terminate.c"
# The stdio MCP server the wrapped-server test starts through a .cmd (see mcp-server.c).
x86_64-w64-mingw32-gcc -Wall -Wextra -Werror -O2 -s \
    -o "$dll_dir/exai-test-mcp-server.exe" "$here/mcp-server.c"

if [ "${EXAI_WINE_KEEP_PREFIX:-0}" != 1 ] || [ ! -d "$WINEPREFIX/drive_c/windows/system32" ]; then
    if [ -d "$WINEPREFIX" ]; then
        WINEPREFIX="$WINEPREFIX" "$WINESERVER" -k 2>/dev/null || true
        rm -rf "$WINEPREFIX"
    fi
    mkdir -p "$(dirname "$WINEPREFIX")"
    echo "ci/wine/setup.sh: creating the Wine prefix $WINEPREFIX"
    "$WINE64" wineboot -i >/dev/null 2>&1
    # wineboot returns before the prefix is written out; wait for this prefix's server to end.
    "$WINESERVER" -w
fi
cp "$dll_dir/bcryptprimitives.dll" "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll"
"$WINESERVER" -k 2>/dev/null || true
echo "ci/wine/setup.sh: ready in $((SECONDS - started))s ($("$WINE64" --version 2>/dev/null || echo wine64), prefix $WINEPREFIX)"
