//! Discovery against real loopback listeners on free ports (never the real 39300–39333, never $HOME).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use pieces_user::{discover, Client, Config, DiscoveryOptions, ErrorKind};

mod common;
mod ports;
use common::Standin;
use ports::free_range;

/// What a test listener does with a connection.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
enum Mode {
    /// Pieces OS: health answers `ok…`, `/user` and `/user/clear` answer.
    Healthy,
    /// Every request gets a 500.
    Error500,
    /// A 200 that is not a health answer (some web server).
    Html,
    /// Greets with a non-HTTP banner and closes.
    NotHttp,
    /// Accepts and closes at once.
    Close,
    /// Accepts, reads, never answers.
    Silent,
}

const MODES: [Mode; 6] = [
    Mode::Healthy,
    Mode::Error500,
    Mode::Html,
    Mode::NotHttp,
    Mode::Close,
    Mode::Silent,
];

struct Server {
    port: u16,
    mode: Arc<AtomicU8>,
    stop: Arc<AtomicBool>,
    /// POSTs to /user/clear received, to check a call is not doubled.
    clears: Arc<AtomicUsize>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Server {
    fn start(listener: TcpListener, mode: Mode) -> Server {
        let port = listener.local_addr().unwrap().port();
        let mode = Arc::new(AtomicU8::new(mode as u8));
        let stop = Arc::new(AtomicBool::new(false));
        let clears = Arc::new(AtomicUsize::new(0));
        let (m, s, c) = (mode.clone(), stop.clone(), clears.clone());
        let thread = thread::spawn(move || {
            let mut served = Vec::new();
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break; // the listener is dropped here, so the port refuses from now on
                }
                let Ok(conn) = conn else { continue };
                let mode = MODES[usize::from(m.load(Ordering::SeqCst))];
                let c = c.clone();
                served.push(thread::spawn(move || serve(conn, mode, &c)));
            }
            // So that once `stop` returns, every request that reached the server is counted.
            for t in served {
                t.join().unwrap();
            }
        });
        Server {
            port,
            mode,
            stop,
            clears,
            thread: Some(thread),
        }
    }

    fn set_mode(&self, mode: Mode) {
        self.mode.store(mode as u8, Ordering::SeqCst);
    }

    fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

