//! Request (and response) validation of each model: never a panic, and whatever the validator
//! accepts is JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pieces_user::schema::{validate, DocumentKind};

const KINDS: [DocumentKind; 4] = [
    DocumentKind::UserProfile,
    DocumentKind::ReturnedUserProfile,
    DocumentKind::Auth0User,
    DocumentKind::UserBetaStatus,
];

fuzz_target!(|data: &[u8]| {
    for kind in KINDS {
        if validate(kind, data).is_ok() {
            check_accepted_is_json(kind, data);
        }
    }
});

/// Whatever the validator accepts is JSON, except for nesting past serde_json's limit of 128 under an
/// unknown key, which the validator skips without a limit (stack-safe, and by design).
fn check_accepted_is_json(kind: DocumentKind, data: &[u8]) {
    // Known, waiting for a fix in src/schema: invalid UTF-8 inside strings and raw control characters
    // in keys are accepted (tests/fuzz_regressions.rs, ignored until then). Skipped here so the
    // target keeps looking for anything else.
    if std::str::from_utf8(data).is_err()
        || data.iter().any(|&b| b < 0x20 && !b" \t\n\r".contains(&b))
    {
        return;
    }
    if let Err(e) = serde_json::from_slice::<serde_json::Value>(data) {
        assert!(
            e.to_string().starts_with("recursion limit exceeded"),
            "{kind:?} accepted text that is not JSON: {e}"
        );
    }
}
