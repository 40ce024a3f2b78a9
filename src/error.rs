//! One error type for the whole library.
//!
//! Every failure carries a stable [`ErrorKind`] (what a caller branches on), a human message, and —
//! where they exist — the HTTP status, the server's text body and the JSON path of an invalid
//! document. Messages never contain the access token or the application id.

use std::fmt;
use std::sync::Arc;

/// What went wrong, as a stable category. New kinds may be added; existing ones never change meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A configuration or option value is wrong (unknown key, bad URL, zero timeout…).
    InvalidArgument,
    /// A request document is not JSON at all (or nests deeper than the parser allows).
    MalformedJson,
    /// A request document is JSON but does not fit its model; `path` names the place.
    InvalidDocument,
    /// HTTP 404.
    NotFound,
    /// HTTP 409 (e.g. the vanity name is taken).
    Conflict,
    /// HTTP 500.
    ServerError,
    /// HTTP 501 (e.g. /user/providers on a local Pieces OS).
    NotImplemented,
    /// HTTP 511: the user must be signed in / connected to the cloud.
    AuthenticationRequired,
    /// Any other non-2xx HTTP status.
    HttpStatus,
    /// The server could not be reached: refused, unreachable, reset, closed early.
    Connection,
    /// The connect or whole-request timeout expired.
    Timeout,
    /// TLS handshake or certificate failure.
    Tls,
    /// The server answered 2xx with a body that is not the expected document.
    InvalidResponse,
    /// The response body is larger than `max_response_bytes`.
    ResponseTooLarge,
    /// Discovery found no running Pieces OS.
    NotRunning,
    /// An internal error: a panic caught inside the library (a bug; please report it).
    Panic,
    /// The call was interrupted by [`crate::Client::interrupt`] or a cancelled [`crate::CancelToken`].
    Interrupted,
    /// The client or stream was created by another process and inherited across `fork()`; create a
    /// new one in this process.
    WrongProcess,
}