fn serve(mut conn: TcpStream, mode: Mode, clears: &AtomicUsize) {
    match mode {
        Mode::Close => return,
        Mode::NotHttp => {
            let _ = conn.write_all(b"SSH-2.0-OpenSSH_9.6\r\n");
            return;
        }
        _ => {}
    }
    let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    let line = String::from_utf8_lossy(&request);
    let mut words = line.split(' ');
    let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let (status, ctype, body) = match (mode, method, path) {
        (Mode::Silent, _, _) => {
            // Until the prober hangs up (or the 5 s read timeout): longer than any probe timeout.
            let _ = conn.read(&mut buf);
            return;
        }
        (Mode::Error500, _, _) => ("500 Internal Server Error", "text/plain", "boom"),
        (Mode::Html, _, _) => ("200 OK", "text/html", "<html>hello</html>"),
        (_, "GET", "/.well-known/health") => (
            "200 OK",
            "text/plain",
            "ok:7c1e8f0e-2f3b-4c5d-9e6f-000000000000",
        ),
        (_, "GET", "/user") => ("200 OK", "application/json", r#"{"user":null}"#),
        (_, "POST", "/user/clear") => {
            clears.fetch_add(1, Ordering::SeqCst);
            ("200 OK", "text/plain", "")
        }
        _ => ("404 Not Found", "text/plain", "no such route"),
    };
    let _ = write!(
        conn,
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

fn port(l: &TcpListener) -> u16 {
    l.local_addr().unwrap().port()
}

fn temp_dir(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "pieces-discovery-{}-{}-{name}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The probe timeout of these tests: ten times the default, so that a healthy test server on a
/// loaded machine is never taken for a silent one. Only a silent listener ever waits for it.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// Options that look only where a test says: no environment, no home, no real legacy ports.
fn options(first: u16, last: u16) -> DiscoveryOptions {
    let mut options = DiscoveryOptions::default();
    options.ports = (first, last);
    options.port_file = None;
    options.legacy_ports = Vec::new();
    options.probe_timeout = PROBE_TIMEOUT;
    options.env_base_url = None;
    options
}

fn url(port: u16) -> String {
    format!("http://127.0.0.1:{port}")
}

#[test]
fn port_file_wins() {
    let mut ls = free_range(3);
    let (p0, p2) = (port(&ls[0]), port(&ls[2]));
    let _s2 = Server::start(ls.pop().unwrap(), Mode::Healthy);
    drop(ls.pop());
    let _s0 = Server::start(ls.pop().unwrap(), Mode::Healthy);
    let dir = temp_dir("portfile");
    let file = dir.join(".port.txt");
    std::fs::write(&file, format!("  {p2}\n")).unwrap();
    let mut o = options(p0, p2);
    o.port_file = Some(file);
    assert_eq!(discover(&o).unwrap(), url(p2));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn an_unhealthy_port_file_port_falls_back_to_the_scan() {
    let mut ls = free_range(2);
    let (p0, p1) = (port(&ls[0]), port(&ls[1]));
    let _s1 = Server::start(ls.pop().unwrap(), Mode::Error500);
    let _s0 = Server::start(ls.pop().unwrap(), Mode::Healthy);
    let dir = temp_dir("portfile-bad");
    let file = dir.join(".port.txt");
    std::fs::write(&file, p1.to_string()).unwrap();
    let mut o = options(p0, p1);
    o.port_file = Some(file);
    assert_eq!(discover(&o).unwrap(), url(p0));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn lowest_of_two_healthy_ports_wins() {
    let ls = free_range(4);
    let ports: Vec<u16> = ls.iter().map(port).collect();
    let mut servers = Vec::new();
    for (l, mode) in ls
        .into_iter()
        .zip([Mode::Error500, Mode::Healthy, Mode::Close, Mode::Healthy])
    {
        servers.push(Server::start(l, mode));
    }
    for _ in 0..5 {
        assert_eq!(
            discover(&options(ports[0], ports[3])).unwrap(),
            url(ports[1])
        );
    }
}

#[test]
fn unhealthy_listeners_are_skipped() {
    let ls = free_range(7);
    let ports: Vec<u16> = ls.iter().map(port).collect();
    let modes = [
        Mode::Error500,
        Mode::NotHttp,
        Mode::Close,
        Mode::Silent,
        Mode::Html,
        Mode::Healthy,
        Mode::Healthy,
    ];
    let servers: Vec<Server> = ls
        .into_iter()
        .zip(modes)
        .map(|(l, m)| Server::start(l, m))
        .collect();
    let started = Instant::now();
    assert_eq!(
        discover(&options(ports[0], ports[6])).unwrap(),
        url(ports[5])
    );
    let took = started.elapsed();
    // The silent listener ranks above the healthy one, so its probe is waited for (timers do not
    // fire early, so -20 % is safe); it costs about one probe timeout, not several.
    assert!(took >= PROBE_TIMEOUT * 8 / 10, "{took:?}");
    assert!(took < PROBE_TIMEOUT * 3, "{took:?}");

    // With the healthy ones gone, the error says what each of the others did.
    servers[5].set_mode(Mode::Error500);
    servers[6].set_mode(Mode::Close);
    let e = discover(&options(ports[0], ports[6])).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotRunning);
    for reason in [
        "HTTP 500",
        "not HTTP",
        "closed at once",
        "no answer",
        "not a health answer",
    ] {
        assert!(e.message().contains(reason), "{reason}: {}", e.message());
    }
}

#[test]
fn legacy_ports_come_after_the_range() {
    let mut ls = free_range(4);
    let ports: Vec<u16> = ls.iter().map(port).collect();
    let _legacy = Server::start(ls.pop().unwrap(), Mode::Healthy);
    drop(ls);
    let mut o = options(ports[0], ports[1]);
    o.legacy_ports = vec![ports[2], ports[3]];
    assert_eq!(discover(&o).unwrap(), url(ports[3]));
}

#[test]
fn nothing_running_lists_what_was_tried() {
    let ls = free_range(6);
    let ports: Vec<u16> = ls.iter().map(port).collect();
    drop(ls);
    let dir = temp_dir("missing");
    let file = dir.join("Config").join(".port.txt");
    let mut o = options(ports[0], ports[3]);
    o.port_file = Some(file.clone());
    o.legacy_ports = vec![ports[4], ports[5]];
    // A refused port is known at once: no probe waits for its timeout.
    o.probe_timeout = Duration::from_secs(5);
    let started = Instant::now();
    let e = discover(&o).unwrap_err();
    assert!(
        started.elapsed() < o.probe_timeout,
        "{:?}",
        started.elapsed()
    );
    assert_eq!(e.kind(), ErrorKind::NotRunning);
    let m = e.message();
    assert!(m.starts_with("Pieces OS is not running"), "{m}");
    assert!(m.contains("PIECES_BASE_URL: not set"), "{m}");
    assert!(
        m.contains(&format!("port file {}: missing", file.display())),
        "{m}"
    );
    assert!(
        m.contains(&format!(
            "ports {}–{} on 127.0.0.1: none healthy (4 refused)",
            ports[0], ports[3]
        )),
        "{m}"
    );
    assert!(
        m.contains(&format!(
            "legacy {} refused, {} refused",
            ports[4], ports[5]
        )),
        "{m}"
    );

    std::fs::write(dir.join(".port.txt"), "not a port").unwrap();
    o.port_file = Some(dir.join(".port.txt"));
    let e = discover(&o).unwrap_err();
    assert!(e.message().contains("not a port number"), "{}", e.message());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_client_without_a_server_is_not_running() {
    let ls = free_range(2);
    let (p0, p1) = (port(&ls[0]), port(&ls[1]));
    drop(ls);
    let config = Config::discover_with(options(p0, p1));
    let e = Client::new(config).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::NotRunning);
}

#[test]
fn client_rediscovers_after_the_server_moves() {
    let mut ls = free_range(4);
    let ports: Vec<u16> = ls.iter().map(port).collect();
    // The future home answers 500 for now, so the first discovery must not pick it.
    // Ports: [0] refuses, [1] Pieces OS, [2] refuses, [3] the future home (500 for now).
    let later = Server::start(ls.pop().unwrap(), Mode::Error500);
    drop(ls.pop());
    let mut first = Server::start(ls.pop().unwrap(), Mode::Healthy);
    drop(ls.pop());

    let config = Config::discover_with(options(ports[0], ports[3]));
    let client = Client::new(config).unwrap();
    assert_eq!(client.base_url(), url(ports[1]));
    assert_eq!(client.snapshot_json().unwrap(), r#"{"user":null}"#);

    // Pieces OS restarts on another port: the GET fails to connect, re-discovers, and is repeated.
    first.stop();
    later.set_mode(Mode::Healthy);
    assert_eq!(client.snapshot_json().unwrap(), r#"{"user":null}"#);
    assert_eq!(client.base_url(), url(ports[3]));
    assert_eq!(
        client.stream_url(),
        format!("ws://127.0.0.1:{}/user/stream", ports[3])
    );

    // It moves back: a POST whose connect was refused never left, so it is sent once, to the new home.
    // Another process could take the port in the moment it was free: a failure then, not a skip.
    let back = TcpListener::bind(("127.0.0.1", ports[1]))
        .expect("another process took the old port meanwhile: run the test again");
    let mut home = Server::start(back, Mode::Healthy);
    drop(later);
    client.clear().unwrap();
    assert_eq!(client.base_url(), url(ports[1]));

    // rediscover() (what the stream calls before reconnecting) keeps the URL while nothing moved.
    assert_eq!(client.rediscover().unwrap(), url(ports[1]));
    drop(client);
    home.stop();
    assert_eq!(home.clears.load(Ordering::SeqCst), 1);
}

#[test]
fn a_named_base_url_is_never_replaced() {
    let ls = free_range(1);
    let p = port(&ls[0]);
    drop(ls);
    let client = Client::new(Config::new(format!("{}/", url(p)))).unwrap();
    assert_eq!(client.base_url(), url(p));
    assert_eq!(client.rediscover().unwrap(), url(p));
    let e = client.snapshot_json().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Connection);
    assert_eq!(client.base_url(), url(p));
}

#[test]
fn the_standin_is_found_and_followed_when_it_restarts_elsewhere() {
    let ls = free_range(3);
    let ports: Vec<u16> = ls.iter().map(port).collect();
    drop(ls);
    let standin = Standin::start(&["--port", &ports[1].to_string()]);
    assert_eq!(standin.url, url(ports[1]));

    let config = Config::discover_with(options(ports[0], ports[2]));
    let client = Client::new(config).unwrap();
    assert_eq!(client.base_url(), url(ports[1]));
    let before = client.snapshot_json().unwrap();
    assert!(before.contains("\"user\""), "{before}");

    drop(standin); // killed and reaped: its port refuses from now on
    let standin = Standin::start(&["--port", &ports[2].to_string()]);
    assert_eq!(client.snapshot_json().unwrap(), before);
    assert_eq!(client.base_url(), standin.url);
}
