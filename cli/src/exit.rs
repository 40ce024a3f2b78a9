//! Exit statuses: one table, shown by `--help` and the README, and how a failure maps to one.

use pieces_user::{Error, ErrorKind};

pub const OK: u8 = 0;
pub const FAILURE: u8 = 1;
pub const USAGE: u8 = 2;
pub const NOT_RUNNING: u8 = 3;
pub const CONNECTION: u8 = 4;
pub const HTTP_CLIENT: u8 = 5;
pub const HTTP_SERVER: u8 = 6;
pub const INVALID_DOCUMENT: u8 = 7;
pub const INVALID_RESPONSE: u8 = 8;
pub const SIGNED_OUT: u8 = 9;
pub const SIGINT: u8 = 130;
pub const SIGTERM: u8 = 143;

/// Every status the command can end with. Stable: a number never changes meaning.
pub const TABLE: &[(u8, &str)] = &[
    (OK, "success"),
    (FAILURE, "anything else (e.g. stdout could not be written)"),
    (
        USAGE,
        "usage: bad arguments or options, unreadable FILE, `set` path through a non-object",
    ),
    (
        NOT_RUNNING,
        "Pieces OS is not running (discovery found nothing)",
    ),
    (CONNECTION, "connection failed, timed out, or TLS failed"),
    (HTTP_CLIENT, "HTTP 4xx (404 not found, 409 conflict, ...)"),
    (
        HTTP_SERVER,
        "HTTP 5xx and other statuses (500, 501 not implemented, 511 sign-in required)",
    ),
    (
        INVALID_DOCUMENT,
        "the input document is not JSON or does not fit its model (path on stderr)",
    ),
    (
        INVALID_RESPONSE,
        "Pieces OS answered with an invalid or oversized document",
    ),
    (SIGNED_OUT, "nobody is signed in (`set`)"),
    (SIGINT, "interrupted by SIGINT (Ctrl-C)"),
    (SIGTERM, "ended by SIGTERM"),
];

/// The table as `--help` shows it.
pub fn help_text() -> String {
    let mut text = String::from("Exit status:\n");
    for (code, meaning) in TABLE {
        text.push_str(&format!("  {code:>3}  {meaning}\n"));
    }
    text
}

/// Why a command failed: the status and the one line for stderr.
#[derive(Debug)]
pub struct Failure {
    pub status: u8,
    pub line: String,
}

impl Failure {
    pub fn new(status: u8, category: &str, message: impl AsRef<str>) -> Failure {
        Failure {
            status,
            line: one_line(&format!("{category}: {}", message.as_ref())),
        }
    }

    pub fn usage(message: impl AsRef<str>) -> Failure {
        Failure::new(USAGE, "usage", message)
    }

    /// A closed pipe (the status bar or `head` went away) ends the command quietly, with no line.
    pub fn output(e: &std::io::Error) -> Failure {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return Failure {
                status: FAILURE,
                line: String::new(),
            };
        }
        Failure::new(FAILURE, "output", format!("cannot write to stdout: {e}"))
    }
}

/// The library's message already names the HTTP status (`HTTP 409: …`) and the JSON path
/// (`$.aesthetics.theme.dark: …`); the line adds the stable category in front.
impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure::new(status_for(&e), e.kind().as_str(), e.message())
    }
}

pub fn status_for(e: &Error) -> u8 {
    match e.kind() {
        ErrorKind::InvalidArgument => USAGE,
        ErrorKind::NotRunning => NOT_RUNNING,
        ErrorKind::Connection | ErrorKind::Timeout | ErrorKind::Tls => CONNECTION,
        ErrorKind::MalformedJson | ErrorKind::InvalidDocument => INVALID_DOCUMENT,
        ErrorKind::InvalidResponse | ErrorKind::ResponseTooLarge => INVALID_RESPONSE,
        ErrorKind::NotFound | ErrorKind::Conflict => HTTP_CLIENT,
        ErrorKind::ServerError | ErrorKind::NotImplemented | ErrorKind::AuthenticationRequired => {
            HTTP_SERVER
        }
        ErrorKind::HttpStatus => match e.status() {
            Some(400..=499) => HTTP_CLIENT,
            _ => HTTP_SERVER,
        },
        _ => FAILURE,
    }
}

/// Server text can hold line breaks; stderr gets one line per failure.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_unique_and_listed_in_help() {
        let help = help_text();
        for (i, (code, _)) in TABLE.iter().enumerate() {
            assert!(TABLE[i + 1..].iter().all(|(other, _)| other != code));
            assert!(help.contains(&format!(" {code}  ")), "{code}");
        }
    }

    #[test]
    fn http_statuses_split_at_500() {
        assert_eq!(status_for(&Error::http(409, String::new())), HTTP_CLIENT);
        assert_eq!(status_for(&Error::http(418, String::new())), HTTP_CLIENT);
        assert_eq!(status_for(&Error::http(501, String::new())), HTTP_SERVER);
        assert_eq!(status_for(&Error::http(503, String::new())), HTTP_SERVER);
        assert_eq!(status_for(&Error::http(511, String::new())), HTTP_SERVER);
    }

    #[test]
    fn the_line_is_one_line() {
        let f = Failure::from(Error::http(500, "a\nb\r\nc".into()));
        assert_eq!(f.line, "server_error: HTTP 500: a b  c");
    }
}
