//! The one piece of real state: who is signed in.
//!
//! The profile is kept as the exact JSON text the client sent (unknown keys included), so what
//! goes in comes back out unchanged. Every change is broadcast to the stream subscribers while
//! the lock is held, so subscribers see changes in the same order as the HTTP clients did.

use std::sync::{Mutex, MutexGuard};

use tungstenite::Utf8Bytes;

use crate::stream::{Hub, Subscriber};

pub struct State {
    user: Mutex<Option<Utf8Bytes>>,
    pub hub: Hub,
}

/// The text frame that describes `user` on /user/stream: the profile, or empty when signed out.
pub fn frame_for(user: &Option<Utf8Bytes>) -> Utf8Bytes {
    user.clone().unwrap_or_default()
}

impl State {
    pub fn new(user: Option<Utf8Bytes>) -> Self {
        State {
            user: Mutex::new(user),
            hub: Hub::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<Utf8Bytes>> {
        // A panic elsewhere must not take the stand-in down; the value itself is always whole.
        self.user.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn current(&self) -> Option<Utf8Bytes> {
        self.lock().clone()
    }

    /// Replaces the current user (None = sign out) and tells every subscriber.
    pub fn set(&self, user: Option<Utf8Bytes>) {
        let mut guard = self.lock();
        *guard = user;
        self.hub.broadcast(&frame_for(&guard));
    }

    /// Replaces the user only if someone is signed in; false otherwise.
    pub fn replace_signed_in(&self, user: Utf8Bytes) -> bool {
        let mut guard = self.lock();
        if guard.is_none() {
            return false;
        }
        *guard = Some(user);
        self.hub.broadcast(&frame_for(&guard));
        true
    }

    /// Re-announces the current user (refresh); returns it.
    pub fn republish(&self) -> Option<Utf8Bytes> {
        let guard = self.lock();
        if guard.is_some() {
            self.hub.broadcast(&frame_for(&guard));
        }
        guard.clone()
    }

    /// Registers a stream subscriber, queueing the current user as its first frame. Done under
    /// the lock so no change can slip in between the snapshot and the registration.
    pub fn subscribe(&self, sub: Subscriber) {
        let guard = self.lock();
        sub.push(frame_for(&guard));
        self.hub.add(sub);
    }
}
