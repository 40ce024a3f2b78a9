//! Request (and response) validation of each model: never a panic; whatever the validator accepts
//! is JSON and UTF-8 (the library hands accepted text on without a second UTF-8 check); and the
//! accept-only pass never changes a verdict of the full walk.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde::Deserialize;
use pieces_user::schema::{validate, validate_with_full_walk, DocumentKind};

const KINDS: [DocumentKind; 4] = [
    DocumentKind::UserProfile,
    DocumentKind::ReturnedUserProfile,
    DocumentKind::Auth0User,
    DocumentKind::UserBetaStatus,
];

fuzz_target!(|data: &[u8]| {
    for kind in KINDS {
        let accepted = validate(kind, data).is_ok();
        let walked = validate_with_full_walk(kind, data).is_ok();
        assert_eq!(accepted, walked, "{kind:?}: the fast pass changed the verdict");
        if accepted {
            assert!(std::str::from_utf8(data).is_ok(), "{kind:?} accepted text that is not UTF-8");
            check_accepted_is_json(kind, data);
        }
    }
});

/// Whatever the validator accepts is JSON, except for nesting past serde_json's limit of 128 under an
/// unknown key, which the validator skips without a limit (stack-safe, and by design). Read as
/// `IgnoredAny`, which checks the grammar without making numbers `f64`s: a number beyond `f64`'s
/// range (`-2e707`) is JSON, and under an unknown key it passes through unchanged, as the library
/// promises (a `Value` refused it as "number out of range", which the first version of this check
/// took for text that is not JSON).
fn check_accepted_is_json(kind: DocumentKind, data: &[u8]) {
    let mut reader = serde_json::Deserializer::from_slice(data);
    let read = serde::de::IgnoredAny::deserialize(&mut reader).and_then(|_| reader.end());
    if let Err(e) = read {
        let why = e.to_string();
        let by_design = why.starts_with("recursion limit exceeded");
        assert!(by_design, "{kind:?} accepted text that is not JSON: {why}");
    }
}
