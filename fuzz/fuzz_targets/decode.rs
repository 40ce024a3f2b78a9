//! Response decoding (`models::decode`) of each model: never a panic, and a decoded document
//! survives encode + decode unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pieces_user::models::{
    self, Auth0User, Document, ReturnedUserProfile, UserBetaStatus, UserProfile,
};

fn round_trip<T: Document + PartialEq + std::fmt::Debug>(data: &[u8]) {
    if let Ok(doc) = models::decode::<T>(data) {
        let text = models::encode(&doc);
        let again = models::decode::<T>(text.as_bytes())
            .unwrap_or_else(|v| panic!("re-decoding our own encoding failed: {v:?}\n{text}"));
        assert_eq!(again, doc, "{text}");
    }
}

fuzz_target!(|data: &[u8]| {
    round_trip::<UserProfile>(data);
    round_trip::<ReturnedUserProfile>(data);
    round_trip::<Auth0User>(data);
    round_trip::<UserBetaStatus>(data);
});
