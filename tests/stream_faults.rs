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
    let options = StreamOptions {
        max_frame_bytes: 1 << 20,
        ..fast()
    };
    a_big_frame_is_refused_and_the_stream_survives(options, 16 << 20);
}

#[test]
fn a_frame_over_the_default_16_mib_limit_is_refused_and_the_stream_survives() {
    assert_eq!(StreamOptions::default().max_frame_bytes, 16 << 20);
    a_big_frame_is_refused_and_the_stream_survives(fast(), (16 << 20) + 4096);
}
