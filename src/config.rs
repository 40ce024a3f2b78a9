//! Client configuration, in Rust or as a JSON string (what the C ABI and the bindings pass).

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::check::{check_base_url, check_millis, invalid, normalize_base_url, parse_object};
use crate::discovery::DiscoveryOptions;
use crate::error::Result;

/// The generated SDKs' default (Pieces OS ≤ 10 on macOS/Windows).
pub const DEFAULT_BASE_URL: &str = "http://localhost:1000";
/// Loopback connects either succeed or are refused almost at once; 2 s covers a busy machine.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// /user/refresh may reach the identity provider through Pieces OS; 30 s bounds it without cutting it short.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// A maximal profile is ~70 KB; 16 MiB leaves room while bounding memory.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 16 * 1024 * 1024;
/// Largest `tls_ca_file` read, 4 MiB; only a regular file is read. A full public root bundle is
/// about 250 KB; a device named by mistake (`/dev/zero`) must not grow the process without bound.
pub const MAX_CA_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// Everything a [`crate::Client`] needs. Build it in Rust or with [`Config::from_json`].
///
/// The server is either named (`base_url`, with `discovery` = `None`: the default, which keeps the SDKs'
/// `http://localhost:1000`) or found (`discovery` = `Some`, e.g. [`Config::discover`]). When `discovery`
/// is set, `base_url` is not used: the client finds the server itself, caches the URL and finds it
/// again after a connection failure (see [`crate::Client::base_url`]).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// `http://host:port` or `https://host:port` (scheme in any case; port 1 to 65535; no user
    /// name or password), optionally with a path prefix; no trailing slash needed. Ignored when
    /// `discovery` is set.
    pub base_url: String,
    /// Find Pieces OS on this machine instead of using `base_url` (`PIECES_BASE_URL`, port file, port
    /// scan, legacy ports; [`crate::discovery`]).
    pub discovery: Option<DiscoveryOptions>,
    /// Sent as `X-Application-ID` on every route but /user/select, when set: the official API
    /// description guards /user/select with the OAuth token only, and the official SDKs send no
    /// application id there. At most [`MAX_HEADER_VALUE_BYTES`], printable text and tabs only.
    pub application_id: Option<String>,
    /// Sent as `Authorization: Bearer <token>` on /user/select, when set. At most
    /// [`MAX_HEADER_VALUE_BYTES`], printable text and tabs only.
    pub access_token: Option<String>,
    /// Bounds the TCP connect of each connection.
    pub connect_timeout: Duration,
    /// Bounds a whole call: connect, send, wait, and read the body.
    pub timeout: Duration,
    /// At most [`MAX_HEADER_VALUE_BYTES`], printable text and tabs only.
    pub user_agent: String,
    /// Larger response bodies fail with [`ErrorKind::ResponseTooLarge`](crate::ErrorKind::ResponseTooLarge) without being buffered whole.
    pub max_response_bytes: u64,
    /// A PEM file whose certificates are the only trusted roots for https/wss base URLs (e.g. a
    /// private or test CA); unset, the webpki roots are used. A regular file of at most
    /// [`MAX_CA_FILE_BYTES`] (4 MiB).
    pub tls_ca_file: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            base_url: DEFAULT_BASE_URL.to_string(),
            discovery: None,
            application_id: None,
            access_token: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            timeout: DEFAULT_TIMEOUT,
            user_agent: default_user_agent(),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            tls_ca_file: None,
        }
    }
}

pub use crate::check::default_user_agent;

/// The JSON form; every key optional, unknown keys rejected by name.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigJson {
    base_url: Option<String>,
    application_id: Option<String>,
    access_token: Option<String>,
    connect_timeout_ms: Option<u64>,
    timeout_ms: Option<u64>,
    user_agent: Option<String>,
    max_response_bytes: Option<u64>,
    tls_ca_file: Option<PathBuf>,
    /// `true` (default options), `false`/null (off), or an object of discovery options. Kept as a raw
    /// value so that an unknown option key is reported by name, as for the config itself.
    discovery: Option<serde_json::Value>,
}

impl Config {
    /// The default config for the server at `base_url` (checked by [`Client::new`](crate::Client::new)
    /// or [`Config::validate`]).
    pub fn new(base_url: impl Into<String>) -> Config {
        Config {
            base_url: base_url.into(),
            ..Config::default()
        }
    }

    /// A config that finds Pieces OS with the default [`DiscoveryOptions`] (which read
    /// `PIECES_BASE_URL` from the environment).
    pub fn discover() -> Config {
        Config::discover_with(DiscoveryOptions::default())
    }

