//! Interrupting calls in flight: [`crate::Client::interrupt`] for every call on a client, a
//! [`CancelToken`] for the calls of one [`crate::Client::with_cancel`] handle.
//!
//! A blocked call is woken by shutting its socket down from the interrupting thread. To find the
//! socket, a call in progress is noted in a thread-local ([`watch`]) for its whole length (send,
//! retry, re-discovery, body); the transport ([`Watched`]) registers the connection it is using with
//! the call's client and token, and checks the call's flags before and after every read and write.
//! A connect is polled in short slices that check the flags (see `transport.rs`). Nobody
//! interrupting costs two atomic loads per read or write and two short, uncontended lock holds per
//! connection a call uses.
//!
//! A shut-down connection reports itself closed, so the pool never hands it out again.

use std::cell::RefCell;
use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, NextTimeout, ShutdownHandle, Transport,
};

use crate::error::{Error, ErrorKind};
use crate::process::Owner;

/// A one-shot cancellation token. Cloning it gives another handle to the same token.
///
/// [`CancelToken::cancel`] makes every call in flight on a [`crate::Client::with_cancel`] handle
/// built with it return [`ErrorKind::Interrupted`] promptly, and every later call fail at once.
#[derive(Clone, Default)]
pub struct CancelToken(Arc<TokenState>);

#[derive(Default)]
struct TokenState {
    cancelled: AtomicBool,
    calls: Registry,
}

impl CancelToken {
    /// A token not yet cancelled.
    pub fn new() -> CancelToken {
        CancelToken::default()
    }

    /// Cancels: idempotent, callable from any thread.
    pub fn cancel(&self) {
        // The flag first: a call registering its connection after the sweep below sees it.
        self.0.cancelled.store(true, Ordering::SeqCst);
        self.0.calls.kill_before(u64::MAX);
    }

    /// True once [`CancelToken::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.cancelled.load(Ordering::SeqCst)
    }
}

impl fmt::Debug for CancelToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelToken")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

/// A client's side: how many times it was interrupted, and the connections its calls are using.
#[derive(Default)]
pub(crate) struct Interrupts {
    epoch: AtomicU64,
    calls: Registry,
}

impl Interrupts {
    /// Interrupts the calls that started before now; calls starting from now on are not affected.
    pub(crate) fn interrupt(&self) {
        let now = self.epoch.fetch_add(1, Ordering::SeqCst) + 1;
        self.calls.kill_before(now);
    }
}

/// The connections calls are using. A Vec, not a map: it holds one entry per call in flight, and
/// pushing into its kept capacity allocates nothing.
#[derive(Default)]
struct Registry(Mutex<Vec<Entry>>);

struct Entry {
    /// Which call: its thread's slot address, unique among the calls in flight. (A connection
    /// alone is not: the pool may hand it to the next call before this one has unregistered it.)
    call: usize,
    /// The client's epoch when the call started.
    epoch: u64,
    conn: Arc<Conn>,
}

impl Registry {
    fn add(&self, call: usize, epoch: u64, conn: &Arc<Conn>) {
        let mut entries = self.lock();
        // A connection serves one call at a time: an entry of an earlier call that handed it back
        // to the pool (and has not ended yet) is stale, and must not get it shut down now.
        entries.retain(|e| !Arc::ptr_eq(&e.conn, conn));
        entries.push(Entry {
            call,
            epoch,
            conn: Arc::clone(conn),
        });
    }

    fn remove(&self, call: usize) {
        let mut entries = self.lock();
        if let Some(i) = entries.iter().position(|e| e.call == call) {
            entries.swap_remove(i);
        }
    }

    #[cfg(test)]
    fn calls(&self) -> Vec<usize> {
        self.lock().iter().map(|e| e.call).collect()
    }

