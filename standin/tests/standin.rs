//! The stand-in Pieces OS server, exercised over real loopback sockets.

#[path = "../../tests/common/mod.rs"]
mod common;

use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{encode_request, HttpConn, Standin};
use pieces_user::schema::{validate, DocumentKind};
use serde_json::{json, Value};
use tungstenite::{Message, WebSocket};

/// A profile with an optional key and one the models do not know (must survive a round trip).
fn profile(id: &str, vanity: &str) -> Vec<u8> {
    json!({
        "id": id,
        "aesthetics": {"font": {"size": 16}, "theme": {"dark": true}},
        "name": "Test User",
        "vanityname": vanity,
        "futureField": {"nested": [1, 2, 3]},
    })
    .to_string()
    .into_bytes()
}

fn ws_connect(standin: &Standin) -> WebSocket<TcpStream> {
    let tcp = TcpStream::connect(standin.addr()).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let (ws, resp) = tungstenite::client(standin.stream_url(), tcp).expect("WebSocket handshake");
    assert_eq!(resp.status(), 101);
    ws
}

/// The next text frame, skipping control frames.
fn next_text(ws: &mut WebSocket<TcpStream>) -> String {
    loop {
        match ws.read().expect("stream frame") {
            Message::Text(t) => return t.to_string(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected stream message {other:?}"),
        }
    }
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text:.200}"))
}

#[test]
fn health_and_version() {
    let s = Standin::start(&[]);
    let r = s.get("/.well-known/health");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert!(r.text().starts_with("ok:"), "{}", r.text());

    let mut conn = s.connect();
    let head = conn.send("HEAD", "/.well-known/health", &[], None);
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(
        head.header("content-length"),
        Some(r.body.len().to_string().as_str())
    );
    // The connection is still in sync after a HEAD.
    assert_eq!(
        conn.send("GET", "/.well-known/version", &[], None).status,
        200
    );

    let v = s.get("/.well-known/version");
    assert_eq!(v.status, 200);
    assert!(!v.text().is_empty());
}

#[test]
fn snapshot_of_the_built_in_user_is_a_valid_profile() {
    let s = Standin::start(&[]);
    let r = s.get("/user");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let user = &r.json()["user"];
    for key in [
        "id",
        "aesthetics",
        "allocation",
        "auth0",
        "providers",
        "created",
        "updated",
    ] {
        assert!(user.get(key).is_some(), "built-in user lacks {key}");
    }
    assert_eq!(user["providers"]["iterable"][0]["type"], "github");
    validate(DocumentKind::UserProfile, user.to_string().as_bytes()).expect("valid profile");
    validate(DocumentKind::ReturnedUserProfile, &r.body).expect("valid snapshot");
}

#[test]
fn user_file_sets_the_starting_user() {
    let path = std::env::temp_dir().join(format!("standin-user-{}.json", std::process::id()));
    std::fs::write(&path, profile("file-user", "filer")).unwrap();
    let s = Standin::start(&["--user", path.to_str().unwrap()]);
    let user = s.get("/user").json()["user"].clone();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(
        user,
        json_of(std::str::from_utf8(&profile("file-user", "filer")).unwrap())
    );
}

#[test]
fn signed_out_statuses() {
    let s = Standin::start(&["--signed-out"]);
    assert_eq!(s.get("/user").json(), json!({"user": null}));

    let refresh = s.get("/user/refresh");
    assert_eq!(refresh.status, 500);
    assert_eq!(refresh.header("content-type"), Some("text/plain"));

    let vanity = s.post("/user/update/vanity", &profile("u1", "fresh"));
    assert_eq!(vanity.status, 404);
    assert_eq!(vanity.header("content-type"), Some("text/plain"));

    let beta = s.post("/user/beta/status", br#"{"user":"u1"}"#);
    assert_eq!(beta.status, 511);
    assert_eq!(beta.header("content-type"), Some("text/plain"));
}

#[test]
fn update_stores_the_profile_verbatim() {
    let s = Standin::start(&[]);
    let body = profile("u-update", "upd");
    let r = s.post("/user/update", &body);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.body, body);
    let stored = s.get("/user").json()["user"].clone();
    assert_eq!(stored["futureField"], json!({"nested": [1, 2, 3]}));
    assert_eq!(stored, json_of(std::str::from_utf8(&body).unwrap()));
    // Refresh answers with the same profile.
    let refreshed = s.get("/user/refresh");
    assert_eq!(refreshed.status, 200);
    assert_eq!(refreshed.body, body);
}

