//! Checks and parsing shared by the option types ([`crate::Config`], [`crate::DiscoveryOptions`],
//! [`crate::StreamOptions`]): one home, so that none of them reaches into another's module.

use std::time::Duration;

use crate::error::{Error, ErrorKind, Result};

/// An [`ErrorKind::InvalidArgument`] error: what every option check returns.
pub(crate) fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidArgument, message)
}

/// Reads an options document, which must be a JSON object. serde would also read a struct from an
/// array of its values in order, and name its internal type when given another value: both are
/// refused here by the first byte, before any descent (so 100,000 nested arrays cost nothing).
pub(crate) fn parse_object<T: serde::de::DeserializeOwned>(what: &str, json: &str) -> Result<T> {
    let first = json.bytes().find(|b| !b" \t\r\n".contains(b));
    if first.is_some_and(|b| b"[\"-0123456789tfn".contains(&b)) {
        return Err(invalid(format!("{what} must be a JSON object")));
    }
    // Anything else is an object or not JSON at all, which serde reports.
    serde_json::from_str(json).map_err(|e| json_error(what, e))
}

/// Longest message built from a serde_json error on an options document.
const JSON_ERROR_MESSAGE_LIMIT: usize = 200;

/// Maps a serde_json error on an options document to our kinds: syntax → MalformedJson, shape → InvalidArgument.
/// serde's message names the offending key (`unknown field \`x\``) or the expected type.
pub(crate) fn json_error(what: &str, e: serde_json::Error) -> Error {
    use serde_json::error::Category;
    let text = e.to_string();
    let kind = match e.classify() {
        // serde_json reports a number beyond f64's range (`1e400`, a thousand digits) as a syntax
        // error, but the text is JSON: for an option it is an out-of-range value, like -1 for a u64.
        Category::Syntax if text.starts_with("number out of range") => ErrorKind::InvalidArgument,
        Category::Syntax | Category::Eof | Category::Io => ErrorKind::MalformedJson,
        Category::Data => ErrorKind::InvalidArgument,
    };
    // serde quotes a wrong-typed string value and an unknown key whole: a 10 MB value must not
    // become a 10 MB message (nor a config's secret a log line).
    let text = crate::error::elide_middle(&text, JSON_ERROR_MESSAGE_LIMIT);
    Error::new(kind, format!("{what}: {text}")).with_source(e)
}

/// The scheme of a base URL, matched without regard to case (RFC 3986 §3.1): `Some(true)` for https.
fn scheme_is_https(url: &str) -> Option<bool> {
    let has = |scheme: &str| {
        url.get(..scheme.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
    };
    if has("https://") {
        Some(true)
    } else if has("http://") {
        Some(false)
    } else {
        None
    }
}

/// `url` with its scheme in lower case and no trailing slash: the form routes are appended to and
/// `ws://` is derived from. Only for a URL [`check_base_url`] accepted.
pub(crate) fn normalize_base_url(url: &str) -> String {
    let url = url.trim_end_matches('/');
    match scheme_is_https(url) {
        Some(true) => format!("https://{}", &url["https://".len()..]),
        Some(false) => format!("http://{}", &url["http://".len()..]),
        None => url.to_string(),
    }
}

pub(crate) fn check_base_url(url: &str) -> Result<()> {
    let https = scheme_is_https(url)
        .ok_or_else(|| invalid("base_url must start with http:// or https://"))?;
    let rest = &url[if https {
        "https://".len()
    } else {
        "http://".len()
    }..];
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() {
        return Err(invalid("base_url has no host"));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(
            "base_url contains white space or control characters",
        ));
    }
    if rest.contains(['?', '#']) {
        return Err(invalid("base_url must not have a query or fragment"));
    }
    // A user name and password in the URL would travel as Basic auth and show in the stream URL.
    if authority.contains('@') {
        return Err(invalid(
            "base_url must not hold a user name or password (authenticate with access_token)",
        ));
    }
    check_port(authority)
}

/// The port after the host, if any, must be a number from 1 to 65535: the HTTP stack would
/// otherwise fall back to the scheme's default port without a word.
fn check_port(authority: &str) -> Result<()> {
    // An IPv6 literal is bracketed: only a port may follow the bracket.
    let after_host = match authority.rfind(']') {
        Some(end) => &authority[end + 1..],
        None => authority.rfind(':').map_or("", |colon| &authority[colon..]),
    };
    if after_host.is_empty() {
        return Ok(());
    }
    let port = after_host.strip_prefix(':');
    let is_port =
        |p: &str| p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u16>().is_ok_and(|n| n != 0);
    if port.is_some_and(is_port) {
        return Ok(());
    }
    let shown = crate::error::elide_middle(port.unwrap_or(after_host), 40);
    Err(invalid(format!(
        "base_url port {shown:?} is not a number from 1 to 65535"
    )))
}

/// Longest timeout or interval accepted anywhere: one day. Anything longer is a mistake (or
/// "forever") in practice.
const MAX_DURATION_MS: u64 = 24 * 60 * 60 * 1000;

/// A timeout or interval option, named `name` (in milliseconds) in messages: 1 ms to one day.
pub(crate) fn check_millis(name: &str, value: Duration) -> Result<()> {
    let ms = value.as_millis();
    if ms == 0 {
        return Err(invalid(format!("{name} must be at least 1 ms")));
    }
    if ms > u128::from(MAX_DURATION_MS) {
        return Err(invalid(format!(
            "{name} must be at most {MAX_DURATION_MS} ms"
        )));
    }
    Ok(())
}

/// The `User-Agent` sent when the config names none: `pieces-user/<version>`.
pub fn default_user_agent() -> String {
    format!("pieces-user/{}", env!("CARGO_PKG_VERSION"))
}
