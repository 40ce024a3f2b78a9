//! Gives the shared library its ABI name: soname `libpieces_user.so.N` on ELF targets, install name
//! `@rpath/libpieces_user.N.dylib` on Apple targets, where N is `PIECES_ABI_VERSION` in
//! src/ffi/version.rs (read from there so the number lives in one place). A program linked against
//! the library records that name, so it keeps loading every release with the same ABI and refuses a
//! library with another one. `make install` installs the files under these names; `tools/soname-link.sh`
//! adds the name next to cargo's output for programs linked from the build tree.

use std::env;
use std::fs;
use std::path::Path;

const VERSION_FILE: &str = "src/ffi/version.rs";
const ABI_CONST: &str = "pub const PIECES_ABI_VERSION: u32 = ";

fn main() {
    println!("cargo:rerun-if-changed={VERSION_FILE}");
    println!("cargo:rerun-if-changed=build.rs");
    let abi = abi_version();
    // Compiled into the crate so a unit test can check this parse against the constant itself.
    println!("cargo:rustc-env=PIECES_BUILD_ABI_VERSION={abi}");
    if let Some(arg) = library_name_link_arg(abi) {
        println!("cargo:rustc-cdylib-link-arg={arg}");
    }
}

fn abi_version() -> u32 {
    let path = Path::new(&env::var("CARGO_MANIFEST_DIR").unwrap()).join(VERSION_FILE);
    let source = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let value = source
        .lines()
        .find_map(|line| line.strip_prefix(ABI_CONST)?.strip_suffix(';'))
        .unwrap_or_else(|| panic!("{VERSION_FILE} has no line `{ABI_CONST}<number>;`"));
    value
        .parse()
        .unwrap_or_else(|_| panic!("PIECES_ABI_VERSION must be a plain number, not `{value}`"))
}

/// The linker flag that names the cdylib, or `None` where the platform has no such name (Windows).
fn library_name_link_arg(abi: u32) -> Option<String> {
    let os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let vendor = env::var("CARGO_CFG_TARGET_VENDOR").unwrap_or_default();
    if vendor == "apple" {
        return Some(format!(
            "-Wl,-install_name,@rpath/libpieces_user.{abi}.dylib"
        ));
    }
    let elf = matches!(
        os.as_str(),
        "linux"
            | "android"
            | "freebsd"
            | "netbsd"
            | "openbsd"
            | "dragonfly"
            | "solaris"
            | "illumos"
    );
    elf.then(|| format!("-Wl,-soname,libpieces_user.so.{abi}"))
}
