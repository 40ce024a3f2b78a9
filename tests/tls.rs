//! https:// calls and the wss:// stream against the stand-in behind a TLS proxy with a test CA.

mod common;
mod tls_proxy;

use std::sync::mpsc::channel;
use std::time::Duration;

use pieces_user::{Client, Config, ErrorKind, StreamEvent, StreamOptions};
use serde_json::Value;

use common::Standin;
use tls_proxy::TestPki;

const WAIT: Duration = Duration::from_secs(10);

fn trusting(url: &str, pki: &TestPki) -> Client {
    let mut config = Config::new(url);
    config.tls_ca_file = Some(pki.ca_file.clone());
    Client::new(config).unwrap()
}

#[test]
fn https_calls_work_with_the_named_ca() {
    let s = Standin::start(&[]);
    let pki = TestPki::new();
    let c = trusting(&pki.proxy(&s.url), &pki);
    let me: Value = serde_json::from_str(&c.snapshot_json().unwrap()).unwrap();
    let mut changed = me["user"].clone();
    changed["vanityname"] = "over-tls".into();
    let back: Value = serde_json::from_str(&c.update_json(&changed.to_string()).unwrap()).unwrap();
    assert_eq!(back, changed);
    assert_eq!(
        c.providers_json().unwrap_err().kind(),
        ErrorKind::NotImplemented
    );
}

#[test]
fn an_unknown_ca_is_a_tls_error() {
    let s = Standin::start(&[]);
    let pki = TestPki::new();
    // The webpki roots do not include the test CA.
    let c = Client::new(Config::new(pki.proxy(&s.url))).unwrap();
    let e = c.snapshot_json().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    // Another test CA is just as unknown.
    let other = TestPki::new();
    let e = trusting(&pki.proxy(&s.url), &other)
        .snapshot_json()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
}

#[test]
fn a_plain_http_server_at_an_https_url_fails_within_the_timeout() {
    let s = Standin::start(&[]);
    let pki = TestPki::new();
    let mut config = Config::new(s.url.replace("http://", "https://"));
    config.tls_ca_file = Some(pki.ca_file.clone());
    config.connect_timeout = Duration::from_millis(300);
    let e = Client::new(config).unwrap().snapshot_json().unwrap_err();
    // The plain server waits for a request head that never comes, so the handshake ends at the
    // connect timeout (or a reset, depending on timing): bounded, and never mistaken for success.
    assert!(
        matches!(
            e.kind(),
            ErrorKind::Tls | ErrorKind::Connection | ErrorKind::Timeout
        ),
        "{e}"
    );
}

#[test]
fn the_stream_runs_over_wss() {
    let s = Standin::start(&[]);
    let pki = TestPki::new();
    let url = pki.proxy(&s.url);
    let c = trusting(&url, &pki);
    assert!(c.stream_url().starts_with("wss://"));
    let (tx, rx) = channel();
    let stream = c
        .user_stream(StreamOptions::default(), move |e| {
            let _ = tx.send(e);
        })
        .unwrap();
    let next = || rx.recv_timeout(WAIT).expect("an event");
    let connected = next();
    assert!(
        matches!(&connected, StreamEvent::Connected { url } if url.starts_with("wss://")),
        "{connected:?}"
    );
    let StreamEvent::User(first) = next() else {
        panic!("no user after connect")
    };

    let mut changed: Value = serde_json::from_str(&first).unwrap();
    changed["vanityname"] = "pushed-over-wss".into();
    c.update_json(&changed.to_string()).unwrap();
    loop {
        match next() {
            StreamEvent::User(p) if p.contains("pushed-over-wss") => break,
            StreamEvent::User(_) => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
    stream.stop();
}

#[test]
fn a_wss_stream_with_an_unknown_ca_reports_tls_errors_and_keeps_trying() {
    let s = Standin::start(&[]);
    let pki = TestPki::new();
    let c = Client::new(Config::new(pki.proxy(&s.url))).unwrap();
    let (tx, rx) = channel();
    let stream = c
        .user_stream(StreamOptions::default(), move |e| {
            let _ = tx.send(e);
        })
        .unwrap();
    let first = rx.recv_timeout(WAIT).unwrap();
    assert!(
        matches!(&first, StreamEvent::Error(e) if e.kind() == ErrorKind::Tls),
        "{first:?}"
    );
    let second = rx.recv_timeout(WAIT).unwrap();
    assert!(
        matches!(second, StreamEvent::Reconnecting { attempt: 1, .. }),
        "{second:?}"
    );
    stream.stop();
}
