//! A purpose-built loopback HTTP server for tests that need to see the bytes a client sends or to
//! misbehave in one precise way. Each accepted connection is handled by `script` on its own thread.
//! `stop` gives the complete record of what the server saw, so "never sent" and "sent once" are
//! checked on every request the server ever received, not on what arrived within a time window.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::thread::{self, JoinHandle};

/// One request as the server read it.
#[derive(Debug, Clone)]
pub struct SeenRequest {
    pub method: String,
    pub path: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl SeenRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What to do on a connection, given its index (0 for the first accepted connection).
pub type Script = dyn Fn(usize, &mut Conn) + Send + Sync;

pub struct Conn {
    reader: BufReader<TcpStream>,
    seen: Sender<SeenRequest>,
}

impl Conn {
    /// Reads one request; None when the client closed the connection.
    pub fn read_request(&mut self) -> Option<SeenRequest> {
        let head = self.read_head()?;
        let mut slots = [httparse::EMPTY_HEADER; 64];
        let mut parsed = httparse::Request::new(&mut slots);
        if !parsed.parse(&head).ok()?.is_complete() {
            return None;
        }
        let headers: Vec<(String, String)> = parsed
            .headers
            .iter()
            .map(|h| {
                let value = String::from_utf8_lossy(h.value).trim().to_string();
                (h.name.to_ascii_lowercase(), value)
            })
            .collect();
        let len = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .map_or(0, |(_, v)| v.parse::<usize>().unwrap());
        let mut body = vec![0; len];
        self.reader.read_exact(&mut body).ok()?;
        let request = SeenRequest {
            method: parsed.method?.to_string(),
            path: parsed.path?.to_string(),
            headers,
            body,
        };
        let _ = self.seen.send(request.clone());
        Some(request)
    }

    /// The request head, up to and including its empty line; None when the client closed first.
    fn read_head(&mut self) -> Option<Vec<u8>> {
        let mut head = Vec::new();
        loop {
            let start = head.len();
            if self.reader.read_until(b'\n', &mut head).ok()? == 0 {
                return None;
            }
            if matches!(&head[start..], b"\r\n" | b"\n") {
                return Some(head);
            }
        }
    }

    /// Reads and drops up to `n` bytes of whatever the client sends (e.g. the start of an upload);
    /// returns how many arrived before `n` or the end of the stream.
    pub fn skip_bytes(&mut self, n: usize) -> usize {
        let mut sink = Vec::new();
        (&mut self.reader)
            .take(n as u64)
            .read_to_end(&mut sink)
            .unwrap_or(0)
    }

    pub fn write(&mut self, bytes: &[u8]) {
        let _ = self.reader.get_mut().write_all(bytes);
        let _ = self.reader.get_mut().flush();
    }

    /// Writes `bytes`, reporting whether the client still takes them (for drip-feeding).
    pub fn try_write(&mut self, bytes: &[u8]) -> bool {
        let stream = self.reader.get_mut();
        stream
            .write_all(bytes)
            .and_then(|()| stream.flush())
            .is_ok()
    }

    /// Makes the close a TCP reset (SO_LINGER 0) instead of an orderly FIN. The connection is closed
    /// when the script returns, so return right after calling this.
    pub fn reset_on_close(&mut self) {
        use std::os::fd::AsRawFd;
        let stream = self.reader.get_ref();
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: setsockopt on a socket we own, with a correctly sized linger struct.
        let rc = unsafe {
            libc::setsockopt(
                stream.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&linger as *const libc::linger).cast(),
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0, "SO_LINGER");
    }

    /// Closes the connection now (FIN both ways), before the script returns.
    pub fn close(&mut self) {
        let _ = self.reader.get_ref().shutdown(std::net::Shutdown::Both);
    }

