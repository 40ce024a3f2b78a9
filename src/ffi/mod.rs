//! The C ABI: a thin translation of [`crate::Client`] into `extern "C"` functions.
//!
//! Every export has the same shape: check its arguments with the helpers here, call the Rust API,
//! translate the result into a status code (and, on success only, its outputs). The whole body runs
//! inside [`ffi_call`] or [`ffi_value`], so a panic is reported as `PIECES_ERR_PANIC` instead of
//! unwinding into C, which would be undefined behaviour.
//!
//! Failures are recorded per thread (errno style) and read back with `pieces_last_error`.
//! The C header is generated from these files by cbindgen (see `cbindgen.toml`, `tests/header.rs`):
//! the doc comments on exports and constants are the C documentation.

#![deny(unsafe_op_in_unsafe_fn)]
// Every unsafe block says on a `SAFETY:` line why it is sound: this is where C hands us pointers.
#![deny(clippy::undocumented_unsafe_blocks)]

use std::any::Any;
use std::cell::RefCell;
use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::NonNull;

// Declared in the order the header presents them.
mod version;

mod status;

mod client;

mod cancel;

mod discovery;

mod stream;

mod error;

mod string;

pub(crate) use string::{give_string, give_text, text_buffer};

use status::{
    code_for_kind, PIECES_ERR_INVALID_UTF8, PIECES_ERR_NULL_POINTER, PIECES_ERR_PANIC, PIECES_OK,
};

/// A failure on its way to C: the code the export returns and the detail `pieces_last_error` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FfiError {
    code: i32,
    message: String,
    status: Option<u16>,
    body: Option<String>,
    path: Option<String>,
}

impl FfiError {
    pub(crate) fn new(code: i32, message: impl Into<String>) -> FfiError {
        FfiError {
            code,
            message: message.into(),
            status: None,
            body: None,
            path: None,
        }
    }

    fn null_pointer(name: &str) -> FfiError {
        FfiError::new(PIECES_ERR_NULL_POINTER, format!("{name} is NULL"))
    }
}

impl From<crate::Error> for FfiError {
    fn from(e: crate::Error) -> FfiError {
        FfiError {
            code: code_for_kind(e.kind()),
            message: e.message().to_owned(),
            status: e.status(),
            body: e.body().map(str::to_owned),
            path: e.path().map(str::to_owned),
        }
    }
}

thread_local! {
    /// The last failure on this thread. Success leaves it alone, so a caller may make more calls
    /// (e.g. free things) before reading it.
    static LAST_ERROR: RefCell<Option<FfiError>> = const { RefCell::new(None) };
}

fn set_last_error(e: FfiError) {
    // During thread teardown the slot may be gone; losing the detail beats panicking in C's frame.
    let _ = LAST_ERROR.try_with(|slot| {
        if let Ok(mut slot) = slot.try_borrow_mut() {
            *slot = Some(e);
        }
    });
}

/// Runs `f` with a clone of the last error on this thread (None when nothing failed yet).
fn with_last_error<T>(f: impl FnOnce(Option<&FfiError>) -> T) -> T {
    let last = LAST_ERROR
        .try_with(|slot| slot.try_borrow().ok().and_then(|e| e.clone()))
        .ok()
        .flatten();
    f(last.as_ref())
}

/// The panic boundary for exports that return a status code: `Ok` → `PIECES_OK`; an error is recorded
/// as the last error and its code returned; a panic becomes `PIECES_ERR_PANIC`.
pub(crate) fn ffi_call(f: impl FnOnce() -> Result<(), FfiError>) -> i32 {
    // AssertUnwindSafe: after a panic nothing the closure touched is used again except the client,
    // whose state (a connection pool and an immutable config) stays consistent across a panic.
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => PIECES_OK,
        Ok(Err(e)) => {
            let code = e.code;
            set_last_error(e);
            code
        }
        Err(payload) => {
            record_panic(payload);
            PIECES_ERR_PANIC
        }
    }
}

/// The panic boundary for exports that return a value rather than a code: a panic records
/// `PIECES_ERR_PANIC` and returns `fallback`.
pub(crate) fn ffi_value<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(value) => value,
        Err(payload) => {
            record_panic(payload);
            fallback
        }
    }
}

fn record_panic(payload: Box<dyn Any + Send>) {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic payload".to_owned());
    // A payload whose destructor panics would otherwise escape right here.
    let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
    set_last_error(FfiError::new(
        PIECES_ERR_PANIC,
        format!("internal error (a bug in pieces_user, please report it): {what}"),
    ));
}

/// A borrowed string argument.
///
/// # Safety
/// `ptr` must be NULL or point to a NUL-terminated string that stays valid and unchanged for `'a`.
pub(crate) unsafe fn str_arg<'a>(ptr: *const c_char, name: &str) -> Result<&'a str, FfiError> {
    // SAFETY: the caller's contract is `bytes_arg`'s.
    let bytes = unsafe { bytes_arg(ptr, name) }?;
    std::str::from_utf8(bytes).map_err(|e| invalid_utf8(name, e.valid_up_to()))
}

