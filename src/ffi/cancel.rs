//! `PiecesCancel`: a one-shot token that cancels the calls of the threads it is bound to.
//!
//! The binding is per thread (C has no other way to attach a token to a call without a second set
//! of route functions); the core knows nothing of it: a bound call runs on
//! [`Client::with_cancel`].

use std::cell::RefCell;

use super::status::PIECES_ERR_NULL_POINTER;
use super::{ffi_call, out_arg, FfiError};
use crate::{CancelToken, Client};

/// A one-shot cancellation token, created by `pieces_cancel_new` and freed by `pieces_cancel_free`.
///
/// Opaque: use it only through pointers.
pub struct PiecesCancel {
    token: CancelToken,
}

thread_local! {
    /// The token bound on this thread (`pieces_cancel_bind`); its own reference to the token.
    static BOUND: RefCell<Option<CancelToken>> = const { RefCell::new(None) };
}

/// Runs `call` on `client`, or on a handle that observes the token bound on this thread.
pub(crate) fn with_bound_cancel<T>(
    client: &Client,
    call: impl FnOnce(&Client) -> Result<T, FfiError>,
) -> Result<T, FfiError> {
    let bound = BOUND
        .try_with(|b| b.try_borrow().ok().and_then(|b| b.clone()))
        .ok()
        .flatten();
    match bound {
        None => call(client),
        Some(token) => call(&client.with_cancel(&token)),
    }
}

/// # Safety
/// `ptr` must be NULL or a live token from `pieces_cancel_new`.
unsafe fn cancel_arg<'a>(ptr: *const PiecesCancel) -> Result<&'a CancelToken, FfiError> {
    // SAFETY: the caller promises a live token or NULL; `as_ref` handles NULL.
    match unsafe { ptr.as_ref() } {
        Some(cancel) => Ok(&cancel.token),
        None => Err(FfiError::new(PIECES_ERR_NULL_POINTER, "cancel is NULL")),
    }
}

/// Creates a cancellation token, not yet triggered.
///
/// A token cancels the `pieces_user_*` calls made on the threads it is bound to
/// (`pieces_cancel_bind`), on any client. It is one-shot: once triggered it stays triggered; use a
/// new token for the next call. To interrupt every call on a client instead, see
/// `pieces_client_interrupt`.
///
/// Ownership: on success `*out_cancel` receives a new token owned by the caller, to be freed with
/// `pieces_cancel_free`; on failure `*out_cancel` is left untouched.
///
/// Thread safety: may be called from any thread.
///
/// Returns `PIECES_OK`, `PIECES_ERR_NULL_POINTER` (`out_cancel`), or `PIECES_ERR_PANIC`.
///
/// # Safety
/// `out_cancel` must be NULL or valid for writing one pointer.
#[no_mangle]
pub unsafe extern "C" fn pieces_cancel_new(out_cancel: *mut *mut PiecesCancel) -> i32 {
    ffi_call(|| {
        // SAFETY: `out_cancel` is NULL or writable (`# Safety` above); `out_arg` checks NULL.
        let out = unsafe { out_arg(out_cancel, "out_cancel") }?;
        out.write(Box::into_raw(Box::new(PiecesCancel {
            token: CancelToken::new(),
        })));
        Ok(())
    })
}

/// Triggers the token: a call already running under it returns `PIECES_ERR_INTERRUPTED` promptly
/// (as for `pieces_client_interrupt`), and every later call made under it fails at once with
/// `PIECES_ERR_INTERRUPTED`, sending nothing. Calls under other tokens, or none, are not affected.
///
/// Idempotent. Thread safety: may be called from any thread, typically not the one blocked in the
/// call; also from a stream callback. It must not race with `pieces_cancel_free` of the same token.
///
/// Returns `PIECES_OK`, `PIECES_ERR_NULL_POINTER` (`cancel`), or `PIECES_ERR_PANIC`.
///
/// # Safety
/// `cancel` must be NULL or a live token from `pieces_cancel_new`.
#[no_mangle]
pub unsafe extern "C" fn pieces_cancel_trigger(cancel: *const PiecesCancel) -> i32 {
    ffi_call(|| {
        // SAFETY: `cancel` is NULL or a live token (`# Safety` above); NULL is checked.
        unsafe { cancel_arg(cancel) }?.cancel();
        Ok(())
    })
}

