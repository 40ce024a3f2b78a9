//! Finding a running Pieces OS on this machine, as the official clients do: Pieces OS 11 and later
//! listens on the first free port of 39300–39333 and writes it to a port file (the C# client reads
//! it); Pieces OS 10 and earlier used port 1000 (5323 on Linux).
//!
//! Order: `PIECES_BASE_URL` → the port file → a parallel health probe of the port range, where the
//! **lowest** healthy port wins (the official Python client takes whichever answers first, so two
//! instances give a random pick) → the legacy ports → [`ErrorKind::NotRunning`] listing what was tried.
//!
//! Only loopback is ever probed. The port file's port, the range and the legacy ports are probed in one
//! parallel batch and ranked afterwards, so the whole search costs about one probe round trip when
//! something answers and at most two probe timeouts when nothing does (a refused loopback connect is
//! immediate, so "nothing running" usually takes a few milliseconds).

use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::check::{check_base_url, invalid, json_error, normalize_base_url, parse_object};
use crate::error::{Error, ErrorKind, Result};

/// Pieces OS 11+ takes the first free port in this range.
pub const DEFAULT_PORTS: (u16, u16) = (39300, 39333);
/// Loopback answers in well under a millisecond; 100 ms (per step) only matters for a listener that
/// accepts and then hangs, and keeps a fruitless search short.
pub const DEFAULT_PROBE_TIMEOUT: Duration = Duration::from_millis(100);
/// The environment variable that names the server outright, for hosts that know better than a scan.
pub const ENV_BASE_URL: &str = "PIECES_BASE_URL";
/// Bounds the threads one search starts; 34 covers the default range plus a few extra ports at once.
const MAX_PROBE_THREADS: usize = 40;
/// A range is a handful of ports in practice; the bound keeps a typo from scanning the whole machine.
const MAX_RANGE_PORTS: usize = 256;
const MAX_LEGACY_PORTS: usize = 16;
const MAX_PROBE_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a search waiting on its probes asks whether to stop.
const STOP_SLICE: Duration = Duration::from_millis(10);
/// A health answer is a status line, a few headers and `ok` plus a GUID; more than this is not one.
const MAX_HEALTH_RESPONSE: usize = 4096;

/// How [`discover`] searches. [`Default`] is what official clients do; tests point it at free ports.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DiscoveryOptions {
    /// Inclusive `(first, last)` port range probed in parallel.
    pub ports: (u16, u16),
    /// The file in which Pieces OS writes its port. `None` skips it. When the file's folder is named
    /// `Config` and the file is missing, the same name under a lower-case `config` folder is tried too
    /// (Pieces support spells the folder `config`, the C# client `Config`; on a case-sensitive file
    /// system only one of them exists).
    pub port_file: Option<PathBuf>,
    /// Ports of Pieces OS ≤ 10, tried after the range, in this order.
    pub legacy_ports: Vec<u16>,
    /// Bounds the TCP connect, and then separately the health exchange, of each probe.
    pub probe_timeout: Duration,
    /// The loopback address probed. Anything but a loopback address is rejected.
    pub host: IpAddr,
    /// The value of `PIECES_BASE_URL` (read when the options are built, so tests can replace it).
    /// When set, [`discover`] returns it without probing.
    pub env_base_url: Option<String>,
}

impl Default for DiscoveryOptions {
    fn default() -> DiscoveryOptions {
        DiscoveryOptions {
            ports: DEFAULT_PORTS,
            port_file: default_port_file(),
            legacy_ports: default_legacy_ports(),
            probe_timeout: DEFAULT_PROBE_TIMEOUT,
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            env_base_url: env_base_url(),
        }
    }
}

/// The JSON form; every key optional (null = default), unknown keys rejected by name.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OptionsJson {
    /// A Vec, not a tuple: serde_json calls a third element a syntax error, and it is a shape error.
    ports: Option<Vec<u16>>,
    /// An empty string disables the port file (null already means "the default path").
    port_file: Option<PathBuf>,
    legacy_ports: Option<Vec<u16>>,
    probe_timeout_ms: Option<u64>,
    host: Option<IpAddr>,
}

