//! The user stream: the `GET /user/stream` WebSocket on a thread of its own that reconnects forever
//! (or up to `max_attempts`) and always tells the host the user's current state.
//!
//! Two ways to consume it, chosen at start: a handler called on the stream thread
//! ([`Client::user_stream`]), or a bounded queue the host pulls from ([`Client::user_stream_pull`]).
//!
//! Stopping: [`UserStream::stop`] (or dropping the handle) wakes the thread at once — a blocked read
//! is interrupted by shutting the socket down, a backoff wait by a condvar — and waits for it to end.
//! It can still take as long as a TCP connect (the client's connect timeout) or a `GET /user` in
//! flight (the client's timeout), never longer. Called on the stream's own thread (from the
//! handler) it only signals.
//!
//! An `http://` base URL streams over `ws://`, an `https://` one over `wss://` with the same trust
//! roots as the client's HTTPS calls (`tls_ca_file`, or the webpki set).

mod event;
mod options;
mod queue;
mod worker;

use std::sync::{mpsc, Arc, Mutex};
use std::thread::{self, JoinHandle, ThreadId};
use std::time::Duration;

pub use event::StreamEvent;
pub use options::StreamOptions;
pub use queue::Next;
#[cfg(fuzzing)]
#[doc(hidden)]
pub use worker::fuzz_frame;

use crate::client::Client;
use crate::error::{Error, ErrorKind, Result};
use crate::process::Owner;
use queue::EventQueue;
use worker::{Shared, Sink, Worker, XorShift};

/// A running user stream. Dropping it stops the stream (and waits, as [`UserStream::stop`] does).
pub struct UserStream {
    shared: Arc<Shared>,
    /// Held while joining, so a second concurrent `stop` also waits until the thread has ended.
    thread: Mutex<Option<JoinHandle<()>>>,
    thread_id: ThreadId,
    queue: Option<Arc<EventQueue>>,
    /// The process whose thread this is; a child after `fork()` has no such thread (process.rs).
    owner: Owner,
}

impl Client {
    /// Starts a stream whose events are handed to `handler`, serially, on the stream's own thread.
    /// The handler is dropped on that thread after the last event (`stopped`).
    pub fn user_stream(
        &self,
        options: StreamOptions,
        handler: impl FnMut(StreamEvent) + Send + 'static,
    ) -> Result<UserStream> {
        self.check_process()?; // before detached takes a lock another process may hold
        let client = Arc::new(self.detached());
        start(client, options, Box::new(handler), None).map_err(|(e, _)| e)
    }

    /// Starts a stream whose events wait in a queue of `options.queue_size` for [`UserStream::next`].
    pub fn user_stream_pull(&self, options: StreamOptions) -> Result<UserStream> {
        self.check_process()?; // before detached takes a lock another process may hold
        start_pull(Arc::new(self.detached()), options)
    }
}

/// [`Client::user_stream_pull`] on a shared client (the C ABI's handle).
pub(crate) fn start_pull(client: Arc<Client>, options: StreamOptions) -> Result<UserStream> {
    let queue = Arc::new(EventQueue::new(options.queue_size));
    let sink = QueueSink(Arc::clone(&queue));
    let sink: Sink = Box::new(move |event| sink.0.push(event));
    start(client, options, sink, Some(queue)).map_err(|(e, _)| e)
}

/// Pushes into the queue; when the stream thread drops it, the queue learns that nothing more comes.
struct QueueSink(Arc<EventQueue>);