/// The bytes of a C string argument, not yet checked to be UTF-8 (see [`utf8_error`]).
///
/// # Safety
/// As [`str_arg`].
pub(crate) unsafe fn bytes_arg<'a>(ptr: *const c_char, name: &str) -> Result<&'a [u8], FfiError> {
    if ptr.is_null() {
        return Err(FfiError::null_pointer(name));
    }
    // SAFETY: non-NULL, and the caller promises a NUL-terminated string valid for 'a.
    Ok(unsafe { CStr::from_ptr(ptr) }.to_bytes())
}

/// `PIECES_ERR_INVALID_UTF8` for the argument `name` if `bytes` are not UTF-8.
pub(crate) fn utf8_error(bytes: &[u8], name: &str) -> Option<FfiError> {
    let e = std::str::from_utf8(bytes).err()?;
    Some(invalid_utf8(name, e.valid_up_to()))
}

fn invalid_utf8(name: &str, offset: usize) -> FfiError {
    FfiError::new(
        PIECES_ERR_INVALID_UTF8,
        format!("{name} is not valid UTF-8 (bad byte at offset {offset})"),
    )
}

/// A checked, non-NULL out-pointer. Writing is the last step of a successful call, so a caller's
/// variable keeps its value whenever a call fails.
pub(crate) struct Out<T>(NonNull<T>);

impl<T> Out<T> {
    /// Overwrites the target without reading or dropping what was there: C's variable may be
    /// uninitialised.
    pub(crate) fn write(self, value: T) {
        // SAFETY: `out_arg`'s caller promised a valid, writable, aligned pointer.
        unsafe { self.0.as_ptr().write(value) }
    }
}

/// Checks an out-pointer argument for NULL.
///
/// # Safety
/// `ptr` must be NULL or valid for a write of one `T` for as long as the returned [`Out`] lives.
pub(crate) unsafe fn out_arg<T>(ptr: *mut T, name: &str) -> Result<Out<T>, FfiError> {
    NonNull::new(ptr)
        .map(Out)
        .ok_or_else(|| FfiError::null_pointer(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ptr;

    fn last_error() -> Option<FfiError> {
        with_last_error(|e| e.cloned())
    }

    #[test]
    fn a_panic_becomes_a_code_and_a_last_error() {
        let code = ffi_call(|| panic!("boom at the boundary"));
        assert_eq!(code, PIECES_ERR_PANIC);
        let e = last_error().unwrap();
        assert_eq!(e.code, PIECES_ERR_PANIC);
        assert!(e.message.contains("boom at the boundary"), "{}", e.message);

        let formatted = ffi_call(|| panic!("{} formatted", 42));
        assert_eq!(formatted, PIECES_ERR_PANIC);
        assert!(last_error().unwrap().message.contains("42 formatted"));
    }

    #[test]
    fn a_panic_in_a_value_export_returns_the_fallback() {
        let value = ffi_value(7u32, || panic!("value boom"));
        assert_eq!(value, 7);
        assert_eq!(last_error().unwrap().code, PIECES_ERR_PANIC);
    }

    #[test]
    fn success_does_not_clear_the_last_error() {
        assert_eq!(
            ffi_call(|| Err(FfiError::new(PIECES_ERR_INVALID_UTF8, "x"))),
            PIECES_ERR_INVALID_UTF8
        );
        assert_eq!(ffi_call(|| Ok(())), PIECES_OK);
        assert_eq!(last_error().unwrap().code, PIECES_ERR_INVALID_UTF8);
    }

    #[test]
    fn the_last_error_is_per_thread() {
        ffi_call(|| Err(FfiError::new(PIECES_ERR_INVALID_UTF8, "here")));
        let other = std::thread::spawn(last_error).join().unwrap();
        assert_eq!(other, None);
        assert_eq!(last_error().unwrap().message, "here");
    }

    #[test]
    fn str_arg_names_the_argument() {
        // SAFETY: NULL on purpose, a C string literal or a live local.
        let e = unsafe { str_arg(ptr::null(), "profile_json") }.unwrap_err();
        assert_eq!(e.code, PIECES_ERR_NULL_POINTER);
        assert_eq!(e.message, "profile_json is NULL");

        let bad = c"ok\xff";
        // SAFETY: NULL on purpose, a C string literal or a live local.
        let e = unsafe { str_arg(bad.as_ptr(), "status_json") }.unwrap_err();
        assert_eq!(e.code, PIECES_ERR_INVALID_UTF8);
        assert!(e.message.starts_with("status_json "), "{}", e.message);
        assert!(e.message.contains("offset 2"), "{}", e.message);

        // SAFETY: NULL on purpose, a C string literal or a live local.
        assert_eq!(unsafe { str_arg(c"{}".as_ptr(), "x") }.unwrap(), "{}");
    }

    #[test]
    fn out_arg_rejects_null_and_writes_only_when_asked() {
        // SAFETY: NULL on purpose, a C string literal or a live local.
        let e = unsafe { out_arg::<*mut c_char>(ptr::null_mut(), "out_json") }
            .err()
            .unwrap();
        assert_eq!(e.message, "out_json is NULL");
        let mut target: u32 = 1;
        // SAFETY: NULL on purpose, a C string literal or a live local.
        let out = unsafe { out_arg(&mut target, "out") }.unwrap();
        out.write(2);
        assert_eq!(target, 2);
    }
}
