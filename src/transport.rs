//! The TCP transport under the HTTP agent, tuned for short request/response exchanges on loopback.
//!
//! ureq's own TCP transport costs about nine system calls per call here: the request head and body
//! leave in two sends (two segments, so the server wakes twice), the socket timeouts are set again
//! before every send and read because the remaining time changes each call, and the pool probes the
//! socket twice with fcntl/read/fcntl. This one:
//! - holds output until the transport waits for input, then sends it in one write; a large body
//!   is not copied to be held but sent at once behind the held head, in one `sendmsg` (bodies
//!   larger than ureq's buffer leave in pieces of its size, so memory stays bounded);
//! - changes a socket timeout only when it must shrink to honour the deadline, or when it has become
//!   much shorter than the time left; a read that times out early simply reads again;
//! - probes an idle connection with one `recv(MSG_PEEK | MSG_DONTWAIT)`, once: when the pool hands
//!   it out. ureq's pool also asks when the connection comes back after a call; the probe then
//!   could only find what the one at hand-out finds later, so that question is answered from what
//!   the call saw (see `TcpTransport::is_open`);
//! - writes with `send(MSG_NOSIGNAL)` (std's `write`), or `sendmsg(MSG_NOSIGNAL)` for a head and
//!   body together, never `writev`, so a peer that hangs up cannot raise SIGPIPE in a host that
//!   left it at its default action;
//! - when a send fails because the peer closed, drops the rest of the request and reads what the
//!   peer answered before closing (a server refusing a large upload answers 413 and closes); when
//!   nothing was answered, the send's error is the call's error.
//! - connects without blocking and polls in short slices, so that an interrupted call
//!   ([`crate::interrupt`]) does not wait out the connect timeout.
//!
//! Unix only (`std::os::fd`, `libc`): elsewhere the client uses ureq's own TCP transport. Both sit
//! under [`crate::interrupt::Watching`], which shuts the socket down to interrupt a call.

use std::fmt;
use std::io::{self, Read, Write};
use std::mem;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use crate::net::{self, ensure_timeout, is_timeout};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, Transport,
};

/// Output is sent once this much is waiting, even before the transport waits for input.
const FLUSH_AT: usize = 64 * 1024;
/// Output of at least this size is not held back but sent at once, together with what is held
/// (the request head): copying a large body into `pending` first costs more than it saves.
const SEND_DIRECT_AT: usize = 4 * 1024;
/// How often a connect in progress checks whether its call was interrupted. Loopback connects end
/// at once (accepted or refused); only a connect that hangs ever waits a slice.
const CONNECT_SLICE: Duration = Duration::from_millis(10);

#[derive(Debug, Default)]
pub(crate) struct TcpConnector;

impl<In: Transport> Connector<In> for TcpConnector {
    type Out = Either<In, TcpTransport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        if chained.is_some() {
            return Ok(chained.map(Either::A));
        }
        let stream = connect_any(&details.addrs, details.timeout)?;
        stream.set_nodelay(true)?;
        let config = details.config;
        let buffers = LazyBuffers::new(config.input_buffer_size(), config.output_buffer_size());
        let transport = TcpTransport::new(stream, buffers);
        let handle: Weak<TcpStream> = Arc::downgrade(&transport.stream);
        (details.register_shutdown)(handle)?;
        Ok(Some(Either::B(transport)))
    }
}

/// Tries each address in turn, sharing the connect budget between those left.
fn connect_any(addrs: &[SocketAddr], timeout: NextTimeout) -> Result<TcpStream, ureq::Error> {
    if addrs.is_empty() {
        return Err(ureq::Error::HostNotFound);
    }
    let interrupted = crate::interrupt::interrupted;
    net::connect_first(addrs, deadline_of(timeout), interrupted, connect).map_err(|e| {
        if is_timeout(&e) && !interrupted() {
            ureq::Error::Timeout(timeout.reason)
        } else {
            e.into()
        }
    })
}