#[test]
fn select_derives_a_profile_from_the_auth0_user() {
    let s = Standin::start(&["--signed-out"]);
    let auth0 = json!({
        "user_id": "github|42",
        "name": "Ada",
        "email": "ada@example.com",
        "picture": "https://example.com/ada.png",
        "nickname": "ada42",
        "logins_count": 3,
    });
    let r = s.post("/user/select", auth0.to_string().as_bytes());
    assert_eq!(r.status, 200);
    let user = r.json();
    assert_eq!(user["id"], "github|42");
    assert_eq!(user["name"], "Ada");
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["picture"], "https://example.com/ada.png");
    assert_eq!(user["username"], "ada42");
    assert_eq!(
        user["aesthetics"],
        json!({"font": {"size": 14}, "theme": {"dark": false}})
    );
    validate(DocumentKind::UserProfile, &r.body).expect("valid profile");
    assert_eq!(s.get("/user").json()["user"], user);

    // `username` wins over `nickname`; without `user_id` an id is generated.
    let r = s.post("/user/select", br#"{"username":"ada","nickname":"other"}"#);
    let user = r.json();
    assert_eq!(user["username"], "ada");
    assert!(
        user["id"].as_str().is_some_and(|id| id.len() == 36),
        "{user}"
    );
    assert_ne!(s.post("/user/select", b"{}").json()["id"], user["id"]);
}

#[test]
fn vanity_names_taken_and_free() {
    let s = Standin::start(&[]);
    for taken in ["taken", "admin", "Pieces"] {
        let r = s.post("/user/update/vanity", &profile("u-v", taken));
        assert_eq!(r.status, 409, "{taken}");
        assert_eq!(r.header("content-type"), Some("text/plain"));
    }
    let before = s.get("/user").json()["user"]["vanityname"].clone();
    assert_eq!(before, "grace", "a refused name leaves the user alone");

    let body = profile("u-v", "brand-new");
    let r = s.post("/user/update/vanity", &body);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, body);
    assert_eq!(s.get("/user").json()["user"]["vanityname"], "brand-new");
}

#[test]
fn beta_status_is_echoed_when_signed_in() {
    let s = Standin::start(&[]);
    let body = br#"{"user":"u1","auth0":{"vision":{"continuous":true}}}"#;
    let r = s.post("/user/beta/status", body);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.body, body);
}

#[test]
fn providers_is_not_implemented_locally() {
    let s = Standin::start(&[]);
    let r = s.get("/user/providers");
    assert_eq!(r.status, 501);
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert_eq!(r.text(), "not implemented locally");
}

#[test]
fn clear_signs_out_with_204() {
    let s = Standin::start(&[]);
    let mut conn = s.connect();
    let r = conn.send("POST", "/user/clear", &[], None);
    assert_eq!(r.status, 204);
    assert!(r.body.is_empty());
    assert_eq!(r.header("content-length"), None);
    // The connection survives a 204 without a body.
    assert_eq!(
        conn.send("GET", "/user", &[], None).json(),
        json!({"user": null})
    );
}