    fn kill_before(&self, epoch: u64) {
        for entry in self.lock().iter().filter(|e| e.epoch < epoch) {
            entry.conn.kill();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Entry>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One connection, as the interrupting thread sees it.
pub(crate) struct Conn {
    socket: Weak<dyn ShutdownHandle>,
    killed: AtomicBool,
    /// The process that opened the socket: in a child after `fork()` the socket is shared with the
    /// parent, and shutting it down would cut the parent's call (process.rs).
    owner: Owner,
}

impl Conn {
    fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
        if !self.owner.is_current() {
            return;
        }
        if let Some(socket) = self.socket.upgrade() {
            socket.shutdown();
        }
    }

    fn is_killed(&self) -> bool {
        self.killed.load(Ordering::Relaxed)
    }
}

/// The call in progress on this thread.
struct Watch {
    call: usize,
    interrupts: Arc<Interrupts>,
    epoch: u64,
    token: Option<CancelToken>,
    conn: Option<Arc<Conn>>,
}

impl Watch {
    fn interrupted(&self) -> bool {
        self.interrupts.epoch.load(Ordering::SeqCst) != self.epoch
            || self.token.as_ref().is_some_and(CancelToken::is_cancelled)
    }

    /// Registers `conn` as the one this call is using (once per connection, not per read).
    fn use_conn(&mut self, conn: &Arc<Conn>) {
        if self.conn.as_ref().is_some_and(|c| Arc::ptr_eq(c, conn)) {
            return;
        }
        self.release();
        self.interrupts.calls.add(self.call, self.epoch, conn);
        if let Some(token) = &self.token {
            token.0.calls.add(self.call, 0, conn);
        }
        self.conn = Some(Arc::clone(conn));
    }

    fn release(&mut self) {
        if self.conn.take().is_some() {
            self.interrupts.calls.remove(self.call);
            if let Some(token) = &self.token {
                token.0.calls.remove(self.call);
            }
        }
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Watch>> = const { RefCell::new(None) };
}

/// Notes a call in progress on this thread until the guard is dropped. Fails at once when the token
/// is already cancelled.
pub(crate) fn watch(
    interrupts: &Arc<Interrupts>,
    token: Option<&CancelToken>,
) -> Result<CallGuard, Error> {
    if token.is_some_and(CancelToken::is_cancelled) {
        return Err(error());
    }
    let call = CURRENT.with(|current| current as *const _ as usize);
    let watch = Watch {
        call,
        interrupts: Arc::clone(interrupts),
        epoch: interrupts.epoch.load(Ordering::SeqCst),
        token: token.cloned(),
        conn: None,
    };
    let previous = CURRENT.with(|current| current.borrow_mut().replace(watch));
    Ok(CallGuard { previous })
}

/// Ends the call's watch when dropped (and restores an enclosing one, should calls ever nest).
pub(crate) struct CallGuard {
    previous: Option<Watch>,
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        let _ = CURRENT.try_with(|current| {
            let ended = std::mem::replace(&mut *current.borrow_mut(), previous);
            if let Some(mut ended) = ended {
                ended.release();
            }
        });
    }
}

/// Whether the call in progress on this thread has been interrupted (false outside a call).
pub(crate) fn interrupted() -> bool {
    CURRENT
        .try_with(|current| current.borrow().as_ref().is_some_and(Watch::interrupted))
        .unwrap_or(false)
}

/// Registers `conn` with the call in progress; fails (and shuts it down) if the call is interrupted.
fn enter(conn: Option<&Arc<Conn>>) -> Result<(), ureq::Error> {
    let interrupted = CURRENT
        .try_with(|current| {
            let mut current = current.borrow_mut();
            let Some(watch) = current.as_mut() else {
                return false;
            };
            if let Some(conn) = conn {
                watch.use_conn(conn);
            }
            watch.interrupted()
        })
        .unwrap_or(false);
    if interrupted {
        return Err(interrupted_io(conn));
    }
    Ok(())
}

/// The transport-level error of an interrupted call; [`crate::Client`] reports it as [`error`].
/// The connection is shut down so that nothing reuses it.
fn interrupted_io(conn: Option<&Arc<Conn>>) -> ureq::Error {
    if let Some(conn) = conn {
        conn.kill();
    }
    ureq::Error::Io(io::Error::other("interrupted"))
}

/// What an interrupted call returns.
pub(crate) fn error() -> Error {
    Error::new(
        ErrorKind::Interrupted,
        "the call was interrupted (Client::interrupt or a cancelled token)",
    )
}

/// Wraps a connector so that its transports are [`Watched`]. The socket's shutdown handle is the
/// one the wrapped connector registers through [`ConnectionDetails::register_shutdown`] (ureq's own
/// TCP connector does, and so does ours), passed on unchanged to the agent.
#[derive(Debug)]
pub(crate) struct Watching<C>(pub(crate) C);

type Captured = Arc<Mutex<Option<Weak<dyn ShutdownHandle>>>>;

impl<In: Transport, C: Connector<In>> Connector<In> for Watching<C> {
    type Out = Watched<C::Out>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        enter(None)?;
        let captured: Captured = Arc::default();
        let transport = self.0.connect(&capturing(details, &captured), chained)?;
        let socket = captured
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let conn = socket.map(|socket| {
            Arc::new(Conn {
                socket,
                killed: AtomicBool::new(false),
                owner: Owner::current(),
            })
        });
        // The first read or write registers the connection; an interrupt that landed during the
        // connect is seen there.
        Ok(transport.map(|inner| Watched { inner, conn }))
    }
}

/// `details` with a `register_shutdown` that also keeps the handle in `captured`.
/// Every field is listed: ureq's `unversioned` API may grow one, which must then be passed on too.
fn capturing<'a>(details: &ConnectionDetails<'a>, captured: &Captured) -> ConnectionDetails<'a> {
    let forward = Arc::clone(&details.register_shutdown);
    let keep = Arc::clone(captured);
    ConnectionDetails {
        uri: details.uri,
        addrs: details.addrs.clone(),
        config: details.config,
        request_level: details.request_level,
        resolver: details.resolver,
        now: details.now,
        timeout: details.timeout,
        current_time: Arc::clone(&details.current_time),
        run_connector: Arc::clone(&details.run_connector),
        register_shutdown: Arc::new(move |handle: Weak<dyn ShutdownHandle>| {
            *keep.lock().unwrap_or_else(PoisonError::into_inner) = Some(handle.clone());
            forward(handle)
        }),
    }
}