/// A non-blocking connect, polled in slices of [`CONNECT_SLICE`] until it ends, `deadline` passes
/// or the call is interrupted.
fn connect(addr: &SocketAddr, deadline: Option<Instant>) -> io::Result<TcpStream> {
    let socket = new_socket(addr)?;
    set_nonblocking(&socket, true)?;
    let (storage, len) = sockaddr_of(addr);
    // SAFETY: `storage` holds a valid sockaddr of `len` bytes for the address family of `socket`.
    let rc = unsafe {
        libc::connect(
            socket.as_raw_fd(),
            (&storage as *const libc::sockaddr_storage).cast(),
            len,
        )
    };
    if rc != 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINPROGRESS) {
            return Err(e);
        }
        await_connected(&socket, deadline)?;
    }
    set_nonblocking(&socket, false)?;
    Ok(TcpStream::from(socket))
}

fn await_connected(socket: &OwnedFd, deadline: Option<Instant>) -> io::Result<()> {
    loop {
        if crate::interrupt::interrupted() {
            return Err(io::Error::other("interrupted"));
        }
        let slice = match deadline {
            Some(d) => match d.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => left.min(CONNECT_SLICE),
                _ => return Err(io::ErrorKind::TimedOut.into()),
            },
            None => CONNECT_SLICE,
        };
        let mut pfd = libc::pollfd {
            fd: socket.as_raw_fd(),
            events: libc::POLLOUT,
            revents: 0,
        };
        // Rounded up: a zero timeout would spin.
        let ms = slice.as_micros().div_ceil(1000) as libc::c_int;
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n > 0 {
            return match socket_error(socket)? {
                0 => Ok(()),
                code => Err(io::Error::from_raw_os_error(code)),
            };
        }
    }
}

