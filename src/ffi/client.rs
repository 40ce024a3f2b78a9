//! The client handle and the User API routes.
//!
//! Each route export is one line over [`route`] or [`route_with_body`], which do the argument checks,
//! the call and the hand-over of the result in one place.

use std::ffi::c_char;
use std::ptr::NonNull;
use std::sync::Arc;

use super::cancel::with_bound_cancel;
use super::{
    bytes_arg, ffi_call, give_string, give_text, out_arg, str_arg, text_buffer, utf8_error,
    FfiError,
};
use crate::client::JsonRoute;
use crate::{Client, Config};

/// A client for one Pieces OS, created by `pieces_client_new` and freed by `pieces_client_free`.
///
/// Opaque: use it only through pointers. Objects created from a client (streams) hold their own
/// reference to what they need (an `Arc` on the Rust side), so they may outlive the handle.
pub struct PiecesClient {
    pub(crate) inner: Arc<Client>,
}

/// The client behind a handle argument; `PIECES_ERR_WRONG_PROCESS` in a child after `fork()`.
///
/// # Safety
/// `ptr` must be NULL or a live handle from `pieces_client_new`, not freed during `'a`.
pub(crate) unsafe fn client_arg<'a>(ptr: *const PiecesClient) -> Result<&'a Client, FfiError> {
    // SAFETY: as this function's.
    let client = unsafe { routed_client_arg(ptr) }?;
    client.check_process()?;
    Ok(client)
}

/// [`client_arg`] without the process check, for the routes: every route of the core checks the
/// process itself before anything else (`Client::call`), and that check is a system call, so a
/// call that works makes it once. [`route`] checks again only when the call fails.
///
/// # Safety
/// As [`client_arg`].
unsafe fn routed_client_arg<'a>(ptr: *const PiecesClient) -> Result<&'a Client, FfiError> {
    // SAFETY: the caller promises a live handle or NULL; `as_ref` handles NULL.
    match unsafe { ptr.as_ref() } {
        Some(handle) => Ok(&handle.inner),
        None => Err(FfiError::new(
            super::status::PIECES_ERR_NULL_POINTER,
            "client is NULL",
        )),
    }
}

/// Checks `client` and `out_json`, runs the route, and writes its text to `*out_json` only if
/// everything worked. `call` runs the route with a `text_buffer` to append the answer to; the
/// answer is a document the validator accepted, or nothing (see `give_text`).
///
/// # Safety
/// As [`client_arg`] and [`out_arg`].
unsafe fn route(
    client: *const PiecesClient,
    out_json: *mut *mut c_char,
    call: impl FnOnce(&Client, Vec<u8>) -> Result<Vec<u8>, FfiError>,
) -> i32 {
    ffi_call(|| {
        // SAFETY: `client` is NULL or a live handle (`# Safety` above); NULL is checked.
        let client = unsafe { routed_client_arg(client) }?;
        let result = (|| {
            // SAFETY: `out_json` is NULL or writable (`# Safety` above); `out_arg` checks NULL.
            let out = unsafe { out_arg(out_json, "out_json") }?;
            let text = with_bound_cancel(client, |client| call(client, text_buffer()))?;
            out.write(give_text(text));
            Ok(())
        })();
        // The core's route checks the process before it does anything else, so a call that works
        // has checked it once. A failure may come from an argument checked before that; in a
        // child after fork() the header promises PIECES_ERR_WRONG_PROCESS whatever else is wrong.
        result.map_err(|e| match client.check_process() {
            Err(wrong_process) => wrong_process.into(),
            Ok(()) => e,
        })
    })
}

/// [`route`] for the routes that send nothing.
///
/// # Safety
/// As [`route`].
unsafe fn route_without_body(
    client: *const PiecesClient,
    out: *mut *mut c_char,
    which: JsonRoute,
) -> i32 {
    // SAFETY: this function's `# Safety` is `route`'s, so the caller keeps its contract.
    unsafe {
        route(client, out, |client, text| {
            Ok(client.call_json_into(which, None, text)?)
        })
    }
}

