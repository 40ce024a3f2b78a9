//! `Client::interrupt` and `CancelToken`: a call blocked on the network returns `Interrupted` well
//! before its timeout, from wherever it is blocked, and the client goes on working.
//!
//! Order, not sleeps: each test interrupts only once the server (or the kernel, for a connect)
//! shows that the call is blocked where the test says. Bounds are generous: a 30 s timeout, and
//! the interrupted call must be back within 10 s.

mod ports;
mod raw_server;
mod tls_proxy;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::channel;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use pieces_user::{CancelToken, Client, Config, DiscoveryOptions, ErrorKind, Result};

use raw_server::{Conn, RawServer};

const SIGNED_OUT: &str = r#"{"user":null}"#;
const LONG: Duration = Duration::from_secs(30);
const BOUND: Duration = Duration::from_secs(10);

fn client(url: &str) -> Arc<Client> {
    let mut config = Config::new(url);
    config.timeout = LONG;
    config.connect_timeout = LONG;
    Arc::new(Client::new(config).unwrap())
}

/// Runs `call` on a thread; its result and how long after `since` it came back.
fn spawn_call(
    client: &Arc<Client>,
    call: impl FnOnce(&Client) -> Result<String> + Send + 'static,
) -> JoinHandle<(Result<String>, Instant)> {
    let client = Arc::clone(client);
    thread::spawn(move || {
        let result = call(&client);
        (result, Instant::now())
    })
}

fn assert_interrupted_soon(call: JoinHandle<(Result<String>, Instant)>, interrupted_at: Instant) {
    let (result, ended) = call.join().unwrap();
    let e = result.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Interrupted, "{e}");
    let took = ended.saturating_duration_since(interrupted_at);
    assert!(took < BOUND, "returned {took:?} after the interrupt");
}

/// Reads until the client hangs up: holds a connection without answering.
fn hold(conn: &mut Conn) {
    while conn.read_request().is_some() {}
}

/// The first connection gets no answer; every later one is answered normally.
fn silent_first(index: usize, conn: &mut Conn) {
    if index == 0 {
        conn.read_request();
        hold(conn);
    } else {
        while conn.read_request().is_some() {
            conn.respond(200, "application/json", SIGNED_OUT.as_bytes());
        }
    }
}

fn wait_for_request(server: &RawServer) {
    server
        .requests
        .recv_timeout(BOUND)
        .expect("the call reached the server");
}

#[test]
fn interrupt_wakes_a_call_waiting_for_the_answer_and_the_client_goes_on() {
    let server = RawServer::start(silent_first);
    let c = client(&server.url);
    let call = spawn_call(&c, |c| c.snapshot_json());
    wait_for_request(&server);
    let at = Instant::now();
    c.interrupt();
    assert_interrupted_soon(call, at);
    // The next call works, on a new connection (the interrupted one is never reused).
    assert_eq!(c.snapshot_json().unwrap(), SIGNED_OUT);
    drop(c); // closes the pooled connection, so the server can finish
    assert_eq!(server.stop().connections, 2);
}

