#!/usr/bin/env bash
# Installs EXAI Tray the way users do, runs what was installed, and removes it again:
#   ci/install/test.sh linux     packaging/linux/build-deb.sh, then as root: dpkg -i; the
#                                installed /usr/bin/exai hub with the fake daemon, /usr/bin/exai-shim
#                                through it (initialize + tools/list), /usr/bin/exai-tray --quit
#                                stopping that hub, the installed tray under Xvfb with --hidden
#                                hosting the hub and ending on SIGTERM; dpkg -r, and every file
#                                `dpkg -L` listed is gone.
#   ci/install/test.sh windows   packaging/windows/build.sh, then in the Wine prefix of
#                                ci/wine/setup.sh: the installer with /S /LOGIN; the files, the
#                                shortcut and the registry (reg query); the installed exai.exe hub
#                                reached by the installed exai-shim.exe; exai-tray.exe --hidden
#                                hosting the hub on the named pipe (exai.exe status says tray),
#                                a shim through it, and exai-tray.exe --quit ending it with no
#                                process left; the uninstaller, after which nothing is left.
#   ci/install/test.sh           both.
# The packages are built from the debug binaries the test suite already built
# (EXAI_PACKAGE_PROFILE=release for the real ones). Everything runs with a fresh HOME and XDG
# directories; processes are ended by their pid only. Prints `install-ok: ...` per platform.
set -euo pipefail
cd "$(dirname "$0")/../.."
# Wine's desktop gets its display from the first program of a prefix's session and keeps it:
# the Windows part runs on one private X display from the installer on, so the tray's icon has
# Wine's shell to show in, as on Windows.
if [ "${1:-all}" != linux ] && [ -z "${EXAI_INSTALL_XVFB:-}" ]; then
    exec env EXAI_INSTALL_XVFB=1 xvfb-run -a -s '-screen 0 1024x768x24' bash "$0" "$@"
fi
repo="$(pwd)"
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
profile="${EXAI_PACKAGE_PROFILE:-debug}"
profile_flag=()
[ "$profile" = release ] || profile_flag=(--debug)
dist="$target_dir/dist"
[ "$profile" = release ] || dist="$target_dir/dist/$profile"
probe=(python3 "$repo/ci/install/mcp_probe.py" --expect-tool echo --timeout 60)
fake_daemon="$target_dir/debug/exai-fake-daemon"
version="$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)"

