//! The user stream over the C ABI: a callback stream or a pull stream, one thread each.
//!
//! Threading, ordering and shutdown order are documented on `pieces_user_stream_start`; the event
//! kinds and their JSON on the `PIECES_EVENT_*` constants.

use std::ffi::{c_char, c_void, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::client::PiecesClient;
use super::status::{
    PIECES_ERR_INVALID_ARGUMENT, PIECES_ERR_NULL_POINTER, PIECES_ERR_STREAM_ENDED,
    PIECES_ERR_STREAM_TIMEOUT,
};
use super::{ffi_call, ffi_value, give_string, out_arg, str_arg, FfiError};
use crate::stream::{self, Next, StreamEvent, StreamOptions, UserStream};

/// The stream is connected. JSON: `{"url":"ws://127.0.0.1:39300/user/stream"}`. A
/// `PIECES_EVENT_USER` or `PIECES_EVENT_SIGNED_OUT` with the current state (from `GET /user`) follows.
pub const PIECES_EVENT_CONNECTED: i32 = 1;
/// The signed-in user changed (or was fetched after a connect). JSON: the UserProfile document
/// itself, validated, exactly as the server sent it (unknown keys kept).
pub const PIECES_EVENT_USER: i32 = 2;
/// Nobody is signed in (an empty or `null` frame, or `GET /user` without a user).
/// JSON: `null`.
pub const PIECES_EVENT_SIGNED_OUT: i32 = 3;
/// Something failed but the stream goes on: a frame that is not a valid profile (not JSON, or JSON
/// that does not fit; a `GET /user` re-sync follows with `PIECES_EVENT_USER` or
/// `PIECES_EVENT_SIGNED_OUT`), a failed connection attempt, a failed `GET /user`, a frame over
/// `max_frame_bytes`. After an internal error (`"kind":"panic"`, a bug) the stream stops:
/// `PIECES_EVENT_STOPPED` follows, then `release`. JSON:
/// `{"kind":"invalid_response","message":"…","path":"$.id"}` (`kind` as the `category` of
/// `pieces_last_error`; `path` is `null` when it does not apply; `status` is added for HTTP errors).
pub const PIECES_EVENT_ERROR: i32 = 4;
/// The open connection was lost; reconnecting follows. JSON: `{"reason":"…"}`.
pub const PIECES_EVENT_DISCONNECTED: i32 = 5;
/// The next connection attempt starts after a delay. JSON: `{"attempt":2,"delay_ms":400}`
/// (`attempt` counts from 1 since the last healthy connection: one that delivered a frame or stayed
/// up 5 s; a server that accepts and closes at once meets growing delays).
pub const PIECES_EVENT_RECONNECTING: i32 = 6;
/// Pull streams only: events were dropped because the host fell behind. JSON: `{"dropped":5}`.
/// The oldest user/signed-out events go first; the newest state and the stopped event never do.
pub const PIECES_EVENT_OVERFLOW: i32 = 7;
/// The stream has ended: stopped by the host, or gave up after `max_attempts`. Always the last
/// event. JSON: `{"reason":"stop requested"}`.
pub const PIECES_EVENT_STOPPED: i32 = 8;

/// A running user stream, created by `pieces_user_stream_start`, freed by `pieces_stream_free`.
/// Opaque: use it only through pointers.
pub struct PiecesStream {
    inner: UserStream,
}

/// Receives the events of a callback stream, serially, on the stream's own thread.
///
/// `user_data` is what was passed to `pieces_user_stream_start`; `event_kind` is a
/// `PIECES_EVENT_*` constant; `json` is the event's JSON text, never NULL, borrowed for the call
/// only (copy it to keep it; do not free it). The callback may call `pieces_stream_stop` or
/// `pieces_stream_free` on its own stream (they then only signal), and any client call. It must
/// not unwind (no C++ exception, no longjmp) out of the call.
pub type PiecesStreamCallback =
    Option<unsafe extern "C" fn(user_data: *mut c_void, event_kind: i32, json: *const c_char)>;

/// Releases `user_data` once the stream no longer needs it.
pub type PiecesReleaseCallback = Option<unsafe extern "C" fn(user_data: *mut c_void)>;

/// The host's callback and context, moved to the stream thread. Dropping it runs `release`, which
/// happens on the stream thread after its last callback.
struct HostCallback {
    callback: unsafe extern "C" fn(*mut c_void, i32, *const c_char),
    user_data: *mut c_void,
    release: PiecesReleaseCallback,
    /// Cleared when the stream never started: the caller keeps ownership of `user_data`.
    armed: Arc<AtomicBool>,
}

// SAFETY: the C contract (see `pieces_user_stream_start`) is that `user_data` may be used from the
// stream's thread; the library only passes it back, never dereferences it.
unsafe impl Send for HostCallback {}

impl HostCallback {
    /// The trampoline: builds the C string, calls the host. Nothing here may unwind into C.
    fn deliver(&mut self, event: StreamEvent) {
        let kind = event_code(&event);
        let json = catch_unwind(AssertUnwindSafe(|| event_cstring(event)));
        let Ok(json) = json else { return };
        // SAFETY: the host gave a valid function pointer; `json` outlives the call.
        unsafe { (self.callback)(self.user_data, kind, json.as_ptr()) };
    }
}

impl Drop for HostCallback {
    fn drop(&mut self) {
        if let Some(release) = self.release {
            if self.armed.load(Ordering::SeqCst) {
                // SAFETY: the host's release function with the host's own pointer, exactly once.
                unsafe { release(self.user_data) };
            }
        }
    }
}

fn event_code(event: &StreamEvent) -> i32 {
    match event {
        StreamEvent::Connected { .. } => PIECES_EVENT_CONNECTED,
        StreamEvent::User(_) => PIECES_EVENT_USER,
        StreamEvent::SignedOut => PIECES_EVENT_SIGNED_OUT,
        StreamEvent::Error(_) => PIECES_EVENT_ERROR,
        StreamEvent::Disconnected { .. } => PIECES_EVENT_DISCONNECTED,
        StreamEvent::Reconnecting { .. } => PIECES_EVENT_RECONNECTING,
        StreamEvent::Overflow { .. } => PIECES_EVENT_OVERFLOW,
        StreamEvent::Stopped { .. } => PIECES_EVENT_STOPPED,
    }
}

/// JSON text never holds a raw NUL (the validator and serde_json escape it); should one appear,
/// the host gets an error event rather than a silently truncated document.
fn event_cstring(event: StreamEvent) -> CString {
    CString::new(event.into_json()).unwrap_or_else(|_| {
        CString::from(c"{\"kind\":\"invalid_response\",\"message\":\"event text holds a NUL byte\",\"path\":null}")
    })
}

/// Starts a user stream on `client`: a thread that connects to `/user/stream` (the client's base URL
/// with `http` → `ws`, `https` → `wss` trusting `tls_ca_file` or the webpki roots), reconnects with
/// exponential backoff and jitter, detects dead connections with pings, and after every (re)connect fetches `GET /user` so
/// the host always learns the current state.
///
/// `options_json` is NULL for the defaults, or an object with any of (all optional; `null` means the
/// default; unknown keys are rejected by name): `reconnect_min_ms` (100), `reconnect_max_ms`
/// (30000), `max_attempts` (consecutive failed connection attempts, the first one included, before
/// the stream stops; absent = retry forever), `ping_interval_ms` (10000: a ping after this long
/// without a frame), `ping_timeout_ms` (5000: no frame this long after a ping = dead connection),
/// `queue_size` (64, at least 2; pull streams), `max_frame_bytes` (16 MiB; a larger message is a
/// `PIECES_EVENT_ERROR` and a reconnect).
///
/// Two modes, chosen here:
/// - callback (`cb` non-NULL): events go to `cb(user_data, kind, json)` on the stream's thread,
///   one at a time, in order; `PIECES_EVENT_STOPPED` is last. `release(user_data)` (if non-NULL)
///   runs exactly once, on the stream thread, after the last callback. `user_data` must be usable
///   from that thread.
/// - pull (`cb` NULL): events wait in a bounded queue for `pieces_stream_next`. `user_data` is
///   ignored and `release` must be NULL.
///
/// Several streams may run on one client. Shutdown order: stop and free the streams, then free the
/// client. A stream holds its own reference to the client's state, so freeing the client first is
/// safe: the streams keep running until they are freed.
///
/// Ownership: on success `*out` receives a new stream owned by the caller, to be freed with
/// `pieces_stream_free`. On failure `*out` is untouched, no callback runs, and `release` is not
/// called: `user_data` stays the caller's.
///
/// Returns `PIECES_OK`, `PIECES_ERR_NULL_POINTER` (`client`, `out`), `PIECES_ERR_INVALID_UTF8`,
/// `PIECES_ERR_MALFORMED_JSON`, `PIECES_ERR_INVALID_ARGUMENT` (bad option, `release` without
/// `cb`), `PIECES_ERR_CONNECTION` (no thread could be started), or
/// `PIECES_ERR_PANIC`. A server that is down is not an error here: the stream reports it as events
/// and keeps trying.
///
/// # Safety
/// `client` must be NULL or a live client; `options_json` NULL or a NUL-terminated string; `out`
/// NULL or valid for writing one pointer; `cb` and `release`, when non-NULL, valid functions until
/// `release` has run.
#[no_mangle]
pub unsafe extern "C" fn pieces_user_stream_start(
    client: *const PiecesClient,
    options_json: *const c_char,
    cb: PiecesStreamCallback,
    user_data: *mut c_void,
    release: PiecesReleaseCallback,
    out: *mut *mut PiecesStream,
) -> i32 {
    ffi_call(|| {
        // The stream shares the handle's client (discovery findings included) and keeps it alive.
        // SAFETY: `client` is NULL or a live handle (`# Safety` above); NULL is checked.
        let client = Arc::clone(&unsafe { handle_arg(client) }?.inner);
        // SAFETY: `out` is NULL or writable (`# Safety` above); `out_arg` checks NULL.
        let out = unsafe { out_arg(out, "out") }?;
        let options = if options_json.is_null() {
            StreamOptions::default()
        } else {
            // SAFETY: `options_json` is NULL or a C string (`# Safety` above); NULL is checked.
            StreamOptions::from_json(unsafe { str_arg(options_json, "options_json") }?)?
        };
        let inner = match cb {
            Some(callback) => start_callback(client, options, callback, user_data, release)?,
            // A release that could never run would leak the host's context silently.
            None if release.is_some() => {
                return Err(FfiError::new(
                    PIECES_ERR_INVALID_ARGUMENT,
                    "a pull stream (cb NULL) takes no release",
                ));
            }
            None => stream::start_pull(client, options)?,
        };
        out.write(Box::into_raw(Box::new(PiecesStream { inner })));
        Ok(())
    })
}

fn start_callback(
    client: Arc<crate::Client>,
    options: StreamOptions,
    callback: unsafe extern "C" fn(*mut c_void, i32, *const c_char),
    user_data: *mut c_void,
    release: PiecesReleaseCallback,
) -> Result<UserStream, FfiError> {
    let armed = Arc::new(AtomicBool::new(true));
    let mut host = HostCallback {
        callback,
        user_data,
        release,
        armed: Arc::clone(&armed),
    };
    let sink = Box::new(move |event| host.deliver(event));
    stream::start(client, options, sink, None).map_err(|(error, sink)| {
        // Never started: the host keeps `user_data`, so dropping the handler must not release it.
        armed.store(false, Ordering::SeqCst);
        drop(sink);
        FfiError::from(error)
    })
}

/// Stops a stream: wakes its thread wherever it waits and blocks until the thread has ended, so no
/// callback runs after this returns (the callback receives `PIECES_EVENT_STOPPED` before). The wait
/// is bounded by the client's connect timeout (a TCP connect in progress) and, if a `GET /user` is
/// in flight, its timeout; a backoff delay or an idle connection end at once.
///
/// Called from inside the stream's own callback it only signals (no deadlock): the callback
/// returns, `PIECES_EVENT_STOPPED` follows, then `release`. Idempotent; a pull stream's remaining
/// events (ending with `PIECES_EVENT_STOPPED`) can still be taken with `pieces_stream_next`.
///
/// Thread safety: may be called from any thread, also concurrently with `pieces_stream_next`.
///
/// Returns `PIECES_OK`, `PIECES_ERR_NULL_POINTER`, or `PIECES_ERR_PANIC`.
///
/// # Safety
/// `stream` must be NULL or a live stream (not yet freed).
#[no_mangle]
pub unsafe extern "C" fn pieces_stream_stop(stream: *const PiecesStream) -> i32 {
    ffi_call(|| {
        // SAFETY: `stream` is NULL or a live stream (`# Safety` above); NULL is checked.
        unsafe { stream_arg(stream) }?.stop();
        Ok(())
    })
}

/// Stops the stream if needed (as `pieces_stream_stop`) and frees it. NULL is ignored. From inside
/// the stream's own callback it signals the stop and frees the handle; the thread then ends on its
/// own after the callback returns (`PIECES_EVENT_STOPPED`, then `release`).
///
/// Thread safety: must not race with any other call on the same stream.
///
/// In a child process after `fork()` (a stream started by the parent) it releases nothing and calls
/// nothing: the stream's thread exists only in the parent, so no callback and no `release` run, and
/// its socket, shared with the parent, is neither shut down nor closed.
///
/// # Safety
/// `stream` must be NULL or a stream from `pieces_user_stream_start` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn pieces_stream_free(stream: *mut PiecesStream) {
    ffi_value((), || {
        if !stream.is_null() {
            // SAFETY: the caller promises an unfreed stream (Box::into_raw) and no concurrent use.
            let stream = unsafe { Box::from_raw(stream) };
            if stream.inner.check_process().is_err() {
                std::mem::forget(stream);
            }
        }
    })
}

