//! Finding Pieces OS without a client.

use std::ffi::c_char;

use super::{ffi_call, give_string, out_arg, str_arg};
use crate::discovery::{discover, DiscoveryOptions};

/// Finds a running Pieces OS on this machine and writes its base URL (e.g. `"http://127.0.0.1:39300"`)
/// to `*out_base_url`.
///
/// The search, in order: the `PIECES_BASE_URL` environment variable; the port file
/// (`com.pieces.os/production/Config/.port.txt` under `~/Library` on macOS, `~/Documents` elsewhere);
/// a parallel `/.well-known/health` probe of ports 39300–39333 on 127.0.0.1 where the lowest healthy
/// port wins; the legacy ports 1000 and 5323. Only loopback addresses are ever probed.
///
/// `options_json` is NULL for the defaults, or a JSON object with any of: `ports` (`[first, last]`),
/// `port_file` (a path; `""` skips the file), `legacy_ports` (array), `probe_timeout_ms` (default 100),
/// `host` (a loopback address). Unknown keys are rejected by name. The same object may be given as
/// `discovery` in the `pieces_client_new` config, which then discovers instead of using a fixed URL.
///
/// Ownership: `options_json` is only read during the call. On success `*out_base_url` receives a new
/// string owned by the caller; free it with `pieces_string_free`. On failure it is left untouched.
///
/// Thread safety: may be called from any thread. It blocks for at most a few probe timeouts.
///
/// Returns `PIECES_OK`, `PIECES_ERR_NOT_RUNNING` (nothing found; the last error's message lists what
/// was tried), `PIECES_ERR_NULL_POINTER` (`out_base_url`), `PIECES_ERR_INVALID_UTF8`,
/// `PIECES_ERR_MALFORMED_JSON`, `PIECES_ERR_INVALID_ARGUMENT` (unknown key or bad value), or
/// `PIECES_ERR_PANIC`.
///
/// # Safety
/// `options_json` must be NULL or a NUL-terminated string; `out_base_url` NULL or valid for writing
/// one pointer.
#[no_mangle]
pub unsafe extern "C" fn pieces_discover(
    options_json: *const c_char,
    out_base_url: *mut *mut c_char,
) -> i32 {
    ffi_call(|| {
        let options = if options_json.is_null() {
            DiscoveryOptions::default()
        } else {
            // SAFETY: `options_json` is NULL or a C string (`# Safety` above); NULL is checked.
            DiscoveryOptions::from_json(unsafe { str_arg(options_json, "options_json") }?)?
        };
        // SAFETY: `out_base_url` is NULL or writable (`# Safety` above); `out_arg` checks NULL.
        let out = unsafe { out_arg(out_base_url, "out_base_url") }?;
        out.write(give_string(discover(&options)?)?);
        Ok(())
    })
}
