#!/usr/bin/env bash
# Installs what building and testing EXAI Tray needs on Debian, skipping what is already there.
#   scripts/deps.sh headless  what `exai hub --dashboard` needs to build (Node.js for the UI)
#   scripts/deps.sh tray      adds the tray app's libraries (WebKitGTK 4.1, GTK 3, appindicator)
#   scripts/deps.sh test      everything scripts/test.sh needs (adds Xvfb, D-Bus tools, a
#                             StatusNotifier watcher, Chromium for the browser tests, ImageMagick,
#                             NSIS and zip for the installers)
# As root it installs with apt-get; otherwise it uses sudo when there is one, else says what
# to install.
set -euo pipefail
mode="${1:-test}"

packages=()
# The tray app (Tauri 2 on Linux): WebKitGTK 4.1, GTK 3, the tray (ayatana appindicator), SVG.
if [ "$mode" != headless ]; then
    packages+=(pkg-config libwebkit2gtk-4.1-dev libgtk-3-dev libayatana-appindicator3-dev librsvg2-dev libxdo-dev libssl-dev)
fi
if [ "$mode" = test ]; then
    packages+=(
        xvfb xauth x11-utils dbus dbus-x11 libglib2.0-bin   # a headless X display, a session bus, gdbus
        haskell-status-notifier-item-utils                   # status-notifier-watcher: tray icons checkable over D-Bus
        python3-gi gir1.2-atspi-2.0 at-spi2-core             # ci/desktop's fake notification server and accessibility probe
        python3-venv                                         # ci/sdk's virtual environment for the Python MCP SDK
        chromium chromium-driver                             # the browser tests (never a downloaded browser)
        imagemagick fonts-dejavu-core                        # screenshots of the real app
        nsis zip unzip                                       # ci/install: the Windows installer (makensis) and zip
    )
fi
command -v node >/dev/null 2>&1 || packages+=(nodejs npm)
[ ${#packages[@]} -eq 0 ] && exit 0

missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
    sudo=()
elif command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
else
    echo "scripts/deps.sh: please install: ${missing[*]} (apt-get install ${missing[*]})" >&2
    exit 1
fi
echo "scripts/deps.sh: installing ${missing[*]}" >&2
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
