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
    if let Err(e) = serde_json::from_slice::<serde_json::Value>(data) {
        let why = e.to_string();
        let by_design = why.starts_with("recursion limit exceeded");
        assert!(by_design, "{kind:?} accepted text that is not JSON: {why}");
    }
}
