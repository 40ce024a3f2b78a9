//! Strings handed to C, and the one function that frees them.
//!
//! Every string this library returns sits behind a header that holds its allocation's capacity:
//! `pieces_string_free` frees it from that, without reading the text. With `CString` it had to
//! find the end of the text first (a pass over a 30 KB answer), and a caller who cut a string
//! short by writing a NUL into it gave the allocator a wrong size.
//!
//! ```text
//!   [capacity: usize, padding to HEADER bytes][text][NUL][spare]
//!                                             ^ the pointer C gets
//! ```
//!
//! A route's answer is read into such a buffer directly (`text_buffer`, then the core appends to
//! it), so the answer is never copied to make room for the header.

use std::ffi::c_char;
use std::mem::{size_of, ManuallyDrop};

use super::status::PIECES_ERR_INVALID_RESPONSE;
use super::{ffi_value, FfiError};

/// The header's size: the capacity, padded so that the text keeps the allocator's 16-byte alignment.
const HEADER: usize = 16;

const _: () = assert!(size_of::<usize>() <= HEADER);

/// An empty string buffer: the header's room and nothing else yet. Append the text, then hand it
/// over with `give_text`.
pub(crate) fn text_buffer() -> Vec<u8> {
    vec![0; HEADER]
}

/// Hands C the text of a route's answer, appended to a `text_buffer`: a document the validator
/// accepted, or nothing for a route that answers none. No search for a NUL (`give_string`'s):
/// the JSON grammar allows none outside strings and the validator rejects raw control characters
/// inside them (the test `no_accepted_document_holds_a_nul` holds it to this), and on a 30 KB
/// answer the search is a pass over every byte.
pub(crate) fn give_text(mut buf: Vec<u8>) -> *mut c_char {
    debug_assert!(buf.len() >= HEADER, "not a text_buffer");
    debug_assert!(
        !buf[HEADER.min(buf.len())..].contains(&0),
        "a validated document holds a NUL"
    );
    buf.push(0);
    let capacity = buf.capacity();
    buf[..size_of::<usize>()].copy_from_slice(&capacity.to_ne_bytes());
    let base = ManuallyDrop::new(buf).as_mut_ptr();
    // SAFETY: the buffer holds at least HEADER bytes, the header and the NUL pushed above.
    unsafe { base.add(HEADER) }.cast()
}

/// Hands a string to C. The caller owns it and frees it with `pieces_string_free`.
///
/// Everything returned is JSON text or a URL, neither of which can hold a raw NUL; a NUL would mean
/// the server sent something invalid, so it is reported rather than silently cut short.
pub(crate) fn give_string(s: String) -> Result<*mut c_char, FfiError> {
    if let Some(first_nul) = memchr_nul(s.as_bytes()) {
        return Err(FfiError::new(
            PIECES_ERR_INVALID_RESPONSE,
            format!(
                "the result holds a NUL byte at offset {first_nul} and cannot be returned as a C string"
            ),
        ));
    }
    let mut buf = Vec::with_capacity(HEADER + s.len() + 1);
    buf.extend_from_slice(&[0; HEADER]);
    buf.extend_from_slice(s.as_bytes());
    Ok(give_text(buf))
}

/// The offset of the first NUL in `bytes`. libc's `memchr` is vectorised, where a byte loop is not
/// (stream events can be as long as a profile).
fn memchr_nul(bytes: &[u8]) -> Option<usize> {
    // SAFETY: memchr reads at most `bytes.len()` bytes from the start of the slice.
    let found = unsafe { libc::memchr(bytes.as_ptr().cast(), 0, bytes.len()) };
    (!found.is_null()).then(|| found as usize - bytes.as_ptr() as usize)
}

/// Frees a string this library returned through a `char **` output (`out_json`, `out_url`).
///
/// NULL is accepted and ignored. Passing anything else - a string from another allocator, a static
/// string from `pieces_version` or `pieces_status_str`, or a string already freed - is undefined
/// behaviour. Strings are independent of the client: free them before or after `pieces_client_free`.
/// The string's bytes may have been changed (cut short with a NUL, say): the library does not read
/// them to free it.
///
/// Thread safety: may be called from any thread, but each string only once.
///
/// # Safety
/// `s` must be NULL or a string returned by this library and not yet freed.
#[no_mangle]
pub unsafe extern "C" fn pieces_string_free(s: *mut c_char) {
    ffi_value((), || {
        if s.is_null() {
            return;
        }
        // SAFETY: the caller promises `s` came from `give_text`, so HEADER bytes before it start a
        // Vec<u8> allocation whose first bytes hold its capacity; it is freed only once.
        unsafe {
            let base = s.cast::<u8>().sub(HEADER);
            let capacity = base.cast::<usize>().read_unaligned();
            drop(Vec::from_raw_parts(base, 0, capacity));
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
    fn give_text_hands_over_the_text_whole() {
        for text in [r#"{"user":null}"#, ""] {
            let mut buf = text_buffer();
            buf.extend_from_slice(text.as_bytes());
            let s = give_text(buf);
            // SAFETY: `s` is a NUL-terminated string from the library, not yet freed.
            assert_eq!(unsafe { CStr::from_ptr(s) }.to_bytes(), text.as_bytes());
            // SAFETY: `s` came from the library in this test and is freed once, here.
            unsafe { pieces_string_free(s) };
        }
    }

    /// The header holds the allocation's capacity, spare bytes included, and that is what is
    /// freed, whatever the text says by then. (With `CString::from_raw` the size came from the
    /// text: a wrong size for the allocator, which only Miri sees; the system allocator ignores it.)
    #[test]
    fn a_string_changed_by_its_caller_is_freed_whole() {
        let mut buf = Vec::with_capacity(HEADER + 100);
        buf.extend_from_slice(&text_buffer());
        buf.extend_from_slice(b"abcdef");
        let capacity = buf.capacity();
        let s = give_text(buf);
        // SAFETY: the header is the HEADER bytes before the text, inside the same allocation.
        let recorded = unsafe { s.cast::<u8>().sub(HEADER).cast::<usize>().read_unaligned() };
        assert_eq!(recorded, capacity);
        // SAFETY: the string has 7 bytes (text and NUL); the caller may write in them.
        unsafe {
            *s.add(2) = 0;
            *s = b'x' as c_char;
        }
        // SAFETY: `s` is still where the library put it: the free must not depend on its text.
        assert_eq!(unsafe { CStr::from_ptr(s) }.to_bytes(), b"xb");
        // SAFETY: `s` came from the library in this test and is freed once, here.
        unsafe { pieces_string_free(s) };

        let s = give_string("hello".to_owned()).unwrap();
        // SAFETY: as above.
        unsafe {
            *s = 0;
            pieces_string_free(s);
        }
    }
}