/// [`route`] for the routes that send a JSON document.
///
/// The body goes to the core as bytes, unchecked: the core's validator accepts only UTF-8, which
/// spares a pass over the text here. A call that fails on a body that is not UTF-8 fails as it
/// always has, with `PIECES_ERR_INVALID_UTF8` naming the offset, whatever the core saw first.
///
/// # Safety
/// As [`route`]; `body` as [`str_arg`] for the duration of the call.
unsafe fn route_with_body(
    client: *const PiecesClient,
    body: *const c_char,
    body_name: &str,
    out: *mut *mut c_char,
    which: JsonRoute,
) -> i32 {
    // SAFETY: this function's `# Safety` is `route`'s, so the caller keeps its contract.
    unsafe {
        route(client, out, |client, text| {
            let bytes = bytes_arg(body, body_name)?;
            client
                .call_json_into(which, Some(bytes), text)
                .map_err(|e| utf8_error(bytes, body_name).unwrap_or_else(|| e.into()))
        })
    }
}

/// Creates a client. No connection is made until the first call, unless `discovery` is set: then
/// Pieces OS is found now, and `PIECES_ERR_NOT_RUNNING` reports that it is not running.
///
/// `config_json` is NULL for the defaults, or a JSON object with any of these keys (all optional;
/// `null` means the default; unknown keys are rejected by name):
/// `base_url` (default `"http://localhost:1000"`; `http://` or `https://` in any case, a port from
/// 1 to 65535 if any, no user name or password in it), `application_id` (sent as
/// `X-Application-ID` on every route except /user/select, which takes the OAuth token only, as in
/// the official SDKs), `access_token` (sent as `Authorization: Bearer` on /user/select),
/// `connect_timeout_ms` (2000), `timeout_ms` (30000, bounds a whole call), `user_agent`,
/// `max_response_bytes` (16 MiB), `tls_ca_file` (a regular PEM file of at most 4 MiB whose
/// certificates replace the default roots for https/wss), `discovery` (`true`, or an options
/// object as for `pieces_discover`: find Pieces OS instead of using the default URL; a `base_url`
/// given beside it wins). `user_agent`, `application_id` and `access_token` are header values: at
/// most 16 KiB each, printable text and tabs only.
///
/// Ownership: `config_json` is only read during the call. On success `*out` receives a new handle
/// owned by the caller, to be freed with `pieces_client_free`; on failure `*out` is left untouched.
///
/// Thread safety: may be called from any thread.
///
/// Returns `PIECES_OK`, `PIECES_ERR_NULL_POINTER` (`out`), `PIECES_ERR_INVALID_UTF8`,
/// `PIECES_ERR_MALFORMED_JSON`, `PIECES_ERR_INVALID_ARGUMENT` (not an object, unknown key, wrong
/// type, bad value, e.g. a control character in a header value or a port out of range, the
/// message naming the key; unreadable or oversized `tls_ca_file`), `PIECES_ERR_NOT_RUNNING`
/// (discovery found nothing), or `PIECES_ERR_PANIC`.
///
/// # Safety
/// `config_json` must be NULL or a NUL-terminated string; `out` must be NULL or valid for writing
/// one pointer.
#[no_mangle]
pub unsafe extern "C" fn pieces_client_new(
    config_json: *const c_char,
    out: *mut *mut PiecesClient,
) -> i32 {
    ffi_call(|| {
        let config = if config_json.is_null() {
            Config::default()
        } else {
            // SAFETY: `config_json` is NULL or a C string (`# Safety` above); NULL is checked.
            Config::from_json(unsafe { str_arg(config_json, "config_json") }?)?
        };
        // SAFETY: `out` is NULL or writable (`# Safety` above); `out_arg` checks NULL.
        let out = unsafe { out_arg(out, "out") }?;
        let client = Client::new(config)?;
        out.write(Box::into_raw(Box::new(PiecesClient {
            inner: Arc::new(client),
        })));
        Ok(())
    })
}