impl ErrorKind {
    /// A short snake_case name, stable across versions (used in JSON error details).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidArgument => "invalid_argument",
            ErrorKind::MalformedJson => "malformed_json",
            ErrorKind::InvalidDocument => "invalid_document",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::ServerError => "server_error",
            ErrorKind::NotImplemented => "not_implemented",
            ErrorKind::AuthenticationRequired => "authentication_required",
            ErrorKind::HttpStatus => "http_status",
            ErrorKind::Connection => "connection",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Tls => "tls",
            ErrorKind::InvalidResponse => "invalid_response",
            ErrorKind::ResponseTooLarge => "response_too_large",
            ErrorKind::NotRunning => "not_running",
            ErrorKind::Panic => "panic",
            ErrorKind::Interrupted => "interrupted",
            ErrorKind::WrongProcess => "wrong_process",
        }
    }

    /// The kind for a non-2xx HTTP status.
    pub fn for_status(status: u16) -> ErrorKind {
        match status {
            404 => ErrorKind::NotFound,
            409 => ErrorKind::Conflict,
            500 => ErrorKind::ServerError,
            501 => ErrorKind::NotImplemented,
            511 => ErrorKind::AuthenticationRequired,
            _ => ErrorKind::HttpStatus,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The underlying error (I/O, TLS, HTTP, JSON) an [`Error`] was made from. An `Arc` keeps
/// [`Error`] cheap to clone, as stream events are.
type Source = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// The library's error: a kind plus the detail a caller needs to report it, and, through
/// [`std::error::Error::source`], the underlying error when there is one.
///
/// Two errors are equal when kind, message, status, body and path are: the underlying error is
/// not compared (most error types cannot be).
#[derive(Debug, Clone)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    status: Option<u16>,
    body: Option<String>,
    path: Option<String>,
    source: Option<Source>,
}

impl PartialEq for Error {
    fn eq(&self, other: &Error) -> bool {
        (
            self.kind,
            &self.message,
            self.status,
            &self.body,
            &self.path,
        ) == (
            other.kind,
            &other.message,
            other.status,
            &other.body,
            &other.path,
        )
    }
}

impl Eq for Error {}

/// Messages built from a server body are cut to this many bytes; the whole body stays in `body()`.
const MESSAGE_BODY_LIMIT: usize = 200;

impl Error {
    /// An error of `kind` with `message` and no further detail.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
            status: None,
            body: None,
            path: None,
            source: None,
        }
    }

    /// A non-2xx answer. The message quotes the start of the body so it is useful when printed.
    pub fn http(status: u16, body: String) -> Error {
        let kind = ErrorKind::for_status(status);
        let excerpt = truncate_at_char(body.trim(), MESSAGE_BODY_LIMIT);
        let mut message = format!("HTTP {status}");
        if !excerpt.is_empty() {
            message.push_str(": ");
            message.push_str(excerpt);
            if excerpt.len() < body.trim().len() {
                message.push('…');
            }
        }
        Error {
            kind,
            message,
            status: Some(status),
            body: Some(body),
            path: None,
            source: None,
        }
    }

    /// A document that does not fit its model; `path` is a JSON path such as `$.aesthetics.font.size`.
    pub fn invalid_document(
        kind: ErrorKind,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> Error {
        let path = path.into();
        Error {
            kind,
            message: format!("{}: {}", path, message.into()),
            status: None,
            body: None,
            path: Some(path),
            source: None,
        }
    }

    /// Adds the HTTP status the error came with.
    pub fn with_status(mut self, status: u16) -> Error {
        self.status = Some(status);
        self
    }

    /// Adds a remark to the message (e.g. that the body was cut).
    pub(crate) fn with_message_suffix(mut self, suffix: &str) -> Error {
        self.message.push_str(suffix);
        self
    }

    /// Keeps `source` as the underlying error, returned by [`std::error::Error::source`].
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Error {
        self.source = Some(Arc::new(source));
        self
    }

    /// Adds the server's body (text) the error came with.
    pub fn with_body(mut self, body: String) -> Error {
        self.body = Some(body);
        self
    }

    /// What went wrong, as a stable category to branch on.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// A human message (never containing the access token or application id).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// The server's body (text), when it sent one with an error status or an invalid document.
    pub fn body(&self) -> Option<&str> {
        self.body.as_deref()
    }

    /// The JSON path of the offending value, for invalid documents.
    pub fn path(&self) -> Option<&str> {
        self.path.as_deref()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.kind)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// `std::result::Result` with this library's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The longest prefix of `s` of at most `max` bytes that ends on a char boundary.
pub(crate) fn truncate_at_char(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// `s` itself when it is at most `max` bytes, else its start and its end around an ellipsis, cut on
/// char boundaries. For messages that quote caller input: the end of a parser message holds the
/// position ("at line 1 column 9"), which is worth keeping.
pub(crate) fn elide_middle(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let tail_len = max / 4;
    let head = truncate_at_char(s, max - tail_len);
    let mut start = s.len() - tail_len;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    format!("{head}…{}", &s[start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_errors_map_declared_statuses() {
        assert_eq!(Error::http(404, String::new()).kind(), ErrorKind::NotFound);
        assert_eq!(Error::http(409, String::new()).kind(), ErrorKind::Conflict);
        assert_eq!(
            Error::http(500, String::new()).kind(),
            ErrorKind::ServerError
        );
        assert_eq!(
            Error::http(501, String::new()).kind(),
            ErrorKind::NotImplemented
        );
        assert_eq!(
            Error::http(511, String::new()).kind(),
            ErrorKind::AuthenticationRequired
        );
        assert_eq!(
            Error::http(418, String::new()).kind(),
            ErrorKind::HttpStatus
        );
    }

    #[test]
    fn long_bodies_are_cut_in_the_message_but_kept_whole() {
        let body = "é".repeat(10_000);
        let e = Error::http(500, body.clone());
        assert!(e.message().len() < MESSAGE_BODY_LIMIT + 20);
        assert!(e.message().ends_with('…'));
        assert_eq!(e.body(), Some(body.as_str()));
        assert_eq!(e.status(), Some(500));
    }

    #[test]
    fn elide_middle_keeps_both_ends_on_char_boundaries() {
        assert_eq!(elide_middle("short", 10), "short");
        let long = format!("{} at line 1 column 9", "é".repeat(1000));
        let cut = elide_middle(&long, 200);
        assert!(cut.len() <= 200 + '…'.len_utf8(), "{}", cut.len());
        assert!(cut.starts_with('é') && cut.contains('…'));
        assert!(cut.ends_with("at line 1 column 9"), "{cut}");
    }
}
