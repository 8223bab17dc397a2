#!/usr/bin/env bash
# The official MCP SDKs, installed from the registries exactly as users get them, against real
# exai-shim processes, a real `exai hub` and the fake daemon:
#   python/  `mcp` (PyPI): Client() with default arguments (2026-07-28), Client(mode="legacy"),
#            the low-level ClientSession; and every line the hub emits for each protocol version
#            checked with the official validator of `mcp-types` (test_wire.py); wrapped servers
#            (`exai-shim -- node ...`, test_wrapped.py): elicitation to the one window whose call
#            asked, log levels per window (needs `npm ci --prefix ci/servers` first), a
#            FastMCP server (fastmcp_server.py) two windows call at once, progress per window,
#            and Client() with default arguments speaking 2026-07-28 to server-everything
#            (elicitation through input_required); a raw 2026-07-28 window of it, every line
#            through the validator (test_wrapped_wire.py).
#   node/    `@modelcontextprotocol/sdk` (v1) and `@modelcontextprotocol/client` (v2, default and
#            versionNegotiation auto), with node's own test runner; v2 in auto mode (2026-07-28)
#            also as the window of a wrapped server-everything (wrapped.test.mjs).
#
# Needs, already built: `cargo build -p exai-cli -p exai-shim -p exai-testkit --bins`; python3
# (3.10 or later, with venv) and Node.js 20.19 or later. Sets up a virtual environment in
# $CARGO_TARGET_DIR/sdk-venv and ci/sdk/node_modules, each again only when its pins changed.
set -euo pipefail
cd "$(dirname "$0")"
sdk_dir="$(pwd)"
repo="$(cd ../.. && pwd)"
target="${CARGO_TARGET_DIR:-target}"
case "$target" in /*) ;; *) target="$repo/$target" ;; esac
python="${PYTHON:-python3}"

fail() { echo "ci/sdk: $*" >&2; exit 1; }

for bin in exai exai-shim exai-fake-daemon; do
    [ -x "$target/debug/$bin" ] || fail "$target/debug/$bin is missing: run \`cargo build -p exai-cli -p exai-shim -p exai-testkit --bins\`"
done
command -v "$python" >/dev/null 2>&1 || fail "$python is missing: install python3 and python3-venv"
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' || fail "$python is older than 3.10 (mcp needs 3.10 or later)"
command -v npm >/dev/null 2>&1 || fail "npm is missing: install nodejs and npm"

venv="$target/sdk-venv"
if ! cmp -s requirements.txt "$venv/requirements.txt"; then
    echo "ci/sdk: installing the Python SDK into $venv" >&2
    rm -rf "$venv"
    "$python" -m venv "$venv" || fail "cannot create a virtual environment: install python3-venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements.txt
    cp requirements.txt "$venv/requirements.txt"
fi

if ! cmp -s package-lock.json node_modules/.ci-sdk-package-lock.json; then
    echo "ci/sdk: installing the TypeScript SDKs (npm ci)" >&2
    npm ci --no-audit --no-fund --loglevel=error
    cp package-lock.json node_modules/.ci-sdk-package-lock.json
fi

started=$(date +%s)
echo "ci/sdk: Python SDK ($("$venv/bin/python" -c 'import importlib.metadata as m; print("mcp", m.version("mcp"))'))" >&2
"$venv/bin/python" -m pytest -c "$sdk_dir/pytest.ini" --rootdir "$sdk_dir" -v
echo "ci/sdk: TypeScript SDKs" >&2
npm test --silent
echo "sdk-ok: Python and TypeScript SDK tests passed in $(( $(date +%s) - started ))s" >&2