    /// A config that finds Pieces OS with these discovery options.
    pub fn discover_with(options: DiscoveryOptions) -> Config {
        Config {
            discovery: Some(options),
            ..Config::default()
        }
    }

    /// Reads the JSON form: an object with any of `base_url`, `discovery`, `application_id`,
    /// `access_token`, `connect_timeout_ms`, `timeout_ms`, `user_agent`, `max_response_bytes`,
    /// `tls_ca_file`. Missing keys keep their defaults; `null` means "default" too.
    ///
    /// `discovery` is `true` or an object of [`DiscoveryOptions::from_json`] keys. An explicit
    /// `base_url` wins over it (the first step of the discovery order), so a host may always send
    /// `"discovery": true` and add `base_url` only when its user named one.
    pub fn from_json(json: &str) -> Result<Config> {
        let raw: ConfigJson = parse_object("config", json)?;
        let defaults = Config::default();
        let discovery = match raw.discovery {
            None | Some(serde_json::Value::Null) | Some(serde_json::Value::Bool(false)) => None,
            Some(serde_json::Value::Bool(true)) => Some(DiscoveryOptions::default()),
            Some(value @ serde_json::Value::Object(_)) => {
                Some(DiscoveryOptions::from_value(value)?)
            }
            Some(_) => {
                return Err(invalid(
                    "config.discovery must be true, false, null or an object",
                ))
            }
        };
        let config = Config {
            discovery: if raw.base_url.is_some() {
                None
            } else {
                discovery
            },
            base_url: raw.base_url.unwrap_or(defaults.base_url),
            application_id: raw.application_id,
            access_token: raw.access_token,
            connect_timeout: raw
                .connect_timeout_ms
                .map_or(defaults.connect_timeout, Duration::from_millis),
            timeout: raw
                .timeout_ms
                .map_or(defaults.timeout, Duration::from_millis),
            user_agent: raw.user_agent.unwrap_or(defaults.user_agent),
            max_response_bytes: raw
                .max_response_bytes
                .unwrap_or(defaults.max_response_bytes),
            tls_ca_file: raw.tls_ca_file,
        };
        config.validate()?;
        Ok(config)
    }

    /// Checks values that would otherwise fail later, or worse, on the wire.
    pub fn validate(&self) -> Result<()> {
        check_base_url(&self.base_url)?;
        if let Some(discovery) = &self.discovery {
            discovery.validate()?;
        }
        check_millis("connect_timeout_ms", self.connect_timeout)?;
        check_millis("timeout_ms", self.timeout)?;
        if self.max_response_bytes == 0 {
            return Err(invalid("max_response_bytes must be at least 1"));
        }
        // Header values: a CR or LF would let a caller's string inject headers.
        check_header_value("application_id", self.application_id.as_deref())?;
        check_header_value("access_token", self.access_token.as_deref())?;
        check_header_value("user_agent", Some(&self.user_agent))?;
        Ok(())
    }

    /// The base URL without a trailing slash and with a lower-case scheme, ready to have a route
    /// appended.
    pub(crate) fn base(&self) -> String {
        normalize_base_url(&self.base_url)
    }
}

// Tokens stay out of Debug output: hosts log configs.
impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("base_url", &self.base_url)
            .field("discovery", &self.discovery)
            .field(
                "application_id",
                &self.application_id.as_ref().map(|_| "<redacted>"),
            )
            .field(
                "access_token",
                &self.access_token.as_ref().map(|_| "<redacted>"),
            )
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .field("user_agent", &self.user_agent)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("tls_ca_file", &self.tls_ca_file)
            .finish()
    }
}

/// Longest `user_agent`, `application_id` or `access_token` accepted. Each travels in a request
/// head, which must fit the HTTP stack's 128 KiB output buffer; real values are far shorter.
pub const MAX_HEADER_VALUE_BYTES: usize = 16 * 1024;

