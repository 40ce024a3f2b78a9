//! The status codes of the C ABI: one table for their names, categories and descriptions, and the one
//! mapping from [`ErrorKind`] to a code.
//!
//! Codes are plain `i32` constants (cbindgen turns them into `#define`s) rather than a Rust enum, so a
//! newer library returning a code an older caller does not know is still well-defined C. A code is
//! never reused or renumbered; new ones are only appended.

use std::ffi::{c_char, CStr};

use crate::error::ErrorKind;

/// Success. Outputs have been written.
pub const PIECES_OK: i32 = 0;
/// A bad argument: an unknown configuration key, an out-of-range option value, a wrong-typed config
/// value, a missing request body.
pub const PIECES_ERR_INVALID_ARGUMENT: i32 = 1;
/// A required pointer argument is NULL; the last error's message names the argument.
pub const PIECES_ERR_NULL_POINTER: i32 = 2;
/// A string argument is not valid UTF-8; the last error's message names the argument.
pub const PIECES_ERR_INVALID_UTF8: i32 = 3;
/// A JSON argument is not JSON at all (syntax error, truncated, or nested too deeply).
pub const PIECES_ERR_MALFORMED_JSON: i32 = 4;
/// A JSON argument is JSON but does not fit its model; the last error's `path` names the offending
/// value (e.g. `$.aesthetics.font.size`).
pub const PIECES_ERR_INVALID_DOCUMENT: i32 = 5;
/// The server answered HTTP 404 (e.g. no user is signed in for /user/update/vanity).
pub const PIECES_ERR_NOT_FOUND: i32 = 10;
/// The server answered HTTP 409 (e.g. the vanity name is already taken).
pub const PIECES_ERR_CONFLICT: i32 = 11;
/// The server answered HTTP 500.
pub const PIECES_ERR_SERVER_ERROR: i32 = 12;
/// The server answered HTTP 501 (a local Pieces OS answers this for /user/providers).
pub const PIECES_ERR_NOT_IMPLEMENTED: i32 = 13;
/// The server answered HTTP 511: the user must sign in / connect to the cloud first.
pub const PIECES_ERR_AUTHENTICATION_REQUIRED: i32 = 14;
/// The server answered another non-2xx status; the last error's `status` holds it.
pub const PIECES_ERR_HTTP_STATUS: i32 = 15;
/// The server could not be reached: connection refused, host not found, reset, closed early.
pub const PIECES_ERR_CONNECTION: i32 = 20;
/// The connect timeout or the whole-request timeout expired.
pub const PIECES_ERR_TIMEOUT: i32 = 21;
/// The TLS handshake or certificate verification failed.
pub const PIECES_ERR_TLS: i32 = 22;
/// The server answered 2xx with a body that is not the expected document (or not HTTP at all).
pub const PIECES_ERR_INVALID_RESPONSE: i32 = 23;
/// The response body is larger than the configured `max_response_bytes`.
pub const PIECES_ERR_RESPONSE_TOO_LARGE: i32 = 24;
/// Discovery found no running Pieces OS.
pub const PIECES_ERR_NOT_RUNNING: i32 = 25;
/// The call was interrupted by `pieces_client_interrupt` or a triggered `PiecesCancel`. Nothing is
/// wrong with the client: later calls work as usual.
pub const PIECES_ERR_INTERRUPTED: i32 = 26;
/// The client or stream was created by another process and inherited across `fork()`: it belongs to
/// the process that created it. Create a new one in this process (see "fork()" at the top).
pub const PIECES_ERR_WRONG_PROCESS: i32 = 27;
/// `pieces_stream_next`: no event arrived within the timeout; the stream is still running.
pub const PIECES_ERR_STREAM_TIMEOUT: i32 = 30;
/// `pieces_stream_next`: the stream has ended and its last event (`PIECES_EVENT_STOPPED`) was taken.
pub const PIECES_ERR_STREAM_ENDED: i32 = 31;
/// An internal error was caught at the C boundary. This is a bug in pieces_user; please report it with
/// the last error's message.
pub const PIECES_ERR_PANIC: i32 = 90;

/// One row of the table: everything the C side can learn about a code.
pub(crate) struct Status {
    pub(crate) code: i32,
    /// The constant's name, e.g. `PIECES_ERR_CONFLICT`.
    pub(crate) name: &'static str,
    /// A stable snake_case word for bindings to branch on; equal to `ErrorKind::as_str` where a kind exists.
    pub(crate) category: &'static str,
    /// What `pieces_status_str` returns: `"<name>: <description>"`.
    text: &'static CStr,
}

