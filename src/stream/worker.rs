//! The stream thread: connect, deliver, detect dead connections, back off, reconnect, until stopped.

use std::io;
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use serde_json::value::RawValue;
use tungstenite::handshake::HandshakeError;
use tungstenite::protocol::WebSocketConfig;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Connector, Message, WebSocket};

use super::event::StreamEvent;
use super::options::StreamOptions;
use crate::client::Client;
use crate::error::{Error, ErrorKind};
use crate::net::ensure_timeout;
use crate::net::{self, is_timeout};
use crate::schema::{self, DocumentKind};

/// Where the host reaches into the thread: the stop flag, the socket to shut down, the backoff wait.
pub(crate) struct Shared {
    stopping: AtomicBool,
    control: Mutex<Option<TcpStream>>,
    wake: Condvar,
}

impl Shared {
    pub(crate) fn new() -> Shared {
        Shared {
            stopping: AtomicBool::new(false),
            control: Mutex::new(None),
            wake: Condvar::new(),
        }
    }

    /// Sets the flag, then wakes the thread wherever it waits: a socket read or handshake (by
    /// shutting the socket down) or the backoff (by the condvar). The flag is set under the lock so
    /// a socket registered concurrently is either shut down here or refused by `register`.
    pub(crate) fn request_stop(&self) {
        let socket = self.lock();
        self.stopping.store(true, Ordering::SeqCst);
        if let Some(socket) = socket.as_ref() {
            let _ = socket.shutdown(Shutdown::Both);
        }
        drop(socket);
        self.wake.notify_all();
    }

    pub(crate) fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Keeps a handle on the socket so `request_stop` can interrupt a blocked read. False when a
    /// stop is already requested (the caller then gives the socket up).
    fn register(&self, socket: &TcpStream) -> bool {
        let mut slot = self.lock();
        if self.is_stopping() {
            return false;
        }
        *slot = socket.try_clone().ok();
        true
    }

    fn unregister(&self) {
        *self.lock() = None;
    }

