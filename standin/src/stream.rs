//! `GET /user/stream`: the WebSocket that pushes the current profile.
//!
//! Each connection has one thread that owns all WebSocket protocol state and does every write
//! (so a pong can never interleave with a half-written 1 MB frame), fed by a channel that carries
//! both broadcast frames and the raw bytes a small pump thread reads off the socket.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread;

use tungstenite::handshake::derive_accept_key;
use tungstenite::protocol::Role;
use tungstenite::{Message, Utf8Bytes, WebSocket};

use crate::App;

/// What a connection thread reacts to.
enum Event {
    /// A text frame to send.
    Frame(Utf8Bytes),
    /// Bytes the client sent (frames, pings, close).
    Incoming(Vec<u8>),
    /// The client's side of the socket is gone.
    Closed,
}

/// A registered connection, as the broadcaster sees it.
pub struct Subscriber {
    id: u64,
    tx: Sender<Event>,
    /// A handle on the socket so `drop_all` can cut it without the connection's cooperation.
    sock: TcpStream,
}

impl Subscriber {
    pub fn push(&self, frame: Utf8Bytes) {
        // A send error means the connection thread already ended; the hub forgets it later.
        let _ = self.tx.send(Event::Frame(frame));
    }
}

/// All live stream connections.
#[derive(Default)]
pub struct Hub {
    subs: Mutex<Vec<Subscriber>>,
    next_id: AtomicU64,
}

impl Hub {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Subscriber>> {
        self.subs.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn add(&self, sub: Subscriber) {
        self.lock().push(sub);
    }

    fn remove(&self, id: u64) {
        self.lock().retain(|s| s.id != id);
    }

    /// Queues `frame` for every connection, forgetting those that have ended.
    pub fn broadcast(&self, frame: &Utf8Bytes) {
        self.lock()
            .retain(|s| s.tx.send(Event::Frame(frame.clone())).is_ok());
    }

    /// Cuts every connection at the TCP level, without a WebSocket close frame.
    pub fn drop_all(&self) {
        for sub in self.lock().drain(..) {
            let _ = sub.sock.shutdown(Shutdown::Both);
        }
    }
}

/// The socket as tungstenite sees it: reads come from bytes the pump delivered (WouldBlock when
/// none are left), writes go straight to the TCP stream.
struct Duplex {
    inbound: Vec<u8>,
    out: TcpStream,
}

impl Read for Duplex {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.inbound.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = buf.len().min(self.inbound.len());
        buf[..n].copy_from_slice(&self.inbound[..n]);
        self.inbound.drain(..n);
        Ok(n)
    }
}

impl Write for Duplex {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Whether the request asks for a WebSocket upgrade we can accept; returns the client key.
pub fn upgrade_key(req: &crate::http::Request) -> Option<&str> {
    let upgrade = req.header_has_token("upgrade", "websocket")
        && req.header_has_token("connection", "upgrade")
        && req.header("sec-websocket-version") == Some("13");
    upgrade.then(|| req.header("sec-websocket-key")).flatten()
}

/// Completes the handshake and serves the connection until either side ends it.
/// `leftover` holds bytes the client sent right behind its upgrade request.
pub fn serve(app: &Arc<App>, mut tcp: TcpStream, leftover: Vec<u8>, key: &str) {
    let head = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        derive_accept_key(key.as_bytes())
    );
    // Idle streams are normal; only the HTTP phase has a read timeout.
    if tcp.write_all(head.as_bytes()).is_err() || tcp.set_read_timeout(None).is_err() {
        return;
    }
    let (Ok(reader), Ok(handle)) = (tcp.try_clone(), tcp.try_clone()) else {
        return;
    };
    let (tx, rx) = channel();
    let id = app.state.hub.next_id.fetch_add(1, Ordering::Relaxed);
    spawn_pump(app.clone(), reader, tx.clone());
    app.state.subscribe(Subscriber {
        id,
        tx,
        sock: handle,
    });

    let duplex = Duplex {
        inbound: leftover,
        out: tcp,
    };
    let mut ws = WebSocket::from_raw_socket(duplex, Role::Server, None);
    run(&mut ws, &rx);
    app.state.hub.remove(id);
    let _ = ws.get_ref().out.shutdown(Shutdown::Both);
}

/// The connection's event loop; returns when the connection is finished.
fn run(ws: &mut WebSocket<Duplex>, rx: &Receiver<Event>) {
    // Bytes that arrived with the upgrade request are processed first.
    if !drain_incoming(ws) {
        return;
    }
    while let Ok(event) = rx.recv() {
        let alive = match event {
            Event::Frame(text) => ws.send(Message::Text(text)).is_ok(),
            Event::Incoming(bytes) => {
                ws.get_mut().inbound.extend_from_slice(&bytes);
                drain_incoming(ws)
            }
            Event::Closed => false,
        };
        if !alive {
            return;
        }
    }
}

/// Lets tungstenite consume what the client sent: it answers pings and close frames itself (the
/// replies go out on the next read/flush). Application messages from the client are ignored:
/// the stream is server → client only. Returns false once the connection is over.
fn drain_incoming(ws: &mut WebSocket<Duplex>) -> bool {
    loop {
        match ws.read() {
            Ok(_) => continue,
            Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                // Push out any queued pong now rather than with the next frame.
                return match ws.flush() {
                    Ok(()) => true,
                    Err(tungstenite::Error::Io(e)) => e.kind() == io::ErrorKind::WouldBlock,
                    Err(_) => false,
                };
            }
            Err(_) => return false,
        }
    }
}

/// Reads raw bytes off the socket and hands them to the connection thread. While the
/// `mute-pings` fault is on it holds what it read, so pings go unanswered.
fn spawn_pump(app: Arc<App>, mut sock: TcpStream, tx: Sender<Event>) {
    let spawned = thread::Builder::new()
        .name("stream-pump".into())
        .spawn(move || {
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                app.faults.wait_while_muted();
                let n = match sock.read(&mut buf) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                app.faults.wait_while_muted();
                if tx.send(Event::Incoming(buf[..n].to_vec())).is_err() {
                    return;
                }
            }
            let _ = tx.send(Event::Closed);
        });
    if spawned.is_err() {
        eprintln!("pieces-standin: cannot start a stream reader thread");
    }
}
