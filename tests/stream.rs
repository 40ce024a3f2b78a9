//! The user stream against a loopback Pieces OS that can misbehave on demand.
//! Every wait is a receive with a timeout; nothing sleeps to synchronise.

mod stream_common;
mod ws_server;

use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pieces_user::stream::Next;
use pieces_user::{ErrorKind, StreamEvent, StreamOptions, UserStream};
use stream_common::{client, fast, short_ping_timeout, start, Events, WAIT};
use ws_server::{big_profile, profile, WsServer};

/// A port nothing listens on.
fn closed_port_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    format!("http://127.0.0.1:{port}")
}

fn is_connected(e: &StreamEvent) -> bool {
    matches!(e, StreamEvent::Connected { .. })
}

fn is_stopped(e: &StreamEvent) -> bool {
    matches!(e, StreamEvent::Stopped { .. })
}

#[test]
fn connect_delivers_connected_then_the_current_user() {
    let server = WsServer::start(Some(profile("p0")));
    let (_stream, mut events) = start(&server.url, fast());
    assert!(is_connected(&events.next()));
    // First from GET /user, then the push the server makes on connect.
    assert_eq!(events.next(), StreamEvent::User(profile("p0")));
    assert_eq!(events.next(), StreamEvent::User(profile("p0")));
}

#[test]
fn signed_out_from_get_user_and_from_an_empty_frame() {
    let server = WsServer::start(None);
    let (_stream, mut events) = start(&server.url, fast());
    assert!(is_connected(&events.next()));
    assert_eq!(events.next(), StreamEvent::SignedOut);
    assert_eq!(events.next(), StreamEvent::SignedOut);
    server.set_profile(&profile("in"));
    events.user("in");
    server.clear();
    assert_eq!(events.next(), StreamEvent::SignedOut);
    server.push_raw("null");
    assert_eq!(events.next(), StreamEvent::SignedOut);
}

#[test]
fn changes_arrive_in_order() {
    let server = WsServer::start(Some(profile("p0")));
    let (_stream, mut events) = start(&server.url, fast());
    events.user("p0");
    events.user("p0"); // the push on connect: the server now has this connection
    for n in 1..=50 {
        server.set_profile(&profile(&format!("p{n}")));
    }
    for n in 1..=50 {
        assert_eq!(events.next(), StreamEvent::User(profile(&format!("p{n}"))));
    }
}

/// Stop wakes a stream thread blocked on a read; "prompt" is shown against a ping interval much
/// longer than the bound, so only a stop that waited for the next ping could fail it.
#[test]
fn stop_is_prompt_and_stopped_comes_last() {
    let server = WsServer::start(Some(profile("p0")));
    let mut options = StreamOptions::default();
    options.ping_interval = Duration::from_secs(60);
    let (stream, mut events) = start(&server.url, options);
    events.user("p0");
    let t = Instant::now();
    stream.stop();
    assert!(t.elapsed() < WAIT, "{:?}", t.elapsed());
    assert!(!stream.is_running());
    events.until("stopped", is_stopped);
    // The handler (and with it the sender) is gone: nothing can follow.
    assert_eq!(events.rx.try_recv(), Err(TryRecvError::Disconnected));
    stream.stop(); // idempotent
}

#[test]
fn stop_from_inside_the_handler() {
    let server = WsServer::start(Some(profile("p0")));
    let slot: Arc<Mutex<Option<UserStream>>> = Arc::new(Mutex::new(None));
    let (tx, rx) = channel();
    let handler_slot = Arc::clone(&slot);
    let stream = client(&server.url)
        .user_stream(fast(), move |e| {
            if matches!(e, StreamEvent::User(_)) {
                if let Some(s) = handler_slot.lock().unwrap().as_ref() {
                    s.stop();
                }
            }
            let _ = tx.send(e);
        })
        .unwrap();
    *slot.lock().unwrap() = Some(stream);
    let mut events = Events {
        rx,
        seen: Vec::new(),
    };
    events.until("stopped", is_stopped);
    // Dropping the handle from here joins a thread that has ended or is about to.
    let t = Instant::now();
    slot.lock().unwrap().take();
    assert!(t.elapsed() < WAIT, "{:?}", t.elapsed());
}

