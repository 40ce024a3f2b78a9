//! A loopback Pieces OS for stream tests and the stream benchmark: `GET /user` and the WebSocket
//! `GET /user/stream`, which pushes the current profile on connect and on every change, plus the
//! faults the tests need (garbage, silence, dropped connections, a listener that goes away and
//! comes back on the same port). Every connection runs on its own thread, driven by commands.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use tungstenite::{Message, WebSocket};

/// A valid minimal UserProfile with `vanityname` set to `tag`.
pub fn profile(tag: &str) -> String {
    format!(
        r#"{{"id":"u-1","vanityname":"{tag}","aesthetics":{{"font":{{"size":14}},"theme":{{"dark":true}}}}}}"#
    )
}

/// A valid profile of about `bytes` bytes (the padding is in `name`).
pub fn big_profile(bytes: usize) -> String {
    format!(
        r#"{{"id":"u-big","name":"{}","aesthetics":{{"font":{{"size":14}},"theme":{{"dark":true}}}}}}"#,
        "x".repeat(bytes.saturating_sub(80))
    )
}

enum Cmd {
    Send(Message),
    /// Send, noting the instant just before the frame is written (for latency measurements).
    Timed(Message, Arc<Mutex<Vec<Instant>>>),
    /// Close the TCP connection without a closing handshake.
    Drop,
    /// Write these bytes to the socket as they are (e.g. half a frame), then close without a
    /// closing handshake: a server killed mid-frame.
    RawThenDrop(Vec<u8>),
}

struct State {
    profile: Option<String>,
    conns: Vec<Sender<Cmd>>,
}

struct Inner {
    state: Mutex<State>,
    /// While set, connection threads stop reading, so pings go unanswered.
    muted: AtomicBool,
    /// Counts accepted WebSocket connections.
    connections: Mutex<usize>,
    /// While set, `GET /user` is read but not answered.
    hold_snapshot: AtomicBool,
    /// Pings received on all connections.
    pings: AtomicUsize,
}

pub struct WsServer {
    pub url: String,
    port: u16,
    inner: Arc<Inner>,
    acceptor: Option<Acceptor>,
}

struct Acceptor {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl WsServer {
    pub fn start(profile: Option<String>) -> WsServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let inner = Arc::new(Inner {
            state: Mutex::new(State {
                profile,
                conns: Vec::new(),
            }),
            muted: AtomicBool::new(false),
            connections: Mutex::new(0),
            hold_snapshot: AtomicBool::new(false),
            pings: AtomicUsize::new(0),
        });
        let acceptor = Some(spawn_acceptor(listener, Arc::clone(&inner)));
        WsServer {
            url: format!("http://127.0.0.1:{port}"),
            port,
            inner,
            acceptor,
        }
    }

    /// Stores the profile and pushes it to every stream connection.
    pub fn set_profile(&self, profile: &str) {
        let mut state = self.inner.state.lock().unwrap();
        state.profile = Some(profile.to_string());
        broadcast(&mut state, || Cmd::Send(Message::text(profile)));
    }

    /// Signs the user out: `GET /user` answers no user and the stream gets an empty frame.
    pub fn clear(&self) {
        let mut state = self.inner.state.lock().unwrap();
        state.profile = None;
        broadcast(&mut state, || Cmd::Send(Message::text("")));
    }

    /// Pushes a frame without changing the stored profile.
    pub fn push_raw(&self, text: &str) {
        let mut state = self.inner.state.lock().unwrap();
        broadcast(&mut state, || Cmd::Send(Message::text(text)));
    }

    /// Pushes a frame and records, in `stamps`, the instant just before it is written.
    pub fn push_timed(&self, text: &tungstenite::Utf8Bytes, stamps: &Arc<Mutex<Vec<Instant>>>) {
        let mut state = self.inner.state.lock().unwrap();
        broadcast(&mut state, || {
            Cmd::Timed(Message::Text(text.clone()), Arc::clone(stamps))
        });
    }

    pub fn drop_connections(&self) {
        let mut state = self.inner.state.lock().unwrap();
        broadcast(&mut state, || Cmd::Drop);
        state.conns.clear();
    }

    /// Every connection gets the head of a 1000-byte text frame and 10 bytes of its payload, then
    /// the TCP connection closes: what a client sees when the server dies mid-frame.
    pub fn die_mid_frame(&self) {
        let mut state = self.inner.state.lock().unwrap();
        // FIN + text opcode, then length 126 = "a 16-bit length follows": 1000.
        let mut bytes = vec![0x81, 126, 0x03, 0xE8];
        bytes.extend_from_slice(b"{\"id\":\"u-");
        broadcast(&mut state, || Cmd::RawThenDrop(bytes.clone()));
        state.conns.clear();
    }

    pub fn mute_pings(&self, muted: bool) {
        self.inner.muted.store(muted, Ordering::SeqCst);
    }

    /// Holds every `GET /user` answer while `held` (the client's request timeout then decides).
    pub fn hold_snapshot(&self, held: bool) {
        self.inner.hold_snapshot.store(held, Ordering::SeqCst);
    }

    pub fn connections(&self) -> usize {
        *self.inner.connections.lock().unwrap()
    }