/// A header value may hold tabs and any printable text, nothing else: a CR or LF would let a
/// caller's string inject headers, and the HTTP stack refuses other control characters only
/// when the request is built, on every call.
fn check_header_value(name: &str, value: Option<&str>) -> Result<()> {
    let Some(value) = value else { return Ok(()) };
    if value.len() > MAX_HEADER_VALUE_BYTES {
        return Err(invalid(format!(
            "{name} is {} bytes; at most {MAX_HEADER_VALUE_BYTES} are allowed",
            value.len()
        )));
    }
    if value.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        return Err(invalid(format!(
            "{name} must not contain control characters (CR, LF, NUL, ESC, ...)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn empty_object_gives_defaults() {
        assert_eq!(Config::from_json("{}").unwrap(), Config::default());
    }

    #[test]
    fn every_key_is_read() {
        let c = Config::from_json(
            r#"{"base_url":"http://127.0.0.1:9","application_id":"app","access_token":"tok",
                "connect_timeout_ms":5,"timeout_ms":7,"user_agent":"ua","max_response_bytes":9,
                "tls_ca_file":"/tmp/ca.pem"}"#,
        )
        .unwrap();
        assert_eq!(c.base_url, "http://127.0.0.1:9");
        assert_eq!(c.application_id.as_deref(), Some("app"));
        assert_eq!(c.access_token.as_deref(), Some("tok"));
        assert_eq!(c.connect_timeout, Duration::from_millis(5));
        assert_eq!(c.timeout, Duration::from_millis(7));
        assert_eq!(c.user_agent, "ua");
        assert_eq!(c.max_response_bytes, 9);
        assert_eq!(c.tls_ca_file, Some(PathBuf::from("/tmp/ca.pem")));
    }

    #[test]
    fn unknown_key_is_named() {
        let e = Config::from_json(r#"{"base_url":"http://x","timeout":5}"#).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(e.message().contains("`timeout`"), "{}", e.message());
    }

    #[test]
    fn malformed_and_mistyped_json() {
        assert_eq!(
            Config::from_json("{").unwrap_err().kind(),
            ErrorKind::MalformedJson
        );
        assert_eq!(
            Config::from_json("[]").unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
        let e = Config::from_json(r#"{"timeout_ms":"5"}"#).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        let e = Config::from_json(r#"{"timeout_ms":-1}"#).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    }

    #[test]
    fn bad_values_are_rejected() {
        for json in [
            r#"{"base_url":"ftp://x"}"#,
            r#"{"base_url":"http://"}"#,
            r#"{"base_url":"http://x?y"}"#,
            r#"{"timeout_ms":0}"#,
            r#"{"connect_timeout_ms":0}"#,
            r#"{"timeout_ms":999999999999}"#,
            r#"{"max_response_bytes":0}"#,
            r#"{"access_token":"a\r\nX-Evil: 1"}"#,
        ] {
            let e = Config::from_json(json).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{json}");
        }
    }

    #[test]
    fn header_values_with_control_characters_or_too_long_are_refused_by_name() {
        let long = "x".repeat(MAX_HEADER_VALUE_BYTES + 1);
        for key in ["user_agent", "application_id", "access_token"] {
            for value in [
                "a\\u001bb",
                "a\\u007fb",
                "a\\u0000b",
                "a\\r\\nX: 1",
                long.as_str(),
            ] {
                let e = Config::from_json(&format!(r#"{{"{key}":"{value}"}}"#)).unwrap_err();
                assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{key}");
                assert!(e.message().starts_with(key), "{}", e.message());
            }
            let longest = "x".repeat(MAX_HEADER_VALUE_BYTES);
            let tab = "a\\tb";
            for value in [longest.as_str(), tab, "caf\u{e9}"] {
                Config::from_json(&format!(r#"{{"{key}":"{value}"}}"#)).unwrap();
            }
        }
    }

    #[test]
    fn ports_out_of_range_and_user_info_are_refused() {
        for url in [
            "http://127.0.0.1:99999",
            "http://127.0.0.1:3x",
            "http://127.0.0.1:0",
            "http://127.0.0.1:",
            "http://127.0.0.1:-1",
            "http://[::1]:65536",
            "http://[::1]x",
            "http://localhost:1234567890123456789012345",
        ] {
            let e = Config::new(url).validate().unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{url}");
            assert!(e.message().contains("port"), "{url}: {e}");
        }
        for url in ["http://user:pw@127.0.0.1:1", "https://token@host"] {
            let e = Config::new(url).validate().unwrap_err();
            assert!(e.message().contains("user name or password"), "{url}: {e}");
            assert!(
                !e.message().contains("pw"),
                "the password is not quoted: {e}"
            );
        }
        for url in [
            "http://127.0.0.1:1",
            "http://127.0.0.1:65535/prefix",
            "http://[::1]:39300",
            "http://[::1]",
            "http://localhost",
        ] {
            Config::new(url).validate().unwrap();
        }
    }

    #[test]
    fn pieces_base_url_is_held_to_the_same_rules() {
        for url in ["http://127.0.0.1:99999", "http://u:p@127.0.0.1:1"] {
            let options = DiscoveryOptions {
                env_base_url: Some(url.into()),
                ..DiscoveryOptions::default()
            };
            let e = options.validate().unwrap_err();
            assert!(e.message().starts_with("PIECES_BASE_URL"), "{url}: {e}");
        }
        let options = DiscoveryOptions {
            env_base_url: Some("HTTP://127.0.0.1:4242/".into()),
            ..DiscoveryOptions::default()
        };
        assert_eq!(
            crate::discovery::discover(&options).unwrap(),
            "http://127.0.0.1:4242"
        );
    }

    #[test]
    fn an_upper_case_scheme_is_valid_and_normalized() {
        for (url, base) in [
            ("HTTP://127.0.0.1:1/", "http://127.0.0.1:1"),
            ("Https://Pieces.local", "https://Pieces.local"),
        ] {
            let config = Config::new(url);
            config.validate().unwrap();
            assert_eq!(config.base(), base);
        }
    }

    #[test]
    fn a_config_is_an_object_and_messages_name_no_internal_type() {
        for json in [
            r#"["http://127.0.0.1:1", null, null, 5, 5, null, 9, null, null]"#,
            "[]",
            "null",
            "5",
            r#""{}""#,
            "true",
        ] {
            let e = Config::from_json(json).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{json}");
            assert_eq!(e.message(), "config must be a JSON object", "{json}");
        }
        let e = Config::from_json(r#"{"timeout_ms":"5"}"#).unwrap_err();
        assert!(!e.message().contains("Json"), "{e}");
        let e = crate::stream::StreamOptions::from_json("[100]").unwrap_err();
        assert_eq!(e.message(), "stream options must be a JSON object");
        let e = crate::discovery::DiscoveryOptions::from_json("[[1,2]]").unwrap_err();
        assert_eq!(e.message(), "discovery options must be a JSON object");
    }

    #[test]
    fn numbers_out_of_range_are_argument_errors() {
        for json in [
            r#"{"timeout_ms":1e400}"#,
            r#"{"timeout_ms":-1}"#,
            r#"{"timeout_ms":18446744073709551616}"#,
            r#"{"max_response_bytes":-1e400}"#,
            r#"{"discovery":{"probe_timeout_ms":1e400}}"#,
        ] {
            let e = Config::from_json(json).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{json}: {e}");
        }
    }

    #[test]
    fn messages_do_not_quote_huge_values_whole() {
        let huge = "7".repeat(1 << 20);
        for json in [
            format!(r#"{{"timeout_ms":"{huge}"}}"#),
            format!(r#"{{"{huge}":1}}"#),
            format!(r#"{{"timeout_ms":{huge}}}"#),
        ] {
            let e = Config::from_json(&json).unwrap_err();
            assert!(e.message().len() < 300, "{} bytes", e.message().len());
        }
    }

    #[test]
    fn discovery_key() {
        let c = Config::from_json(r#"{"discovery":true}"#).unwrap();
        let d = c.discovery.unwrap();
        assert_eq!(d.ports, crate::discovery::DEFAULT_PORTS);
        let c = Config::from_json(r#"{"discovery":{"ports":[5000,5001],"port_file":""}}"#).unwrap();
        let d = c.discovery.unwrap();
        assert_eq!((d.ports, d.port_file), ((5000, 5001), None));
        for json in [r#"{"discovery":false}"#, r#"{"discovery":null}"#, "{}"] {
            assert_eq!(Config::from_json(json).unwrap().discovery, None, "{json}");
        }
        // An explicit base URL is the first step of the discovery order, so it wins.
        let c = Config::from_json(r#"{"discovery":true,"base_url":"http://127.0.0.1:9"}"#).unwrap();
        assert_eq!(c.discovery, None);
        assert_eq!(c.base_url, "http://127.0.0.1:9");
        let e = Config::from_json(r#"{"discovery":{"prots":[1,2]}}"#).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(e.message().contains("`prots`"), "{}", e.message());
        let e = Config::from_json(r#"{"discovery":1}"#).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        let e = Config::from_json(r#"{"discovery":{"ports":[2,1]}}"#).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    }

    #[test]
    fn debug_hides_secrets() {
        let c = Config {
            access_token: Some("s3cr3t-token".into()),
            application_id: Some("app-id-123".into()),
            ..Config::default()
        };
        let s = format!("{c:?}");
        assert!(
            !s.contains("s3cr3t-token") && !s.contains("app-id-123"),
            "{s}"
        );
    }
}