/// Builds a row from the constant itself, so the name cannot drift from the code.
macro_rules! status {
    ($code:ident, $category:literal, $description:literal) => {
        Status {
            code: $code,
            name: stringify!($code),
            category: $category,
            text: cstr(concat!(stringify!($code), ": ", $description, "\0")),
        }
    };
}

/// Checked when the table is built, at compile time.
const fn cstr(text: &'static str) -> &'static CStr {
    match CStr::from_bytes_with_nul(text.as_bytes()) {
        Ok(c) => c,
        Err(_) => panic!("a status description must not contain NUL"),
    }
}

const TABLE: &[Status] = &[
    status!(PIECES_OK, "ok", "success"),
    status!(
        PIECES_ERR_INVALID_ARGUMENT,
        "invalid_argument",
        "invalid argument (bad option value, unknown config key, missing body)"
    ),
    status!(
        PIECES_ERR_NULL_POINTER,
        "null_pointer",
        "a required pointer argument is NULL"
    ),
    status!(
        PIECES_ERR_INVALID_UTF8,
        "invalid_utf8",
        "a string argument is not valid UTF-8"
    ),
    status!(
        PIECES_ERR_MALFORMED_JSON,
        "malformed_json",
        "a JSON argument is not valid JSON"
    ),
    status!(
        PIECES_ERR_INVALID_DOCUMENT,
        "invalid_document",
        "a JSON argument does not fit its model (path in pieces_last_error)"
    ),
    status!(PIECES_ERR_NOT_FOUND, "not_found", "HTTP 404 not found"),
    status!(
        PIECES_ERR_CONFLICT,
        "conflict",
        "HTTP 409 conflict (e.g. vanity name taken)"
    ),
    status!(
        PIECES_ERR_SERVER_ERROR,
        "server_error",
        "HTTP 500 internal server error"
    ),
    status!(
        PIECES_ERR_NOT_IMPLEMENTED,
        "not_implemented",
        "HTTP 501 not implemented (e.g. providers on a local Pieces OS)"
    ),
    status!(
        PIECES_ERR_AUTHENTICATION_REQUIRED,
        "authentication_required",
        "HTTP 511 authentication required (sign in first)"
    ),
    status!(
        PIECES_ERR_HTTP_STATUS,
        "http_status",
        "unexpected HTTP status"
    ),
    status!(
        PIECES_ERR_CONNECTION,
        "connection",
        "could not connect to Pieces OS (refused, unreachable or closed)"
    ),
    status!(PIECES_ERR_TIMEOUT, "timeout", "timed out"),
    status!(
        PIECES_ERR_TLS,
        "tls",
        "TLS handshake or certificate failure"
    ),
    status!(
        PIECES_ERR_INVALID_RESPONSE,
        "invalid_response",
        "the server's answer is not the expected document"
    ),
    status!(
        PIECES_ERR_RESPONSE_TOO_LARGE,
        "response_too_large",
        "the response is larger than max_response_bytes"
    ),
    status!(
        PIECES_ERR_NOT_RUNNING,
        "not_running",
        "no running Pieces OS was found"
    ),
    status!(
        PIECES_ERR_INTERRUPTED,
        "interrupted",
        "interrupted (pieces_client_interrupt or a triggered PiecesCancel)"
    ),
    status!(
        PIECES_ERR_WRONG_PROCESS,
        "wrong_process",
        "client or stream created by another process (fork): create a new one"
    ),
    status!(
        PIECES_ERR_STREAM_TIMEOUT,
        "stream_timeout",
        "no stream event within the timeout"
    ),
    status!(
        PIECES_ERR_STREAM_ENDED,
        "stream_ended",
        "the stream has ended; no more events"
    ),
    status!(
        PIECES_ERR_PANIC,
        "panic",
        "internal error caught at the C boundary (a bug in pieces_user)"
    ),
];

const UNKNOWN: &CStr = c"unknown status code";

pub(crate) fn lookup(code: i32) -> Option<&'static Status> {
    TABLE.iter().find(|s| s.code == code)
}

