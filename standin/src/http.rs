//! A deliberately small HTTP/1.1 reader and writer.
//!
//! Not a framework, so that the fault modes (slow drip, truncated bodies, resets) act on the exact
//! bytes that go over the socket: the connection handling and body framing are here, the request
//! head is parsed by httparse (the parser the library's WebSocket stack already uses).

use std::io::{self, Read, Write};
use std::net::TcpStream;

/// Largest request head (request line + headers) we accept; beyond it we answer 431.
pub const MAX_HEAD: usize = 64 * 1024;
/// Largest request body we accept; beyond it we answer 413.
pub const MAX_BODY: usize = 32 * 1024 * 1024;
/// Longest chunk-size or trailer line in a chunked body.
const MAX_LINE: usize = 4 * 1024;

/// One parsed request, body already read (so the connection stays in sync for keep-alive).
#[derive(Debug)]
pub struct Request {
    pub method: String,
    /// Path without the query string.
    pub path: String,
    /// Text after `?`, empty when there was none.
    pub query: String,
    /// True for HTTP/1.1, false for HTTP/1.0.
    pub http11: bool,
    pub headers: Vec<(String, String)>,
    /// Empty when the request carried no body.
    pub body: Vec<u8>,
}

impl Request {
    /// First value of a header, matched case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// True when a comma-separated header (e.g. `Connection`) lists `token`.
    pub fn header_has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// HTTP/1.1 keeps the connection unless told otherwise; HTTP/1.0 only when asked to.
    pub fn keep_alive(&self) -> bool {
        if self.http11 {
            !self.header_has_token("connection", "close")
        } else {
            self.header_has_token("connection", "keep-alive")
        }
    }

    /// Value of `name=value` in the query string (no percent-decoding: our values are numbers).
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }
}

