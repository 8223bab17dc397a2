# Shared settings for the Wine scripts; source it, do not run it.
# The prefix lives under the build directory, so every CI checkout gets a fresh one.
EXAI_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export EXAI_REPO
: "${CARGO_TARGET_DIR:=$EXAI_REPO/target}"
export WINEPREFIX="${WINEPREFIX:-$CARGO_TARGET_DIR/wine-prefix}"
export WINEDEBUG="${WINEDEBUG:--all}"
# No Wine GUI, no Mono/Gecko install prompts during wineboot.
export WINEDLLOVERRIDES="${WINEDLLOVERRIDES:-mscoree,mshtml=}"
export DISPLAY=
# Debian's wine64 package puts its binaries in /usr/lib/wine; the `wine` package adds PATH
# wrappers, which we do not need.
find_wine_tool() {
    if command -v "$1" >/dev/null 2>&1; then
        command -v "$1"
    elif [ -x "/usr/lib/wine/$1" ]; then
        echo "/usr/lib/wine/$1"
    else
        echo "ci/wine: $1 not found; run ci/wine/setup.sh" >&2
        return 1
    fi
}