/// Binds `cancel` to the calling thread: every `pieces_user_*` call this thread makes from now on,
/// on any client, runs under it, until `pieces_cancel_bind(NULL)` unbinds it or another token is
/// bound in its place. Binding takes its own reference to the token. Only the `pieces_user_*`
/// routes observe it (not `pieces_client_new`, `pieces_discover` or the stream functions).
///
/// A typical use: a worker thread binds a fresh token, makes one call, unbinds, and frees the token;
/// another thread triggers the token to cancel that call.
///
/// Ownership: the binding keeps the token alive, so freeing it while bound is safe; the binding
/// still observes it until unbound. The binding ends when the thread exits.
///
/// Thread safety: affects the calling thread only. Binding a triggered token makes the thread's
/// next calls fail at once with `PIECES_ERR_INTERRUPTED`.
///
/// Returns `PIECES_OK` or `PIECES_ERR_PANIC`. NULL is not an error: it unbinds.
///
/// # Safety
/// `cancel` must be NULL or a live token from `pieces_cancel_new`.
#[no_mangle]
pub unsafe extern "C" fn pieces_cancel_bind(cancel: *const PiecesCancel) -> i32 {
    ffi_call(|| {
        let token = if cancel.is_null() {
            None
        } else {
            // SAFETY: `cancel` is NULL or a live token (`# Safety` above); NULL is checked.
            Some(unsafe { cancel_arg(cancel) }?.clone())
        };
        BOUND
            .try_with(|b| {
                if let Ok(mut b) = b.try_borrow_mut() {
                    *b = token;
                }
            })
            .map_err(|_| {
                FfiError::new(
                    super::status::PIECES_ERR_PANIC,
                    "the thread is exiting: nothing can be bound",
                )
            })
    })
}

/// Frees a token. NULL is accepted and ignored.
///
/// Shutdown order: free it once no other thread may trigger it. A thread it is bound to keeps its
/// own reference, so freeing it while bound (even while a bound call runs) is safe.
///
/// # Safety
/// `cancel` must be NULL or a token from `pieces_cancel_new` that has not been freed yet.
#[no_mangle]
pub unsafe extern "C" fn pieces_cancel_free(cancel: *mut PiecesCancel) {
    super::ffi_value((), || {
        if !cancel.is_null() {
            // SAFETY: the caller promises an unfreed token from `pieces_cancel_new` (Box::into_raw).
            drop(unsafe { Box::from_raw(cancel) });
        }
    })
}

#[cfg(test)]
mod tests {
    use super::super::status::{PIECES_ERR_INTERRUPTED, PIECES_OK};
    use super::*;
    use std::ptr;

    #[test]
    fn a_bound_triggered_token_fails_calls_at_once_and_unbinding_ends_it() {
        let client = Client::new(crate::Config::new("http://127.0.0.1:1")).unwrap();
        let mut cancel = ptr::null_mut();
        // SAFETY: pointers made in this test, or NULL on purpose.
        assert_eq!(unsafe { pieces_cancel_new(&mut cancel) }, PIECES_OK);
        // SAFETY: pointers made in this test, or NULL on purpose.
        assert_eq!(unsafe { pieces_cancel_bind(cancel) }, PIECES_OK);
        // SAFETY: pointers made in this test, or NULL on purpose.
        assert_eq!(unsafe { pieces_cancel_trigger(cancel) }, PIECES_OK);
        // SAFETY: `cancel` came from the library in this test and is freed once, here.
        unsafe { pieces_cancel_free(cancel) };
        let code = |c: &Client| with_bound_cancel(c, |c| Ok(c.snapshot_json()?)).unwrap_err();
        assert_eq!(code(&client).code, PIECES_ERR_INTERRUPTED);
        // SAFETY: pointers made in this test, or NULL on purpose.
        assert_eq!(unsafe { pieces_cancel_bind(ptr::null()) }, PIECES_OK);
        // Port 1 refuses: the call was made this time.
        assert_ne!(code(&client).code, PIECES_ERR_INTERRUPTED);
    }
}