/// Frees a client. NULL is accepted and ignored.
///
/// Shutdown order: stop and free the streams created from this client first (they hold their own
/// reference, so this is about tidiness, not safety), then free the client. Strings returned by the
/// client are independent of it and may be freed before or after.
///
/// Thread safety: must not race with any other call on the same client. Make sure every thread has
/// returned from its calls on `client` before freeing it (`pieces_client_interrupt` makes them
/// return promptly), and make no calls on it afterwards.
///
/// In a child process after `fork()` (a client created by the parent) it releases nothing: the
/// client's memory is left to the child's exit, and its sockets, shared with the parent, are neither
/// closed nor written to.
///
/// # Safety
/// `client` must be NULL or a handle from `pieces_client_new` that has not been freed yet.
#[no_mangle]
pub unsafe extern "C" fn pieces_client_free(client: *mut PiecesClient) {
    super::ffi_value((), || {
        if let Some(handle) = NonNull::new(client) {
            // SAFETY: the caller promises NULL or an unfreed handle from `pieces_client_new`
            // (Box::into_raw) and no concurrent use of it.
            let handle = unsafe { Box::from_raw(handle.as_ptr()) };
            if handle.inner.check_process().is_err() {
                std::mem::forget(handle);
            }
        }
    })
}

/// `GET /user`: the current user, as a ReturnedUserProfile JSON text. Nobody signed in is not an
/// error: the result is then `{"user":null}` or `{}`.
///
/// Ownership: on success `*out_json` receives a new string owned by the caller; free it with
/// `pieces_string_free`. On failure `*out_json` is left untouched.
///
/// Thread safety: any number of threads may call route functions on one client at once.
///
/// Returns `PIECES_OK`, `PIECES_ERR_NULL_POINTER` (`client`, `out_json`), an HTTP code
/// (`PIECES_ERR_NOT_FOUND` ... `PIECES_ERR_HTTP_STATUS`), a transport code (`PIECES_ERR_CONNECTION`,
/// `PIECES_ERR_TIMEOUT`, `PIECES_ERR_TLS`, `PIECES_ERR_INVALID_RESPONSE`,
/// `PIECES_ERR_RESPONSE_TOO_LARGE`), `PIECES_ERR_INTERRUPTED` (`pieces_client_interrupt`, or the
/// `PiecesCancel` bound to this thread was triggered), or `PIECES_ERR_PANIC`.
///
/// # Safety
/// `client` must be NULL or a live handle; `out_json` NULL or valid for writing one pointer.
#[no_mangle]
pub unsafe extern "C" fn pieces_user_snapshot(
    client: *const PiecesClient,
    out_json: *mut *mut c_char,
) -> i32 {
    // SAFETY: this function's `# Safety` is `route_without_body`'s; the caller keeps it.
    unsafe { route_without_body(client, out_json, JsonRoute::Snapshot) }
}

/// `GET /user/refresh`: re-fetches the current user from the identity provider; the result is a
/// UserProfile JSON text.
///
/// Ownership and thread safety as `pieces_user_snapshot`.
///
/// Returns as `pieces_user_snapshot`; Pieces OS answers 500 (`PIECES_ERR_SERVER_ERROR`) when the
/// refresh fails, e.g. when nobody is signed in.
///
/// # Safety
/// As `pieces_user_snapshot`.
#[no_mangle]
pub unsafe extern "C" fn pieces_user_refresh(
    client: *const PiecesClient,
    out_json: *mut *mut c_char,
) -> i32 {
    // SAFETY: this function's `# Safety` is `route_without_body`'s; the caller keeps it.
    unsafe { route_without_body(client, out_json, JsonRoute::Refresh) }
}

/// `POST /user/select`: makes the given Auth0User (JSON text) the current user; the result is the
/// resulting UserProfile JSON text. Sent with the configured `access_token`.
///
/// Ownership: `auth0_user_json` is only read during the call. On success `*out_json` receives a new
/// string owned by the caller; free it with `pieces_string_free`. On failure it is left untouched.
///
/// Thread safety: any number of threads may call route functions on one client at once.
///
/// Returns as `pieces_user_snapshot`, plus `PIECES_ERR_NULL_POINTER` (`auth0_user_json`),
/// `PIECES_ERR_INVALID_UTF8`, `PIECES_ERR_MALFORMED_JSON` and `PIECES_ERR_INVALID_DOCUMENT` (the
/// document does not fit Auth0User; the last error's `path` names the value). The document is checked
/// before anything is sent.
///
/// # Safety
/// As `pieces_user_snapshot`; `auth0_user_json` NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn pieces_user_select(
    client: *const PiecesClient,
    auth0_user_json: *const c_char,
    out_json: *mut *mut c_char,
) -> i32 {
    // SAFETY: this function's `# Safety` is `route_with_body`'s; the caller keeps it.
    unsafe {
        route_with_body(
            client,
            auth0_user_json,
            "auth0_user_json",
            out_json,
            JsonRoute::Select,
        )
    }
}

