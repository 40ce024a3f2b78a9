//! Server faults that `tests/client.rs` does not cover, each against a loopback server that misbehaves
//! in one precise way. Timing checks are bounds, never exact: a call must not end early (the timeout is
//! honoured) and must end within a generous multiple of it (it is bounded at all).

mod raw_server;

use std::net::TcpListener;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use pieces_user::{Client, Config, ErrorKind};

use raw_server::RawServer;

/// How long a test waits for an event that should take milliseconds: generous, so a loaded
/// machine does not fail it, and bounded, so a missing event fails the test instead of hanging it.
const WAIT: Duration = Duration::from_secs(10);

const MIN_PROFILE: &str = r#"{"id":"u-1","aesthetics":{"font":{"size":14},"theme":{"dark":true}}}"#;

fn client_with(url: &str, change: impl FnOnce(&mut Config)) -> Client {
    let mut config = Config::new(url);
    change(&mut config);
    Client::new(config).unwrap()
}

/// Feeds `bytes` one every `every` until the client hangs up or `limit` passes.
fn drip(conn: &mut raw_server::Conn, bytes: &[u8], every: Duration, limit: Duration) {
    let started = Instant::now();
    for b in bytes.iter().cycle() {
        if started.elapsed() > limit || !conn.try_write(std::slice::from_ref(b)) {
            return;
        }
        thread::sleep(every);
    }
}

#[test]
fn a_refused_connection_fails_fast_not_after_the_connect_timeout() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let c = client_with(&format!("http://127.0.0.1:{port}"), |c| {
        c.connect_timeout = Duration::from_secs(20);
    });
    let started = Instant::now();
    let e = c.snapshot_json().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Connection, "{e}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_server_that_never_answers_is_given_the_whole_timeout_and_no_more() {
    let server = RawServer::start(|_, conn| {
        conn.read_request();
        thread::sleep(Duration::from_secs(20));
    });
    let timeout = Duration::from_millis(1000);
    let c = client_with(&server.url, |c| c.timeout = timeout);
    let started = Instant::now();
    let e = c.snapshot_json().unwrap_err();
    let took = started.elapsed();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    // Not early (timers do not fire early, so -20 % is safe), and bounded.
    assert!(took >= timeout * 8 / 10, "{took:?}");
    assert!(took < timeout * 3, "{took:?}");
}

#[test]
fn headers_then_a_slow_drip_of_body_hit_the_whole_request_timeout() {
    let server = RawServer::start(|_, conn| {
        conn.read_request();
        conn.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{",
        );
        // Every byte arrives well inside any per-read timeout; only a whole-call timeout stops this.
        drip(
            conn,
            b" ",
            Duration::from_millis(50),
            Duration::from_secs(20),
        );
    });
    let timeout = Duration::from_millis(1000);
    let c = client_with(&server.url, |c| c.timeout = timeout);
    let started = Instant::now();
    let e = c.snapshot_json().unwrap_err();
    let took = started.elapsed();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(took >= timeout * 8 / 10, "{took:?}");
    assert!(took < timeout * 3, "{took:?}");
}

#[test]
fn a_slow_drip_of_headers_hits_the_whole_request_timeout() {
    let server = RawServer::start(|_, conn| {
        conn.read_request();
        conn.write(b"HTTP/1.1 200 OK\r\n");
        drip(
            conn,
            b"X-Slow: y\r\n",
            Duration::from_millis(20),
            Duration::from_secs(20),
        );
    });
    let timeout = Duration::from_millis(1000);
    let c = client_with(&server.url, |c| c.timeout = timeout);
    let started = Instant::now();
    let e = c.snapshot_json().unwrap_err();
    let took = started.elapsed();
    // A header section that grows without end may also be refused as too large before the timeout.
    assert!(
        matches!(e.kind(), ErrorKind::Timeout | ErrorKind::InvalidResponse),
        "{e}"
    );
    assert!(took < timeout * 3, "{took:?}");
}

#[test]
fn a_body_shorter_than_its_content_length_is_a_connection_error() {
    let server = RawServer::start(|_, conn| {
        conn.read_request();
        conn.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n",
        );
        conn.write(&br#"{"user":null,"pad":""#[..]);
        // The script returns: the connection closes 980 bytes short.
    });
    let e = client_with(&server.url, |_| {})
        .snapshot_json()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Connection, "{e}");
    assert!(e.message().contains("closed"), "{e}");
}

