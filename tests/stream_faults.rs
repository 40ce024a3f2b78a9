//! Stream faults beside tests/stream.rs: a server that dies mid-frame, and 16 MB frames against the
//! configurable frame limit (the default and a small one). In each, the stream must report the fault
//! and come back by itself to the current user.

mod stream_common;
mod ws_server;

use pieces_user::{ErrorKind, StreamEvent, StreamOptions};
use stream_common::{fast, start};
use ws_server::{big_profile, profile, WsServer};

fn is_connected(e: &StreamEvent) -> bool {
    matches!(e, StreamEvent::Connected { .. })
}

#[test]
fn a_server_killed_mid_frame_is_a_disconnect_then_a_reconnect() {
    let server = WsServer::start(Some(profile("p0")));
    let (_stream, mut events) = start(&server.url, fast());
    events.user("p0");
    events.user("p0");
    server.die_mid_frame();
    // The half frame is never delivered as a user: the next thing is the disconnect (possibly
    // preceded by an error naming the cut), then a reconnect to the current user.
    let e = events.until("a disconnect", |e| {
        matches!(e, StreamEvent::Disconnected { .. } | StreamEvent::User(_))
    });
    assert!(matches!(e, StreamEvent::Disconnected { .. }), "{e:?}");
    events.until("connected", is_connected);
    events.user("p0");
    assert!(
        !events
            .seen
            .iter()
            .any(|e| matches!(e, StreamEvent::User(_))),
        "{:#?}",
        events.seen
    );
}

/// 16 MiB of profile against a frame limit: refused with ResponseTooLarge, then the stream reconnects
/// (the server greets with the stored, small profile) and goes on.
fn a_big_frame_is_refused_and_the_stream_survives(options: StreamOptions, frame_bytes: usize) {
    let server = WsServer::start(Some(profile("p0")));
    let (_stream, mut events) = start(&server.url, options);
    events.user("p0");
    events.user("p0");
    server.push_raw(&big_profile(frame_bytes));
    let e = events.until("an error", |e| matches!(e, StreamEvent::Error(_)));
    match e {
        StreamEvent::Error(e) => assert_eq!(e.kind(), ErrorKind::ResponseTooLarge, "{e}"),
        other => panic!("{other:?}"),
    }
    events.until("connected", is_connected);
    events.user("p0");
    server.set_profile(&profile("p1"));
    events.user("p1");
}

#[test]
fn a_16_mib_frame_over_a_1_mib_limit_is_refused_and_the_stream_survives() {
    let mut options = fast();
    options.max_frame_bytes = 1 << 20;
    a_big_frame_is_refused_and_the_stream_survives(options, 16 << 20);
}

#[test]
fn a_frame_over_the_default_16_mib_limit_is_refused_and_the_stream_survives() {
    assert_eq!(StreamOptions::default().max_frame_bytes, 16 << 20);
    a_big_frame_is_refused_and_the_stream_survives(fast(), (16 << 20) + 4096);
}

/// Accepts every WebSocket handshake and closes the connection at once; other requests (the
/// stream's `GET /user`) are dropped unanswered. Serves until the test process ends.
fn accept_and_close_server() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            if let Ok(mut ws) = tungstenite::accept(conn) {
                let _ = ws.close(None);
                let _ = ws.flush();
            }
        }
    });
    url
}

#[test]
fn a_server_that_accepts_and_closes_at_once_meets_a_growing_backoff() {
    let url = accept_and_close_server();
    let mut options = fast();
    options.reconnect_min = std::time::Duration::from_millis(20);
    options.reconnect_max = std::time::Duration::from_secs(10);
    let (stream, mut events) = start(&url, options);
    let mut reconnects = Vec::new();
    while reconnects.len() < 5 {
        let e = events.until("reconnecting", |e| {
            matches!(e, StreamEvent::Reconnecting { .. })
        });
        if let StreamEvent::Reconnecting { attempt, delay } = e {
            reconnects.push((attempt, delay));
        }
    }
    stream.stop();
    // Every attempt connected: the backoff grows although the connects succeed.
    let connects = events.seen.iter().filter(|e| is_connected(e)).count();
    assert!(connects >= 5, "{:#?}", events.seen);
    let attempts: Vec<u32> = reconnects.iter().map(|(attempt, _)| *attempt).collect();
    assert_eq!(attempts, [1, 2, 3, 4, 5], "{:#?}", events.seen);
    // Each delay is jittered into the upper half of 20 ms · 2^(attempt-1).
    let (first, fifth) = (reconnects[0].1, reconnects[4].1);
    assert!(first <= std::time::Duration::from_millis(20), "{first:?}");
    assert!(fifth >= std::time::Duration::from_millis(160), "{fifth:?}");
}