/// `POST /user/update`: writes a changed UserProfile (JSON text, e.g. new `aesthetics`); the result is
/// the stored UserProfile JSON text.
///
/// Ownership and thread safety as `pieces_user_select`.
///
/// Returns as `pieces_user_select`, with `profile_json` checked against UserProfile.
///
/// # Safety
/// As `pieces_user_select`.
#[no_mangle]
pub unsafe extern "C" fn pieces_user_update(
    client: *const PiecesClient,
    profile_json: *const c_char,
    out_json: *mut *mut c_char,
) -> i32 {
    // SAFETY: this function's `# Safety` is `route_with_body`'s; the caller keeps it.
    unsafe {
        route_with_body(
            client,
            profile_json,
            "profile_json",
            out_json,
            JsonRoute::Update,
        )
    }
}

/// `POST /user/update/vanity`: changes the vanity name; `profile_json` is a whole UserProfile whose
/// `vanityname` carries the new name. The result is the updated UserProfile JSON text.
///
/// Ownership and thread safety as `pieces_user_select`.
///
/// Returns as `pieces_user_select`; notably `PIECES_ERR_CONFLICT` (409: the name is taken),
/// `PIECES_ERR_NOT_FOUND` (404: no such user), `PIECES_ERR_AUTHENTICATION_REQUIRED` (511).
///
/// # Safety
/// As `pieces_user_select`.
#[no_mangle]
pub unsafe extern "C" fn pieces_user_update_vanity(
    client: *const PiecesClient,
    profile_json: *const c_char,
    out_json: *mut *mut c_char,
) -> i32 {
    // SAFETY: this function's `# Safety` is `route_with_body`'s; the caller keeps it.
    unsafe {
        route_with_body(
            client,
            profile_json,
            "profile_json",
            out_json,
            JsonRoute::UpdateVanity,
        )
    }
}

/// `POST /user/beta/status`: grants or revokes a beta for the user named in the UserBetaStatus (JSON
/// text); the result is the resulting UserBetaStatus JSON text.
///
/// Ownership and thread safety as `pieces_user_select`.
///
/// Returns as `pieces_user_select`, with `status_json` checked against UserBetaStatus; notably
/// `PIECES_ERR_AUTHENTICATION_REQUIRED` (511: sign in first).
///
/// # Safety
/// As `pieces_user_select`.
#[no_mangle]
pub unsafe extern "C" fn pieces_user_beta_status(
    client: *const PiecesClient,
    status_json: *const c_char,
    out_json: *mut *mut c_char,
) -> i32 {
    // SAFETY: this function's `# Safety` is `route_with_body`'s; the caller keeps it.
    unsafe {
        route_with_body(
            client,
            status_json,
            "status_json",
            out_json,
            JsonRoute::BetaStatus,
        )
    }
}

/// `GET /user/providers`: the external identity providers linked to the account, as a
/// ReturnedUserProfile JSON text. A local Pieces OS always answers 501 (`PIECES_ERR_NOT_IMPLEMENTED`).
///
/// Ownership, thread safety and return codes as `pieces_user_snapshot`.
///
/// # Safety
/// As `pieces_user_snapshot`.
#[no_mangle]
pub unsafe extern "C" fn pieces_user_providers(
    client: *const PiecesClient,
    out_json: *mut *mut c_char,
) -> i32 {
    // SAFETY: this function's `# Safety` is `route_without_body`'s; the caller keeps it.
    unsafe { route_without_body(client, out_json, JsonRoute::Providers) }
}