#[test]
fn a_reset_mid_response_is_a_connection_error_and_a_post_is_not_resent() {
    let script = |_: usize, conn: &mut raw_server::Conn| {
        conn.read_request();
        conn.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"id\":");
        // Meant as a reset after part of the answer. Should the client not have read the head by
        // then, it meets a reset before any answer, which must fail both calls the same way.
        thread::sleep(Duration::from_millis(50));
        conn.reset_on_close();
    };
    let server = RawServer::start(script);
    let e = client_with(&server.url, |_| {}).refresh_json().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Connection, "{e}");

    let server = RawServer::start(script);
    let e = client_with(&server.url, |_| {})
        .update_json(MIN_PROFILE)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Connection, "{e}");
    let record = server.stop();
    assert_eq!((record.connections, record.count("POST")), (1, 1));
}

#[test]
fn a_reset_before_any_answer_is_retried_once_for_a_get_only() {
    let script = |index: usize, conn: &mut raw_server::Conn| {
        if index == 0 {
            conn.read_request();
            conn.reset_on_close();
            return;
        }
        while conn.read_request().is_some() {
            conn.respond(200, "application/json", MIN_PROFILE.as_bytes());
        }
    };
    let server = RawServer::start(script);
    client_with(&server.url, |_| {}).refresh_json().unwrap();
    let record = server.stop();
    assert_eq!((record.connections, record.count("GET")), (2, 2));

    let server = RawServer::start(script);
    let e = client_with(&server.url, |_| {})
        .update_json(MIN_PROFILE)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Connection, "{e}");
    let record = server.stop();
    assert_eq!((record.connections, record.count("POST")), (1, 1));
}

/// A 5xx with a 10 MB body: the message quotes only its start, the body is kept up to
/// `max_response_bytes` (whole when it fits, cut at the limit when not), so memory stays bounded.
#[test]
fn a_5xx_with_a_10_mb_body_keeps_the_body_up_to_the_limit() {
    const TEN_MB: usize = 10 << 20;
    let server = RawServer::start(|_, conn| {
        let body = vec![b'e'; TEN_MB];
        while conn.read_request().is_some() {
            conn.respond(500, "text/plain", &body);
        }
    });
    let e = client_with(&server.url, |_| {}).refresh_json().unwrap_err();
    assert_eq!((e.kind(), e.status()), (ErrorKind::ServerError, Some(500)));
    assert_eq!(e.body().map(str::len), Some(TEN_MB));
    assert!(e.message().len() < 300, "{} bytes", e.message().len());

    let limit = 1 << 20;
    let e = client_with(&server.url, |c| c.max_response_bytes = limit)
        .refresh_json()
        .unwrap_err();
    assert_eq!((e.kind(), e.status()), (ErrorKind::ServerError, Some(500)));
    assert_eq!(e.body().map(str::len), Some(limit as usize));
    assert!(e.message().len() < 400, "{} bytes", e.message().len());
    assert!(
        e.message().contains("body cut at max_response_bytes"),
        "{e}"
    );
}

#[test]
fn an_error_body_of_exactly_the_limit_is_not_marked_cut() {
    let server = RawServer::start(|_, conn| {
        while conn.read_request().is_some() {
            conn.respond(503, "text/plain", &[b'x'; 1000]);
        }
    });
    let e = client_with(&server.url, |c| c.max_response_bytes = 1000)
        .snapshot_json()
        .unwrap_err();
    assert_eq!(e.body().map(str::len), Some(1000));
    assert!(!e.message().contains("cut"), "{e}");
}

/// The server answers one request per connection with keep-alive headers, then closes the
/// connection. Each call starts after the close (the server reports it), so it finds its pooled
/// connection closed and must open a fresh one: every call succeeds, and every POST reaches the
/// server exactly once, in order.
#[test]
fn a_keep_alive_connection_closed_between_calls() {
    let (closed_tx, closed) = mpsc::channel();
    let server = RawServer::start(move |_, conn| {
        if conn.read_request().is_some() {
            conn.respond(200, "application/json", MIN_PROFILE.as_bytes());
        }
        conn.close();
        closed_tx.send(()).unwrap();
    });
    let c = client_with(&server.url, |_| {});
    let after_close = || closed.recv_timeout(WAIT).expect("the server never closed");
    let mut sent = Vec::new();
    for round in 0..6 {
        c.refresh_json().unwrap();
        after_close();
        c.refresh_json().unwrap();
        after_close();
        let doc = MIN_PROFILE.replace("u-1", &format!("u-{round}"));
        c.update_json(&doc).unwrap();
        after_close();
        sent.push(doc.into_bytes());
    }
    drop(c);
    let record = server.stop();
    let posted: Vec<_> = record
        .requests
        .iter()
        .filter(|r| r.method == "POST")
        .map(|r| r.body.clone())
        .collect();
    assert_eq!(posted, sent);
    assert_eq!(record.connections, 18);
}

