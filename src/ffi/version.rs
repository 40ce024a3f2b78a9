//! Versions: of the library (for humans and bug reports) and of the C ABI (for bindings to check).

use std::ffi::{c_char, CStr};

/// The version of this C ABI. It changes only when an existing function, constant or documented
/// behaviour changes incompatibly; adding functions or status codes does not change it. Bindings
/// compare it with `pieces_abi_version()` when they load the library.
pub const PIECES_ABI_VERSION: u32 = 1;

const VERSION: &CStr =
    match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(v) => v,
        Err(_) => panic!("the package version must not contain NUL"),
    };

/// The library version, e.g. `"0.1.0"`.
///
/// The string is static: never free it. Thread safety: may be called from any thread at any time.
#[no_mangle]
pub extern "C" fn pieces_version() -> *const c_char {
    super::ffi_value(VERSION.as_ptr(), || VERSION.as_ptr())
}

/// The C ABI version this library implements; equal to `PIECES_ABI_VERSION` in the header it was built
/// with. A binding built against another ABI version must refuse to use the library.
///
/// Thread safety: may be called from any thread at any time.
#[no_mangle]
pub extern "C" fn pieces_abi_version() -> u32 {
    super::ffi_value(PIECES_ABI_VERSION, || PIECES_ABI_VERSION)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        // SAFETY: the library returns a static NUL-terminated string.
        let v = unsafe { CStr::from_ptr(pieces_version()) };
        assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
        assert_eq!(pieces_abi_version(), 1);
    }

    /// build.rs names the shared library after the ABI version it parses out of this file; the
    /// soname must be the number `pieces_abi_version()` reports.
    #[test]
    fn the_library_name_carries_this_abi_version() {
        assert_eq!(
            env!("PIECES_BUILD_ABI_VERSION"),
            PIECES_ABI_VERSION.to_string()
        );
    }
}