impl DiscoveryOptions {
    /// Reads the JSON form: an object with any of `ports` (`[first, last]`), `port_file` (a path;
    /// `""` disables it), `legacy_ports` (an array), `probe_timeout_ms`, `host` (`"127.0.0.1"` or
    /// `"::1"`). Missing or null keys keep their defaults. `PIECES_BASE_URL` is read from the environment.
    pub fn from_json(json: &str) -> Result<DiscoveryOptions> {
        let raw: OptionsJson = parse_object("discovery options", json)?;
        DiscoveryOptions::from_raw(raw)
    }

    /// The same, from an already parsed value (the `discovery` object inside a client config).
    pub(crate) fn from_value(value: serde_json::Value) -> Result<DiscoveryOptions> {
        let raw: OptionsJson =
            serde_json::from_value(value).map_err(|e| json_error("config.discovery", e))?;
        DiscoveryOptions::from_raw(raw)
    }

    fn from_raw(raw: OptionsJson) -> Result<DiscoveryOptions> {
        let defaults = DiscoveryOptions::default();
        let ports = match raw.ports.as_deref() {
            None => defaults.ports,
            Some(&[first, last]) => (first, last),
            Some(_) => return Err(invalid("discovery ports must be [first, last]")),
        };
        let options = DiscoveryOptions {
            ports,
            port_file: match raw.port_file {
                Some(path) if path.as_os_str().is_empty() => None,
                Some(path) => Some(path),
                None => defaults.port_file,
            },
            legacy_ports: raw.legacy_ports.unwrap_or(defaults.legacy_ports),
            probe_timeout: raw
                .probe_timeout_ms
                .map_or(defaults.probe_timeout, Duration::from_millis),
            host: raw.host.unwrap_or(defaults.host),
            env_base_url: defaults.env_base_url,
        };
        options.validate()?;
        Ok(options)
    }

    /// Checks values that would make the search slow, wide or pointless.
    pub fn validate(&self) -> Result<()> {
        let (first, last) = self.ports;
        if first == 0 || first > last {
            return Err(invalid(
                "discovery ports must be [first, last] with 1 <= first <= last",
            ));
        }
        if usize::from(last - first) >= MAX_RANGE_PORTS {
            return Err(invalid(format!(
                "discovery ports span at most {MAX_RANGE_PORTS} ports"
            )));
        }
        if self.legacy_ports.len() > MAX_LEGACY_PORTS || self.legacy_ports.contains(&0) {
            return Err(invalid(format!(
                "discovery legacy_ports holds at most {MAX_LEGACY_PORTS} ports, none of them 0"
            )));
        }
        if self.probe_timeout.is_zero() || self.probe_timeout > MAX_PROBE_TIMEOUT {
            return Err(invalid(format!(
                "discovery probe_timeout_ms must be 1..={}",
                MAX_PROBE_TIMEOUT.as_millis()
            )));
        }
        // Probing is a loopback affair: anything else would be a port scan of someone else's machine.
        if !self.host.is_loopback() {
            return Err(invalid("discovery host must be a loopback address"));
        }
        if let Some(url) = &self.env_base_url {
            check_base_url(url).map_err(|e| invalid(format!("{ENV_BASE_URL}: {}", e.message())))?;
        }
        Ok(())
    }
}

/// `~/Library/com.pieces.os/production/Config/.port.txt` on macOS, the same under `~/Documents`
/// elsewhere (where the official C# client reads it); `None` without a home directory.
pub fn default_port_file() -> Option<PathBuf> {
    let home = home_dir()?;
    let base = if cfg!(target_os = "macos") {
        "Library"
    } else {
        "Documents"
    };
    Some(
        home.join(base)
            .join("com.pieces.os")
            .join("production")
            .join("Config")
            .join(".port.txt"),
    )
}

/// 5323 was the Linux port of Pieces OS ≤ 10 and 1000 everyone else's; the platform's own comes first.
pub fn default_legacy_ports() -> Vec<u16> {
    if cfg!(target_os = "linux") {
        vec![5323, 1000]
    } else {
        vec![1000, 5323]
    }
}