/// Pull streams: takes the next event, waiting at most `timeout_ms` (0 = do not wait; negative is
/// `PIECES_ERR_INVALID_ARGUMENT`). After events were dropped, `PIECES_EVENT_OVERFLOW` comes first.
///
/// On `PIECES_OK`, `*event_kind` receives a `PIECES_EVENT_*` constant and `*json` the event's JSON
/// (a new string: free it with `pieces_string_free`). `PIECES_ERR_STREAM_TIMEOUT`: nothing arrived in
/// time. `PIECES_ERR_STREAM_ENDED`: `PIECES_EVENT_STOPPED` has been taken; nothing more will come.
/// On any status but `PIECES_OK` the outputs are untouched.
///
/// Thread safety: may be called from any thread; concurrent callers each get different events.
///
/// Returns also `PIECES_ERR_NULL_POINTER`, `PIECES_ERR_INVALID_ARGUMENT` (a callback stream, or a
/// negative timeout), `PIECES_ERR_PANIC`.
///
/// # Safety
/// `stream` must be NULL or a live stream; `event_kind` and `json` NULL or valid for one write.
#[no_mangle]
pub unsafe extern "C" fn pieces_stream_next(
    stream: *const PiecesStream,
    timeout_ms: i32,
    event_kind: *mut i32,
    json: *mut *mut c_char,
) -> i32 {
    ffi_call(|| {
        // SAFETY: `stream` is NULL or a live stream (`# Safety` above); NULL is checked.
        let stream = unsafe { stream_arg(stream) }?;
        // SAFETY: `event_kind` is NULL or writable (`# Safety` above); `out_arg` checks NULL.
        let kind_out = unsafe { out_arg(event_kind, "event_kind") }?;
        // SAFETY: `json` is NULL or writable (`# Safety` above); `out_arg` checks NULL.
        let json_out = unsafe { out_arg(json, "json") }?;
        let timeout = u64::try_from(timeout_ms).map_err(|_| {
            FfiError::new(
                PIECES_ERR_INVALID_ARGUMENT,
                "timeout_ms must not be negative",
            )
        })?;
        match stream.next(Duration::from_millis(timeout))? {
            Next::Event(event) => {
                let kind = event_code(&event);
                let text = give_string(event.into_json())?;
                kind_out.write(kind);
                json_out.write(text);
                Ok(())
            }
            Next::Timeout => Err(FfiError::new(
                PIECES_ERR_STREAM_TIMEOUT,
                format!("no stream event within {timeout} ms"),
            )),
            Next::Ended => Err(FfiError::new(
                PIECES_ERR_STREAM_ENDED,
                "the stream has ended",
            )),
        }
    })
}