/// The code a Rust error is reported with across the boundary.
///
/// No wildcard arm: a new `ErrorKind` must not compile until it has a code here.
pub(crate) fn code_for_kind(kind: ErrorKind) -> i32 {
    match kind {
        ErrorKind::InvalidArgument => PIECES_ERR_INVALID_ARGUMENT,
        ErrorKind::MalformedJson => PIECES_ERR_MALFORMED_JSON,
        ErrorKind::InvalidDocument => PIECES_ERR_INVALID_DOCUMENT,
        ErrorKind::NotFound => PIECES_ERR_NOT_FOUND,
        ErrorKind::Conflict => PIECES_ERR_CONFLICT,
        ErrorKind::ServerError => PIECES_ERR_SERVER_ERROR,
        ErrorKind::NotImplemented => PIECES_ERR_NOT_IMPLEMENTED,
        ErrorKind::AuthenticationRequired => PIECES_ERR_AUTHENTICATION_REQUIRED,
        ErrorKind::HttpStatus => PIECES_ERR_HTTP_STATUS,
        ErrorKind::Connection => PIECES_ERR_CONNECTION,
        ErrorKind::Timeout => PIECES_ERR_TIMEOUT,
        ErrorKind::Tls => PIECES_ERR_TLS,
        ErrorKind::InvalidResponse => PIECES_ERR_INVALID_RESPONSE,
        ErrorKind::ResponseTooLarge => PIECES_ERR_RESPONSE_TOO_LARGE,
        ErrorKind::NotRunning => PIECES_ERR_NOT_RUNNING,
        ErrorKind::Panic => PIECES_ERR_PANIC,
        ErrorKind::Interrupted => PIECES_ERR_INTERRUPTED,
        ErrorKind::WrongProcess => PIECES_ERR_WRONG_PROCESS,
    }
}

/// A static, NUL-terminated, printable description of a status code, e.g.
/// `"PIECES_ERR_CONFLICT: HTTP 409 conflict (e.g. vanity name taken)"`.
///
/// Never NULL: an unknown code gives `"unknown status code"`. The string is static: do not free it.
/// Thread safety: may be called from any thread at any time, including before any client exists.
#[no_mangle]
pub extern "C" fn pieces_status_str(code: i32) -> *const c_char {
    super::ffi_value(UNKNOWN.as_ptr(), || {
        lookup(code).map_or(UNKNOWN, |s| s.text).as_ptr()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KINDS: [ErrorKind; 18] = [
        ErrorKind::InvalidArgument,
        ErrorKind::MalformedJson,
        ErrorKind::InvalidDocument,
        ErrorKind::NotFound,
        ErrorKind::Conflict,
        ErrorKind::ServerError,
        ErrorKind::NotImplemented,
        ErrorKind::AuthenticationRequired,
        ErrorKind::HttpStatus,
        ErrorKind::Connection,
        ErrorKind::Timeout,
        ErrorKind::Tls,
        ErrorKind::InvalidResponse,
        ErrorKind::ResponseTooLarge,
        ErrorKind::NotRunning,
        ErrorKind::Panic,
        ErrorKind::Interrupted,
        ErrorKind::WrongProcess,
    ];

    #[test]
    fn every_kind_has_a_row_whose_category_is_the_kind_name() {
        for kind in KINDS {
            let row = lookup(code_for_kind(kind)).expect("a row for every mapped code");
            assert_eq!(row.category, kind.as_str());
        }
    }

    #[test]
    fn codes_are_unique_and_texts_start_with_the_name() {
        for (i, row) in TABLE.iter().enumerate() {
            assert!(TABLE[i + 1..].iter().all(|other| other.code != row.code));
            let text = row.text.to_str().unwrap();
            assert!(text.starts_with(&format!("{}: ", row.name)), "{text}");
            assert!(text.len() < 100, "keep it short: {text}");
        }
    }

    #[test]
    fn unknown_codes_have_a_static_text() {
        for code in [-1, 6, 89, 91, 1000, i32::MAX, i32::MIN] {
            // SAFETY: the library returns a static NUL-terminated string.
            let text = unsafe { CStr::from_ptr(pieces_status_str(code)) };
            assert_eq!(text, UNKNOWN);
        }
        // SAFETY: the library returns a static NUL-terminated string.
        let text = unsafe { CStr::from_ptr(pieces_status_str(PIECES_ERR_CONFLICT)) };
        assert_eq!(
            text.to_str().unwrap(),
            "PIECES_ERR_CONFLICT: HTTP 409 conflict (e.g. vanity name taken)"
        );
    }
}