fn home_dir() -> Option<PathBuf> {
    let var = if cfg!(windows) { "USERPROFILE" } else { "HOME" };
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn env_base_url() -> Option<String> {
    std::env::var(ENV_BASE_URL)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// Finds Pieces OS and returns its base URL (`http://127.0.0.1:39300`, no trailing slash).
///
/// Fails with [`ErrorKind::NotRunning`] — its message lists every place tried and what each gave —
/// or with [`ErrorKind::InvalidArgument`] for invalid options.
pub fn discover(options: &DiscoveryOptions) -> Result<String> {
    discover_until(options, || false)
}

/// [`discover`] that gives up (with `NotRunning`) as soon as `stop` says so; it is asked every
/// [`STOP_SLICE`] while probes are out. For an interrupted call's re-discovery.
pub(crate) fn discover_until(
    options: &DiscoveryOptions,
    stop: impl Fn() -> bool,
) -> Result<String> {
    options.validate()?;
    if let Some(url) = &options.env_base_url {
        return Ok(normalize_base_url(url));
    }

    // One ranked candidate list: port file, then the range ascending, then legacy. A port listed twice
    // keeps its best rank.
    let mut candidates: Vec<(u16, Source)> = Vec::new();
    let port_file = options.port_file.as_deref().map(read_port_file);
    if let Some(PortFile::Port(_, port)) = &port_file {
        candidates.push((*port, Source::PortFile));
    }
    for port in options.ports.0..=options.ports.1 {
        candidates.push((port, Source::Range));
    }
    for &port in &options.legacy_ports {
        candidates.push((port, Source::Legacy));
    }
    let mut seen = std::collections::HashSet::new();
    candidates.retain(|(port, _)| seen.insert(*port));

    let ports: Vec<u16> = candidates.iter().map(|c| c.0).collect();
    let (winner, outcomes) = probe_ranked(options.host, &ports, options.probe_timeout, &stop);
    if let Some(i) = winner {
        return Ok(base_url(options.host, ports[i]));
    }
    Err(Error::new(
        ErrorKind::NotRunning,
        not_running_message(options, port_file.as_ref(), &candidates, &outcomes),
    ))
}

fn base_url(host: IpAddr, port: u16) -> String {
    // SocketAddr prints an IPv6 address in brackets, as a URL needs.
    format!("http://{}", SocketAddr::new(host, port))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    PortFile,
    Range,
    Legacy,
}

enum PortFile {
    Port(PathBuf, u16),
    Missing(PathBuf),
    Unreadable(PathBuf, io::ErrorKind),
    NotAPort(PathBuf),
}

fn read_port_file(path: &Path) -> PortFile {
    let mut tried = vec![path.to_path_buf()];
    if let (Some(dir), Some(name)) = (path.parent(), path.file_name()) {
        if dir.file_name().is_some_and(|n| n == "Config") {
            tried.push(dir.with_file_name("config").join(name));
        }
    }
    for candidate in tried {
        // A port is a few bytes; reading at most 64 keeps a wrong path (a device, a huge file) harmless.
        let mut text = String::new();
        let result = std::fs::File::open(&candidate)
            .and_then(|f| f.take(64).read_to_string(&mut text).map(|_| ()));
        match result {
            Ok(()) => {
                return match text.trim().parse::<u16>() {
                    Ok(port) if port != 0 => PortFile::Port(candidate, port),
                    _ => PortFile::NotAPort(candidate),
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            // Mis-encoded content reads as InvalidData: the file is there but holds no port.
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                return PortFile::NotAPort(candidate)
            }
            Err(e) => return PortFile::Unreadable(candidate, e.kind()),
        }
    }
    PortFile::Missing(path.to_path_buf())
}

/// What one health probe found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Healthy,
    Refused,
    ConnectTimeout,
    ConnectFailed(io::ErrorKind),
    /// Accepted, then said nothing (or too little) before the timeout.
    NoAnswer,
    /// Accepted and closed without a byte.
    Closed,
    NotHttp,
    Status(u16),
    /// 200, but the body does not start with `ok`: some other server.
    NotHealth,
}

impl Outcome {
    fn describe(self) -> String {
        match self {
            Outcome::Healthy => "healthy".into(),
            Outcome::Refused => "refused".into(),
            Outcome::ConnectTimeout => "connect timed out".into(),
            Outcome::ConnectFailed(kind) => format!("connect failed ({kind})"),
            Outcome::NoAnswer => "no answer".into(),
            Outcome::Closed => "closed at once".into(),
            Outcome::NotHttp => "not HTTP".into(),
            Outcome::Status(code) => format!("HTTP {code}"),
            Outcome::NotHealth => "not a health answer".into(),
        }
    }
}

/// Probes `ports` in parallel and returns the index of the first healthy one in list order, plus what
/// each probe found (`None` for probes that were not needed). Returns as soon as every port ranked
/// above the best healthy one has answered, without waiting for lower-ranked probes.
fn probe_ranked(
    host: IpAddr,
    ports: &[u16],
    timeout: Duration,
    stop: &dyn Fn() -> bool,
) -> (Option<usize>, Vec<Option<Outcome>>) {
    let mut outcomes: Vec<Option<Outcome>> = vec![None; ports.len()];
    if ports.is_empty() {
        return (None, outcomes);
    }
    let shared = Arc::new(Shared {
        ports: ports.to_vec(),
        next: AtomicUsize::new(0),
        best: AtomicUsize::new(usize::MAX),
        host,
        timeout,
    });
    let (tx, rx) = mpsc::channel();
    let mut started = 0;
    for _ in 0..ports.len().min(MAX_PROBE_THREADS) {
        let (shared, tx) = (Arc::clone(&shared), tx.clone());
        // Workers are not joined: once the answer is known the rest finish within two probe
        // timeouts on their own, and nobody should wait for them.
        let spawned = thread::Builder::new()
            .name("pieces-discovery".into())
            .stack_size(64 * 1024)
            .spawn(move || probe_worker(&shared, &tx));
        if spawned.is_ok() {
            started += 1;
        }
    }
    if started == 0 {
        // No threads to be had (a constrained host): probe one by one rather than fail.
        probe_worker(&shared, &tx);
    }
    drop(tx);

    let mut best: Option<usize> = None;
    loop {
        let (i, outcome) = match rx.recv_timeout(STOP_SLICE) {
            Ok(found) => found,
            Err(mpsc::RecvTimeoutError::Timeout) if stop() => return (None, outcomes),
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        outcomes[i] = Some(outcome);
        if outcome == Outcome::Healthy && best.is_none_or(|b| i < b) {
            best = Some(i);
            shared.best.fetch_min(i, Ordering::Relaxed);
        }
        if let Some(b) = best {
            if outcomes[..b].iter().all(Option::is_some) {
                break;
            }
        }
    }
    (best, outcomes)
}

struct Shared {
    ports: Vec<u16>,
    next: AtomicUsize,
    /// Index of the best healthy port found so far; probes ranked below it are skipped.
    best: AtomicUsize,
    host: IpAddr,
    timeout: Duration,
}

fn probe_worker(shared: &Shared, tx: &mpsc::Sender<(usize, Outcome)>) {
    loop {
        let i = shared.next.fetch_add(1, Ordering::Relaxed);
        if i >= shared.ports.len() || i > shared.best.load(Ordering::Relaxed) {
            return;
        }
        let outcome = probe(shared.host, shared.ports[i], shared.timeout);
        if tx.send((i, outcome)).is_err() {
            return; // the search is over
        }
    }
}

/// TCP connect within `timeout`, then `GET /.well-known/health` answered within another `timeout`.
fn probe(host: IpAddr, port: u16, timeout: Duration) -> Outcome {
    let addr = SocketAddr::new(host, port);
    let mut stream = match TcpStream::connect_timeout(&addr, timeout) {
        Ok(stream) => stream,
        Err(e) => {
            return match e.kind() {
                io::ErrorKind::ConnectionRefused => Outcome::Refused,
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => Outcome::ConnectTimeout,
                kind => Outcome::ConnectFailed(kind),
            }
        }
    };
    let deadline = Instant::now() + timeout;
    let _ = stream.set_nodelay(true);
    let request = format!(
        "GET /.well-known/health HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: {}\r\nAccept: text/plain\r\nConnection: close\r\n\r\n",
        crate::check::default_user_agent()
    );
    if stream.set_write_timeout(Some(timeout)).is_err()
        || stream.write_all(request.as_bytes()).is_err()
    {
        // The peer hung up (or never read) before taking a 150-byte request: not a server we want.
        return Outcome::Closed;
    }
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 512];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return Outcome::NoAnswer;
        }
        match stream.read(&mut chunk) {
            Ok(0) => return judge(&buf, true).unwrap_or(Outcome::NotHttp),
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                if let Some(outcome) = judge(&buf, false) {
                    return outcome;
                }
                if buf.len() >= MAX_HEALTH_RESPONSE {
                    return Outcome::NotHttp;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Outcome::NoAnswer
            }
            // A reset after a partial answer is judged on what arrived.
            Err(_) => return judge(&buf, true).unwrap_or(Outcome::Closed),
        }
    }
}