/// Why no request could be read. The ones with a status get an answer before the socket closes.
#[derive(Debug)]
pub enum ReadError {
    /// The peer closed cleanly between requests.
    Closed,
    /// The socket failed (reset, idle timeout).
    Io,
    /// Malformed request: 400.
    Bad(&'static str),
    /// Head larger than [`MAX_HEAD`]: 431.
    HeadTooLarge,
    /// Body larger than [`MAX_BODY`]: 413.
    BodyTooLarge,
}

impl ReadError {
    /// The response owed to the client, if the connection is still usable for one.
    pub fn response(&self) -> Option<Response> {
        match self {
            ReadError::Closed | ReadError::Io => None,
            ReadError::Bad(why) => Some(Response::text(400, why)),
            ReadError::HeadTooLarge => Some(Response::text(431, "request head too large")),
            ReadError::BodyTooLarge => Some(Response::text(413, "request body too large")),
        }
    }
}

impl From<io::Error> for ReadError {
    fn from(_: io::Error) -> Self {
        ReadError::Io
    }
}

/// A response to be written in one piece.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub content_type: Option<&'static str>,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(status: u16, body: Vec<u8>) -> Self {
        Response {
            status,
            content_type: Some("application/json"),
            headers: Vec::new(),
            body,
        }
    }

    pub fn text(status: u16, body: &str) -> Self {
        Response {
            status,
            content_type: Some("text/plain"),
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    /// 204 No Content.
    pub fn no_content() -> Self {
        Response {
            status: 204,
            content_type: None,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

/// Reason phrases for the statuses the stand-in produces.
fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        413 => "Content Too Large",
        426 => "Upgrade Required",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        511 => "Network Authentication Required",
        _ => "Unknown",
    }
}

/// Serialises status line, headers and (unless `head_only`) the body into one buffer, so the
/// response leaves in a single write (matters for latency benchmarks with TCP_NODELAY).
pub fn encode(resp: &Response, head_only: bool, keep_alive: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(160 + resp.body.len());
    let _ = write!(out, "HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status));
    if let Some(ct) = resp.content_type {
        let _ = write!(out, "Content-Type: {ct}\r\n");
    }
    // 204 must not carry Content-Length; everything else always does (HEAD: the GET length).
    if resp.status != 204 {
        let _ = write!(out, "Content-Length: {}\r\n", resp.body.len());
    }
    for (name, value) in &resp.headers {
        let _ = write!(out, "{name}: {value}\r\n");
    }
    out.extend_from_slice(if keep_alive {
        b"Connection: keep-alive\r\n\r\n"
    } else {
        b"Connection: close\r\n\r\n"
    });
    if !head_only {
        out.extend_from_slice(&resp.body);
    }
    out
}

/// A client connection with its read-ahead buffer (pipelined bytes survive between requests).
pub struct Conn {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    pub fn new(stream: TcpStream) -> Self {
        Conn {
            stream,
            buf: Vec::with_capacity(8 * 1024),
        }
    }

    /// Gives back the socket and whatever was read past the last request (a WebSocket client may
    /// send its first frame right behind the upgrade request).
    pub fn into_parts(self) -> (TcpStream, Vec<u8>) {
        (self.stream, self.buf)
    }

    pub fn write_response(
        &mut self,
        resp: &Response,
        head_only: bool,
        keep_alive: bool,
    ) -> io::Result<()> {
        self.stream.write_all(&encode(resp, head_only, keep_alive))
    }

    /// Reads more bytes into the buffer; returns how many (0 = end of stream).
    fn fill(&mut self) -> io::Result<usize> {
        // Read into a fixed scratch block: growing `buf` by a zeroed 16 KB per read was a
        // measurable share of a small request's latency.
        let mut scratch = [0u8; 16 * 1024];
        loop {
            match self.stream.read(&mut scratch) {
                Ok(n) => {
                    self.buf.extend_from_slice(&scratch[..n]);
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads one whole request: head, then the body as its framing says.
    pub fn read_request(&mut self) -> Result<Request, ReadError> {
        let head = self.read_head()?;
        let mut req = parse_head(&head)?;
        req.body = self.read_body(&req)?;
        Ok(req)
    }

    fn read_head(&mut self) -> Result<Vec<u8>, ReadError> {
        let mut scanned = 0;
        loop {
            if let Some(i) = find(&self.buf[scanned..], b"\r\n\r\n") {
                let end = scanned + i;
                if end > MAX_HEAD {
                    return Err(ReadError::HeadTooLarge);
                }
                let head = self.buf[..end].to_vec();
                self.buf.drain(..end + 4);
                return Ok(head);
            }
            if self.buf.len() > MAX_HEAD {
                return Err(ReadError::HeadTooLarge);
            }
            // The terminator may straddle the old end of the buffer.
            scanned = self.buf.len().saturating_sub(3);
            if self.fill()? == 0 {
                return Err(if self.buf.is_empty() {
                    ReadError::Closed
                } else {
                    ReadError::Bad("request head truncated")
                });
            }
        }
    }

    fn read_body(&mut self, req: &Request) -> Result<Vec<u8>, ReadError> {
        let chunked = match req.header("transfer-encoding") {
            None => false,
            Some(te)
                if te
                    .rsplit(',')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .eq_ignore_ascii_case("chunked") =>
            {
                true
            }
            Some(_) => return Err(ReadError::Bad("unsupported transfer-encoding")),
        };
        let length = if chunked { None } else { content_length(req)? };
        if !chunked && length.unwrap_or(0) == 0 {
            return Ok(Vec::new());
        }
        if let Some(n) = length {
            if n > MAX_BODY {
                return Err(ReadError::BodyTooLarge);
            }
        }
        // curl and others wait for this before sending a large body.
        if req.http11 && req.header_has_token("expect", "100-continue") {
            self.stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        }
        match length {
            Some(n) => self.take_exact(n),
            None => self.read_chunked(),
        }
    }

    fn take_exact(&mut self, n: usize) -> Result<Vec<u8>, ReadError> {
        if self.buf.capacity() < n {
            self.buf.reserve(n - self.buf.len());
        }
        while self.buf.len() < n {
            if self.fill()? == 0 {
                return Err(ReadError::Bad("request body truncated"));
            }
        }
        Ok(self.buf.drain(..n).collect())
    }

    /// One CRLF-terminated line, without the CRLF.
    fn read_line(&mut self) -> Result<Vec<u8>, ReadError> {
        loop {
            if let Some(i) = find(&self.buf, b"\r\n") {
                let line = self.buf[..i].to_vec();
                self.buf.drain(..i + 2);
                return Ok(line);
            }
            if self.buf.len() > MAX_LINE {
                return Err(ReadError::Bad("chunk line too long"));
            }
            if self.fill()? == 0 {
                return Err(ReadError::Bad("chunked body truncated"));
            }
        }
    }

    fn read_chunked(&mut self) -> Result<Vec<u8>, ReadError> {
        let mut body = Vec::new();
        loop {
            let line = self.read_line()?;
            let size = parse_chunk_size(&line)?;
            if size == 0 {
                break;
            }
            if body.len() + size > MAX_BODY {
                return Err(ReadError::BodyTooLarge);
            }
            body.extend_from_slice(&self.take_exact(size)?);
            if !self.read_line()?.is_empty() {
                return Err(ReadError::Bad("chunk not followed by CRLF"));
            }
        }
        // Trailer fields are allowed but meaningless to us; skip to the empty line.
        while !self.read_line()?.is_empty() {}
        Ok(body)
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn parse_chunk_size(line: &[u8]) -> Result<usize, ReadError> {
    let text = std::str::from_utf8(line).map_err(|_| ReadError::Bad("bad chunk size"))?;
    // Chunk extensions (`;name=value`) are legal and ignored.
    let hex = text.split(';').next().unwrap_or("").trim();
    if hex.is_empty() || hex.len() > 8 {
        return Err(if hex.len() > 8 {
            ReadError::BodyTooLarge
        } else {
            ReadError::Bad("bad chunk size")
        });
    }
    usize::from_str_radix(hex, 16).map_err(|_| ReadError::Bad("bad chunk size"))
}

/// Content-Length, rejecting garbage and conflicting duplicates (request smuggling hygiene).
fn content_length(req: &Request) -> Result<Option<usize>, ReadError> {
    let mut found: Option<usize> = None;
    for (_, v) in req
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("content-length"))
    {
        let v = v.trim();
        if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ReadError::Bad("bad content-length"));
        }
        // Absurdly long numbers are simply too large.
        let n = v.parse::<usize>().unwrap_or(usize::MAX);
        if found.is_some_and(|f| f != n) {
            return Err(ReadError::Bad("conflicting content-length"));
        }
        found = Some(n);
    }
    Ok(found)
}

/// Most header fields a request may carry; more is answered as a head too large (431).
const MAX_HEADERS: usize = 64;

/// Parses a request head (without its final empty line) with httparse.
fn parse_head(head: &[u8]) -> Result<Request, ReadError> {
    let mut complete = Vec::with_capacity(head.len() + 4);
    complete.extend_from_slice(head);
    complete.extend_from_slice(b"\r\n\r\n");
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut slots);
    match parsed.parse(&complete) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(ReadError::Bad("request head truncated")),
        Err(httparse::Error::TooManyHeaders) => return Err(ReadError::HeadTooLarge),
        Err(httparse::Error::Version) => return Err(ReadError::Bad("unsupported HTTP version")),
        Err(httparse::Error::HeaderName) => return Err(ReadError::Bad("malformed header name")),
        Err(httparse::Error::HeaderValue) => return Err(ReadError::Bad("malformed header")),
        Err(_) => return Err(ReadError::Bad("malformed request line")),
    }
    let (Some(method), Some(target), Some(version)) = (parsed.method, parsed.path, parsed.version)
    else {
        return Err(ReadError::Bad("malformed request line"));
    };
    if !target.starts_with('/') {
        return Err(ReadError::Bad("malformed request line"));
    }
    let mut headers = Vec::with_capacity(parsed.headers.len());
    for h in parsed.headers.iter() {
        let value = std::str::from_utf8(h.value)
            .map_err(|_| ReadError::Bad("request head is not UTF-8"))?;
        headers.push((h.name.to_string(), value.trim().to_string()));
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    Ok(Request {
        method: method.to_string(),
        path: path.to_string(),
        query: query.to_string(),
        http11: version == 1,
        headers,
        body: Vec::new(),
    })
}
