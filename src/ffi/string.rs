//! Strings handed to C, and the one function that frees them.

use std::ffi::{c_char, CString};

use super::status::PIECES_ERR_INVALID_RESPONSE;
use super::{ffi_value, FfiError};

/// Hands a string to C. The caller owns it and frees it with `pieces_string_free`.
///
/// Everything returned is JSON text or a URL, neither of which can hold a raw NUL; a NUL would mean
/// the server sent something invalid, so it is reported rather than silently cut short. The check
/// is libc's `strlen` over the terminated buffer: vectorised, where `CString::new`'s byte search is
/// not (a tenth of the instructions on a 30 KB document).
pub(crate) fn give_string(s: String) -> Result<*mut c_char, FfiError> {
    let mut bytes = s.into_bytes();
    bytes.push(0);
    // SAFETY: `bytes` ends with a NUL, so strlen stops inside it.
    let first_nul = unsafe { libc::strlen(bytes.as_ptr().cast()) };
    if first_nul != bytes.len() - 1 {
        return Err(FfiError::new(
            PIECES_ERR_INVALID_RESPONSE,
            format!(
                "the result holds a NUL byte at offset {first_nul} and cannot be returned as a C string"
            ),
        ));
    }
    // SAFETY: just checked: the only NUL is the last byte.
    Ok(unsafe { CString::from_vec_with_nul_unchecked(bytes) }.into_raw())
}

/// Hands C the text of a route's answer: a document the validator accepted, or "" for a route
/// that answers none. `give_string`'s search for a NUL is left out: the JSON grammar allows none
/// outside strings and the validator rejects raw control characters inside them (the test
/// `no_accepted_document_holds_a_nul` holds it to this), and on a 30 KB answer the search is a
/// pass over every byte.
pub(crate) fn give_document(text: String) -> *mut c_char {
    debug_assert!(
        !text.as_bytes().contains(&0),
        "a validated document holds a NUL"
    );
    let mut bytes = text.into_bytes();
    bytes.push(0);
    // SAFETY: the text has no NUL (above), so the one pushed is the only one, and the last.
    unsafe { CString::from_vec_with_nul_unchecked(bytes) }.into_raw()
}

/// Frees a string this library returned through a `char **` output (`out_json`, `out_url`).
///
/// NULL is accepted and ignored. Passing anything else - a string from another allocator, a static
/// string from `pieces_version` or `pieces_status_str`, or a string already freed - is undefined
/// behaviour. Strings are independent of the client: free them before or after `pieces_client_free`.
///
/// Thread safety: may be called from any thread, but each string only once.
///
/// # Safety
/// `s` must be NULL or a string returned by this library and not yet freed. Its bytes must not have
/// been changed (the library needs its original length to free it).
#[no_mangle]
pub unsafe extern "C" fn pieces_string_free(s: *mut c_char) {
    ffi_value((), || {
        if !s.is_null() {
            // SAFETY: the caller promises `s` came from `give_string` (CString::into_raw) and is
            // freed only once.
            drop(unsafe { CString::from_raw(s) });
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;
    use std::ptr;

    #[test]
    fn give_string_with_an_interior_nul_is_an_error() {
        let e = give_string("ab\0cd".to_owned()).unwrap_err();
        assert_eq!(e.code, PIECES_ERR_INVALID_RESPONSE);
        assert!(e.message.contains("offset 2"), "{}", e.message);

        let first = give_string("\0ab".to_owned()).unwrap_err();
        assert!(first.message.contains("offset 0"), "{}", first.message);
        let last = give_string("ab\0".to_owned()).unwrap_err();
        assert!(last.message.contains("offset 2"), "{}", last.message);

        for text in ["fine", ""] {
            let s = give_string(text.to_owned()).unwrap();
            // SAFETY: `s` is a NUL-terminated string from the library, not yet freed.
            assert_eq!(unsafe { CStr::from_ptr(s) }.to_str().unwrap(), text);
            // SAFETY: `s` came from the library in this test and is freed once, here.
            unsafe { pieces_string_free(s) };
        }
        // SAFETY: freeing NULL is documented as a no-op.
        unsafe { pieces_string_free(ptr::null_mut()) };
    }

    #[test]
    fn give_document_hands_over_the_text_whole() {
        for text in [r#"{"user":null}"#, ""] {
            let s = give_document(text.to_owned());
            // SAFETY: `s` is a NUL-terminated string from the library, not yet freed.
            assert_eq!(unsafe { CStr::from_ptr(s) }.to_bytes(), text.as_bytes());
            // SAFETY: `s` came from the library in this test and is freed once, here.
            unsafe { pieces_string_free(s) };
        }
    }
}