/// Decides on the bytes received so far, or `None` when more are needed. `eof`: no more will come.
fn judge(buf: &[u8], eof: bool) -> Option<Outcome> {
    if buf.is_empty() {
        return eof.then_some(Outcome::Closed);
    }
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    let head_len = match response.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return eof.then_some(Outcome::NotHttp),
        Err(_) => return Some(Outcome::NotHttp),
    };
    match response.code {
        Some(200) => {}
        Some(code) => return Some(Outcome::Status(code)),
        None => return Some(Outcome::NotHttp),
    }
    let chunked = response.headers.iter().any(|h| {
        h.name.eq_ignore_ascii_case("transfer-encoding")
            && h.value
                .to_ascii_lowercase()
                .windows(7)
                .any(|w| w == b"chunked")
    });
    let mut body = &buf[head_len..];
    if chunked {
        // Only the start of the first chunk matters: skip its size line.
        match body.windows(2).position(|w| w == b"\r\n") {
            Some(end) => body = &body[end + 2..],
            None => return eof.then_some(Outcome::NotHealth),
        }
    }
    let body = body.trim_ascii_start();
    if body.len() >= 2 {
        Some(if body[..2].eq_ignore_ascii_case(b"ok") {
            Outcome::Healthy
        } else {
            Outcome::NotHealth
        })
    } else {
        eof.then_some(Outcome::NotHealth)
    }
}

