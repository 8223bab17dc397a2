//! Embeds the built dashboard (`ui/dist`) into whatever links this crate (`exai`, `exai-tray`),
//! so `exai hub --dashboard` serves it from a single binary. Generates `$OUT_DIR/assets.rs`: a table of (path, bytes, content type).
//!
//! When `ui/dist` has not been built, the table holds one page that says how to build it, and
//! cargo prints a warning: `exai` still builds for those who never use the dashboard.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let dist = manifest.join("../../ui/dist");
    println!("cargo:rerun-if-changed={}", dist.display());
    println!("cargo:rerun-if-changed=build.rs");
    let mut files = Vec::new();
    if dist.join("index.html").is_file() {
        collect(&dist, &dist, &mut files);
    } else {
        println!(
            "cargo:warning=ui/dist is not built: `exai hub --dashboard` will serve a page saying so. Run `npm --prefix ui ci && npm --prefix ui run build`, then rebuild."
        );
    }
    files.sort();
    let mut out = String::from("/// The dashboard's files: (URL path, contents, content type).\n");
    out.push_str("pub(crate) static ASSETS: &[(&str, &[u8], &str)] = &[\n");
    for (url, path) in &files {
        let _ = writeln!(
            out,
            "    ({url:?}, include_bytes!({path:?}), {:?}),",
            content_type(url)
        );
    }
    out.push_str("];\n");
    let _ = writeln!(
        out,
        "/// Whether `ui/dist` was built.\npub(crate) const BUILT: bool = {};",
        !files.is_empty()
    );
    let target =
        PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets it")).join("assets.rs");
    std::fs::write(target, out).expect("write assets.rs");
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, String)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(root, &path, files);
        } else if let Ok(relative) = path.strip_prefix(root) {
            let url = format!(
                "/{}",
                relative
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/")
            );
            let absolute = path.canonicalize().unwrap_or(path);
            files.push((url, absolute.display().to_string()));
        }
    }
}

fn content_type(url: &str) -> &'static str {
    match url.rsplit('.').next().unwrap_or_default() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}
