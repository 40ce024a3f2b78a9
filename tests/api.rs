//! The Rust API as a Rust user holds it: errors keep their cause, clients clone, options are
//! built from their defaults.

mod raw_server;

use std::error::Error as _;
use std::io;
use std::net::TcpListener;
use std::thread;
use std::time::{Duration, Instant};

use pieces_user::{Client, Config, ErrorKind};

use raw_server::{constant_json, RawServer};

const SIGNED_OUT: &str = r#"{"user":null}"#;

/// A loopback port nothing listens on (bound, then released).
fn closed_port_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}", listener.local_addr().unwrap())
}

#[test]
fn a_refused_connect_keeps_the_io_error_as_its_source() {
    let client = Client::new(Config::new(closed_port_url())).unwrap();
    let e = client.snapshot_json().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Connection, "{e}");
    let source = e.source().expect("a source");
    let io = source.downcast_ref::<io::Error>().expect("an io::Error");
    assert_eq!(io.kind(), io::ErrorKind::ConnectionRefused, "{io}");
}

#[test]
fn a_config_json_error_keeps_the_serde_error_as_its_source() {
    let e = Config::from_json(r#"{"timeout_ms":"5"}"#).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    let source = e.source().expect("a source");
    assert!(source.is::<serde_json::Error>(), "{source:?}");
}

#[test]
fn a_garbled_answer_keeps_the_http_error_as_its_source() {
    let server = RawServer::start(|_, conn| {
        conn.read_request();
        conn.write(b"NOT HTTP AT ALL\r\n\r\n");
    });
    let client = Client::new(Config::new(&server.url)).unwrap();
    let e = client.snapshot_json().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{e}");
    assert!(e.source().is_some(), "{e:?}");
}

#[test]
fn errors_made_by_the_library_itself_have_no_source() {
    let e = Config::new("ftp://x").validate().unwrap_err();
    assert!(e.source().is_none());
}

#[test]
fn clones_share_the_connection_pool() {
    let server = RawServer::start(constant_json(SIGNED_OUT));
    let a = Client::new(Config::new(&server.url)).unwrap();
    let b = a.clone();
    assert_eq!(a.snapshot_json().unwrap(), SIGNED_OUT);
    assert_eq!(b.snapshot_json().unwrap(), SIGNED_OUT);
    assert_eq!(b.snapshot_json().unwrap(), SIGNED_OUT);
    drop((a, b)); // `stop` waits for the script, which reads the kept-alive connection until then
    assert_eq!(
        server.stop().connections,
        1,
        "one kept-alive connection for both"
    );
}

#[test]
fn an_interrupt_on_one_handle_reaches_a_call_on_its_clone() {
    // Reads the request and then holds the connection without answering, until the client hangs up.
    let server = RawServer::start(|_, conn| while conn.read_request().is_some() {});
    let mut config = Config::new(&server.url);
    config.timeout = Duration::from_secs(60);
    let original = Client::new(config).unwrap();
    let clone = original.clone();
    let call = thread::spawn(move || clone.snapshot_json());
    server
        .requests
        .recv_timeout(Duration::from_secs(20))
        .expect("the call reached the server");
    let at = Instant::now();
    original.interrupt();
    let e = call.join().unwrap().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Interrupted, "{e}");
    assert!(at.elapsed() < Duration::from_secs(10), "{:?}", at.elapsed());
}
