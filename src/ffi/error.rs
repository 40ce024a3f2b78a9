//! `pieces_last_error`: the detail behind the last failing call on the calling thread.

use std::ffi::c_char;

use serde::Serialize;

use super::status::{lookup, PIECES_ERR_INVALID_RESPONSE, PIECES_OK};
use super::{ffi_call, give_string, out_arg, with_last_error, FfiError};

/// The JSON object handed to C; field order is the documented order.
#[derive(Serialize)]
struct Detail<'a> {
    code: i32,
    name: &'a str,
    category: &'a str,
    status: Option<u16>,
    message: &'a str,
    body: Option<&'a str>,
    path: Option<&'a str>,
}

fn detail_json(last: Option<&FfiError>) -> Result<String, FfiError> {
    let code = last.map_or(PIECES_OK, |e| e.code);
    let row = lookup(code);
    let detail = Detail {
        code,
        name: row.map_or("UNKNOWN", |r| r.name),
        category: row.map_or("unknown", |r| r.category),
        status: last.and_then(|e| e.status),
        message: last.map_or("no error", |e| &e.message),
        body: last.and_then(|e| e.body.as_deref()),
        path: last.and_then(|e| e.path.as_deref()),
    };
    serde_json::to_string(&detail).map_err(|e| {
        FfiError::new(
            PIECES_ERR_INVALID_RESPONSE,
            format!("could not encode the last error: {e}"),
        )
    })
}

/// Describes the last failure on the calling thread as a JSON object:
///
/// ```json
/// {"code":11,"name":"PIECES_ERR_CONFLICT","category":"conflict","status":409,
///  "message":"HTTP 409: vanity name \"taken\" is already taken","body":"vanity name \"taken\" is already taken","path":null}
/// ```
///
/// `code` is the status code the failing call returned, `name` its constant's name, `category` a
/// stable snake_case word; `status` is the HTTP status when the server answered, `body` the server's
/// text, `path` the JSON path of the offending value for `PIECES_ERR_INVALID_DOCUMENT` (e.g.
/// `"$.aesthetics.font.size"`); each is `null` when it does not apply. If nothing has failed on this
/// thread yet: `{"code":0,"name":"PIECES_OK","category":"ok","status":null,"message":"no error",...}`.
///
/// errno style: every failing call (including argument checks) replaces the record; successful calls
/// leave it alone, and so does reading it. Read it right after the call that failed.
///
/// Ownership: on success `*out_json` receives a new string owned by the caller; free it with
/// `pieces_string_free`. On failure `*out_json` is left untouched.
///
/// Thread safety: may be called from any thread; each thread sees only its own failures.
///
/// Returns `PIECES_OK`, `PIECES_ERR_NULL_POINTER` (`out_json` is NULL), or `PIECES_ERR_PANIC`.
///
/// # Safety
/// `out_json` must be NULL or valid for writing one `char *`.
#[no_mangle]
pub unsafe extern "C" fn pieces_last_error(out_json: *mut *mut c_char) -> i32 {
    ffi_call(|| {
        // SAFETY: `out_json` is NULL or writable (`# Safety` above); `out_arg` checks NULL.
        let out = unsafe { out_arg(out_json, "out_json") }?;
        let json = with_last_error(detail_json)?;
        out.write(give_string(json)?);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::super::status::PIECES_ERR_CONFLICT;
    use super::*;

    #[test]
    fn no_error_yet() {
        assert_eq!(
            detail_json(None).unwrap(),
            r#"{"code":0,"name":"PIECES_OK","category":"ok","status":null,"message":"no error","body":null,"path":null}"#
        );
    }

    #[test]
    fn an_http_error_keeps_its_status_and_body() {
        let e = FfiError::from(crate::Error::http(409, "name \"x\" taken".into()));
        assert_eq!(e.code, PIECES_ERR_CONFLICT);
        assert_eq!(
            detail_json(Some(&e)).unwrap(),
            r#"{"code":11,"name":"PIECES_ERR_CONFLICT","category":"conflict","status":409,"message":"HTTP 409: name \"x\" taken","body":"name \"x\" taken","path":null}"#
        );
    }
}