#[test]
fn bad_documents_and_missing_bodies_are_400() {
    let s = Standin::start(&[]);
    for path in [
        "/user/update",
        "/user/update/vanity",
        "/user/select",
        "/user/beta/status",
    ] {
        let r = s.post(path, b"{");
        assert_eq!(r.status, 400, "{path} malformed");
        assert_eq!(r.header("content-type"), Some("text/plain"));
        assert!(
            r.text().starts_with('$'),
            "the body names the path: {}",
            r.text()
        );

        let r = s.request("POST", path, None);
        assert_eq!(r.status, 400, "{path} without body");
        assert!(r.text().contains("missing"), "{}", r.text());
    }
    // Well-formed JSON that does not fit the model is refused with the path of the bad value.
    for (path, doc, bad) in [
        ("/user/update", r#"{"id":5}"#, "$.id"),
        (
            "/user/update/vanity",
            r#"{"id":"u","aesthetics":{"font":{"size":"14"},"theme":{"dark":true}}}"#,
            "$.aesthetics.font.size",
        ),
        (
            "/user/select",
            r#"{"email_verified":"yes"}"#,
            "$.email_verified",
        ),
        ("/user/beta/status", r#"{"user":7}"#, "$.user"),
    ] {
        let r = s.post(path, doc.as_bytes());
        assert_eq!(r.status, 400, "{path} {doc}");
        assert!(r.text().starts_with(bad), "{path}: {}", r.text());
    }
    // A rejected update leaves the user alone.
    assert_eq!(s.get("/user").json()["user"]["name"], "Grace Hopper");
}

#[test]
fn unknown_routes_and_wrong_methods() {
    let s = Standin::start(&[]);
    assert_eq!(s.get("/nope").status, 404);
    assert_eq!(s.get("/user/").status, 404);
    let r = s.get("/user/update");
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("POST"));
    let r = s.post("/user", b"{}");
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD"));
    assert_eq!(s.request("DELETE", "/user/clear", None).status, 405);
    // A plain GET of the stream route is told to upgrade.
    assert_eq!(s.get("/user/stream").status, 426);
    // The query string does not take part in routing.
    assert_eq!(s.get("/user?fields=all").status, 200);
}

#[test]
fn protocol_errors() {
    let s = Standin::start(&[]);
    let mut conn = s.connect();
    conn.write_raw(b"NOT A REQUEST\r\n\r\n");
    assert_eq!(conn.read_reply(false).status, 400);

    let mut conn = s.connect();
    let huge = "a".repeat(70 * 1024);
    conn.write_raw(format!("GET /user HTTP/1.1\r\nX-Big: {huge}\r\n\r\n").as_bytes());
    assert_eq!(conn.read_reply(false).status, 431);

    let mut conn = s.connect();
    conn.write_raw(b"POST /user/update HTTP/1.1\r\nContent-Length: 40000000\r\n\r\n");
    assert_eq!(conn.read_reply(false).status, 413);
    assert!(conn.is_closed_by_peer());
}

#[test]
fn keep_alive_pipelining_and_connection_close() {
    let s = Standin::start(&[]);
    let mut conn = s.connect();
    let first = conn.send("GET", "/user", &[], None);
    let second = conn.send("POST", "/user/update", &[], Some(&profile("ka", "ka")));
    assert_eq!((first.status, second.status), (200, 200));
    assert_eq!(second.header("connection"), Some("keep-alive"));

    // Two requests in one write: both answered, in order.
    let mut both = encode_request("GET", "/.well-known/health", &[], None);
    both.extend(encode_request("GET", "/user/providers", &[], None));
    conn.write_raw(&both);
    assert_eq!(conn.read_reply(false).status, 200);
    assert_eq!(conn.read_reply(false).status, 501);

    let r = conn.send("GET", "/user", &[("Connection", "close")], None);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("connection"), Some("close"));
    assert!(conn.is_closed_by_peer());
}

#[test]
fn chunked_and_expect_continue_bodies() {
    let s = Standin::start(&[]);
    let body = profile("chunky", "chunky");
    let (a, b) = body.split_at(body.len() / 2);
    let mut req =
        b"POST /user/update HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    req.extend(format!("{:x};ext=1\r\n", a.len()).as_bytes());
    req.extend(a);
    req.extend(format!("\r\n{:X}\r\n", b.len()).as_bytes());
    req.extend(b);
    req.extend(b"\r\n0\r\nX-Trailer: t\r\n\r\n");
    let mut conn = s.connect();
    conn.write_raw(&req);
    let r = conn.read_reply(false);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, body);
    assert_eq!(
        conn.send("GET", "/user", &[], None).json()["user"]["id"],
        "chunky"
    );

    // `Expect: 100-continue`: the server says Continue before the client sends the body.
    let head = format!(
        "POST /user/update HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    conn.write_raw(head.as_bytes());
    let mut interim = [0u8; 25];
    std::io::Read::read_exact(&mut conn.stream, &mut interim).unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    conn.write_raw(&body);
    assert_eq!(conn.read_reply(false).status, 200);
}

#[test]
fn concurrent_clients() {
    let s = Standin::start(&[]);
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                let mut conn = s.connect();
                for _ in 0..25 {
                    assert_eq!(conn.send("GET", "/user", &[], None).status, 200);
                }
            });
        }
    });
}

