//! The user stream against the stand-in Pieces OS: its pushes, its admin faults, a real restart.

mod common;
mod stream_common;

use pieces_user::{ErrorKind, StreamEvent};
use serde_json::Value;

use common::Standin;
use stream_common::{client, fast, short_ping_timeout, start, Events};

fn is_connected(e: &StreamEvent) -> bool {
    matches!(e, StreamEvent::Connected { .. })
}

fn vanity(e: &StreamEvent) -> Option<String> {
    match e {
        StreamEvent::User(p) => serde_json::from_str::<Value>(p).ok()?["vanityname"]
            .as_str()
            .map(str::to_string),
        _ => None,
    }
}

/// Connected, the user from GET /user, then the push on connect (so the server has the connection).
fn connected(events: &mut Events) -> String {
    assert!(is_connected(&events.next()));
    let from_get = events.next();
    let StreamEvent::User(profile) = from_get else {
        panic!("expected a user, got {from_get:?}")
    };
    let StreamEvent::User(pushed) = events.next() else {
        panic!("expected the push on connect, saw {:?}", events.seen)
    };
    // Same document; the bytes may differ (the stand-in stores what it read, whitespace and all).
    assert_eq!(json(&pushed), json(&profile));
    profile
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

fn with_vanity(profile: &str, name: &str) -> String {
    let mut v: Value = serde_json::from_str(profile).unwrap();
    v["vanityname"] = name.into();
    v.to_string()
}

fn admin(s: &Standin, hook: &str) {
    let status = s.post(&format!("/__admin/{hook}"), b"").status;
    assert_eq!(status, 204, "{hook}");
}

#[test]
fn updates_and_clear_arrive_in_order() {
    let s = Standin::start(&[]);
    let (_stream, mut events) = start(&s.url, fast());
    let profile = connected(&mut events);
    let c = client(&s.url);
    for n in 0..10 {
        c.update_json(&with_vanity(&profile, &format!("v{n}")))
            .unwrap();
    }
    for n in 0..10 {
        assert_eq!(vanity(&events.next()), Some(format!("v{n}")));
    }
    c.clear().unwrap();
    assert_eq!(events.next(), StreamEvent::SignedOut);
}

#[test]
fn garbage_frames_are_reported_and_the_stream_survives() {
    let s = Standin::start(&[]);
    let (_stream, mut events) = start(&s.url, fast());
    let profile = connected(&mut events);
    admin(&s, "stream/garbage");
    // `{"id": 5}` (JSON, not a profile), then `this is not JSON`: each an error, then a re-sync
    // from GET /user (still signed in), never a sign-out.
    for has_path in [true, false] {
        let first = events.next();
        let StreamEvent::Error(e) = first else {
            panic!("expected an error, got {first:?}")
        };
        assert_eq!(e.kind(), ErrorKind::InvalidResponse);
        assert_eq!(
            e.path().is_some_and(|p| p.starts_with('$')),
            has_path,
            "{e}"
        );
        let resync = events.next();
        assert_eq!(
            vanity(&resync),
            vanity(&StreamEvent::User(profile.clone())),
            "{resync:?}"
        );
    }
    client(&s.url)
        .update_json(&with_vanity(&profile, "after"))
        .unwrap();
    assert_eq!(vanity(&events.next()).as_deref(), Some("after"));
}

#[test]
fn a_one_megabyte_push_arrives_whole() {
    let s = Standin::start(&[]);
    let (_stream, mut events) = start(&s.url, fast());
    connected(&mut events);
    admin(&s, "stream/big");
    let StreamEvent::User(big) = events.next() else {
        panic!("{:?}", events.seen)
    };
    assert!(big.len() > 1_000_000, "{}", big.len());
    let v: Value = serde_json::from_str(&big).unwrap();
    assert_eq!(v["apiKeys"].as_array().map(Vec::len), Some(24_000));
}

#[test]
fn dropped_connections_reconnect_to_the_current_user() {
    let s = Standin::start(&[]);
    let (_stream, mut events) = start(&s.url, fast());
    let profile = connected(&mut events);
    admin(&s, "stream/drop");
    assert!(matches!(events.next(), StreamEvent::Disconnected { .. }));
    assert!(matches!(events.next(), StreamEvent::Reconnecting { .. }));
    assert_eq!(json(&connected(&mut events)), json(&profile));
}

#[test]
fn muted_pings_are_a_dead_connection() {
    let s = Standin::start(&[]);
    let (_stream, mut events) = start(&s.url, short_ping_timeout());
    connected(&mut events);
    admin(&s, "stream/mute-pings");
    let e = events.until("disconnected", |e| {
        matches!(e, StreamEvent::Disconnected { .. })
    });
    assert!(format!("{e:?}").contains("ping"), "{e:?}");
    admin(&s, "reset");
    events.until("connected", is_connected);
}

#[test]
fn a_restart_on_the_same_port_is_survived() {
    let s = Standin::start(&[]);
    let port = s.addr().rsplit(':').next().unwrap().to_string();
    let (_stream, mut events) = start(&s.url, fast());
    let profile = connected(&mut events);
    drop(s); // killed
    assert!(matches!(events.next(), StreamEvent::Disconnected { .. }));
    assert!(matches!(
        events.next(),
        StreamEvent::Reconnecting { attempt: 1, .. }
    ));
    let s = Standin::start(&["--port", &port]);
    events.until("connected", is_connected);
    let StreamEvent::User(now) = events.next() else {
        panic!("expected the user after the restart")
    };
    assert_eq!(json(&now), json(&profile));
    drop(s);
}

/// `n` consecutive free loopback ports (bound while looking, released on return).
fn free_ports(n: u16) -> Vec<u16> {
    for _ in 0..200 {
        let first = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = first.local_addr().unwrap().port();
        if base.checked_add(n).is_none() {
            continue;
        }
        let rest: Vec<_> = (base + 1..base + n)
            .map_while(|p| std::net::TcpListener::bind(("127.0.0.1", p)).ok())
            .collect();
        if rest.len() + 1 == usize::from(n) {
            return (base..base + n).collect();
        }
    }
    panic!("no {n} consecutive free ports");
}

#[test]
fn with_discovery_the_stream_follows_a_restart_on_another_port() {
    use pieces_user::discovery::DiscoveryOptions;
    use pieces_user::{Client, Config};
    use std::time::Duration;

    let ports = free_ports(3);
    let s = Standin::start(&["--port", &ports[1].to_string()]);
    let mut options = DiscoveryOptions::default();
    options.ports = (ports[0], ports[2]);
    options.port_file = None;
    options.legacy_ports = Vec::new();
    // Generous: the stand-in must never be taken for a silent port on a loaded machine.
    options.probe_timeout = Duration::from_secs(2);
    options.env_base_url = None;
    let config = Config::discover_with(options);
    let (tx, rx) = std::sync::mpsc::channel();
    let _stream = Client::new(config)
        .unwrap()
        .user_stream(fast(), move |e| {
            let _ = tx.send(e);
        })
        .unwrap();
    let mut events = Events {
        rx,
        seen: Vec::new(),
    };
    connected(&mut events);
    drop(s);
    let moved = Standin::start(&["--port", &ports[2].to_string()]);
    let e = events.until("connected", is_connected);
    let StreamEvent::Connected { url } = e else {
        unreachable!()
    };
    assert_eq!(url, format!("ws://127.0.0.1:{}/user/stream", ports[2]));
    drop(moved);
}