    /// Waits `delay` unless a stop comes first; true when stopping.
    fn sleep(&self, delay: Duration) -> bool {
        let deadline = Instant::now() + delay;
        let mut guard = self.lock();
        while !self.is_stopping() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            guard = self
                .wake
                .wait_timeout(guard, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        self.is_stopping()
    }

    /// No user code runs under this lock, so poisoning cannot happen; recover rather than panic.
    fn lock(&self) -> MutexGuard<'_, Option<TcpStream>> {
        self.control.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub(crate) type Sink = Box<dyn FnMut(StreamEvent) + Send>;

type Socket = WebSocket<MaybeTlsStream<NoSigpipe>>;

/// An open WebSocket and a second handle on its TCP socket, for setting read timeouts whether or not
/// TLS sits in between (a socket option set through one handle applies to both).
struct Connection {
    socket: Socket,
    tcp: TcpStream,
}

/// A TcpStream whose writes all go through `write`, which std sends with MSG_NOSIGNAL. rustls
/// writes TLS records with `write_vectored`, which on a plain TcpStream is `writev` and raises
/// SIGPIPE when the peer has gone — fatal to a C host that never ignored it. The trait's default
/// `write_vectored` writes the first buffer with `write`, so not overriding it is the fix.
pub(crate) struct NoSigpipe(pub(crate) TcpStream);

impl io::Read for NoSigpipe {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl io::Write for NoSigpipe {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

pub(crate) struct Worker {
    pub(crate) client: std::sync::Arc<Client>,
    pub(crate) options: StreamOptions,
    pub(crate) shared: std::sync::Arc<Shared>,
    pub(crate) sink: Sink,
    /// Set when the handler panicked: nothing more is delivered to it.
    pub(crate) broken: bool,
    pub(crate) rng: XorShift,
    /// The rustls configuration for wss://, once built.
    pub(crate) tls: Option<std::sync::Arc<rustls::ClientConfig>>,
}

const STOP_REQUESTED: &str = "stop requested";

/// A connection that stays up this long counts as healthy even without a frame: the reconnect
/// backoff starts over after it. One that a server accepts and closes at once does not, so
/// against such a server the attempts and delays keep growing.
const HEALTHY_AFTER: Duration = Duration::from_secs(5);

impl Worker {
    pub(crate) fn run(self) {
        self.run_contained(Worker::run_connections);
    }

    fn run_contained(mut self, body: impl FnOnce(&mut Worker) -> String) {
        let reason = self.contain(body);
        self.deliver(StreamEvent::Stopped { reason });
    }

    /// The stream thread's panic boundary. A panic in `body` (a bug) becomes an error event, and the
    /// stream ends as it always does: `stopped`, then the handler is dropped (a C host's `release`).
    fn contain(&mut self, body: impl FnOnce(&mut Worker) -> String) -> String {
        let payload = match catch_unwind(AssertUnwindSafe(|| body(self))) {
            Ok(reason) => return reason,
            Err(payload) => payload,
        };
        self.shared.unregister();
        let what = panic_text(payload);
        self.deliver(StreamEvent::Error(Error::new(
            ErrorKind::Panic,
            format!("internal error (a bug in pieces_user, please report it): {what}"),
        )));
        format!("internal error: {what}")
    }

    /// Connects and reconnects until stopped or out of attempts; returns why it ended.
    fn run_connections(&mut self) -> String {
        // Consecutive failed connects (what max_attempts bounds) and reconnects since the last success.
        let mut failures = 0u32;
        let mut attempt = 0u32;
        loop {
            if self.shared.is_stopping() {
                return STOP_REQUESTED.into();
            }
            // Recomputed per attempt: with discovery the client may have found Pieces OS elsewhere.
            let url = self.client.stream_url();
            match self.connect(&url) {
                Ok(mut connection) => {
                    failures = 0;
                    let opened = Instant::now();
                    let (reason, heard) = self.session(&mut connection, url);
                    if heard || opened.elapsed() >= HEALTHY_AFTER {
                        attempt = 0;
                    }
                    self.shared.unregister();
                    if self.shared.is_stopping() {
                        return STOP_REQUESTED.into();
                    }
                    self.deliver(StreamEvent::Disconnected { reason });
                }
                Err(e) => {
                    if self.shared.is_stopping() {
                        return STOP_REQUESTED.into();
                    }
                    failures += 1;
                    self.deliver(StreamEvent::Error(e));
                    if self.options.max_attempts.is_some_and(|max| failures >= max) {
                        return format!("gave up after {failures} failed connection attempts");
                    }
                }
            }
            attempt = attempt.saturating_add(1);
            let delay = self.backoff(attempt);
            self.deliver(StreamEvent::Reconnecting { attempt, delay });
            if self.shared.sleep(delay) {
                return STOP_REQUESTED.into();
            }
            // Pieces OS may have restarted on another port. Without discovery this probes nothing;
            // when nothing is found the connect below fails and reports it.
            let _ = self.client.rediscover();
        }
    }

    /// `reconnect_min · 2^(attempt-1)`, capped at `reconnect_max`, then jittered into its upper half
    /// so that many clients of one restarted server do not reconnect in lockstep.
    fn backoff(&mut self, attempt: u32) -> Duration {
        let min = self.options.reconnect_min.as_nanos() as u64;
        let max = self.options.reconnect_max.as_nanos() as u64;
        let base = min.saturating_mul(1u64 << (attempt - 1).min(40)).min(max);
        let half = base / 2;
        Duration::from_nanos(half + self.rng.next() % (base - half + 1))
    }

    /// One open connection: `connected`, the current user from `GET /user`, then frames until the
    /// connection ends. Returns why it ended, and whether the server sent any frame but a close.
    fn session(&mut self, connection: &mut Connection, url: String) -> (String, bool) {
        let mut heard = false;
        let reason = self.read_frames(connection, url, &mut heard);
        (reason, heard)
    }

    fn read_frames(
        &mut self,
        connection: &mut Connection,
        url: String,
        heard: &mut bool,
    ) -> String {
        let Connection { socket, tcp } = connection;
        // What the socket's read timeout is now: set again only when it must change (a syscall per
        // frame otherwise); a read that wakes early just loops and checks the deadline again.
        let mut read_timeout = None;
        self.deliver(StreamEvent::Connected { url });
        self.deliver_snapshot();
        let mut last_frame = Instant::now();
        let mut ping_sent: Option<Instant> = None;
        loop {
            if self.shared.is_stopping() {
                return STOP_REQUESTED.into();
            }
            let deadline = match ping_sent {
                Some(at) => at + self.options.ping_timeout,
                None => last_frame + self.options.ping_interval,
            };
            let now = Instant::now();
            if now >= deadline {
                if ping_sent.is_some() {
                    let ms = self.options.ping_timeout.as_millis();
                    return format!("no answer to a ping within {ms} ms");
                }
                if let Err(e) = socket.send(Message::Ping(Default::default())) {
                    return format!("sending a ping failed: {e}");
                }
                ping_sent = Some(now);
                continue;
            }
            // The read wakes by the next ping or timeout deadline at the latest; a stop wakes it at once.
            let _ = ensure_timeout(&mut read_timeout, Some(deadline - now), |t| {
                tcp.set_read_timeout(t)
            });
            match socket.read() {
                Ok(message) => {
                    last_frame = Instant::now();
                    ping_sent = None;
                    *heard |= !message.is_close();
                    if let Some(reason) = self.on_message(message) {
                        return reason;
                    }
                }
                Err(tungstenite::Error::Io(e)) if is_timeout(&e) => {}
                Err(e) => return self.read_failure(e),
            }
        }
    }

    /// Delivers a data frame; returns a reason when the message ends the connection.
    fn on_message(&mut self, message: Message) -> Option<String> {
        match message {
            // tungstenite has checked a text frame's UTF-8 already; only binary frames need it.
            Message::Text(text) => self.on_frame(frame_event(text.as_str())),
            Message::Binary(bytes) => self.on_frame(match std::str::from_utf8(&bytes) {
                Ok(text) => frame_event(text),
                Err(_) => not_a_profile("a binary frame that is not UTF-8".into()),
            }),
            Message::Close(frame) => {
                return Some(match frame {
                    Some(f) => format!("server closed the connection ({} {})", f.code, f.reason),
                    None => "server closed the connection".into(),
                });
            }
            // tungstenite answers pings itself; any frame already counted as a sign of life.
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
        }
        None
    }

    /// A frame that is not a profile says nothing about the user: after its error, `GET /user`
    /// decides between `user` and `signed_out`.
    fn on_frame(&mut self, event: StreamEvent) {
        let resync = matches!(event, StreamEvent::Error(_));
        self.deliver(event);
        if resync {
            self.deliver_snapshot();
        }
    }

    fn read_failure(&mut self, e: tungstenite::Error) -> String {
        use tungstenite::Error as W;
        match e {
            W::Capacity(c) => {
                let limit = self.options.max_frame_bytes;
                let message = format!("a frame exceeds max_frame_bytes ({limit}): {c}");
                self.deliver(StreamEvent::Error(Error::new(
                    ErrorKind::ResponseTooLarge,
                    message,
                )));
                "frame too large".into()
            }
            W::ConnectionClosed | W::AlreadyClosed => "connection closed".into(),
            W::Protocol(p) => format!("connection lost: {p}"),
            other => format!("connection lost: {other}"),
        }
    }

    fn deliver_snapshot(&mut self) {
        let event = match self.client.snapshot_json() {
            Ok(text) => snapshot_event(&text),
            Err(e) => StreamEvent::Error(e),
        };
        self.deliver(event);
    }

    /// Hands one event to the handler. A panicking handler is never called again and ends the
    /// stream: the panic stays on this thread instead of tearing it down mid-state.
    fn deliver(&mut self, event: StreamEvent) {
        if self.broken {
            return;
        }
        let sink = &mut self.sink;
        if catch_unwind(AssertUnwindSafe(|| sink(event))).is_err() {
            self.broken = true;
            self.shared.request_stop();
        }
    }

    /// Built on the first wss:// connect and kept: reading the CA file once per stream is enough.
    fn tls_config(&mut self) -> Result<std::sync::Arc<rustls::ClientConfig>, Error> {
        if let Some(config) = &self.tls {
            return Ok(config.clone());
        }
        let config = crate::tls::client_config(self.client.config().tls_ca_file.as_deref())?;
        self.tls = Some(config.clone());
        Ok(config)
    }

    /// TCP connect (bounded by the client's connect timeout), then TLS for wss://, then the
    /// WebSocket handshake.
    fn connect(&mut self, url: &str) -> Result<Connection, Error> {
        let timeout = self.client.config().connect_timeout;
        let tcp = connect_tcp(url, timeout)?;
        // Both timeouts keep the handshake and later pings from blocking forever on a stuck peer.
        let _ = tcp.set_read_timeout(Some(timeout));
        let _ = tcp.set_write_timeout(Some(timeout));
        let _ = tcp.set_nodelay(true);
        if !self.shared.register(&tcp) {
            return Err(Error::new(ErrorKind::Connection, STOP_REQUESTED));
        }
        let max = self.options.max_frame_bytes;
        let config = WebSocketConfig::default()
            .max_message_size(Some(max))
            .max_frame_size(Some(max));
        let connector = match url.starts_with("wss://") {
            true => Connector::Rustls(self.tls_config()?),
            false => Connector::Plain,
        };
        let handle = tcp
            .try_clone()
            .map_err(|e| Error::new(ErrorKind::Connection, format!("socket: {e}")))?;
        let result =
            tungstenite::client_tls_with_config(url, NoSigpipe(tcp), Some(config), Some(connector));
        result
            .map(|(socket, _)| Connection {
                socket,
                tcp: handle,
            })
            .map_err(|e| {
                self.shared.unregister();
                handshake_error(e)
            })
    }
}

/// `ws://host:port/path` → a connected TcpStream, trying every address the host resolves to.
fn connect_tcp(url: &str, timeout: Duration) -> Result<TcpStream, Error> {
    let (rest, default_port) = match url.strip_prefix("wss://") {
        Some(rest) => (rest, 443),
        None => (url.strip_prefix("ws://").unwrap_or(url), 80),
    };
    let authority = rest.split('/').next().unwrap_or("");
    let has_port = authority.rsplit_once(':').is_some_and(|(_, p)| {
        !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && !authority.ends_with(']')
    });
    let target = if has_port {
        authority.to_string()
    } else {
        format!("{authority}:{default_port}")
    };
    let addrs: Vec<SocketAddr> = target
        .to_socket_addrs()
        .map_err(|e| Error::new(ErrorKind::Connection, format!("{target}: {e}")).with_source(e))?
        .collect();
    if addrs.is_empty() {
        return Err(Error::new(
            ErrorKind::Connection,
            format!("{target}: no address"),
        ));
    }
    let connect = |addr: &SocketAddr, by: Option<Instant>| {
        // connect_timeout refuses a zero timeout; the share of a budget just spent is 1 ms.
        let left = by.map_or(timeout, |by| by.saturating_duration_since(Instant::now()));
        TcpStream::connect_timeout(addr, left.max(Duration::from_millis(1)))
    };
    net::connect_first(&addrs, Some(Instant::now() + timeout), || false, connect).map_err(|e| {
        if is_timeout(&e) {
            Error::new(ErrorKind::Timeout, format!("connect: {e}")).with_source(e)
        } else {
            Error::new(ErrorKind::Connection, format!("connect to {target}: {e}")).with_source(e)
        }
    })
}

fn handshake_error<S: tungstenite::handshake::HandshakeRole>(e: HandshakeError<S>) -> Error {
    match e {
        HandshakeError::Interrupted(_) => Error::new(
            ErrorKind::Timeout,
            "WebSocket handshake timed out (connect timeout)",
        ),
        HandshakeError::Failure(tungstenite::Error::Http(response)) => {
            let status = response.status().as_u16();
            let body = response
                .body()
                .as_deref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            Error::http(status, body)
        }
        HandshakeError::Failure(tungstenite::Error::Tls(e)) => {
            Error::new(ErrorKind::Tls, format!("TLS: {e}")).with_source(e)
        }
        HandshakeError::Failure(tungstenite::Error::Io(e)) => match crate::tls::tls_failure(&e) {
            Some(tls) => crate::tls::tls_error(tls),
            None => Error::new(
                ErrorKind::Connection,
                format!("WebSocket handshake failed: {e}"),
            )
            .with_source(e),
        },
        HandshakeError::Failure(other) => Error::new(
            ErrorKind::Connection,
            format!("WebSocket handshake failed: {other}"),
        )
        .with_source(other),
    }
}

/// A pushed frame: empty or `null` means signed out (as Pieces OS sends it); anything else that is
/// not a valid profile is an error (with its JSON path when it is JSON), which the caller follows
/// with a re-sync. The official Python client reads any non-JSON frame as signed out; one garbage
/// frame must not sign the user out here.
pub(crate) fn frame_event(text: &str) -> StreamEvent {
    let trimmed = text.trim();
    if trimmed.is_empty() || trimmed == "null" {
        return StreamEvent::SignedOut;
    }
    match schema::validate(DocumentKind::UserProfile, text.as_bytes()) {
        // One spare byte: the C ABI appends a NUL without reallocating.
        Ok(()) => {
            let mut owned = String::with_capacity(text.len() + 1);
            owned.push_str(text);
            StreamEvent::User(owned)
        }
        Err(v) if v.syntax => not_a_profile(format!("a frame that is not JSON: {}", v.message)),
        Err(v) => StreamEvent::Error(Error::invalid_document(
            ErrorKind::InvalidResponse,
            v.path,
            v.message,
        )),
    }
}

fn not_a_profile(message: String) -> StreamEvent {
    StreamEvent::Error(Error::new(ErrorKind::InvalidResponse, message))
}

/// A panic's message. Its payload is dropped inside a boundary of its own: a payload whose
/// destructor panics would otherwise escape right here.
fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic payload".to_owned());
    let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
    text
}

/// The stream's reading of a pushed frame and of a GET /user answer, for fuzz/ only: cargo fuzz
/// builds with `--cfg fuzzing`, and these two functions are where untrusted server text is parsed.
#[cfg(fuzzing)]
pub fn fuzz_frame(text: &str) -> (StreamEvent, StreamEvent) {
    (frame_event(text), snapshot_event(text))
}

/// The `user` member of a (validated) ReturnedUserProfile, text unchanged; absent or null → signed out.
fn snapshot_event(text: &str) -> StreamEvent {
    #[derive(Deserialize)]
    struct Returned<'a> {
        #[serde(borrow, default)]
        user: Option<&'a RawValue>,
    }
    match serde_json::from_str::<Returned>(text) {
        Ok(Returned { user: Some(raw) }) => StreamEvent::User(raw.get().to_owned()),
        Ok(Returned { user: None }) => StreamEvent::SignedOut,
        Err(e) => StreamEvent::Error(Error::new(
            ErrorKind::InvalidResponse,
            format!("GET /user: {e}"),
        )),
    }
}

/// Jitter only needs to differ between clients, not to be unpredictable: xorshift64 seeded from the clock.
pub(crate) struct XorShift(u64);

impl XorShift {
    pub(crate) fn from_clock(salt: u64) -> XorShift {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        XorShift((nanos ^ salt.rotate_left(32)) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The child half of `no_sigpipe_writes_survive_a_peer_that_hung_up`, which runs it in a child
    /// process (`--ignored`); ignored otherwise, since on its own it proves nothing. With SIGPIPE
    /// at its default action (what a C host has), writes vectored, as rustls does, to a socket
    /// whose peer hung up: through `NoSigpipe`, or for the control through the bare TcpStream
    /// (writev, which raises SIGPIPE).
    #[cfg(unix)]
    #[test]
    #[ignore = "child process of no_sigpipe_writes_survive_a_peer_that_hung_up"]
    fn sigpipe_child_writes_to_a_hung_up_peer() {
        use std::io::{IoSlice, Write};
        let mode = std::env::var_os("PIECES_SIGPIPE_CHILD")
            .expect("run by no_sigpipe_writes_survive_a_peer_that_hung_up, not on its own");
        // SAFETY: resetting a signal disposition; no handler function is involved.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let tcp = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (peer, _) = listener.accept().unwrap();
        // FIN now; our next bytes reach a closed socket, which answers RST: then writes get EPIPE.
        peer.shutdown(Shutdown::Write).unwrap();
        drop(peer);
        let mut writer: Box<dyn Write> = if mode == "control" {
            Box::new(tcp)
        } else {
            Box::new(NoSigpipe(tcp))
        };
        let chunk = [0u8; 4096];
        let bufs = [IoSlice::new(&chunk), IoSlice::new(&chunk)];
        let mut epipe = false;
        for _ in 0..1000 {
            match writer.write_vectored(&bufs) {
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                    epipe = true;
                    break;
                }
                _ => std::thread::sleep(Duration::from_millis(1)),
            }
        }
        println!("epipe: {epipe}");
    }

    #[cfg(unix)] // SIGPIPE is a Unix signal
    #[test]
    fn no_sigpipe_writes_survive_a_peer_that_hung_up() {
        use std::os::unix::process::ExitStatusExt;
        let run = |mode: &str| {
            std::process::Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "stream::worker::tests::sigpipe_child_writes_to_a_hung_up_peer",
                    "--ignored",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env("PIECES_SIGPIPE_CHILD", mode)
                .output()
                .unwrap()
        };
        let control = run("control");
        assert_eq!(
            control.status.signal(),
            Some(libc::SIGPIPE),
            "a bare vectored write must die of SIGPIPE here, or this test proves nothing"
        );
        let guarded = run("guarded");
        let stdout = String::from_utf8_lossy(&guarded.stdout);
        assert_eq!(guarded.status.signal(), None, "{stdout}");
        assert!(guarded.status.success(), "{stdout}");
        assert!(stdout.contains("epipe: true"), "never saw EPIPE: {stdout}");
    }

    #[test]
    fn frames_are_read_as_documented() {
        assert_eq!(frame_event(""), StreamEvent::SignedOut);
        assert_eq!(frame_event("  null "), StreamEvent::SignedOut);
        for garbage in ["logged out", "{", "[1,2]x"] {
            match frame_event(garbage) {
                StreamEvent::Error(e) => assert_eq!(e.kind(), ErrorKind::InvalidResponse),
                other => panic!("{garbage}: {other:?}"),
            }
        }
        let profile = r#"{"id":"u","aesthetics":{"font":{"size":14},"theme":{"dark":true}}}"#;
        assert_eq!(frame_event(profile), StreamEvent::User(profile.into()));
        match frame_event(r#"{"id":5}"#) {
            StreamEvent::Error(e) => {
                assert_eq!(e.kind(), ErrorKind::InvalidResponse);
                assert!(e.path().is_some_and(|p| p.starts_with('$')), "{e}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_panic_on_the_stream_thread_is_an_error_then_stopped_then_one_release() {
        use std::sync::{mpsc, Arc};
        /// Reports its drop: the C ABI's `release` is the drop of the handler.
        struct Release(mpsc::Sender<Option<StreamEvent>>);
        impl Drop for Release {
            fn drop(&mut self) {
                let _ = self.0.send(None);
            }
        }
        let (tx, rx) = mpsc::channel();
        let release = Release(tx.clone());
        let sink: Sink = Box::new(move |event| {
            let _ = &release;
            let _ = tx.send(Some(event));
        });
        let config = crate::Config::new("http://127.0.0.1:1");
        let worker = Worker {
            client: Arc::new(Client::new(config).unwrap()),
            options: StreamOptions::default(),
            shared: Arc::new(Shared::new()),
            sink,
            broken: false,
            rng: XorShift::from_clock(1),
            tls: None,
        };
        let thread = std::thread::spawn(move || {
            worker.run_contained(|_| panic!("a bug inside the stream thread"))
        });
        assert!(thread.join().is_ok(), "the panic escaped the stream thread");
        let events: Vec<Option<StreamEvent>> = rx.try_iter().collect();
        assert_eq!(events.len(), 3, "{events:#?}");
        match &events[0] {
            Some(StreamEvent::Error(e)) => {
                assert_eq!(e.kind(), ErrorKind::Panic);
                assert!(
                    e.message().contains("a bug inside the stream thread"),
                    "{e}"
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(&events[1], Some(StreamEvent::Stopped { reason }) if reason.contains("internal error"))
        );
        assert_eq!(events[2], None, "released once, after stopped");
    }

    #[test]
    fn snapshots_keep_the_user_text() {
        assert_eq!(
            snapshot_event(r#"{"user": {"id":"a", "x" : 1}}"#),
            StreamEvent::User(r#"{"id":"a", "x" : 1}"#.into())
        );
        assert_eq!(snapshot_event(r#"{"user":null}"#), StreamEvent::SignedOut);
        assert_eq!(snapshot_event("{}"), StreamEvent::SignedOut);
    }
}