#[test]
fn sigterm_and_sigint_exit_zero() {
    for signal in [libc::SIGTERM, libc::SIGINT] {
        let mut s = Standin::start(&[]);
        // Busy with an open keep-alive connection and a stream: still exits promptly.
        let _conn = s.connect();
        let _ws = ws_connect(&s);
        let status = s.signal_and_wait(signal);
        assert_eq!(status.code(), Some(0), "signal {signal}");
    }
}

#[test]
fn exits_when_stdin_closes() {
    let mut s = Standin::start(&[]);
    s.close_stdin();
    assert_eq!(s.wait_exit(Duration::from_secs(10)).code(), Some(0));
}

#[test]
fn help_lists_flags_taken_names_and_hooks() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pieces-standin"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "--port",
        "--user",
        "--signed-out",
        "--exit-on-stdin-eof",
        "taken",
        "admin",
    ] {
        assert!(text.contains(needle), "--help lacks {needle}");
    }
    for hook in [
        "stream/drop",
        "stream/garbage",
        "stream/big",
        "stream/mute-pings",
        "delay?ms=N",
        "hang",
        "reset",
    ] {
        assert!(
            text.contains(&format!("/__admin/{hook}")),
            "--help lacks {hook}"
        );
    }
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_pieces-standin"))
        .arg("--bogus")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn stream_pushes_the_profile_on_connect_and_on_every_change() {
    let s = Standin::start(&[]);
    let mut ws = ws_connect(&s);
    assert_eq!(json_of(&next_text(&mut ws)), s.get("/user").json()["user"]);

    let body = profile("streamed", "streamed");
    assert_eq!(s.post("/user/update", &body).status, 200);
    assert_eq!(next_text(&mut ws).as_bytes(), body);

    assert_eq!(s.post("/user/clear", b"").status, 204);
    assert_eq!(next_text(&mut ws), "");

    let selected = s.post("/user/select", br#"{"user_id":"sel"}"#);
    assert_eq!(json_of(&next_text(&mut ws))["id"], "sel");
    assert_eq!(s.get("/user/refresh").status, 200);
    assert_eq!(next_text(&mut ws).as_bytes(), selected.body);
    let vanity = profile("sel", "mine");
    assert_eq!(s.post("/user/update/vanity", &vanity).status, 200);
    assert_eq!(next_text(&mut ws).as_bytes(), vanity);

    // A second subscriber starts from the current user; both see the next change.
    let mut other = ws_connect(&s);
    assert_eq!(next_text(&mut other).as_bytes(), vanity);
    s.post("/user/clear", b"");
    assert_eq!(
        (next_text(&mut ws), next_text(&mut other)),
        (String::new(), String::new())
    );

    // Pings are answered; a clean close is honoured.
    ws.send(Message::Ping(b"hi".to_vec().into())).unwrap();
    assert_eq!(ws.read().unwrap(), Message::Pong(b"hi".to_vec().into()));
    ws.close(None).unwrap();
    loop {
        match ws.read() {
            Ok(_) => continue,
            Err(tungstenite::Error::ConnectionClosed) => break,
            Err(e) => panic!("unclean close: {e}"),
        }
    }
}

#[test]
fn stream_signed_out_starts_with_an_empty_frame() {
    let s = Standin::start(&["--signed-out"]);
    let mut ws = ws_connect(&s);
    assert_eq!(next_text(&mut ws), "");
}

#[test]
fn admin_stream_drop_garbage_and_big() {
    let s = Standin::start(&[]);
    let mut ws = ws_connect(&s);
    next_text(&mut ws);

    assert_eq!(s.post("/__admin/stream/garbage", b"").status, 204);
    let garbage = next_text(&mut ws);
    assert_eq!(json_of(&garbage), json!({"id": 5}));
    assert!(serde_json::from_str::<Value>(&next_text(&mut ws)).is_err());

    assert_eq!(s.post("/__admin/stream/big", b"").status, 204);
    let big = next_text(&mut ws);
    assert!(
        big.len() >= 1_000_000,
        "big frame is only {} bytes",
        big.len()
    );
    validate(DocumentKind::UserProfile, big.as_bytes()).expect("big frame is a valid profile");

    assert_eq!(s.post("/__admin/stream/drop", b"").status, 204);
    match ws.read() {
        Err(tungstenite::Error::Protocol(_)) | Err(tungstenite::Error::Io(_)) => {}
        other => panic!("expected an abrupt end, got {other:?}"),
    }
    // New connections are still welcome.
    let mut again = ws_connect(&s);
    assert!(!next_text(&mut again).is_empty());
}

#[test]
fn admin_mute_pings_then_reset() {
    let s = Standin::start(&[]);
    let mut ws = ws_connect(&s);
    next_text(&mut ws);
    assert_eq!(s.post("/__admin/stream/mute-pings", b"").status, 204);
    ws.send(Message::Ping(b"p".to_vec().into())).unwrap();
    ws.get_mut()
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    match ws.read() {
        Err(tungstenite::Error::Io(e)) => assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
            "{e}"
        ),
        other => panic!("muted stream answered: {other:?}"),
    }
    // Broadcasts still go out while muted.
    s.post("/user/clear", b"");
    ws.get_mut()
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    assert_eq!(next_text_or_pong(&mut ws), Message::Text("".into()));
    assert_eq!(s.post("/__admin/reset", b"").status, 204);
    assert_eq!(
        next_text_or_pong(&mut ws),
        Message::Pong(b"p".to_vec().into())
    );
}

