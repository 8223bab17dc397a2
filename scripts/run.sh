#!/usr/bin/env bash
# Builds exai and exai-shim (release) and runs the hub in the foreground; Ctrl-C stops it.
# Flags are passed to `exai hub`, e.g. scripts/run.sh --upstream ws://127.0.0.1:3010
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p exai-cli -p exai-shim
printf 'exai-shim is at %s/target/release/exai-shim: point your editor at it (see README.md)\n' "$(pwd)" >&2
exec target/release/exai hub "$@"
