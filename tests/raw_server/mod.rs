//! A purpose-built loopback HTTP server for tests that need to see the bytes a client sends or to
//! misbehave in one precise way. Each accepted connection is handled by `script` on its own thread.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::thread;

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
        let mut line = String::new();
        if self.reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next()?.to_string();
        let path = parts.next()?.to_string();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            self.reader.read_line(&mut h).ok()?;
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let (name, value) = h.split_once(':')?;
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
        let len = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .map_or(0, |(_, v)| v.parse::<usize>().unwrap());
        let mut body = vec![0; len];
        self.reader.read_exact(&mut body).ok()?;
        let request = SeenRequest {
            method,
            path,
            headers,
            body,
        };
        let _ = self.seen.send(request.clone());
        Some(request)
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
    pub connections: Arc<AtomicUsize>,
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
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = connections.clone();
        let script: Arc<Script> = Arc::new(script);
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let index = counter.fetch_add(1, Ordering::SeqCst);
                let script = script.clone();
                let seen = tx.clone();
                thread::spawn(move || {
                    let mut conn = Conn {
                        reader: BufReader::new(stream),
                        seen,
                    };
                    script(index, &mut conn);
                });
            }
        });
        RawServer {
            url,
            requests: rx,
            connections,
        }
    }

    pub fn connection_count(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
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