    /// A complete keep-alive response.
    pub fn respond(&mut self, status: u16, content_type: &str, body: &[u8]) {
        let head = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let mut all = head.into_bytes();
        all.extend_from_slice(body);
        self.write(&all);
    }
}

pub struct RawServer {
    pub url: String,
    pub requests: Receiver<SeenRequest>,
    connections: Arc<AtomicUsize>,
    stopping: Arc<AtomicBool>,
    wake: Sender<SocketAddr>,
    acceptor: JoinHandle<()>,
}

/// Everything a stopped server saw.
#[derive(Debug)]
pub struct Record {
    /// Connections accepted (the stop's own wake-up connection excluded).
    pub connections: usize,
    /// Every request read, in arrival order, except those the test already took from `requests`.
    pub requests: Vec<SeenRequest>,
}

impl Record {
    pub fn count(&self, method: &str) -> usize {
        self.requests.iter().filter(|r| r.method == method).count()
    }
}

impl RawServer {
    pub fn start(script: impl Fn(usize, &mut Conn) + Send + Sync + 'static) -> RawServer {
        RawServer::start_on(TcpListener::bind("127.0.0.1:0").unwrap(), script)
    }

    /// [`RawServer::start`] on a listener the test already holds (e.g. a port it chose).
    pub fn start_on(
        listener: TcpListener,
        script: impl Fn(usize, &mut Conn) + Send + Sync + 'static,
    ) -> RawServer {
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = channel();
        let (wake, wake_rx) = channel();
        let connections = Arc::new(AtomicUsize::new(0));
        let stopping = Arc::new(AtomicBool::new(false));
        let acceptor = Acceptor {
            listener,
            script: Arc::new(script),
            seen: tx,
            counter: connections.clone(),
            stopping: stopping.clone(),
            wake: wake_rx,
        };
        RawServer {
            url,
            requests: rx,
            connections,
            stopping,
            wake,
            acceptor: thread::spawn(move || acceptor.run()),
        }
    }

    /// Stops accepting, waits for every script to return and gives the full record. Every
    /// connection the client opened is in the listen queue ahead of the stop's own wake-up
    /// connection, so none is missed. Drop every client of this server first: a script reading a
    /// kept-alive connection returns only when the client hangs up.
    pub fn stop(self) -> Record {
        self.stopping.store(true, Ordering::SeqCst);
        let addr = self.url.trim_start_matches("http://");
        let knock = TcpStream::connect(addr).unwrap();
        self.wake.send(knock.local_addr().unwrap()).unwrap();
        self.acceptor.join().unwrap();
        Record {
            connections: self.connections.load(Ordering::SeqCst),
            requests: self.requests.iter().collect(),
        }
    }
}

struct Acceptor {
    listener: TcpListener,
    script: Arc<Script>,
    seen: Sender<SeenRequest>,
    counter: Arc<AtomicUsize>,
    stopping: Arc<AtomicBool>,
    wake: Receiver<SocketAddr>,
}

impl Acceptor {
    /// Runs each connection's script on its own thread until `stop` knocks; then joins them all.
    fn run(self) {
        let mut scripts = Vec::new();
        let mut knock = None;
        for stream in self.listener.incoming() {
            let Ok(stream) = stream else { break };
            if self.is_the_knock(&stream, &mut knock) {
                break;
            }
            let index = self.counter.fetch_add(1, Ordering::SeqCst);
            let script = self.script.clone();
            let seen = self.seen.clone();
            scripts.push(thread::spawn(move || {
                let mut conn = Conn {
                    reader: BufReader::new(stream),
                    seen,
                };
                script(index, &mut conn);
            }));
        }
        for script in scripts {
            assert!(script.join().is_ok(), "a connection script panicked");
        }
    }

    /// `stop` sets the flag before the knock connects, so the knock is never taken for a client;
    /// its address, sent once it has connected, tells it apart from client connections queued
    /// before it.
    fn is_the_knock(&self, stream: &TcpStream, knock: &mut Option<SocketAddr>) -> bool {
        if !self.stopping.load(Ordering::SeqCst) {
            return false;
        }
        if knock.is_none() {
            *knock = self.wake.recv().ok();
        }
        stream.peer_addr().ok() == *knock
    }
}

/// Answers every request on every connection with the same JSON body, keeping connections alive.
pub fn constant_json(body: &'static str) -> impl Fn(usize, &mut Conn) + Send + Sync + 'static {
    move |_, conn| {
        while conn.read_request().is_some() {
            conn.respond(200, "application/json", body.as_bytes());
        }
    }
}
