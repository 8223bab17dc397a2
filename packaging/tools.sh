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

# The Linux exai-shim as the packages ship it: glibc linked in statically (a static-pie), so
# exec maps no dynamic loader or shared libc: it starts faster and holds less (scripts/bench.sh
# measures this build). $1: release or debug. Prints the binary's path. Built for the host
# triple named explicitly, so RUSTFLAGS reach only the shim's own crates (not build scripts or
# proc-macros) and its artifacts live apart from the dynamic builds under target/<triple>/.
static_shim() {
    local profile="$1" triple flags=()
    triple="$(rustc -vV | sed -n 's/^host: //p')"
    case "$triple" in
        *-linux-gnu) ;;
        *) echo "packaging/tools.sh: the static shim is built for Linux (glibc) only, not $triple" >&2; return 1 ;;
    esac
    [ "$profile" = release ] && flags=(--release)
    RUSTFLAGS="-C target-feature=+crt-static" \
        cargo build --locked "${flags[@]}" --target "$triple" -p exai-shim >&2
    echo "$CARGO_TARGET_DIR/$triple/$profile/exai-shim"
}
