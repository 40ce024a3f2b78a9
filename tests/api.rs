//! The Rust API as a Rust user holds it: errors keep their cause, clients clone, options are
//! built from their defaults.

mod raw_server;

use std::error::Error as _;
use std::io;
use std::net::TcpListener;

use pieces_user::{Client, Config, ErrorKind};

use raw_server::RawServer;

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