    /// Waits until `n` pings have arrived in all; false if they have not within `limit`.
    pub fn wait_for_pings(&self, n: usize, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        // A test double: polling is fine here, as for `hold_snapshot`.
        while self.inner.pings.load(Ordering::SeqCst) < n {
            if Instant::now() > deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(5));
        }
        true
    }

    /// Closes the listener and every connection; connects are refused until `listen_again`.
    pub fn stop_listening(&mut self) {
        if let Some(acceptor) = self.acceptor.take() {
            acceptor.stop.store(true, Ordering::SeqCst);
            // Wake the blocking accept so the thread sees the flag and drops the listener.
            let _ = TcpStream::connect(("127.0.0.1", self.port));
            acceptor.thread.join().unwrap();
        }
        self.drop_connections();
    }

    /// Listens again on the same port (a restarted server).
    pub fn listen_again(&mut self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).unwrap();
        self.acceptor = Some(spawn_acceptor(listener, Arc::clone(&self.inner)));
    }
}

impl Drop for WsServer {
    fn drop(&mut self) {
        self.stop_listening();
    }
}

fn broadcast(state: &mut State, make: impl Fn() -> Cmd) {
    state.conns.retain(|conn| conn.send(make()).is_ok());
}

fn spawn_acceptor(listener: TcpListener, inner: Arc<Inner>) -> Acceptor {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let thread = thread::spawn(move || {
        for socket in listener.incoming() {
            if flag.load(Ordering::SeqCst) {
                break;
            }
            let Ok(socket) = socket else { continue };
            let inner = Arc::clone(&inner);
            thread::spawn(move || serve(socket, inner));
        }
    });
    Acceptor { stop, thread }
}

/// Routes on the request line without consuming it: the WebSocket handshake reads it again.
fn serve(socket: TcpStream, inner: Arc<Inner>) {
    let _ = socket.set_nodelay(true);
    let mut head = [0u8; 32];
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let n = socket.peek(&mut head).unwrap_or(0);
        if n == head.len() || head[..n].contains(&b'\n') {
            break;
        }
        if n == 0 && Instant::now() > deadline {
            return;
        }
        if Instant::now() > deadline {
            break;
        }
        thread::yield_now();
    }
    if head.starts_with(b"GET /user/stream") {
        serve_stream(socket, inner);
    } else {
        serve_http(socket, &inner);
    }
}

fn serve_http(mut socket: TcpStream, inner: &Inner) {
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match socket.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    // A test double: polling is fine here, nothing waits on this loop but the client under test.
    while inner.hold_snapshot.load(Ordering::SeqCst) {
        thread::sleep(Duration::from_millis(5));
    }
    let body = match &inner.state.lock().unwrap().profile {
        Some(p) => format!(r#"{{"user":{p}}}"#),
        None => r#"{"user":null}"#.to_string(),
    };
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = socket.write_all(response.as_bytes());
}

fn serve_stream(socket: TcpStream, inner: Arc<Inner>) {
    let Ok(mut ws) = tungstenite::accept(socket) else {
        return;
    };
    let (tx, rx) = channel();
    {
        // Registered and greeted under the lock, so no change can slip between the two.
        let mut state = inner.state.lock().unwrap();
        let greeting = state.profile.clone().unwrap_or_default();
        if ws.send(Message::text(greeting)).is_err() {
            return;
        }
        state.conns.push(tx);
    }
    *inner.connections.lock().unwrap() += 1;
    run_connection(&mut ws, &rx, &inner);
    let _ = ws.get_ref().shutdown(Shutdown::Both);
}

/// Sends what it is told at once; while idle, reads (answering pings) unless muted.
fn run_connection(ws: &mut WebSocket<TcpStream>, rx: &Receiver<Cmd>, inner: &Inner) {
    loop {
        match rx.recv_timeout(Duration::from_millis(5)) {
            Ok(Cmd::Send(message)) => {
                if ws.send(message).is_err() {
                    return;
                }
            }
            Ok(Cmd::Timed(message, stamps)) => {
                stamps.lock().unwrap().push(Instant::now());
                if ws.send(message).is_err() {
                    return;
                }
            }
            Ok(Cmd::RawThenDrop(bytes)) => {
                let _ = ws.get_mut().write_all(&bytes);
                let _ = ws.get_mut().flush();
                return;
            }
            Ok(Cmd::Drop) | Err(RecvTimeoutError::Disconnected) => return,
            Err(RecvTimeoutError::Timeout) => {
                if !inner.muted.load(Ordering::SeqCst) && !read_pending(ws, &inner.pings) {
                    return;
                }
            }
        }
    }
}

/// Reads whatever the client sent (tungstenite queues the pongs), then flushes. False when closed.
fn read_pending(ws: &mut WebSocket<TcpStream>, pings: &AtomicUsize) -> bool {
    let _ = ws
        .get_ref()
        .set_read_timeout(Some(Duration::from_millis(1)));
    loop {
        match ws.read() {
            Ok(Message::Close(_)) => return false,
            Ok(Message::Ping(_)) => {
                pings.fetch_add(1, Ordering::SeqCst);
            }
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                break;
            }
            Err(_) => return false,
        }
    }
    ws.flush().is_ok()
}