/// A transport whose reads and writes observe the interrupts of the call using it.
#[derive(Debug)]
pub(crate) struct Watched<T> {
    inner: T,
    conn: Option<Arc<Conn>>,
}

impl<T> Watched<T> {
    fn guarded<R>(
        &mut self,
        op: impl FnOnce(&mut T) -> Result<R, ureq::Error>,
    ) -> Result<R, ureq::Error> {
        enter(self.conn.as_ref())?;
        let result = op(&mut self.inner);
        // A shut-down socket may read as a clean end of stream: never let that pass as a response.
        if interrupted() {
            return Err(interrupted_io(self.conn.as_ref()));
        }
        result
    }
}

impl fmt::Debug for Conn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conn")
            .field("killed", &self.is_killed())
            .finish()
    }
}

impl<T: Transport> Transport for Watched<T> {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.inner.buffers()
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.guarded(|inner| inner.transmit_output(amount, timeout))
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.guarded(|inner| inner.await_input(timeout))
    }

    fn is_open(&mut self) -> bool {
        !self.conn.as_ref().is_some_and(|c| c.is_killed()) && self.inner.is_open()
    }

    fn is_tls(&self) -> bool {
        self.inner.is_tls()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpStream;

    fn conn() -> Arc<Conn> {
        let socket: Weak<dyn ShutdownHandle> = Weak::<TcpStream>::new();
        Arc::new(Conn {
            socket,
            killed: AtomicBool::new(false),
            owner: Owner::current(),
        })
    }

    #[test]
    fn a_connection_taken_over_by_a_later_call_is_not_killed_for_the_earlier_one() {
        let registry = Registry::default();
        let shared = conn();
        registry.add(1, 0, &shared); // call 1 (epoch 0) used it and gave it back to the pool
        registry.add(2, 1, &shared); // call 2 (epoch 1) took it before call 1 ended
        registry.kill_before(1); // interrupts call 1 (ending anyway), not call 2
        assert!(!shared.is_killed());
        registry.remove(1);
        assert_eq!(registry.calls(), vec![2]);
        registry.kill_before(2);
        assert!(shared.is_killed());
    }
}