#[test]
fn interrupt_wakes_a_post_waiting_for_the_answer() {
    let server = RawServer::start(silent_first);
    let c = client(&server.url);
    let call = spawn_call(&c, |c| c.beta_status_json(r#"{"user":"u","beta":{}}"#));
    wait_for_request(&server);
    let at = Instant::now();
    c.interrupt();
    assert_interrupted_soon(call, at);
    drop(c); // closes the pooled connection, so the server can finish
    assert_eq!(server.stop().connections, 1, "a POST is never resent");
}

#[test]
fn interrupt_wakes_a_call_reading_a_dripping_body() {
    let (head_sent, head_seen) = channel();
    let head_sent = std::sync::Mutex::new(head_sent);
    let server = RawServer::start(move |_, conn| {
        conn.read_request();
        conn.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{",
        );
        let _ = head_sent.lock().unwrap().send(());
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(60) && conn.try_write(b" ") {
            thread::sleep(Duration::from_millis(50));
        }
    });
    let c = client(&server.url);
    let call = spawn_call(&c, |c| c.snapshot_json());
    head_seen.recv_timeout(BOUND).unwrap();
    let at = Instant::now();
    c.interrupt();
    assert_interrupted_soon(call, at);
}

/// A listener whose accept queue is full: further connects hang in SYN_SENT (loopback only).
#[cfg(target_os = "linux")]
fn never_accepting() -> (TcpListener, Vec<TcpStream>) {
    use std::os::fd::AsRawFd;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    // SAFETY: listen(2) again on our own socket, shrinking its backlog.
    assert_eq!(unsafe { libc::listen(listener.as_raw_fd(), 0) }, 0);
    let addr = listener.local_addr().unwrap();
    let mut fillers = Vec::new();
    while let Ok(s) = TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
        fillers.push(s);
        assert!(fillers.len() < 200, "the backlog never filled");
    }
    (listener, fillers)
}

/// Whether a connect to `port` on loopback is waiting in SYN_SENT (state 02 in /proc/net/tcp).
#[cfg(target_os = "linux")]
fn connect_pending(port: u16) -> bool {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    let remote = format!("0100007F:{port:04X}");
    table.lines().skip(1).any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        fields.get(2) == Some(&remote.as_str()) && fields.get(3) == Some(&"02")
    })
}

#[cfg(target_os = "linux")]
#[test]
fn interrupt_wakes_a_call_stuck_in_connect() {
    let (listener, _fillers) = never_accepting();
    let port = listener.local_addr().unwrap().port();
    let c = client(&format!("http://127.0.0.1:{port}"));
    let call = spawn_call(&c, |c| c.snapshot_json());
    let waiting = Instant::now();
    while !connect_pending(port) {
        assert!(waiting.elapsed() < BOUND, "the connect never started");
        thread::sleep(Duration::from_millis(5));
    }
    let at = Instant::now();
    c.interrupt();
    assert_interrupted_soon(call, at);
}

#[test]
fn a_token_cancelled_before_the_call_fails_it_without_sending_anything() {
    let server = RawServer::start(silent_first);
    let c = client(&server.url);
    let token = CancelToken::new();
    token.cancel();
    token.cancel(); // idempotent
    assert!(token.is_cancelled());
    let e = c.with_cancel(&token).snapshot_json().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Interrupted, "{e}");
    drop(c); // closes the pooled connection, so the server can finish
    assert_eq!(server.stop().connections, 0);
}

#[test]
fn cancelling_one_call_leaves_a_concurrent_call_on_the_same_client_alone() {
    let release = Arc::new(AtomicBool::new(false));
    let released = Arc::clone(&release);
    let server = RawServer::start(move |index, conn| {
        if index == 0 {
            conn.read_request();
            hold(conn);
            return;
        }
        conn.read_request();
        while !released.load(Ordering::SeqCst) {
            thread::sleep(Duration::from_millis(5));
        }
        conn.respond(200, "application/json", SIGNED_OUT.as_bytes());
        hold(conn);
    });
    let c = client(&server.url);
    let token = CancelToken::new();
    let handle = c.with_cancel(&token);
    let cancelled = thread::spawn(move || (handle.snapshot_json(), Instant::now()));
    wait_for_request(&server);
    let other = spawn_call(&c, |c| c.snapshot_json());
    wait_for_request(&server);

    let at = Instant::now();
    token.cancel();
    assert_interrupted_soon(cancelled, at);
    assert!(!other.is_finished(), "the other call must still be waiting");
    release.store(true, Ordering::SeqCst);
    let (result, _) = other.join().unwrap();
    assert_eq!(result.unwrap(), SIGNED_OUT);
}