impl Drop for QueueSink {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// Starts the thread. On failure the handler comes back unused (the C ABI must not run `release`
/// for a stream that never started).
pub(crate) fn start(
    client: Arc<Client>,
    options: StreamOptions,
    sink: Sink,
    queue: Option<Arc<EventQueue>>,
) -> std::result::Result<UserStream, (Error, Sink)> {
    if let Err(e) = client.check_process().and_then(|()| check_start(&options)) {
        return Err((e, sink));
    }
    let shared = Arc::new(Shared::new());
    let (handoff, receive) = mpsc::sync_channel::<Sink>(1);
    let worker_shared = Arc::clone(&shared);
    let spawned = thread::Builder::new()
        .name("pieces-user-stream".into())
        .spawn(move || {
            // The handler arrives only once the spawn has succeeded (see above).
            let Ok(sink) = receive.recv() else { return };
            let salt = Arc::as_ptr(&worker_shared) as u64;
            Worker {
                client,
                options,
                shared: worker_shared,
                sink,
                broken: false,
                rng: XorShift::from_clock(salt),
                tls: None,
            }
            .run();
        });
    let handle = match spawned {
        Ok(handle) => handle,
        Err(e) => {
            let error = Error::new(ErrorKind::Connection, format!("cannot start thread: {e}"));
            return Err((error, sink));
        }
    };
    // The receiver lives until the thread has taken the handler, so this send cannot fail.
    let _ = handoff.send(sink);
    Ok(UserStream {
        shared,
        thread_id: handle.thread().id(),
        thread: Mutex::new(Some(handle)),
        queue,
        owner: Owner::current(),
    })
}

fn check_start(options: &StreamOptions) -> Result<()> {
    options.validate()
}

impl UserStream {
    /// Ends the stream and waits until its thread has ended, so no handler call can run afterwards.
    /// The handler receives `stopped` before this returns. Idempotent. Called from the stream's own
    /// handler it only signals: the handler returns, `stopped` follows, and the thread ends.
    /// Stopping *another* stream from a handler waits for that stream's thread like any caller
    /// (two handlers stopping each other's streams would wait on each other).
    ///
    /// In a process other than the creating one (a child after `fork()`) it does nothing: the thread
    /// is not there, and shutting the socket down would cut the parent's stream. See
    /// [`UserStream::check_process`].
    pub fn stop(&self) {
        if !self.owner.is_current() {
            return;
        }
        self.shared.request_stop();
        if thread::current().id() == self.thread_id {
            return;
        }
        let mut thread = self.thread.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(handle) = thread.take() {
            // A panic on the stream thread was already contained there; nothing to report.
            let _ = handle.join();
        }
    }

    /// True until the stream thread has ended.
    pub fn is_running(&self) -> bool {
        if !self.owner.is_current() {
            return false;
        }
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner());
        thread.as_ref().is_some_and(|h| !h.is_finished())
    }

    /// True for streams started with [`Client::user_stream_pull`].
    pub fn is_pull(&self) -> bool {
        self.queue.is_some()
    }

    /// [`ErrorKind::WrongProcess`] in a process other than the one that started this stream (a child
    /// after `fork()`), where its thread does not exist and its socket is the parent's.
    pub fn check_process(&self) -> Result<()> {
        self.owner.check("stream")
    }

    /// Pull streams: the next event, waiting at most `timeout`. After `stopped` has been taken,
    /// [`Next::Ended`]. A handler stream answers `InvalidArgument`; in a child after `fork()`,
    /// `WrongProcess`.
    pub fn next(&self, timeout: Duration) -> Result<Next> {
        self.check_process()?;
        match &self.queue {
            Some(queue) => Ok(queue.pop(timeout)),
            None => Err(Error::new(
                ErrorKind::InvalidArgument,
                "this stream delivers to a handler; it has no queue to pull from",
            )),
        }
    }
}

impl Drop for UserStream {
    fn drop(&mut self) {
        if !self.owner.is_current() {
            // A child after fork(): the thread is the parent's. Dropping its handle would detach a
            // thread that does not exist here; the rest only lowers reference counts (the parent
            // thread's copies keep the shared state and its socket alive: nothing is closed).
            let thread = self.thread.get_mut().unwrap_or_else(|e| e.into_inner());
            std::mem::forget(thread.take());
            return;
        }
        self.stop();
    }
}