#[test]
fn an_oversized_response_head_is_an_invalid_response_like_too_many_headers() {
    let big_header = format!("X-Big: {}\r\n", "a".repeat(1 << 20));
    let many_headers = "X-A: 1\r\n".repeat(100_000);
    for headers in [big_header, many_headers] {
        let head = format!("HTTP/1.1 200 OK\r\n{headers}Content-Length: 2\r\n\r\n{{}}");
        let server = RawServer::start(move |_, conn| {
            if conn.read_request().is_some() {
                conn.write(head.as_bytes());
            }
        });
        let e = client_with(&server.url, |_| {}).snapshot().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{e}");
        assert!(e.message().len() < 300, "{}", e.message().len());
    }
}

#[test]
fn a_redirect_is_reported_with_its_location_and_not_followed() {
    let server = RawServer::start(|_, conn| {
        while conn.read_request().is_some() {
            conn.write(
                b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:9/elsewhere\r\nContent-Length: 0\r\n\r\n",
            );
        }
    });
    let e = client_with(&server.url, |_| {}).snapshot().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::HttpStatus, "{e}");
    assert_eq!(e.status(), Some(302));
    assert!(
        e.message().contains("http://127.0.0.1:9/elsewhere"),
        "{}",
        e.message()
    );
    assert_eq!(server.requests.try_iter().count(), 1, "not followed");
}

/// A valid profile of about `bytes` bytes: the bulk sits under an unknown key.
fn profile_of(bytes: usize) -> String {
    format!(
        r#"{{"id":"u-1","aesthetics":{{"font":{{"size":14}},"theme":{{"dark":true}}}},"pad":"{}"}}"#,
        "x".repeat(bytes)
    )
}

const UPLOAD_BYTES: usize = 50 << 20;

#[test]
fn an_answer_sent_before_the_upload_ends_is_reported_not_the_reset() {
    let server = RawServer::start(|_, conn| {
        conn.skip_bytes(64 * 1024);
        conn.write(
            b"HTTP/1.1 413 Payload Too Large\r\nContent-Type: text/plain\r\nContent-Length: 22\r\n\
              Connection: close\r\n\r\nrequest body too large",
        );
        // Returning closes the socket with most of the upload unread: the kernel answers it with a reset.
    });
    let client = client_with(&server.url, |c| c.timeout = Duration::from_secs(30));
    let e = client.update_json(&profile_of(UPLOAD_BYTES)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::HttpStatus, "{e}");
    assert_eq!(e.status(), Some(413), "{e}");
    assert_eq!(e.body(), Some("request body too large"));
    assert_eq!(server.stop().connections, 1, "a POST is sent once");
}

#[test]
fn a_hang_up_mid_upload_without_an_answer_stays_a_connection_error() {
    for reset in [false, true] {
        let server = RawServer::start(move |_, conn| {
            conn.skip_bytes(64 * 1024);
            if reset {
                conn.reset_on_close();
            }
        });
        let client = client_with(&server.url, |c| c.timeout = Duration::from_secs(30));
        let e = client.update_json(&profile_of(UPLOAD_BYTES)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Connection, "reset {reset}: {e}");
        assert_eq!(e.status(), None);
        assert_eq!(server.stop().connections, 1, "a POST is sent once");
    }
}

#[path = "common/mod.rs"]
mod common;

#[test]
fn a_50_mb_update_to_the_stand_in_is_its_413_not_a_reset() {
    let standin = common::Standin::start(&[]);
    let client = client_with(&standin.url, |c| c.timeout = Duration::from_secs(30));
    let e = client.update_json(&profile_of(UPLOAD_BYTES)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::HttpStatus, "{e}");
    assert_eq!(e.status(), Some(413), "{e}");
    assert_eq!(e.body(), Some("request body too large"));
}
