//! The committed C header must be exactly what the pinned cbindgen generates from `src/ffi/`.
//!
//! `PIECES_BLESS=1 cargo test --test header` (or `make header`) rewrites it after an ABI change.

use std::path::Path;

const HEADER: &str = "include/pieces_user.h";

fn generate() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cbindgen.toml");
    // Only src/ffi/ is the ABI: starting there keeps the crate's other public constants out of the
    // header. `with_src` also avoids running `cargo metadata`, so the test works offline.
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(root.join("src/ffi/mod.rs"))
        .generate()
        .expect("cbindgen failed on src/ffi");
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).expect("cbindgen writes UTF-8")
}

#[test]
fn committed_header_is_up_to_date() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = root.join(HEADER);
    let generated = generate();
    if std::env::var_os("PIECES_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&path, &generated).expect("write the header");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{HEADER} is stale: run `make header` (PIECES_BLESS=1 cargo test --test header) and commit it"
    );
}
