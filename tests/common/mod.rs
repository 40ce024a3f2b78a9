//! Shared test helpers: run the stand-in server and talk plain HTTP/1.1 to it.
//!
//! Each integration test file compiles this module separately and uses a different part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The `pieces-standin` binary: `$PIECES_STANDIN`, cargo's own path for it in the stand-in package's
/// tests, else beside this test binary's folder (`target/debug/deps/..`), where `cargo test` in the
/// workspace builds it (the stand-in package is a default member).
pub fn standin_exe() -> PathBuf {
    if let Some(path) = std::env::var_os("PIECES_STANDIN") {
        return PathBuf::from(path);
    }
    if let Some(path) = option_env!("CARGO_BIN_EXE_pieces-standin") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let path = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/debug/deps/<test>")
        .join(format!("pieces-standin{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} not found: build it with `cargo build -p pieces-standin` (or run `cargo test` in the workspace)",
        path.display()
    );
    path
}

/// A running `pieces-standin`, killed and reaped when dropped.
pub struct Standin {
    /// Base URL, e.g. `http://127.0.0.1:39300`.
    pub url: String,
    child: Child,
    /// Held open: the stand-in runs with `--exit-on-stdin-eof`, so it dies with the test process.
    stdin: Option<ChildStdin>,
}

impl Standin {
    /// Starts the stand-in on a free port with extra `args` and waits for its URL line.
    pub fn start(args: &[&str]) -> Standin {
        let mut child = Command::new(standin_exe())
            .args(["--port", "0", "--exit-on-stdin-eof"])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn pieces-standin");
        let stdin = child.stdin.take();
        let mut line = String::new();
        let stdout = child.stdout.take().expect("piped stdout");
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the URL line");
        let url = line.trim().to_string();
        assert!(
            url.starts_with("http://127.0.0.1:"),
            "unexpected first line {url:?}"
        );
        Standin { url, child, stdin }
    }

    /// `127.0.0.1:PORT`, for raw sockets.
    pub fn addr(&self) -> &str {
        self.url.trim_start_matches("http://")
    }

    /// `ws://127.0.0.1:PORT/user/stream`.
    pub fn stream_url(&self) -> String {
        format!("ws://{}/user/stream", self.addr())
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` and waits (up to 10 s) for the process to exit.
    pub fn signal_and_wait(&mut self, signal: i32) -> ExitStatus {
        // SAFETY: kill(2) on our own child's pid.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, signal) };
        assert_eq!(rc, 0, "kill failed");
        self.wait_exit(Duration::from_secs(10))
    }

    /// Closes the stand-in's stdin.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Waits for the process to exit on its own; panics after `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "pieces-standin did not exit in {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Opens a keep-alive HTTP connection.
    pub fn connect(&self) -> HttpConn {
        HttpConn::open(self.addr())
    }

    /// One request on a fresh connection.
    pub fn request(&self, method: &str, path: &str, body: Option<&[u8]>) -> Reply {
        self.connect().send(method, path, &[], body)
    }

    pub fn get(&self, path: &str) -> Reply {
        self.request("GET", path, None)
    }

    pub fn post(&self, path: &str, body: &[u8]) -> Reply {
        self.request("POST", path, Some(body))
    }
}

impl Drop for Standin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A parsed HTTP response.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("UTF-8 body")
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

/// A client connection that can carry several requests (keep-alive, pipelining).
pub struct HttpConn {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl HttpConn {
    pub fn open(addr: &str) -> HttpConn {
        let stream = TcpStream::connect(addr).expect("connect to pieces-standin");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        HttpConn {
            stream,
            buf: Vec::new(),
        }
    }

    /// Writes a request with a Content-Length body (when given) and reads the response.
    pub fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Reply {
        self.write_raw(&encode_request(method, path, headers, body));
        self.read_reply(method == "HEAD")
    }

    pub fn write_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write request");
    }

    /// Reads one response; `head_only` for replies to HEAD (no body despite Content-Length).
    pub fn read_reply(&mut self, head_only: bool) -> Reply {
        let mut head = self.read_until(b"\r\n\r\n").expect("response head");
        head.extend_from_slice(b"\r\n\r\n");
        let (status, headers) = parse_response_head(&head);
        let mut reply = Reply {
            status,
            headers,
            body: Vec::new(),
        };
        if (100..200).contains(&status) {
            return self.read_reply(head_only);
        }
        let len: usize = reply
            .header("content-length")
            .map_or(0, |v| v.parse().unwrap());
        if !head_only {
            reply.body = self.read_exact_buffered(len);
        }
        reply
    }

    /// True when the server has closed the connection (reads end of stream).
    pub fn is_closed_by_peer(&mut self) -> bool {
        if !self.buf.is_empty() {
            return false;
        }
        let mut byte = [0u8; 1];
        matches!(self.stream.read(&mut byte), Ok(0) | Err(_))
    }

    fn fill(&mut self) -> usize {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk).expect("read response");
        self.buf.extend_from_slice(&chunk[..n]);
        n
    }

    fn read_until(&mut self, end: &[u8]) -> Option<Vec<u8>> {
        loop {
            if let Some(i) = self.buf.windows(end.len()).position(|w| w == end) {
                let out = self.buf[..i].to_vec();
                self.buf.drain(..i + end.len());
                return Some(out);
            }
            if self.fill() == 0 {
                return None;
            }
        }
    }

    fn read_exact_buffered(&mut self, len: usize) -> Vec<u8> {
        while self.buf.len() < len {
            assert!(self.fill() > 0, "connection closed inside a body");
        }
        self.buf.drain(..len).collect()
    }
}

/// The status and headers of a complete response head (final empty line included).
fn parse_response_head(head: &[u8]) -> (u16, Vec<(String, String)>) {
    let mut slots = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut slots);
    let parsed = response.parse(head).expect("an HTTP response head");
    assert!(parsed.is_complete(), "a complete response head");
    let headers = response
        .headers
        .iter()
        .map(|h| {
            let value = std::str::from_utf8(h.value).expect("UTF-8 header value");
            (h.name.to_string(), value.trim().to_string())
        })
        .collect();
    (response.code.expect("a status code"), headers)
}

/// The bytes of a simple HTTP/1.1 request.
pub fn encode_request(
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Vec<u8> {
    let mut out = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(body) = body {
        out.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body.unwrap_or_default());
    bytes
}
