//! What a user stream tells its host, and each event's JSON form (what the C ABI hands over).

use std::time::Duration;

use crate::error::Error;

/// One event of a user stream. Events arrive in order on one thread; [`StreamEvent::Stopped`] is last.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StreamEvent {
    /// The WebSocket is open. A `User` or `SignedOut` from `GET /user` follows.
    Connected {
        /// The stream's `ws://` or `wss://` URL.
        url: String,
    },
    /// The signed-in user: a validated UserProfile document, exactly as the server sent it.
    User(String),
    /// Nobody is signed in (an empty or `null` frame, or `GET /user` without a user).
    SignedOut,
    /// Something went wrong but the stream goes on: a frame that is not a profile (with its JSON
    /// path when it is JSON; `GET /user` then re-syncs the state), a failed connection attempt, a
    /// failed `GET /user`, an oversized frame, or (kind `panic`) a bug caught on the stream thread,
    /// which then stops.
    Error(Error),
    /// The open connection was lost.
    Disconnected {
        /// What ended it, for a log line.
        reason: String,
    },
    /// The next connection attempt (1, 2, …, counted since the last healthy connection: one that
    /// delivered a frame or stayed up 5 s) starts after `delay`.
    Reconnecting {
        /// The attempt's number, counted as described above.
        attempt: u32,
        /// The wait before the attempt (backoff with jitter).
        delay: Duration,
    },
    /// Pull streams only: this many events were dropped because the host fell behind.
    Overflow {
        /// How many events were dropped.
        dropped: u64,
    },
    /// The stream has ended (stopped by the host, or gave up after `max_attempts`). Always last.
    Stopped {
        /// Why: stopped by the host, or the last error after `max_attempts`.
        reason: String,
    },
}

impl StreamEvent {
    /// True for the events that carry the user's state; overflow drops old ones of these first.
    pub fn is_state(&self) -> bool {
        matches!(self, StreamEvent::User(_) | StreamEvent::SignedOut)
    }

    /// The event's snake_case name, stable across versions: `connected`, `user`, `signed_out`,
    /// `error`, `disconnected`, `reconnecting`, `overflow`, `stopped` (and whatever later
    /// versions add).
    pub fn name(&self) -> &'static str {
        match self {
            StreamEvent::Connected { .. } => "connected",
            StreamEvent::User(_) => "user",
            StreamEvent::SignedOut => "signed_out",
            StreamEvent::Error(_) => "error",
            StreamEvent::Disconnected { .. } => "disconnected",
            StreamEvent::Reconnecting { .. } => "reconnecting",
            StreamEvent::Overflow { .. } => "overflow",
            StreamEvent::Stopped { .. } => "stopped",
        }
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
        self.clone().into_json()
    }

    /// [`StreamEvent::to_json`] without copying a profile: its text is moved out.
    pub fn into_json(self) -> String {
        use serde_json::json;
        let value = match self {
            StreamEvent::User(profile) => return profile,
            StreamEvent::SignedOut => return "null".to_string(),
            StreamEvent::Connected { url } => json!({ "url": url }),
            StreamEvent::Error(e) => error_json(&e),
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
        assert_eq!(reconnecting.name(), "reconnecting");
        assert_eq!(StreamEvent::SignedOut.name(), "signed_out");
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
}
