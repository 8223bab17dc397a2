# Shared by the packaging scripts; source it, do not run it.
# Where the packaging tools are cached: tauri-cli goes under $CARGO_HOME/exai-tools (installed
# once per machine from crates.io; a fresh checkout, as CI makes, would otherwise build it again
# every run), and the packages land in target/dist.
EXAI_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export EXAI_REPO
: "${CARGO_TARGET_DIR:=$EXAI_REPO/target}"
export CARGO_TARGET_DIR
EXAI_TOOLS="${EXAI_TOOLS:-${CARGO_HOME:-$HOME/.cargo}/exai-tools}"
EXAI_DIST="$CARGO_TARGET_DIR/dist"
# The version every package carries: the workspace's.
exai_version() {
    sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' "$EXAI_REPO/Cargo.toml" | head -n1
}