fn not_running_message(
    options: &DiscoveryOptions,
    port_file: Option<&PortFile>,
    candidates: &[(u16, Source)],
    outcomes: &[Option<Outcome>],
) -> String {
    let outcome_of = |source: Source| {
        candidates
            .iter()
            .zip(outcomes)
            .filter(move |((_, s), _)| *s == source)
            .map(|((port, _), o)| (*port, o.map_or("not probed".to_string(), Outcome::describe)))
    };
    let mut m = format!("Pieces OS is not running (tried {ENV_BASE_URL}: not set");
    match port_file {
        None => m.push_str("; port file: none configured"),
        Some(PortFile::Missing(path)) => {
            let _ = write!(m, "; port file {}: missing", path.display());
        }
        Some(PortFile::Unreadable(path, kind)) => {
            let _ = write!(m, "; port file {}: unreadable ({kind})", path.display());
        }
        Some(PortFile::NotAPort(path)) => {
            let _ = write!(m, "; port file {}: not a port number", path.display());
        }
        Some(PortFile::Port(path, port)) => {
            let found = outcome_of(Source::PortFile)
                .next()
                .map_or("also in the range".to_string(), |(_, o)| o);
            let _ = write!(m, "; port file {}: port {port}, {found}", path.display());
        }
    }
    // 34 ports mostly fail the same way: count the reasons instead of listing every port.
    let mut counts: Vec<(String, usize)> = Vec::new();
    for (_, reason) in outcome_of(Source::Range) {
        match counts.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, n)) => *n += 1,
            None => counts.push((reason, 1)),
        }
    }
    let summary: Vec<String> = counts.iter().map(|(r, n)| format!("{n} {r}")).collect();
    let _ = write!(
        m,
        "; ports {}–{} on {}: none healthy ({})",
        options.ports.0,
        options.ports.1,
        options.host,
        summary.join(", ")
    );
    if options.legacy_ports.is_empty() {
        m.push_str("; legacy ports: none configured");
    } else {
        let legacy: Vec<String> = options
            .legacy_ports
            .iter()
            .map(|&port| {
                let reason = outcome_of(Source::Legacy)
                    .find(|(p, _)| *p == port)
                    .map_or("probed above".to_string(), |(_, o)| o);
                format!("{port} {reason}")
            })
            .collect();
        let _ = write!(m, "; legacy {}", legacy.join(", "));
    }
    m.push(')');
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judge_reads_health_answers() {
        let ok = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nok:1234";
        assert_eq!(judge(ok, false), Some(Outcome::Healthy));
        let upper = b"HTTP/1.0 200 OK\r\n\r\n  OK";
        assert_eq!(judge(upper, false), Some(Outcome::Healthy));
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2a\r\nok abc";
        assert_eq!(judge(chunked, false), Some(Outcome::Healthy));
        let partial = b"HTTP/1.1 200 OK\r\n\r\no";
        assert_eq!(judge(partial, false), None);
        assert_eq!(judge(partial, true), Some(Outcome::NotHealth));
        assert_eq!(
            judge(b"HTTP/1.1 500 Oops\r\n\r\nok", false),
            Some(Outcome::Status(500))
        );
        assert_eq!(
            judge(b"HTTP/1.1 200 OK\r\n\r\n<html>", false),
            Some(Outcome::NotHealth)
        );
        assert_eq!(judge(b"SSH-2.0-x\r\n", false), Some(Outcome::NotHttp));
        assert_eq!(judge(b"HTT", false), None);
        assert_eq!(judge(b"", true), Some(Outcome::Closed));
        assert_eq!(judge(b"HTTP/1.1 200 OK\r\n", true), Some(Outcome::NotHttp));
    }

    #[test]
    fn options_json() {
        let o = DiscoveryOptions::from_json(
            r#"{"ports":[5000,5009],"port_file":"/tmp/p.txt","legacy_ports":[7],"probe_timeout_ms":50,"host":"::1"}"#,
        )
        .unwrap();
        assert_eq!(o.ports, (5000, 5009));
        assert_eq!(o.port_file, Some(PathBuf::from("/tmp/p.txt")));
        assert_eq!(o.legacy_ports, vec![7]);
        assert_eq!(o.probe_timeout, Duration::from_millis(50));
        assert_eq!(o.host, "::1".parse::<IpAddr>().unwrap());
        let o = DiscoveryOptions::from_json(r#"{"port_file":""}"#).unwrap();
        assert_eq!(o.port_file, None);
        assert_eq!(o.ports, DEFAULT_PORTS);
    }

    #[test]
    fn bad_options_are_rejected_by_name() {
        let e = DiscoveryOptions::from_json(r#"{"port":[1,2]}"#).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(e.message().contains("`port`"), "{}", e.message());
        assert_eq!(
            DiscoveryOptions::from_json("{").unwrap_err().kind(),
            ErrorKind::MalformedJson
        );
        for json in [
            r#"{"ports":[10,9]}"#,
            r#"{"ports":[0,9]}"#,
            r#"{"ports":[1000,2000]}"#,
            r#"{"ports":[1,2,3]}"#,
            r#"{"legacy_ports":[0]}"#,
            r#"{"probe_timeout_ms":0}"#,
            r#"{"probe_timeout_ms":60000}"#,
            r#"{"host":"10.0.0.1"}"#,
            r#"{"host":"example.com"}"#,
        ] {
            let e = DiscoveryOptions::from_json(json).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{json}");
        }
    }

    #[test]
    fn env_url_wins_without_probing() {
        let o = DiscoveryOptions {
            env_base_url: Some("http://127.0.0.1:4242/".into()),
            ..DiscoveryOptions::default()
        };
        assert_eq!(discover(&o).unwrap(), "http://127.0.0.1:4242");
    }

    #[test]
    fn ipv6_base_url_has_brackets() {
        assert_eq!(
            base_url("::1".parse().unwrap(), 39300),
            "http://[::1]:39300"
        );
    }

    #[test]
    fn lower_case_config_folder_is_tried() {
        let dir = std::env::temp_dir().join(format!("pieces-disc-{}", std::process::id()));
        let lower = dir.join("config");
        std::fs::create_dir_all(&lower).unwrap();
        std::fs::write(lower.join(".port.txt"), " 39301\n").unwrap();
        let wanted = dir.join("Config").join(".port.txt");
        let found = match read_port_file(&wanted) {
            PortFile::Port(_, port) => Some(port),
            _ => None,
        };
        // On a case-insensitive file system `Config` itself resolves; either way the port is read.
        assert_eq!(found, Some(39301));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