/// `POST /user/clear`: signs the current user out. Nothing is returned on success.
///
/// Thread safety: any number of threads may call route functions on one client at once.
///
/// Returns `PIECES_OK`, `PIECES_ERR_NULL_POINTER` (`client`), an HTTP or transport code as listed
/// for `pieces_user_snapshot`, or `PIECES_ERR_PANIC`.
///
/// # Safety
/// `client` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn pieces_user_clear(client: *const PiecesClient) -> i32 {
    ffi_call(|| {
        // SAFETY: `client` is NULL or a live handle (`# Safety` above); NULL is checked. The core
        // checks the process first, and there is no other argument to fail before it.
        let client = unsafe { routed_client_arg(client) }?;
        with_bound_cancel(client, |c| Ok(c.clear()?))
    })
}

/// Interrupts every call in flight on `client`: each returns `PIECES_ERR_INTERRUPTED` promptly,
/// wherever it is blocked (connecting, sending, waiting for the answer, reading the body, in the
/// GET retry or the re-discovery). Calls started after this returns work as usual; nothing else
/// about the client changes. Streams are not affected (stop them with `pieces_stream_stop`).
///
/// "Promptly" means within milliseconds, except in a re-discovery waiting for another thread's
/// (bounded by the discovery probe timeout), and on platforms other than Unix for a TCP connect in
/// progress (bounded by `connect_timeout_ms`).
///
/// For a desktop app that quits, or a Ctrl-C: interrupt, then wait for the calling threads to
/// return, then `pieces_client_free`. To cancel one call rather than all, see `PiecesCancel`.
///
/// Thread safety: may be called from any thread, at any time while the client is alive, any number
/// of times, also from a stream callback. It must not race with `pieces_client_free`.
///
/// Returns `PIECES_OK`, `PIECES_ERR_NULL_POINTER` (`client`), or `PIECES_ERR_PANIC`.
///
/// # Safety
/// `client` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn pieces_client_interrupt(client: *const PiecesClient) -> i32 {
    ffi_call(|| {
        // SAFETY: `client` is NULL or a live handle (`# Safety` above); NULL is checked.
        unsafe { client_arg(client) }?.interrupt();
        Ok(())
    })
}

