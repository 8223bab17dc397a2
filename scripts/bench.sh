#!/usr/bin/env bash
# Relay benchmarks (release builds); prints a table.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p exai-cli -p exai-shim
cargo bench --locked -p exai-cli --bench relay
