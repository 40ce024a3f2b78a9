//! How a user stream reconnects, detects dead connections and buffers events.

use std::time::Duration;

use serde::Deserialize;

use crate::check::{check_millis, invalid, parse_object};
use crate::error::Result;

/// Tuning for [`crate::Client::user_stream`]. Build it in Rust or with [`StreamOptions::from_json`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamOptions {
    /// First reconnect delay; each failed attempt, or connection that ends before it delivered a
    /// frame or stayed up 5 s, doubles it (before jitter).
    pub reconnect_min: Duration,
    /// Ceiling of the reconnect delay.
    pub reconnect_max: Duration,
    /// Consecutive failed connection attempts before the stream gives up and stops; `None` = never.
    pub max_attempts: Option<u32>,
    /// A ping is sent after this long without any frame from the server.
    pub ping_interval: Duration,
    /// The connection is dead when nothing (pong or other frame) arrives this long after a ping.
    pub ping_timeout: Duration,
    /// Pull streams: events held before the oldest state events are dropped (at least 2).
    pub queue_size: usize,
    /// Largest WebSocket message (after reassembly) or frame accepted; a larger one is an error.
    pub max_frame_bytes: usize,
}

/// Backoff starts fast: a local Pieces OS restarting is back within a second.
pub const DEFAULT_RECONNECT_MIN: Duration = Duration::from_millis(100);
/// Backoff stops growing at 30 s so a desktop app notices Pieces OS coming back without much delay.
pub const DEFAULT_RECONNECT_MAX: Duration = Duration::from_secs(30);
/// Idle loopback connections cost nothing to ping every 10 s, and a dead one is found in seconds.
pub const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(10);
/// A healthy local server answers a ping in microseconds; 5 s tolerates a machine waking from sleep.
pub const DEFAULT_PING_TIMEOUT: Duration = Duration::from_secs(5);
/// Profiles change rarely; 64 events of slack is plenty for a host that polls now and then.
pub const DEFAULT_QUEUE_SIZE: usize = 64;
/// A maximal profile is ~70 KB; 16 MiB matches the client's response limit.
pub const DEFAULT_MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;

impl Default for StreamOptions {
    fn default() -> StreamOptions {
        StreamOptions {
            reconnect_min: DEFAULT_RECONNECT_MIN,
            reconnect_max: DEFAULT_RECONNECT_MAX,
            max_attempts: None,
            ping_interval: DEFAULT_PING_INTERVAL,
            ping_timeout: DEFAULT_PING_TIMEOUT,
            queue_size: DEFAULT_QUEUE_SIZE,
            max_frame_bytes: DEFAULT_MAX_FRAME_BYTES,
        }
    }
}

/// The JSON form; every key optional, unknown keys rejected by name.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OptionsJson {
    reconnect_min_ms: Option<u64>,
    reconnect_max_ms: Option<u64>,
    max_attempts: Option<u32>,
    ping_interval_ms: Option<u64>,
    ping_timeout_ms: Option<u64>,
    queue_size: Option<usize>,
    max_frame_bytes: Option<usize>,
}

impl StreamOptions {
    /// Reads an object with any of `reconnect_min_ms`, `reconnect_max_ms`, `max_attempts`,
    /// `ping_interval_ms`, `ping_timeout_ms`, `queue_size`, `max_frame_bytes`. Missing keys and
    /// `null` keep the defaults (`max_attempts` absent or `null`: retry forever).
    pub fn from_json(json: &str) -> Result<StreamOptions> {
        let raw: OptionsJson = parse_object("stream options", json)?;
        let d = StreamOptions::default();
        let ms = |v: Option<u64>, default: Duration| v.map_or(default, Duration::from_millis);
        let options = StreamOptions {
            reconnect_min: ms(raw.reconnect_min_ms, d.reconnect_min),
            reconnect_max: ms(raw.reconnect_max_ms, d.reconnect_max),
            max_attempts: raw.max_attempts,
            ping_interval: ms(raw.ping_interval_ms, d.ping_interval),
            ping_timeout: ms(raw.ping_timeout_ms, d.ping_timeout),
            queue_size: raw.queue_size.unwrap_or(d.queue_size),
            max_frame_bytes: raw.max_frame_bytes.unwrap_or(d.max_frame_bytes),
        };
        options.validate()?;
        Ok(options)
    }

    /// Rejects values that would make the stream spin, never retry, or never notice a dead peer.
    pub fn validate(&self) -> Result<()> {
        check_millis("reconnect_min_ms", self.reconnect_min)?;
        check_millis("reconnect_max_ms", self.reconnect_max)?;
        check_millis("ping_interval_ms", self.ping_interval)?;
        check_millis("ping_timeout_ms", self.ping_timeout)?;
        if self.reconnect_max < self.reconnect_min {
            return Err(invalid(
                "reconnect_max_ms must be at least reconnect_min_ms",
            ));
        }
        if self.max_attempts == Some(0) {
            return Err(invalid(
                "max_attempts must be at least 1 (omit it to retry forever)",
            ));
        }
        // Two slots: the newest state plus one other event, so overflow never has to drop the state.
        if self.queue_size < 2 {
            return Err(invalid("queue_size must be at least 2"));
        }
        if self.max_frame_bytes == 0 {
            return Err(invalid("max_frame_bytes must be at least 1"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn empty_object_gives_defaults() {
        assert_eq!(
            StreamOptions::from_json("{}").unwrap(),
            StreamOptions::default()
        );
    }

    #[test]
    fn every_key_is_read() {
        let o = StreamOptions::from_json(
            r#"{"reconnect_min_ms":5,"reconnect_max_ms":50,"max_attempts":3,"ping_interval_ms":7,
                "ping_timeout_ms":9,"queue_size":4,"max_frame_bytes":1000}"#,
        )
        .unwrap();
        assert_eq!(o.reconnect_min, Duration::from_millis(5));
        assert_eq!(o.reconnect_max, Duration::from_millis(50));
        assert_eq!(o.max_attempts, Some(3));
        assert_eq!(o.ping_interval, Duration::from_millis(7));
        assert_eq!(o.ping_timeout, Duration::from_millis(9));
        assert_eq!(o.queue_size, 4);
        assert_eq!(o.max_frame_bytes, 1000);
    }

    #[test]
    fn unknown_key_is_named() {
        let e = StreamOptions::from_json(r#"{"ping_ms":5}"#).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(e.message().contains("`ping_ms`"), "{}", e.message());
    }

    #[test]
    fn bad_values_are_rejected() {
        for json in [
            r#"{"reconnect_min_ms":0}"#,
            r#"{"reconnect_min_ms":500,"reconnect_max_ms":100}"#,
            r#"{"max_attempts":0}"#,
            r#"{"ping_timeout_ms":0}"#,
            r#"{"ping_interval_ms":999999999999}"#,
            r#"{"queue_size":1}"#,
            r#"{"max_frame_bytes":0}"#,
            r#"{"queue_size":-1}"#,
        ] {
            let e = StreamOptions::from_json(json).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{json}");
        }
        assert_eq!(
            StreamOptions::from_json("{").unwrap_err().kind(),
            ErrorKind::MalformedJson
        );
    }
}
