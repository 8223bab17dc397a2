# Shared by the packaging scripts; source it, do not run it.
# Where the packaging tools are cached: tauri-cli goes under target/tools (installed once from
# crates.io, kept across runs like the rest of target/), and the packages land in target/dist.
EXAI_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export EXAI_REPO
: "${CARGO_TARGET_DIR:=$EXAI_REPO/target}"
export CARGO_TARGET_DIR
EXAI_TOOLS="$CARGO_TARGET_DIR/tools"
EXAI_DIST="$CARGO_TARGET_DIR/dist"
# The version every package carries: the workspace's.
exai_version() {
    sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' "$EXAI_REPO/Cargo.toml" | head -n1
}
