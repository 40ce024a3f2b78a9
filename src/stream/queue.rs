//! The bounded queue behind pull streams.
//!
//! When the host falls behind, the oldest state events (`user`, `signed_out`) that a newer state
//! event supersedes are dropped first, then the oldest other events; the newest state and `stopped`
//! are never dropped. The count of dropped events is handed out as one `overflow` event before the
//! events that survived.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::event::StreamEvent;

/// What [`crate::stream::UserStream::next`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// The next event.
    Event(StreamEvent),
    /// Nothing arrived within the timeout; the stream is still running.
    Timeout,
    /// The stream has ended and every event, `stopped` included, has been taken.
    Ended,
}

pub(crate) struct EventQueue {
    state: Mutex<QueueState>,
    ready: Condvar,
    capacity: usize,
}

struct QueueState {
    events: VecDeque<StreamEvent>,
    dropped: u64,
    /// The producer is gone (the stream thread has ended): nothing more will be pushed.
    closed: bool,
}

impl EventQueue {
    pub(crate) fn new(capacity: usize) -> EventQueue {
        EventQueue {
            state: Mutex::new(QueueState {
                events: VecDeque::with_capacity(capacity.min(1024)),
                dropped: 0,
                closed: false,
            }),
            ready: Condvar::new(),
            capacity,
        }
    }

    pub(crate) fn push(&self, event: StreamEvent) {
        let mut state = self.lock();
        state.events.push_back(event);
        while state.events.len() > self.capacity {
            if !drop_one(&mut state.events) {
                break;
            }
            state.dropped += 1;
        }
        drop(state);
        self.ready.notify_one();
    }

    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
    }

    /// The next event, waiting at most `timeout`.
    pub(crate) fn pop(&self, timeout: Duration) -> Next {
        let deadline = Instant::now().checked_add(timeout);
        let mut state = self.lock();
        loop {
            if state.dropped > 0 {
                let dropped = std::mem::take(&mut state.dropped);
                return Next::Event(StreamEvent::Overflow { dropped });
            }
            if let Some(event) = state.events.pop_front() {
                return Next::Event(event);
            }
            if state.closed {
                return Next::Ended;
            }
            // A timeout too large for Instant waits as long as the platform allows, in steps.
            let wait = match deadline {
                Some(d) => d.saturating_duration_since(Instant::now()),
                None => Duration::from_secs(3600),
            };
            if wait.is_zero() {
                return Next::Timeout;
            }
            state = self
                .ready
                .wait_timeout(state, wait)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Never poisoned in practice (no user code runs under it); recover rather than panic anyway.
    fn lock(&self) -> MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Removes the oldest superseded state event, else the oldest event that is neither the newest
/// state nor `stopped`. False when nothing may go.
fn drop_one(events: &mut VecDeque<StreamEvent>) -> bool {
    let newest_state = events.iter().rposition(StreamEvent::is_state);
    let superseded = events
        .iter()
        .enumerate()
        .position(|(i, e)| e.is_state() && Some(i) != newest_state);
    let other = || {
        events
            .iter()
            .enumerate()
            .position(|(i, e)| Some(i) != newest_state && !matches!(e, StreamEvent::Stopped { .. }))
    };
    match superseded.or_else(other) {
        Some(i) => {
            events.remove(i);
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(n: u32) -> StreamEvent {
        StreamEvent::User(format!(r#"{{"id":"{n}"}}"#))
    }

    fn take_all(q: &EventQueue) -> Vec<StreamEvent> {
        let mut out = Vec::new();
        while let Next::Event(e) = q.pop(Duration::ZERO) {
            out.push(e);
        }
        out
    }

    #[test]
    fn overflow_drops_oldest_states_and_counts() {
        let q = EventQueue::new(3);
        q.push(StreamEvent::Connected { url: "u".into() });
        for n in 0..10 {
            q.push(user(n));
        }
        let got = take_all(&q);
        assert_eq!(got[0], StreamEvent::Overflow { dropped: 8 });
        assert_eq!(
            &got[1..],
            &[StreamEvent::Connected { url: "u".into() }, user(8), user(9)]
        );
    }

    #[test]
    fn newest_state_survives_a_flood_of_other_events() {
        let q = EventQueue::new(2);
        q.push(user(1));
        for attempt in 1..=5 {
            q.push(StreamEvent::Reconnecting {
                attempt,
                delay: Duration::ZERO,
            });
        }
        q.push(StreamEvent::Stopped { reason: "x".into() });
        let got = take_all(&q);
        assert_eq!(got[0], StreamEvent::Overflow { dropped: 5 });
        assert_eq!(got[1], user(1));
        assert!(matches!(got[2], StreamEvent::Stopped { .. }));
    }

    #[test]
    fn timeout_then_ended() {
        let q = EventQueue::new(2);
        assert_eq!(q.pop(Duration::from_millis(1)), Next::Timeout);
        q.push(StreamEvent::SignedOut);
        q.close();
        assert_eq!(q.pop(Duration::ZERO), Next::Event(StreamEvent::SignedOut));
        assert_eq!(q.pop(Duration::from_secs(100)), Next::Ended);
    }
}
