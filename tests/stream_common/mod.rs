//! What the stream test files share: fast options and a receiver that waits with a deadline.

#![allow(dead_code)]

use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use pieces_user::{Client, Config, StreamEvent, StreamOptions, UserStream};

/// Generous: these bound a failing test, they do not pace a passing one.
pub const WAIT: Duration = Duration::from_secs(10);

pub fn client(url: &str) -> Client {
    Client::new(Config::new(url)).unwrap()
}

/// Fast reconnects and pings so the fault tests run in milliseconds. The ping timeout stays
/// generous: a pong that a loaded machine delays must not end a connection in a test about
/// something else (the tests about unanswered pings use `short_ping_timeout`).
pub fn fast() -> StreamOptions {
    let mut options = StreamOptions::default();
    options.reconnect_min = Duration::from_millis(10);
    options.reconnect_max = Duration::from_millis(50);
    options.ping_interval = Duration::from_millis(100);
    options.ping_timeout = Duration::from_secs(5);
    options
}

/// `fast`, for tests where every ping goes unanswered: a short timeout only makes them quicker.
pub fn short_ping_timeout() -> StreamOptions {
    let mut options = fast();
    options.ping_timeout = Duration::from_millis(200);
    options
}

pub struct Events {
    pub rx: Receiver<StreamEvent>,
    pub seen: Vec<StreamEvent>,
}

impl Events {
    /// The next event that satisfies `want`; fails the test after `WAIT`, listing what came instead.
    pub fn until(&mut self, what: &str, want: impl Fn(&StreamEvent) -> bool) -> StreamEvent {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(e) if want(&e) => return e,
                Ok(e) => self.seen.push(e),
                Err(_) => panic!("no {what} within {WAIT:?}; saw {:#?}", self.seen),
            }
        }
    }

    pub fn user(&mut self, tag: &str) {
        let needle = format!(r#""vanityname":"{tag}""#);
        self.until(
            &format!("user {tag}"),
            |e| matches!(e, StreamEvent::User(p) if p.contains(&needle)),
        );
    }

    pub fn next(&mut self) -> StreamEvent {
        self.rx.recv_timeout(WAIT).expect("an event")
    }
}

pub fn start(url: &str, options: StreamOptions) -> (UserStream, Events) {
    let (tx, rx) = channel();
    let stream = client(url)
        .user_stream(options, move |e| {
            let _ = tx.send(e);
        })
        .unwrap();
    let events = Events {
        rx,
        seen: Vec::new(),
    };
    (stream, events)
}
