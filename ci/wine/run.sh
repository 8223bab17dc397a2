#!/usr/bin/env bash
# Cargo's runner for x86_64-pc-windows-gnu (.cargo/config.toml): runs a Windows .exe under
# Wine in the test prefix that ci/wine/setup.sh prepared.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"
if [ ! -f "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" ]; then
    echo "ci/wine/run.sh: $WINEPREFIX has no bcryptprimitives.dll stub; run ci/wine/setup.sh first" >&2
    exit 127
fi
WINE64="$(find_wine_tool wine64)"
exec "$WINE64" "$@"