#[test]
fn interrupt_reaches_calls_made_through_with_cancel_handles() {
    let server = RawServer::start(silent_first);
    let c = client(&server.url);
    let handle = Arc::new(c.with_cancel(&CancelToken::new()));
    let call = spawn_call(&handle, |c| c.snapshot_json());
    wait_for_request(&server);
    let at = Instant::now();
    c.interrupt();
    assert_interrupted_soon(call, at);
}

#[test]
fn an_interrupt_with_nothing_in_flight_changes_nothing() {
    let server = RawServer::start(raw_server::constant_json(SIGNED_OUT));
    let c = client(&server.url);
    c.interrupt();
    assert_eq!(c.snapshot_json().unwrap(), SIGNED_OUT);
    c.interrupt();
    assert_eq!(c.snapshot_json().unwrap(), SIGNED_OUT);
    // One keep-alive connection throughout: an idle pooled connection is not touched.
    drop(c); // closes the pooled connection, so the server can finish
    assert_eq!(server.stop().connections, 1);
}

#[test]
fn interrupt_wakes_a_call_in_the_tls_handshake() {
    let pki = tls_proxy::TestPki::new();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut config = Config::new(format!("https://{}", listener.local_addr().unwrap()));
    config.tls_ca_file = Some(pki.ca_file.clone());
    config.timeout = LONG;
    config.connect_timeout = LONG;
    let c = Arc::new(Client::new(config).unwrap());
    let call = spawn_call(&c, |c| c.snapshot_json());
    // The ClientHello arrived; no ServerHello will ever come.
    let (mut conn, _) = listener.accept().unwrap();
    let mut hello = [0u8; 512];
    assert!(conn.read(&mut hello).unwrap() > 0);
    let at = Instant::now();
    c.interrupt();
    assert_interrupted_soon(call, at);
}

#[test]
fn interrupt_wakes_a_call_in_its_re_discovery() {
    // Two ports. When the client is made, the first is Pieces OS and the second refuses. Then the
    // first goes away and the second accepts health probes without ever answering, so the
    // re-discovery after the refused call waits there for the 10 s probe timeout.
    let mut range = ports::free_range(2);
    let (first, second) = (range.remove(0), range.remove(0));
    let first_port = first.local_addr().unwrap().port();
    let second_port = second.local_addr().unwrap().port();
    drop(second);
    let pieces = thread::spawn(move || {
        let (mut conn, _) = first.accept().unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8];
        while !head.ends_with(b"\r\n\r\n") && conn.read(&mut byte).unwrap() == 1 {
            head.push(byte[0]);
        }
        conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            .unwrap();
        // Returning closes the connection and the listener: the port then refuses.
    });
    let mut options = DiscoveryOptions::default();
    options.ports = (first_port, second_port);
    options.port_file = None;
    options.legacy_ports = Vec::new();
    options.probe_timeout = Duration::from_secs(10);
    options.env_base_url = None;
    let mut config = Config::discover_with(options);
    config.timeout = LONG;
    let c = Arc::new(Client::new(config).unwrap());
    assert_eq!(c.base_url(), format!("http://127.0.0.1:{first_port}"));
    pieces.join().unwrap();
    let second = TcpListener::bind(("127.0.0.1", second_port)).unwrap();
    let hanging = RawServer::start_on(second, |_, conn| {
        conn.read_request();
        hold(conn);
    });

    let call = spawn_call(&c, |c| c.snapshot_json());
    let probe = hanging
        .requests
        .recv_timeout(BOUND)
        .expect("a re-discovery probe");
    assert_eq!(probe.path, "/.well-known/health");
    let at = Instant::now();
    c.interrupt();
    let (result, ended) = call.join().unwrap();
    let e = result.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Interrupted, "{e}");
    // Well inside the probe timeout that the scan would otherwise wait out.
    let took = ended.saturating_duration_since(at);
    assert!(
        took < Duration::from_secs(5),
        "returned {took:?} after the interrupt"
    );
    assert_eq!(c.base_url(), format!("http://127.0.0.1:{first_port}"));
}