/// The WebSocket URL of `/user/stream` for this client (`ws://.../user/stream`, or `wss://` for an
/// https base URL). Makes no connection.
///
/// Ownership: on success `*out_url` receives a new string owned by the caller; free it with
/// `pieces_string_free`. On failure it is left untouched.
///
/// Thread safety: may be called from any thread while the client is alive.
///
/// Returns `PIECES_OK`, `PIECES_ERR_NULL_POINTER` (`client`, `out_url`), or `PIECES_ERR_PANIC`.
///
/// # Safety
/// `client` must be NULL or a live handle; `out_url` NULL or valid for writing one pointer.
#[no_mangle]
pub unsafe extern "C" fn pieces_user_stream_url(
    client: *const PiecesClient,
    out_url: *mut *mut c_char,
) -> i32 {
    ffi_call(|| {
        // SAFETY: `client` is NULL or a live handle (`# Safety` above); NULL is checked.
        let client = unsafe { client_arg(client) }?;
        // SAFETY: `out_url` is NULL or writable (`# Safety` above); `out_arg` checks NULL.
        let out = unsafe { out_arg(out_url, "out_url") }?;
        out.write(give_string(client.stream_url())?);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::super::status::{
        PIECES_ERR_CONNECTION, PIECES_ERR_INVALID_ARGUMENT, PIECES_ERR_MALFORMED_JSON,
        PIECES_ERR_NULL_POINTER, PIECES_OK,
    };
    use super::super::string::pieces_string_free;
    use super::super::with_last_error;
    use super::*;
    use std::ffi::CStr;
    use std::ptr;

    fn new_client(config: &CStr) -> *mut PiecesClient {
        let mut client = ptr::null_mut();
        assert_eq!(
            // SAFETY: pointers made in this test, or NULL on purpose.
            unsafe { pieces_client_new(config.as_ptr(), &mut client) },
            PIECES_OK
        );
        client
    }

    fn last_message() -> String {
        with_last_error(|e| e.unwrap().message.clone())
    }

    #[test]
    fn config_errors_leave_out_untouched() {
        let sentinel = 0x5e5e_usize as *mut PiecesClient;
        let mut out = sentinel;
        // SAFETY: pointers made in this test, or NULL on purpose.
        let code = unsafe { pieces_client_new(c"{".as_ptr(), &mut out) };
        assert_eq!(code, PIECES_ERR_MALFORMED_JSON);
        // SAFETY: pointers made in this test, or NULL on purpose.
        let code = unsafe { pieces_client_new(cr#"{"nope":1}"#.as_ptr(), &mut out) };
        assert_eq!(code, PIECES_ERR_INVALID_ARGUMENT);
        assert!(last_message().contains("`nope`"), "{}", last_message());
        assert_eq!(out, sentinel);
        // SAFETY: pointers made in this test, or NULL on purpose.
        let code = unsafe { pieces_client_new(ptr::null(), ptr::null_mut()) };
        assert_eq!(code, PIECES_ERR_NULL_POINTER);
        assert_eq!(last_message(), "out is NULL");
    }

    #[test]
    fn stream_url_and_a_refused_connection() {
        // Port 1 on loopback: nothing listens there on a test machine, so the connect is refused.
        let client = new_client(cr#"{"base_url":"http://127.0.0.1:1","timeout_ms":2000}"#);
        let mut url = ptr::null_mut();
        assert_eq!(
            // SAFETY: pointers made in this test, or NULL on purpose.
            unsafe { pieces_user_stream_url(client, &mut url) },
            PIECES_OK
        );
        assert_eq!(
            // SAFETY: `url` is a NUL-terminated string from the library, not yet freed.
            unsafe { CStr::from_ptr(url) }.to_str().unwrap(),
            "ws://127.0.0.1:1/user/stream"
        );
        // SAFETY: `url` came from the library in this test and is freed once, here.
        unsafe { pieces_string_free(url) };

        let sentinel = 0x5e5e_usize as *mut c_char;
        let mut out = sentinel;
        assert_eq!(
            // SAFETY: pointers made in this test, or NULL on purpose.
            unsafe { pieces_user_snapshot(client, &mut out) },
            PIECES_ERR_CONNECTION
        );
        assert_eq!(out, sentinel);
        // SAFETY: pointers made in this test, or NULL on purpose.
        assert_eq!(unsafe { pieces_user_clear(client) }, PIECES_ERR_CONNECTION);
        // SAFETY: `client` came from the library in this test and is freed once, here.
        unsafe { pieces_client_free(client) };
    }

    #[test]
    fn null_arguments_are_named() {
        let client = new_client(c"{}");
        let mut out = ptr::null_mut();
        assert_eq!(
            // SAFETY: pointers made in this test, or NULL on purpose.
            unsafe { pieces_user_update(ptr::null(), c"{}".as_ptr(), &mut out) },
            PIECES_ERR_NULL_POINTER
        );
        assert_eq!(last_message(), "client is NULL");
        assert_eq!(
            // SAFETY: pointers made in this test, or NULL on purpose.
            unsafe { pieces_user_update(client, ptr::null(), &mut out) },
            PIECES_ERR_NULL_POINTER
        );
        assert_eq!(last_message(), "profile_json is NULL");
        assert_eq!(
            // SAFETY: pointers made in this test, or NULL on purpose.
            unsafe { pieces_user_beta_status(client, c"{}".as_ptr(), ptr::null_mut()) },
            PIECES_ERR_NULL_POINTER
        );
        assert_eq!(last_message(), "out_json is NULL");
        assert_eq!(
            // SAFETY: pointers made in this test, or NULL on purpose.
            unsafe { pieces_user_stream_url(client, ptr::null_mut()) },
            PIECES_ERR_NULL_POINTER
        );
        assert_eq!(last_message(), "out_url is NULL");
        assert!(out.is_null());
        // SAFETY: `client` came from the library in this test and is freed once, here.
        unsafe { pieces_client_free(client) };
        // SAFETY: freeing NULL is documented as a no-op.
        unsafe { pieces_client_free(ptr::null_mut()) };
    }
}