fn next_text_or_pong(ws: &mut WebSocket<TcpStream>) -> Message {
    loop {
        match ws.read().expect("stream message") {
            m @ (Message::Text(_) | Message::Pong(_)) => return m,
            _ => continue,
        }
    }
}

#[test]
fn admin_delay_and_reset() {
    let s = Standin::start(&[]);
    assert_eq!(s.post("/__admin/delay?ms=300", b"").status, 204);
    let start = Instant::now();
    assert_eq!(s.get("/user").status, 200);
    assert!(
        start.elapsed() >= Duration::from_millis(300),
        "{:?}",
        start.elapsed()
    );
    // Admin requests are not delayed, and reset clears the delay. The delay is a minute, so an
    // answer well inside it proves both on a machine of any speed.
    let long = Duration::from_secs(60);
    let start = Instant::now();
    let set = format!("/__admin/delay?ms={}", long.as_millis());
    for clear in ["/__admin/delay?ms=0", "/__admin/reset"] {
        assert_eq!(s.post(&set, b"").status, 204);
        assert_eq!(s.post("/__admin/delay", b"").status, 400);
        assert_eq!(s.post(clear, b"").status, 204);
        assert_eq!(s.get("/user").status, 200);
    }
    assert!(start.elapsed() < long / 2, "{:?}", start.elapsed());
}

#[test]
fn admin_hang_until_reset() {
    let s = Standin::start(&[]);
    assert_eq!(s.post("/__admin/hang", b"").status, 204);
    let mut hung = HttpConn::open(s.addr());
    hung.stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    hung.write_raw(&encode_request("GET", "/user", &[], None));
    let mut byte = [0u8; 1];
    let early = std::io::Read::read(&mut hung.stream, &mut byte);
    assert!(early.is_err(), "a hung request was answered: {early:?}");

    assert_eq!(s.post("/__admin/reset", b"").status, 204);
    hung.stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    assert_eq!(hung.read_reply(false).status, 200);
}

#[test]
fn admin_hook_errors() {
    let s = Standin::start(&[]);
    assert_eq!(s.post("/__admin/nope", b"").status, 404);
    let r = s.get("/__admin/reset");
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("POST"));
}

#[test]
fn ureq_agent_round_trip() {
    // The library's own HTTP client, pooled, against the hand-written server.
    let s = Standin::start(&[]);
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build(),
    );
    let url = |path: &str| format!("{}{path}", s.url);
    let mut r = agent.get(url("/user")).call().unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let snapshot: Value = json_of(&r.body_mut().read_to_string().unwrap());
    assert_eq!(snapshot["user"]["username"], "gracehopper");

    let body = profile("via-ureq", "ureq");
    let mut r = agent
        .post(url("/user/update"))
        .header("Content-Type", "application/json")
        .send(&body[..])
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.body_mut().read_to_vec().unwrap(), body);

    let mut r = agent.get(url("/user/providers")).call().unwrap();
    assert_eq!(r.status().as_u16(), 501);
    assert_eq!(
        r.body_mut().read_to_string().unwrap(),
        "not implemented locally"
    );

    let r = agent.post(url("/user/clear")).send_empty().unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let mut r = agent.get(url("/user")).call().unwrap();
    assert_eq!(
        json_of(&r.body_mut().read_to_string().unwrap()),
        json!({"user": null})
    );
}
