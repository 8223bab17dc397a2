#!/usr/bin/env bash
# The relay benchmark: release builds, real processes, one table (crates/exai-cli/benches/relay.rs).
#
#   scripts/bench.sh            full run (under 3 minutes once built and the peers are installed)
#   scripts/bench.sh --only=large,idle   only those sections (latency, throughput, idle,
#                               large, servers); for working on one figure, not for the table
#   scripts/bench.sh --idle-poll  idle CPUs poll instead of halting for the run (root: PM QoS
#                               via /dev/cpu_dma_latency): on a VM whose idle vCPUs halt, every
#                               cross-CPU wake-up otherwise pays a VM exit; the footer says which
#   scripts/bench.sh --quick    every row once with a few iterations and the smallest sizes, to
#                               prove the harness works (scripts/test.sh runs it); it uses the
#                               debug builds the test run already made unless --release is given,
#                               and does not install the peers (it uses them if they are there)
#
# The peers, supergateway (npm) and mcp-proxy (PyPI), are installed at pinned versions under
# target/bench-peers/ on the first full run; one that cannot be installed is reported as skipped
# with the reason. Timing happens only inside the harness (wall clock around each round trip).
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"

quick=0
profile=release
args=()
for arg in "$@"; do
    case "$arg" in
        --only=*) args+=("$arg") ;;
        --idle-poll) args+=("$arg") ;;
        --quick) quick=1; profile=dev ;;
        --release) profile=release ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        *) echo "bench.sh: unknown argument $arg (try --help)" >&2; exit 2 ;;
    esac
done

target="${CARGO_TARGET_DIR:-target}"
case "$target" in /*) ;; *) target="$repo/$target" ;; esac
peers="$target/bench-peers"
supergateway_version=4.0.0
mcp_proxy_version=0.13.0

# supergateway: stdio→SSE server and SSE→stdio client, from npm.
supergateway_bin="$peers/supergateway/node_modules/.bin/supergateway"
if [ ! -x "$supergateway_bin" ] || ! grep -q "\"version\": \"$supergateway_version\"" "$peers/supergateway/node_modules/supergateway/package.json" 2>/dev/null; then
    if [ "$quick" = 1 ]; then
        export EXAI_BENCH_SUPERGATEWAY="skip: not installed (quick mode installs nothing; run scripts/bench.sh)"
    elif ! command -v npm >/dev/null 2>&1; then
        export EXAI_BENCH_SUPERGATEWAY="skip: npm is missing"
    else
        echo "bench.sh: installing supergateway@$supergateway_version into $peers/supergateway" >&2
        mkdir -p "$peers/supergateway"
        if ! out=$(npm install --prefix "$peers/supergateway" --no-audit --no-fund --loglevel=error "supergateway@$supergateway_version" 2>&1); then
            export EXAI_BENCH_SUPERGATEWAY="skip: npm install failed: $(echo "$out" | tail -n 1)"
        fi
    fi
fi
: "${EXAI_BENCH_SUPERGATEWAY:=$supergateway_bin}"
export EXAI_BENCH_SUPERGATEWAY

# mcp-proxy: SSE server around a stdio server and SSE→stdio client, from PyPI, in its own venv.
venv="$peers/mcp-proxy-venv"
if ! "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('mcp-proxy') != '$mcp_proxy_version')" 2>/dev/null; then
    python="${PYTHON:-python3}"
    if [ "$quick" = 1 ]; then
        export EXAI_BENCH_MCP_PROXY="skip: not installed (quick mode installs nothing; run scripts/bench.sh)"
    elif ! command -v "$python" >/dev/null 2>&1; then
        export EXAI_BENCH_MCP_PROXY="skip: $python is missing"
    else
        echo "bench.sh: installing mcp-proxy==$mcp_proxy_version into $venv" >&2
        rm -rf "$venv"
        if ! out=$("$python" -m venv "$venv" 2>&1 && "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "mcp-proxy==$mcp_proxy_version" 2>&1); then
            export EXAI_BENCH_MCP_PROXY="skip: install failed: $(echo "$out" | tail -n 1)"
        fi
    fi
fi
: "${EXAI_BENCH_MCP_PROXY:=$venv/bin/mcp-proxy}"
export EXAI_BENCH_MCP_PROXY

cargo build --locked --profile "$profile" -p exai-cli -p exai-shim
# The full run measures the shim the Linux packages ship (static glibc, packaging/tools.sh);
# quick mode uses cargo's debug build the tests already made.
if [ "$quick" = 0 ] && [ "$(uname -s)" = Linux ]; then
    . packaging/tools.sh
    EXAI_BENCH_SHIM="$(static_shim release)"
    export EXAI_BENCH_SHIM
fi
quick_flag=()
[ "$quick" = 1 ] && quick_flag=(--quick)
# A bench run never takes this long; the limit only stops a wedged peer from hanging CI.
timeout 600 cargo bench --locked --profile "$profile" -p exai-cli --bench relay -- "${quick_flag[@]}" "${args[@]}"
