//! What a user stream tells its host, and each event's JSON form (what the C ABI hands over).

use std::time::Duration;

use crate::error::Error;

/// One event of a user stream. Events arrive in order on one thread; [`StreamEvent::Stopped`] is last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEvent {
    /// The WebSocket is open. A `User` or `SignedOut` from `GET /user` follows.
    Connected { url: String },
    /// The signed-in user: a validated UserProfile document, exactly as the server sent it.
    User(String),
    /// Nobody is signed in (an empty, non-JSON or `null` frame, or `GET /user` without a user).
    SignedOut,
    /// Something went wrong but the stream goes on: an invalid profile frame (with its JSON path),
    /// a failed connection attempt, a failed `GET /user`, an oversized frame.
    Error(Error),
    /// The open connection was lost.
    Disconnected { reason: String },
    /// The next connection attempt (1, 2, …) starts after `delay`.
    Reconnecting { attempt: u32, delay: Duration },
    /// Pull streams only: this many events were dropped because the host fell behind.
    Overflow { dropped: u64 },
    /// The stream has ended (stopped by the host, or gave up after `max_attempts`). Always last.
    Stopped { reason: String },
}

/// Event kinds as the stable integers of the C ABI.
pub mod kind {
    pub const CONNECTED: i32 = 1;
    pub const USER: i32 = 2;
    pub const SIGNED_OUT: i32 = 3;
    pub const ERROR: i32 = 4;
    pub const DISCONNECTED: i32 = 5;
    pub const RECONNECTING: i32 = 6;
    pub const OVERFLOW: i32 = 7;
    pub const STOPPED: i32 = 8;
}

impl StreamEvent {
    /// The stable integer for this kind of event (see [`kind`]).
    pub fn kind(&self) -> i32 {
        match self {
            StreamEvent::Connected { .. } => kind::CONNECTED,
            StreamEvent::User(_) => kind::USER,
            StreamEvent::SignedOut => kind::SIGNED_OUT,
            StreamEvent::Error(_) => kind::ERROR,
            StreamEvent::Disconnected { .. } => kind::DISCONNECTED,
            StreamEvent::Reconnecting { .. } => kind::RECONNECTING,
            StreamEvent::Overflow { .. } => kind::OVERFLOW,
            StreamEvent::Stopped { .. } => kind::STOPPED,
        }
    }

    /// True for the events that carry the user's state; overflow drops old ones of these first.
    pub fn is_state(&self) -> bool {
        matches!(self, StreamEvent::User(_) | StreamEvent::SignedOut)
    }

    /// The event's JSON text:
    /// - connected: `{"url":"ws://127.0.0.1:39300/user/stream"}`
    /// - user: the UserProfile document itself
    /// - signed_out: `null`
    /// - error: `{"kind":"invalid_document","message":"…","path":"$.id"}` (`path` null when none;
    ///   `status` is added when an HTTP status caused it)
    /// - disconnected: `{"reason":"…"}`
    /// - reconnecting: `{"attempt":2,"delay_ms":400}`
    /// - overflow: `{"dropped":5}`
    /// - stopped: `{"reason":"…"}`
    pub fn to_json(&self) -> String {
        use serde_json::json;
        let value = match self {
            StreamEvent::User(profile) => return profile.clone(),
            StreamEvent::SignedOut => return "null".to_string(),
            StreamEvent::Connected { url } => json!({ "url": url }),
            StreamEvent::Error(e) => error_json(e),
            StreamEvent::Disconnected { reason } | StreamEvent::Stopped { reason } => {
                json!({ "reason": reason })
            }
            StreamEvent::Reconnecting { attempt, delay } => {
                json!({ "attempt": attempt, "delay_ms": delay.as_millis() as u64 })
            }
            StreamEvent::Overflow { dropped } => json!({ "dropped": dropped }),
        };
        value.to_string()
    }
}

fn error_json(e: &Error) -> serde_json::Value {
    let mut value = serde_json::json!({
        "kind": e.kind().as_str(),
        "message": e.message(),
        "path": e.path(),
    });
    if let Some(status) = e.status() {
        value["status"] = status.into();
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn json_forms() {
        let reconnecting = StreamEvent::Reconnecting {
            attempt: 2,
            delay: Duration::from_millis(400),
        };
        assert_eq!(reconnecting.to_json(), r#"{"attempt":2,"delay_ms":400}"#);
        assert_eq!(StreamEvent::SignedOut.to_json(), "null");
        assert_eq!(
            StreamEvent::User(r#"{"id":"x"}"#.into()).to_json(),
            r#"{"id":"x"}"#
        );
        assert_eq!(
            StreamEvent::Overflow { dropped: 5 }.to_json(),
            r#"{"dropped":5}"#
        );
        let e = Error::invalid_document(ErrorKind::InvalidDocument, "$.id", "missing");
        let v: serde_json::Value = serde_json::from_str(&StreamEvent::Error(e).to_json()).unwrap();
        assert_eq!(v["kind"], "invalid_document");
        assert_eq!(v["path"], "$.id");
    }

    #[test]
    fn kinds_are_stable() {
        let events = [
            StreamEvent::Connected { url: String::new() },
            StreamEvent::User(String::new()),
            StreamEvent::SignedOut,
            StreamEvent::Error(Error::new(ErrorKind::Connection, "x")),
            StreamEvent::Disconnected {
                reason: String::new(),
            },
            StreamEvent::Reconnecting {
                attempt: 1,
                delay: Duration::ZERO,
            },
            StreamEvent::Overflow { dropped: 1 },
            StreamEvent::Stopped {
                reason: String::new(),
            },
        ];
        let kinds: Vec<i32> = events.iter().map(StreamEvent::kind).collect();
        assert_eq!(kinds, [1, 2, 3, 4, 5, 6, 7, 8]);
    }
}