fn new_socket(addr: &SocketAddr) -> io::Result<OwnedFd> {
    let family = match addr {
        SocketAddr::V4(_) => libc::AF_INET,
        SocketAddr::V6(_) => libc::AF_INET6,
    };
    // SAFETY: plain socket(2); the result is checked before use.
    let fd = unsafe { libc::socket(family, libc::SOCK_STREAM, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor that nothing else owns.
    let socket = unsafe { OwnedFd::from_raw_fd(fd) };
    // Not inherited by a child the host spawns (std sets the same on its own sockets).
    // SAFETY: fcntl on a descriptor we own.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } < 0 {
        return Err(io::Error::last_os_error());
    }
    #[cfg(any(target_os = "macos", target_os = "ios"))]
    {
        // No MSG_NOSIGNAL there: std sets SO_NOSIGPIPE on its sockets, so must we.
        let one: libc::c_int = 1;
        // SAFETY: a c_int option value of the right size.
        let rc = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_NOSIGPIPE,
                (&one as *const libc::c_int).cast(),
                mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(socket)
}

fn set_nonblocking(socket: &OwnedFd, on: bool) -> io::Result<()> {
    let fd = socket.as_raw_fd();
    // SAFETY: fcntl on a descriptor we own.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    let flags = if on {
        flags | libc::O_NONBLOCK
    } else {
        flags & !libc::O_NONBLOCK
    };
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd, libc::F_SETFL, flags) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The outcome of a finished non-blocking connect (SO_ERROR): 0 or an errno.
fn socket_error(socket: &OwnedFd) -> io::Result<libc::c_int> {
    let mut code: libc::c_int = 0;
    let mut len = mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: a c_int out-value with its size.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            (&mut code as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(code)
}

fn sockaddr_of(addr: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: all-zero is a valid sockaddr_storage; the fields set below make it a valid address.
    let mut storage: libc::sockaddr_storage = unsafe { mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(v4) => {
            // SAFETY: sockaddr_storage is large and aligned enough for any sockaddr.
            let sin = unsafe {
                &mut *(&mut storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>()
            };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = v4.port().to_be();
            sin.sin_addr = libc::in_addr {
                s_addr: u32::from_ne_bytes(v4.ip().octets()),
            };
            mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(v6) => {
            // SAFETY: as above.
            let sin6 = unsafe {
                &mut *(&mut storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = v6.port().to_be();
            sin6.sin6_flowinfo = v6.flowinfo();
            sin6.sin6_addr.s6_addr = v6.ip().octets();
            sin6.sin6_scope_id = v6.scope_id();
            mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

pub(crate) struct TcpTransport {
    /// Shared with the shutdown handle registered at connect, which interrupts a blocked call.
    stream: Arc<TcpStream>,
    buffers: LazyBuffers,
    pending: Vec<u8>,
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
    /// The peer closed while we were sending: the rest of the output is dropped, and this error is
    /// reported if no answer can be read either.
    send_failed: Option<io::Error>,
    /// Set with `send_failed` and never cleared: the connection must not go back to the pool.
    peer_closed: bool,
    /// Input arrived since the last probe: the next `is_open` is the pool taking the connection
    /// back after a call, not handing it out.
    used_since_probe: bool,
}

impl TcpTransport {
    fn new(stream: TcpStream, buffers: LazyBuffers) -> TcpTransport {
        TcpTransport {
            stream: Arc::new(stream),
            buffers,
            pending: Vec::new(),
            read_timeout: None,
            write_timeout: None,
            send_failed: None,
            peer_closed: false,
            used_since_probe: false,
        }
    }

    /// Sends everything held back, within the write deadline.
    fn flush(&mut self, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.flush_with_output(0, timeout)
    }

    /// Sends everything held back and then the first `amount` bytes of ureq's output buffer, in
    /// one system call where the socket takes them, within the write deadline.
    fn flush_with_output(
        &mut self,
        amount: usize,
        timeout: NextTimeout,
    ) -> Result<(), ureq::Error> {
        let TcpTransport {
            stream,
            buffers,
            pending,
            write_timeout,
            send_failed,
            peer_closed,
            ..
        } = self;
        if *peer_closed {
            pending.clear();
            return Ok(());
        }
        let output = &buffers.output()[..amount];
        let timeout = timeout.for_write();
        let deadline = deadline_of(timeout);
        let mut sent = 0;
        while sent < pending.len() + output.len() {
            let left = time_left(deadline, timeout)?;
            ensure_timeout(write_timeout, left, |t| stream.set_write_timeout(t))?;
            match send_from(stream, pending, output, sent) {
                Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero).into()),
                Ok(n) => sent += n,
                Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_peer_closed(&e) => {
                    *send_failed = Some(e);
                    *peer_closed = true;
                    break;
                }
                Err(e) => return Err(e.into()),
            }
        }
        pending.clear();
        Ok(())
    }

    /// The end of the input, or a read error: after a failed send, the send's error explains it
    /// (an answer, had there been one, would have been read first).
    fn input_failed(&mut self, e: io::Error) -> ureq::Error {
        self.send_failed.take().unwrap_or(e).into()
    }
}

impl Transport for TcpTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        if amount >= SEND_DIRECT_AT {
            // A large body: behind the head held back, straight from ureq's buffer.
            return self.flush_with_output(amount, timeout);
        }
        self.pending
            .extend_from_slice(&self.buffers.output()[..amount]);
        if self.pending.len() >= FLUSH_AT {
            self.flush(timeout)?;
        }
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.flush(timeout)?;
        let timeout = timeout.for_read();
        let deadline = deadline_of(timeout);
        loop {
            let left = time_left(deadline, timeout)?;
            ensure_timeout(&mut self.read_timeout, left, |t| {
                self.stream.set_read_timeout(t)
            })?;
            let input = self.buffers.input_append_buf();
            match (&*self.stream).read(input) {
                Ok(0) if self.send_failed.is_some() => {
                    return Err(self.input_failed(io::ErrorKind::UnexpectedEof.into()));
                }
                Ok(n) => {
                    self.buffers.input_appended(n);
                    self.used_since_probe = true;
                    return Ok(n > 0);
                }
                // An early wake-up (the socket timeout may be shorter than the time left) reads again.
                Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.input_failed(e)),
            }
        }
    }

    /// Open means: nothing to read and not closed. Bytes waiting on an idle connection mean the
    /// previous response was not what it claimed, so the connection must not be reused either.
    ///
    /// ureq asks when a call gives the connection back and again when a call takes it from the
    /// pool. Only the second probes the socket: it sees everything the first would have seen
    /// (stray bytes or a close stay until read), plus whatever happened while the connection was
    /// idle, and it saves a system call per call.
    fn is_open(&mut self) -> bool {
        if self.peer_closed {
            return false;
        }
        if mem::take(&mut self.used_since_probe) {
            return true;
        }
        let mut byte = 0u8;
        // SAFETY: one writable byte; MSG_PEEK | MSG_DONTWAIT neither consumes nor blocks.
        let n = unsafe {
            libc::recv(
                self.stream.as_raw_fd(),
                (&mut byte as *mut u8).cast(),
                1,
                libc::MSG_PEEK | libc::MSG_DONTWAIT,
            )
        };
        n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::WouldBlock
    }
}

impl fmt::Debug for TcpTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpTransport")
            .field("peer", &self.stream.peer_addr().ok())
            .finish()
    }
}

/// None when the call has no deadline.
fn deadline_of(timeout: NextTimeout) -> Option<Instant> {
    if timeout.after.is_not_happening() {
        None
    } else {
        Some(Instant::now() + *timeout.after)
    }
}

/// The time left before `deadline` (None: no deadline), or the timeout error once it has passed.
fn time_left(
    deadline: Option<Instant>,
    timeout: NextTimeout,
) -> Result<Option<Duration>, ureq::Error> {
    match deadline {
        None => Ok(None),
        Some(d) => match d.checked_duration_since(Instant::now()) {
            Some(left) if !left.is_zero() => Ok(Some(left)),
            _ => Err(ureq::Error::Timeout(timeout.reason)),
        },
    }
}

/// Sends from `first` and then `second`, skipping the `skip` bytes already sent: one `send` or,
/// when both have bytes left, one `sendmsg`; both with MSG_NOSIGNAL (never `writev`, which could
/// raise SIGPIPE).
fn send_from(stream: &TcpStream, first: &[u8], second: &[u8], skip: usize) -> io::Result<usize> {
    let (first, second) = match first.get(skip..) {
        Some(rest) => (rest, second),
        None => (&second[skip - first.len()..], &[][..]),
    };
    if first.is_empty() || second.is_empty() {
        let only = if first.is_empty() { second } else { first };
        return (&*stream).write(only);
    }
    let mut parts = [
        libc::iovec {
            iov_base: first.as_ptr() as *mut libc::c_void,
            iov_len: first.len(),
        },
        libc::iovec {
            iov_base: second.as_ptr() as *mut libc::c_void,
            iov_len: second.len(),
        },
    ];
    // SAFETY: a zeroed msghdr is a valid empty one (no address, no control data).
    let mut message: libc::msghdr = unsafe { mem::zeroed() };
    message.msg_iov = parts.as_mut_ptr();
    message.msg_iovlen = parts.len() as _;
    // SAFETY: `message` points at two iovecs over live slices that outlive the call; sendmsg
    // only reads them.
    let n = unsafe { libc::sendmsg(stream.as_raw_fd(), &message, libc::MSG_NOSIGNAL) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// What a send to a peer that closed its socket fails with.
fn is_peer_closed(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Option<Duration> {
        Some(Duration::from_millis(n))
    }

    #[test]
    fn the_socket_timeout_changes_only_when_it_leaves_the_band() {
        let mut current = None;
        let mut applied = Vec::new();
        let mut step = |left: Option<Duration>, current: &mut Option<Duration>| {
            ensure_timeout(current, left, |t| {
                applied.push(t);
                Ok(())
            })
            .unwrap()
        };
        step(ms(30_000), &mut current); // first use: set to 90%
        step(ms(29_990), &mut current); // the next call, a moment later: still fits
        step(ms(20_000), &mut current); // less left than what is set: must shrink
        step(ms(30_000), &mut current); // 18 s set of 30 s left: within the band
        step(ms(40_000), &mut current); // set is under half of what is left: raise
        assert_eq!(applied, vec![ms(27_000), ms(18_000), ms(36_000)]);
    }

    #[test]
    fn send_from_resumes_anywhere_in_either_part() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let sender = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut receiver, _) = listener.accept().unwrap();
        let (head, body) = (b"HEAD".as_slice(), b"body!".as_slice());
        let whole = [head, body].concat();
        for skip in 0..whole.len() {
            let n = send_from(&sender, head, body, skip).unwrap();
            // Loopback takes nine bytes at once: everything left, in one call.
            assert_eq!(n, whole.len() - skip, "skip {skip}");
            let mut got = vec![0; n];
            receiver.read_exact(&mut got).unwrap();
            assert_eq!(got, &whole[skip..], "skip {skip}");
        }
    }
}