/// # Safety
/// `ptr` must be NULL or a live client handle, not freed during `'a`.
unsafe fn handle_arg<'a>(ptr: *const PiecesClient) -> Result<&'a PiecesClient, FfiError> {
    // SAFETY: the caller promises a live handle or NULL.
    let handle = unsafe { ptr.as_ref() }
        .ok_or_else(|| FfiError::new(PIECES_ERR_NULL_POINTER, "client is NULL"))?;
    handle.inner.check_process()?;
    Ok(handle)
}

/// # Safety
/// `ptr` must be NULL or a live stream, not freed during `'a`.
unsafe fn stream_arg<'a>(ptr: *const PiecesStream) -> Result<&'a UserStream, FfiError> {
    // SAFETY: the caller promises a live handle or NULL.
    match unsafe { ptr.as_ref() } {
        Some(handle) => {
            handle.inner.check_process()?;
            Ok(&handle.inner)
        }
        None => Err(FfiError::new(PIECES_ERR_NULL_POINTER, "stream is NULL")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;
    use std::ptr;
    use std::sync::mpsc::{channel, Sender};

    #[test]
    fn event_codes_are_the_documented_integers() {
        let events = [
            StreamEvent::Connected { url: String::new() },
            StreamEvent::User(String::new()),
            StreamEvent::SignedOut,
            StreamEvent::Error(crate::Error::new(crate::ErrorKind::Connection, "x")),
            StreamEvent::Disconnected {
                reason: String::new(),
            },
            StreamEvent::Reconnecting {
                attempt: 1,
                delay: Duration::ZERO,
            },
            StreamEvent::Overflow { dropped: 1 },
            StreamEvent::Stopped {
                reason: String::new(),
            },
        ];
        let codes: Vec<i32> = events.iter().map(event_code).collect();
        assert_eq!(codes, [1, 2, 3, 4, 5, 6, 7, 8]);
    }

    unsafe extern "C" fn forward(user_data: *mut c_void, kind: i32, json: *const c_char) {
        // SAFETY: `user_data` is this test's boxed sender, freed by `release` only.
        let tx = unsafe { &*(user_data as *const Sender<(i32, String)>) };
        // SAFETY: `json` is a NUL-terminated string from the library, not yet freed.
        let json = unsafe { CStr::from_ptr(json) }.to_str().unwrap().to_owned();
        let _ = tx.send((kind, json));
    }

    unsafe extern "C" fn release_sender(user_data: *mut c_void) {
        // SAFETY: `release` runs once, after the last callback: the sender is unused now.
        drop(unsafe { Box::from_raw(user_data as *mut Sender<(i32, String)>) });
    }

    fn refused_client() -> *mut PiecesClient {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let config = CString::new(format!(r#"{{"base_url":"http://127.0.0.1:{port}"}}"#)).unwrap();
        let mut client = ptr::null_mut();
        // SAFETY: pointers made in this test, or NULL on purpose.
        let rc = unsafe { super::super::client::pieces_client_new(config.as_ptr(), &mut client) };
        assert_eq!(rc, super::super::status::PIECES_OK);
        client
    }

    #[test]
    fn release_runs_once_after_stopped_and_never_on_a_failed_start() {
        let client = refused_client();
        let (tx, rx) = channel::<(i32, String)>();
        let user_data = Box::into_raw(Box::new(tx)) as *mut c_void;
        let mut stream = ptr::null_mut();
        let bad = c"{\"queue_size\":1}";
        // SAFETY: pointers made in this test, or NULL on purpose.
        let rc = unsafe {
            pieces_user_stream_start(
                client,
                bad.as_ptr(),
                Some(forward),
                user_data,
                Some(release_sender),
                &mut stream,
            )
        };
        assert_eq!(rc, PIECES_ERR_INVALID_ARGUMENT);
        assert!(stream.is_null());
        // Still ours: the failed start did not release it.
        // SAFETY: pointers made in this test, or NULL on purpose.
        let rc = unsafe {
            pieces_user_stream_start(
                client,
                ptr::null(),
                Some(forward),
                user_data,
                Some(release_sender),
                &mut stream,
            )
        };
        assert_eq!(rc, super::super::status::PIECES_OK);
        let (kind, _) = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(kind, PIECES_EVENT_ERROR);
        // SAFETY: `stream` came from the library in this test and is freed once, here.
        unsafe { pieces_stream_free(stream) };
        let mut kinds: Vec<i32> = Vec::new();
        while let Ok((kind, _)) = rx.recv_timeout(Duration::from_secs(10)) {
            kinds.push(kind);
        }
        // recv failed because the sender was released, and only after stopped.
        assert_eq!(kinds.last(), Some(&PIECES_EVENT_STOPPED), "{kinds:?}");
        // SAFETY: `client` came from the library in this test and is freed once, here.
        unsafe { super::super::client::pieces_client_free(client) };
    }

    #[test]
    fn pull_streams_reject_a_release_and_callback_streams_reject_next() {
        let client = refused_client();
        let mut stream = ptr::null_mut();
        // SAFETY: pointers made in this test, or NULL on purpose.
        let rc = unsafe {
            pieces_user_stream_start(
                client,
                ptr::null(),
                None,
                ptr::null_mut(),
                Some(release_sender),
                &mut stream,
            )
        };
        assert_eq!(rc, PIECES_ERR_INVALID_ARGUMENT);
        // SAFETY: pointers made in this test, or NULL on purpose.
        let rc = unsafe {
            pieces_user_stream_start(
                client,
                ptr::null(),
                None,
                ptr::null_mut(),
                None,
                &mut stream,
            )
        };
        assert_eq!(rc, super::super::status::PIECES_OK);
        let (mut kind, mut json) = (0, ptr::null_mut());
        assert_eq!(
            // SAFETY: pointers made in this test, or NULL on purpose.
            unsafe { pieces_stream_next(stream, -1, &mut kind, &mut json) },
            PIECES_ERR_INVALID_ARGUMENT
        );
        assert_eq!(
            // SAFETY: pointers made in this test, or NULL on purpose.
            unsafe { pieces_stream_stop(stream) },
            super::super::status::PIECES_OK
        );
        let mut last = 0;
        loop {
            // SAFETY: pointers made in this test, or NULL on purpose.
            match unsafe { pieces_stream_next(stream, 1000, &mut kind, &mut json) } {
                0 => {
                    last = kind;
                    // SAFETY: `json` came from the library in this test and is freed once, here.
                    unsafe { super::super::string::pieces_string_free(json) };
                }
                rc => {
                    assert_eq!(rc, PIECES_ERR_STREAM_ENDED);
                    break;
                }
            }
        }
        assert_eq!(last, PIECES_EVENT_STOPPED);
        // SAFETY: `stream` came from the library in this test and is freed once, here.
        unsafe { pieces_stream_free(stream) };
        assert_eq!(
            // SAFETY: pointers made in this test, or NULL on purpose.
            unsafe { pieces_stream_stop(ptr::null()) },
            PIECES_ERR_NULL_POINTER
        );
        // SAFETY: `client` came from the library in this test and is freed once, here.
        unsafe { super::super::client::pieces_client_free(client) };
    }
}