#[test]
fn dropping_the_handle_inside_the_handler_detaches_cleanly() {
    let server = WsServer::start(Some(profile("p0")));
    let slot: Arc<Mutex<Option<UserStream>>> = Arc::new(Mutex::new(None));
    let (tx, rx) = channel();
    let handler_slot = Arc::clone(&slot);
    let stream = client(&server.url)
        .user_stream(fast(), move |e| {
            if matches!(e, StreamEvent::User(_)) {
                // The last handle dropped on the stream's own thread: signal, no join, no panic.
                drop(handler_slot.lock().unwrap().take());
            }
            let _ = tx.send(e);
        })
        .unwrap();
    *slot.lock().unwrap() = Some(stream);
    let mut events = Events {
        rx,
        seen: Vec::new(),
    };
    events.until("stopped", is_stopped);
}

#[test]
fn stop_while_waiting_to_reconnect() {
    // A reconnect delay far beyond the bound below: only a stop that waited it out fails.
    let mut options = fast();
    options.reconnect_min = Duration::from_secs(60);
    options.reconnect_max = Duration::from_secs(120);
    let (stream, mut events) = start(&closed_port_url(), options);
    let e = events.until("a connection error", |e| matches!(e, StreamEvent::Error(_)));
    let StreamEvent::Error(e) = e else {
        unreachable!()
    };
    assert_eq!(e.kind(), ErrorKind::Connection, "{e}");
    events.until("reconnecting", |e| {
        matches!(e, StreamEvent::Reconnecting { attempt: 1, .. })
    });
    let t = Instant::now();
    stream.stop();
    assert!(t.elapsed() < WAIT, "{:?}", t.elapsed());
    events.until("stopped", is_stopped);
}

#[test]
fn stop_during_a_slow_get_user_is_bounded_by_the_client_timeout() {
    let server = WsServer::start(Some(profile("p0")));
    server.hold_snapshot(true);
    let mut config = pieces_user::Config::new(server.url.as_str());
    config.timeout = Duration::from_millis(300);
    let (tx, rx) = channel();
    let stream = pieces_user::Client::new(config)
        .unwrap()
        .user_stream(fast(), move |e| {
            let _ = tx.send(e);
        })
        .unwrap();
    let mut events = Events {
        rx,
        seen: Vec::new(),
    };
    events.until("connected", |e| matches!(e, StreamEvent::Connected { .. }));
    // The stream thread is now waiting for GET /user, held for ever: only the client's 300 ms
    // timeout (or an interrupted call) ends it, so any bound proves the stop does not hang.
    let t = Instant::now();
    stream.stop();
    assert!(t.elapsed() < WAIT, "{:?}", t.elapsed());
    events.until("stopped", is_stopped);
    server.hold_snapshot(false);
}