fail() {
    echo "ci/install: $*" >&2
    local log
    for log in "${run_dir:-/nonexistent}"/*.out "${run_dir:-/nonexistent}"/*.err; do
        [ -s "$log" ] || continue
        echo "ci/install: the last lines of $(basename "$log"):" >&2
        tail -n 15 "$log" | sed 's/\x1b\[[0-9;]*m//g' >&2
    done
    exit 1
}
checks=0
check() { # check "what" command...
    local what="$1"
    shift
    if "$@"; then
        checks=$((checks + 1))
        echo "ci/install: ok: $what"
    else
        fail "FAILED: $what"
    fi
}
# Polls `command` every 0.2 s for up to `secs` seconds.
wait_until() { # wait_until secs command...
    local secs="$1"
    shift
    local deadline=$((SECONDS + secs))
    until "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.2
    done
}
pid_gone() { ! kill -0 "$1" 2>/dev/null; }
# Ends the processes this script started (by pid), whatever happened.
our_pids=()
end_ours() {
    local pid
    for pid in "${our_pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
}

run_dir="$(mktemp -d "${TMPDIR:-/tmp}/exai-install-run.XXXXXX")"
chmod 700 "$run_dir"
cleanup() {
    end_ours
    if [ -n "${installed_deb:-}" ] && dpkg-query -W -f='${Status}' exai-tray 2>/dev/null | grep -q 'install ok installed'; then
        echo "ci/install: removing the exai-tray package this run installed" >&2
        dpkg -r exai-tray >/dev/null 2>&1 || true
    fi
    if [ -n "${WINESERVER:-}" ]; then "$WINESERVER" -k 2>/dev/null || true; fi
    rm -rf "$run_dir"
}
trap cleanup EXIT

start_fake_daemon() {
    [ -x "$fake_daemon" ] || fail "$fake_daemon is missing: cargo build -p exai-testkit --bins"
    # A file of its own per daemon: with one shared file, the wait could read the previous
    # daemon's URL before the new process truncated it, and then the URL was empty.
    local url_file
    url_file="$(mktemp "$run_dir/daemon-url.XXXXXX")"
    "$fake_daemon" >"$url_file" 2>"$run_dir/daemon.err" &
    daemon_pid=$!
    our_pids+=("$daemon_pid")
    wait_until 10 grep -q '^ws://' "$url_file" || fail "the fake daemon did not start: $(cat "$run_dir/daemon.err")"
    daemon_url="$(head -n1 "$url_file")"
}

# Reads `host.kind` and `host.pid` from `exai status --json` on stdin.
host_of() { python3 -c 'import json, sys; host = json.load(sys.stdin)["host"]; print(host["kind"], host["pid"])'; }

linux() {
    local started=$SECONDS checks=0
    [ "$(id -u)" -eq 0 ] || {
        [ "${CI:-}" = true ] && fail "the .deb test installs with dpkg and needs root (CI runs as root)"
        echo "ci/install: SKIPPED (needs root): the .deb install test" >&2
        return 0
    }
    bash packaging/linux/build-deb.sh "${profile_flag[@]}"
    local deb="$dist/exai-tray_${version}_amd64.deb"
    [ -f "$deb" ] || fail "no package at $deb"
    if dpkg-query -W -f='${Status}' exai-tray 2>/dev/null | grep -q 'install ok installed'; then
        fail "exai-tray is already installed on this machine; remove it first (dpkg -r exai-tray)"
    fi
    local bin
    for bin in exai-tray exai-tray-host exai exai-shim; do
        [ ! -e "/usr/bin/$bin" ] || fail "/usr/bin/$bin exists and belongs to no package: the install would overwrite it"
    done

    installed_deb=1
    dpkg -i "$deb"
    local files="$run_dir/deb-files"
    dpkg -L exai-tray >"$files"
    for bin in exai-tray exai-tray-host exai exai-shim; do
        check "the package installs /usr/bin/$bin" grep -qx "/usr/bin/$bin" "$files"
        check "/usr/bin/$bin is executable" test -x "/usr/bin/$bin"
    done
    # The shim as shipped is a static-pie (packaging/tools.sh): no program interpreter to load.
    check "/usr/bin/exai-shim is statically linked (no PT_INTERP)" sh -c "! LC_ALL=C readelf -lW /usr/bin/exai-shim | grep -q 'Requesting program interpreter'"
    local desktop
    desktop="$(grep -m1 '^/usr/share/applications/.*\.desktop$' "$files" || true)"
    check "the package installs a desktop entry ($desktop)" test -n "$desktop"
    check "the desktop entry runs exai-tray" grep -qx 'Exec=exai-tray' "$desktop"
    check "the package installs the icons" grep -q '^/usr/share/icons/hicolor/.*/apps/exai-tray\.png$' "$files"
    check "the package depends on WebKitGTK 4.1" sh -c "dpkg-query -W -f='\${Depends}' exai-tray | grep -q libwebkit2gtk-4.1-0"

    (
        export HOME="$run_dir/home" XDG_CONFIG_HOME="$run_dir/config" XDG_DATA_HOME="$run_dir/data"
        export XDG_CACHE_HOME="$run_dir/cache" XDG_STATE_HOME="$run_dir/state" XDG_RUNTIME_DIR="$run_dir/runtime"
        mkdir -m 700 -p "$HOME" "$XDG_CONFIG_HOME" "$XDG_DATA_HOME" "$XDG_CACHE_HOME" "$XDG_STATE_HOME" "$XDG_RUNTIME_DIR"
        unset DISPLAY WAYLAND_DISPLAY DBUS_SESSION_BUS_ADDRESS XAUTHORITY EXAI_ENDPOINT EXAI_WS_URL
        cd "$run_dir"
        checks=0
        our_pids=()
        trap end_ours EXIT
        start_fake_daemon

        # The installed headless hub, the installed shim through it, the installed tray's --quit.
        local hub_endpoint="exai-install-$$-hub"
        /usr/bin/exai hub --endpoint "$hub_endpoint" --upstream "$daemon_url" 2>"$run_dir/hub.err" &
        local hub_pid=$!
        our_pids+=("$hub_pid")
        check "the installed exai hub answers exai status" wait_until 20 /usr/bin/exai status --endpoint "$hub_endpoint"
        check "the installed exai-shim lists the daemon's tools through it" \
            "${probe[@]}" -- /usr/bin/exai-shim --endpoint "$hub_endpoint" --name install-probe
        check "exai-tray --quit stops that hub" env EXAI_ENDPOINT="$hub_endpoint" /usr/bin/exai-tray --quit
        check "the hub's process has ended" wait_until 10 pid_gone "$hub_pid"

        # The installed tray under Xvfb, started as the login item starts it.
        local tray_endpoint="exai-install-$$-tray"
        EXAI_ENDPOINT="$tray_endpoint" EXAI_WS_URL="$daemon_url" \
            dbus-run-session -- xvfb-run -a -s '-screen 0 1024x768x24' \
            bash -c '/usr/bin/exai-tray --hidden & echo $! >"$1/tray.pid"; wait $!; echo $? >"$1/tray.rc"' _ "$run_dir" \
            >"$run_dir/tray.out" 2>&1 &
        local session_pid=$!
        our_pids+=("$session_pid")
        wait_until 20 test -s "$run_dir/tray.pid" || fail "the tray did not start: $(cat "$run_dir/tray.out")"
        local tray_pid
        tray_pid="$(cat "$run_dir/tray.pid")"
        our_pids+=("$tray_pid")
        check "the installed tray hosts the hub (exai status)" \
            wait_until 30 /usr/bin/exai status --endpoint "$tray_endpoint"
        check "exai status names the tray as host, with its pid" \
            test "$(/usr/bin/exai status --json --endpoint "$tray_endpoint" | host_of)" = "tray $tray_pid"
        check "the installed exai-shim lists the daemon's tools through the tray" \
            "${probe[@]}" -- /usr/bin/exai-shim --endpoint "$tray_endpoint" --name install-probe
        kill -TERM "$tray_pid"
        check "the tray exits on SIGTERM" wait_until 20 test -s "$run_dir/tray.rc"
        check "the tray exited with 0 (got $(cat "$run_dir/tray.rc" 2>/dev/null))" test "$(cat "$run_dir/tray.rc")" = 0
        check "the tray's process has ended" wait_until 10 pid_gone "$tray_pid"
        check "its X and D-Bus session has ended" wait_until 20 pid_gone "$session_pid"
        kill -TERM "$daemon_pid"
        echo "$checks" >"$run_dir/linux-checks"
    ) || fail "the installed binaries failed (tray log: $(tail -n 20 "$run_dir/tray.out" 2>/dev/null))"
    checks=$((checks + $(cat "$run_dir/linux-checks")))

    dpkg -r exai-tray
    installed_deb=
    check "dpkg says exai-tray is gone" sh -c "! dpkg-query -W -f='\${Status}' exai-tray 2>/dev/null | grep -q 'ok installed'"
    local left=() path
    while IFS= read -r path; do
        # Folders such as /usr/bin are shared; every file and link of the package must go.
        [ -d "$path" ] && [ ! -L "$path" ] && continue
        [ -e "$path" ] || [ -L "$path" ] && left+=("$path")
    done <"$files"
    check "dpkg -r left none of the package's $(wc -l <"$files") paths (left: ${left[*]:-none})" test ${#left[@]} -eq 0
    echo "install-ok: linux .deb: $checks checks in $((SECONDS - started))s"
}

windows() {
    local started=$SECONDS checks=0 display="${DISPLAY:-}"
    . ci/wine/env.sh
    export DISPLAY="$display"
    WINE64="$(find_wine_tool wine64)"
    WINESERVER="$(find_wine_tool wineserver)"
    [ -f "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" ] || fail "no prepared Wine prefix at $WINEPREFIX; run ci/wine/setup.sh"
    bash packaging/windows/build.sh "${profile_flag[@]}"
    local setup="$dist/EXAI-Tray-$version-setup.exe" zip="$dist/EXAI-Tray-$version-windows-x64.zip"
    [ -f "$setup" ] || fail "no installer at $setup"
    local listed
    listed="$(unzip -Z1 "$zip" | sort | tr '\n' ' ')"
    check "the zip holds the three programs and WebView2Loader.dll ($listed)" \
        test "$listed" = "EXAI/ EXAI/WebView2Loader.dll EXAI/exai-shim.exe EXAI/exai-tray.exe EXAI/exai.exe "

    # Wine's user profile: C:\users\<unix user>.
    local user profile_dir
    user="$(id -un)"
    profile_dir="$WINEPREFIX/drive_c/users/$user"
    local dir="$profile_dir/AppData/Local/Programs/EXAI"
    local win_dir="C:\\users\\$user\\AppData\\Local\\Programs\\EXAI"
    local shortcut="$profile_dir/AppData/Roaming/Microsoft/Windows/Start Menu/Programs/EXAI Tray.lnk"
    [ ! -e "$dir" ] || fail "$dir exists before the install: the prefix is not fresh (run ci/wine/setup.sh)"

    check "the installer runs silently, without administrator rights" "$WINE64" "$setup" /S /LOGIN
    local file
    for file in exai-tray.exe exai.exe exai-shim.exe WebView2Loader.dll Uninstall.exe exai.ico exai.png; do
        check "installed $file in %LOCALAPPDATA%\\Programs\\EXAI" test -f "$dir/$file"
    done
    check "a Start-menu shortcut" test -f "$shortcut"
    reg() { "$WINE64" reg query "$@" 2>/dev/null | tr -d '\r'; }
    local aumid='HKCU\Software\Classes\AppUserModelId\dev.exai.tray'
    local run='HKCU\Software\Microsoft\Windows\CurrentVersion\Run'
    local uninstall='HKCU\Software\Microsoft\Windows\CurrentVersion\Uninstall\EXAI'
    check "the AppUserModelID dev.exai.tray is registered with the app's name" \
        grep -q 'DisplayName    REG_SZ    EXAI Tray$' <(reg "$aumid")
    check "... and its icon" grep -qF "IconUri    REG_SZ    $win_dir\\exai.png" <(reg "$aumid")
    check "the login item starts the installed tray hidden" \
        grep -qF "EXAI Tray    REG_SZ    \"$win_dir\\exai-tray.exe\" --hidden" <(reg "$run")
    check "Apps & features lists it, with its uninstaller" \
        grep -qF "UninstallString    REG_SZ    \"$win_dir\\Uninstall.exe\"" <(reg "$uninstall")
    # The installer sets the shortcut's System.AppUserModel.ID through IPropertyStore (every call
    # answers S_OK under Wine), but Wine 8's shell links do not store properties: say which.
    if python3 -c 'import sys; sys.exit("dev.exai.tray".encode("utf-16-le") not in open(sys.argv[1], "rb").read())' "$shortcut"; then
        echo "ci/install: the shortcut carries System.AppUserModel.ID dev.exai.tray"
    else
        echo "ci/install: note: the shortcut's System.AppUserModel.ID is not in the .lnk (Wine 8 does not store shell-link properties; Windows does)"
    fi

    export HOME="$run_dir/home"
    mkdir -m 700 -p "$HOME"
    start_fake_daemon
    local exe="$win_dir\\exai.exe" shim="$win_dir\\exai-shim.exe" tray="$win_dir\\exai-tray.exe"

    # The installed hub, reached by the installed shim, stopped by the installed tray's --quit.
    local hub_endpoint="exai-install-$$-hub"
    "$WINE64" "$exe" hub --endpoint "$hub_endpoint" --upstream "$daemon_url" 2>"$run_dir/win-hub.err" &
    local hub_pid=$!
    our_pids+=("$hub_pid")
    check "the installed exai.exe hub answers exai.exe status" wait_until 30 "$WINE64" "$exe" status --endpoint "$hub_endpoint"
    check "the installed exai-shim.exe lists the daemon's tools through it" \
        "${probe[@]}" -- "$WINE64" "$shim" --endpoint "$hub_endpoint" --name install-probe
    check "exai-tray.exe --quit stops that hub" env EXAI_ENDPOINT="$hub_endpoint" "$WINE64" "$tray" --quit
    check "the hub's process has ended" wait_until 15 pid_gone "$hub_pid"

    # The installed tray, as the login item starts it: the hub on the named pipe, no window.
    # Wine has no WebView2 runtime: the tray must run without one.
    local tray_endpoint="exai-install-$$-tray"
    EXAI_ENDPOINT="$tray_endpoint" EXAI_WS_URL="$daemon_url" "$WINE64" "$tray" --hidden >"$run_dir/win-tray.out" 2>&1 &
    local tray_pid=$!
    our_pids+=("$tray_pid")
    check "exai-tray.exe --hidden hosts the hub on the named pipe" \
        wait_until 60 "$WINE64" "$exe" status --endpoint "$tray_endpoint"
    local host
    host="$("$WINE64" "$exe" status --json --endpoint "$tray_endpoint" | host_of)"
    check "exai.exe status names the tray as host ($host)" test "${host%% *}" = tray
    check "the tray shows its icon in Wine's shell" sh -c "! grep -q 'no tray icon' '$run_dir/win-tray.out'"
    check "the installed exai-shim.exe lists the daemon's tools through the tray" \
        "${probe[@]}" -- "$WINE64" "$shim" --endpoint "$tray_endpoint" --name install-probe
    check "exai-tray.exe --quit asks the tray to quit and waits for it to end" \
        env EXAI_ENDPOINT="$tray_endpoint" "$WINE64" "$tray" --quit
    check "the tray's Wine process has ended" wait_until 15 pid_gone "$tray_pid"
    local windows_pid="${host##* }"
    check "no Windows process $windows_pid is left (tasklist)" \
        sh -c "! '$WINE64' tasklist /FI 'PID eq $windows_pid' /NH 2>/dev/null | tr -d '\r' | grep -qw '$windows_pid'"
    kill -TERM "$daemon_pid"

    check "the uninstaller runs silently" "$WINE64" "$win_dir\\Uninstall.exe" /S
    # It copies itself to a temporary folder and runs from there; wait for it (and every other
    # process of this prefix) to end.
    timeout 60 "$WINESERVER" -w || fail "processes of the Wine prefix still run a minute after the uninstall"
    check "the uninstaller removed the folder" test ! -e "$dir"
    check "... and the shortcut" test ! -e "$shortcut"
    check "... and the AppUserModelID" sh -c "! '$WINE64' reg query '$aumid' >/dev/null 2>&1"
    check "... and the Apps & features entry" sh -c "! '$WINE64' reg query '$uninstall' >/dev/null 2>&1"
    check "... and the login item" sh -c "! '$WINE64' reg query '$run' /v 'EXAI Tray' >/dev/null 2>&1"
    echo "install-ok: windows installer under Wine: $checks checks in $((SECONDS - started))s"
}

case "${1:-all}" in
    linux) linux ;;
    windows) windows ;;
    all) linux; windows ;;
    *) fail "usage: $0 [linux|windows]" ;;
esac
