//! Embeds the web client and the admin console (`../web`) into the binary, so the one `serve`
//! command brings them up with nothing else to install. Writes `$OUT_DIR/web_assets.rs`: a
//! slice of `(path relative to web/, bytes)`, sorted by path.

use std::path::{Path, PathBuf};

fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name == "node_modules" {
            continue;
        }
        if entry.file_type()?.is_dir() {
            collect(root, &path, out)?;
        } else if let Ok(rel) = path.strip_prefix(root) {
            let rel =
                rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect::<Vec<_>>().join("/");
            out.push((rel, path.canonicalize()?));
        }
    }
    Ok(())
}

fn main() -> std::io::Result<()> {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").map_err(std::io::Error::other)?);
    let web = manifest.join("..").join("web");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed={}", web.display());
    let mut files = Vec::new();
    if web.is_dir() {
        collect(&web, &web, &mut files)?;
    }
    files.sort();
    let mut code = String::from("&[\n");
    for (rel, abs) in &files {
        code.push_str(&format!("    ({rel:?}, include_bytes!({:?}).as_slice()),\n", abs.display().to_string()));
    }
    code.push_str("]\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").map_err(std::io::Error::other)?).join("web_assets.rs");
    std::fs::write(out, code)
}
