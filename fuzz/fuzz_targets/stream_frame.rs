//! The stream's reading of pushed frames and of the GET /user answer it fetches after each connect:
//! never a panic, and a frame is delivered as a user only if it is a valid UserProfile.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pieces_user::schema::{validate, DocumentKind};
use pieces_user::stream::fuzz_frame;
use pieces_user::StreamEvent;

fuzz_target!(|data: &[u8]| {
    // Text frames are UTF-8 by the WebSocket protocol (tungstenite checks before we see them).
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (frame, _snapshot) = fuzz_frame(text);
    if let StreamEvent::User(profile) = frame {
        assert_eq!(profile, text);
        assert!(validate(DocumentKind::UserProfile, profile.as_bytes()).is_ok());
    }
});