#[test]
fn drop_without_stop_ends_the_thread_and_drops_the_handler() {
    struct Guard(Arc<AtomicUsize>);
    impl Drop for Guard {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let server = WsServer::start(Some(profile("p0")));
    let released = Arc::new(AtomicUsize::new(0));
    let guard = Guard(Arc::clone(&released));
    let (tx, rx) = channel();
    let stream = client(&server.url)
        .user_stream(fast(), move |e| {
            let _ = &guard;
            let _ = tx.send(e);
        })
        .unwrap();
    let mut events = Events {
        rx,
        seen: Vec::new(),
    };
    events.user("p0");
    drop(stream);
    assert_eq!(released.load(Ordering::SeqCst), 1);
    events.until("stopped", is_stopped);
}

#[test]
fn gives_up_after_max_attempts() {
    let mut options = fast();
    options.max_attempts = Some(3);
    let (stream, mut events) = start(&closed_port_url(), options);
    let stopped = events.until("stopped", is_stopped);
    let errors = events
        .seen
        .iter()
        .filter(|e| matches!(e, StreamEvent::Error(_)))
        .count();
    assert_eq!(errors, 3, "{:#?}", events.seen);
    let StreamEvent::Stopped { reason } = stopped else {
        unreachable!()
    };
    assert!(reason.contains("3 failed"), "{reason}");
    let attempts: Vec<u32> = events
        .seen
        .iter()
        .filter_map(|e| match e {
            StreamEvent::Reconnecting { attempt, delay } => {
                assert!(*delay <= Duration::from_millis(50), "{delay:?}");
                Some(*attempt)
            }
            _ => None,
        })
        .collect();
    assert_eq!(attempts, [1, 2]);
    drop(stream);
}

#[test]
fn an_invalid_profile_frame_is_an_error_and_the_stream_goes_on() {
    let server = WsServer::start(Some(profile("p0")));
    let (_stream, mut events) = start(&server.url, fast());
    events.user("p0");
    events.user("p0");
    server.push_raw(r#"{"id":42}"#);
    match events.next() {
        StreamEvent::Error(e) => {
            assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{e}");
            assert!(e.path().is_some_and(|p| p.starts_with('$')), "{e}");
        }
        other => panic!("expected an error, got {other:?}"),
    }
    // The frame said nothing about the user: GET /user re-syncs.
    assert_eq!(events.next(), StreamEvent::User(profile("p0")));
    server.set_profile(&profile("after"));
    assert_eq!(events.next(), StreamEvent::User(profile("after")));
}

#[test]
fn a_garbage_frame_is_an_error_and_a_resync_not_a_sign_out() {
    let server = WsServer::start(Some(profile("p0")));
    let (_stream, mut events) = start(&server.url, fast());
    events.user("p0");
    events.user("p0");
    for garbage in ["this is not JSON", "{\"id\":", "[1,2]x"] {
        server.push_raw(garbage);
        match events.next() {
            StreamEvent::Error(e) => assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{e}"),
            other => panic!("{garbage}: expected an error, got {other:?}"),
        }
        assert_eq!(events.next(), StreamEvent::User(profile("p0")), "{garbage}");
    }
    // A garbage frame while nobody is signed in re-syncs to signed out.
    server.clear();
    assert_eq!(events.next(), StreamEvent::SignedOut);
    server.push_raw("garbage");
    assert!(matches!(events.next(), StreamEvent::Error(_)));
    assert_eq!(events.next(), StreamEvent::SignedOut);
}

#[test]
fn a_one_megabyte_profile_arrives_whole() {
    let server = WsServer::start(Some(profile("p0")));
    let (_stream, mut events) = start(&server.url, fast());
    events.user("p0");
    events.user("p0");
    let big = big_profile(1024 * 1024);
    server.set_profile(&big);
    assert_eq!(events.next(), StreamEvent::User(big));
}

#[test]
fn a_frame_over_max_frame_bytes_is_an_error_then_a_reconnect() {
    let server = WsServer::start(Some(profile("p0")));
    let mut options = fast();
    options.max_frame_bytes = 64 * 1024;
    let (_stream, mut events) = start(&server.url, options);
    events.user("p0");
    events.user("p0");
    // Pushed, not stored: after the reconnect the server greets with the small profile again.
    server.push_raw(&big_profile(100 * 1024));
    match events.next() {
        StreamEvent::Error(e) => assert_eq!(e.kind(), ErrorKind::ResponseTooLarge, "{e}"),
        other => panic!("expected an error, got {other:?}"),
    }
    assert!(matches!(events.next(), StreamEvent::Disconnected { .. }));
    events.until("connected", is_connected);
    events.user("p0");
}

#[test]
fn unanswered_pings_mean_a_dead_connection_and_a_reconnect() {
    let server = WsServer::start(Some(profile("p0")));
    let (_stream, mut events) = start(&server.url, short_ping_timeout());
    events.user("p0");
    events.user("p0");
    server.mute_pings(true);
    let e = events.until("disconnected", |e| {
        matches!(e, StreamEvent::Disconnected { .. })
    });
    let StreamEvent::Disconnected { reason } = e else {
        unreachable!()
    };
    assert!(reason.contains("ping"), "{reason}");
    server.mute_pings(false);
    events.until("connected", is_connected);
    events.user("p0");
}

#[test]
fn answered_pings_keep_an_idle_connection() {
    let server = WsServer::start(Some(profile("p0")));
    let (_stream, mut events) = start(&server.url, fast());
    events.user("p0");
    events.user("p0");
    // The client sends a ping only once the previous one was answered, so ten pings on one
    // connection are nine answered pings (a second at least) on a connection that was kept.
    assert!(server.wait_for_pings(10, WAIT), "the pings stopped");
    assert_eq!(server.connections(), 1);
    assert_eq!(events.rx.try_recv(), Err(TryRecvError::Empty));
}

#[test]
fn a_server_restarting_on_the_same_port_is_survived() {
    let mut server = WsServer::start(Some(profile("p0")));
    let (_stream, mut events) = start(&server.url, fast());
    events.user("p0");
    events.user("p0");
    server.stop_listening();
    assert!(matches!(events.next(), StreamEvent::Disconnected { .. }));
    assert!(matches!(
        events.next(),
        StreamEvent::Reconnecting { attempt: 1, .. }
    ));
    // At least one refused attempt while the server is down.
    events.until("a refused attempt", |e| matches!(e, StreamEvent::Error(_)));
    server.set_profile(&profile("p1"));
    server.listen_again();
    events.until("connected", is_connected);
    assert_eq!(events.next(), StreamEvent::User(profile("p1")));
}

#[test]
fn dropped_connections_reconnect() {
    let server = WsServer::start(Some(profile("p0")));
    let (_stream, mut events) = start(&server.url, fast());
    events.user("p0");
    events.user("p0");
    server.drop_connections();
    assert!(matches!(events.next(), StreamEvent::Disconnected { .. }));
    assert!(matches!(events.next(), StreamEvent::Reconnecting { .. }));
    assert!(is_connected(&events.next()));
    events.user("p0");
}

#[test]
fn several_streams_on_one_client() {
    let server = WsServer::start(Some(profile("p0")));
    let c = client(&server.url);
    let mut all = Vec::new();
    for _ in 0..4 {
        let (tx, rx) = channel();
        let stream = c
            .user_stream(fast(), move |e| {
                let _ = tx.send(e);
            })
            .unwrap();
        let mut events = Events {
            rx,
            seen: Vec::new(),
        };
        events.user("p0");
        events.user("p0");
        all.push((stream, events));
    }
    drop(c); // the streams keep what they need
    server.set_profile(&profile("p1"));
    for (_, events) in &mut all {
        events.user("p1");
    }
}

#[test]
fn pull_stream_overflow_keeps_the_newest_state_and_counts_the_rest() {
    let mut server = WsServer::start(Some(profile("p0")));
    let mut options = fast();
    options.queue_size = 4;
    options.max_attempts = Some(1);
    let stream = client(&server.url).user_stream_pull(options).unwrap();
    // Connected, the user from GET /user, the push on connect: taken, so none of them count below.
    let mut taken = Vec::new();
    while taken.len() < 3 {
        match stream.next(WAIT).unwrap() {
            Next::Event(e) => taken.push(e),
            other => panic!("{other:?} after {taken:?}"),
        }
    }
    assert!(is_connected(&taken[0]));
    for n in 1..=20 {
        server.set_profile(&profile(&format!("p{n}")));
    }
    // The frames are written before the connection is dropped; the client reads them all, then
    // loses the connection, fails its one reconnect and stops: 20 users + 4 events in all.
    server.stop_listening();
    let deadline = Instant::now() + WAIT;
    while stream.is_running() {
        assert!(Instant::now() < deadline, "the stream did not end");
        std::thread::yield_now();
    }
    let mut rest = Vec::new();
    loop {
        match stream.next(Duration::ZERO).unwrap() {
            Next::Event(e) => rest.push(e),
            Next::Ended => break,
            Next::Timeout => panic!("ended stream timed out"),
        }
    }
    let StreamEvent::Overflow { dropped } = rest[0] else {
        panic!("{rest:#?}")
    };
    assert_eq!(rest.len() - 1, 4, "{rest:#?}");
    assert_eq!(dropped as usize + 4, 24, "{rest:#?}");
    let last_state = rest.iter().rev().find(|e| e.is_state());
    assert_eq!(last_state, Some(&StreamEvent::User(profile("p20"))));
    assert!(is_stopped(rest.last().unwrap()));
    assert_eq!(stream.next(WAIT).unwrap(), Next::Ended);
}

#[test]
fn pull_stream_times_out_and_handler_streams_have_no_queue() {
    let server = WsServer::start(Some(profile("p0")));
    let stream = client(&server.url).user_stream_pull(fast()).unwrap();
    let mut n = 0;
    while n < 3 {
        assert!(matches!(stream.next(WAIT).unwrap(), Next::Event(_)));
        n += 1;
    }
    assert_eq!(
        stream.next(Duration::from_millis(20)).unwrap(),
        Next::Timeout
    );
    stream.stop();
    assert!(matches!(
        stream.next(WAIT).unwrap(),
        Next::Event(StreamEvent::Stopped { .. })
    ));
    assert_eq!(stream.next(WAIT).unwrap(), Next::Ended);
    let (handler_stream, _events) = start(&server.url, fast());
    assert_eq!(
        handler_stream.next(Duration::ZERO).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
}

#[test]
fn a_panicking_handler_ends_the_stream_quietly() {
    let server = WsServer::start(Some(profile("p0")));
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let stream = client(&server.url)
        .user_stream(fast(), move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
            panic!("host bug");
        })
        .unwrap();
    let deadline = Instant::now() + WAIT;
    while stream.is_running() {
        assert!(Instant::now() < deadline, "the stream did not end");
        std::thread::yield_now();
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}
