//! The client against the stand-in Pieces OS and against purpose-built loopback servers.

mod common;
mod raw_server;

use std::net::TcpListener;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use pieces_user::{Client, Config, ErrorKind};
use serde_json::Value;

use common::Standin;
use raw_server::{constant_json, RawServer};

fn fixtures() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures"))
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(fixtures().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

fn client(url: &str) -> Client {
    Client::new(Config::new(url)).unwrap()
}

const MIN_PROFILE: &str = r#"{"id":"u-1","aesthetics":{"font":{"size":14},"theme":{"dark":true}}}"#;

fn profile_with_vanity(vanity: &str) -> String {
    let mut p = json(MIN_PROFILE);
    p["vanityname"] = Value::from(vanity);
    p.to_string()
}

#[test]
fn snapshot_returns_the_signed_in_user() {
    let s = Standin::start(&[]);
    let snap = json(&client(&s.url).snapshot_json().unwrap());
    assert!(snap["user"]["id"].is_string(), "{snap}");
}

#[test]
fn snapshot_when_signed_out_has_no_user() {
    let s = Standin::start(&["--signed-out"]);
    let snap = json(&client(&s.url).snapshot_json().unwrap());
    assert!(snap.get("user").is_none_or(Value::is_null), "{snap}");
}

#[test]
fn update_stores_the_profile_and_returns_it_whole() {
    let s = Standin::start(&[]);
    let c = client(&s.url);
    let sent = fixture("UserProfile.max.json");
    let back = c.update_json(&sent).unwrap();
    assert_eq!(json(&back), json(&sent));
    let snap = json(&c.snapshot_json().unwrap());
    assert_eq!(snap["user"], json(&sent));
}

#[test]
fn every_valid_fixture_is_sent_with_nothing_lost() {
    let s = Standin::start(&[]);
    let c = client(&s.url);
    for name in ["UserProfile.max.json", "UserProfile.min.json"] {
        let doc = fixture(name);
        assert_eq!(json(&c.update_json(&doc).unwrap()), json(&doc), "{name}");
        assert_eq!(
            json(&c.update_vanity_json(&doc).unwrap()),
            json(&doc),
            "{name}"
        );
    }
    for name in ["UserBetaStatus.max.json", "UserBetaStatus.min.json"] {
        let doc = fixture(name);
        assert_eq!(
            json(&c.beta_status_json(&doc).unwrap()),
            json(&doc),
            "{name}"
        );
    }
    for name in ["Auth0User.max.json", "Auth0User.min.json"] {
        let user = json(&c.select_json(&fixture(name)).unwrap());
        assert!(user["id"].is_string(), "{name}: {user}");
    }
}

#[test]
fn unknown_keys_and_enum_values_pass_through() {
    let s = Standin::start(&[]);
    let c = client(&s.url);
    let mut doc = json(&fixture("UserProfile.max.json"));
    doc["fromTheFuture"] = serde_json::json!({"nested": [1, 2, 3]});
    doc["aesthetics"]["theme"]["contrast"] = Value::from("HIGH");
    doc["allocation"]["status"]["cloud"] = Value::from("WARP_SPEED");
    let back = c.update_json(&doc.to_string()).unwrap();
    assert_eq!(json(&back), doc);
}

#[test]
fn refresh_returns_the_user_and_500_when_signed_out() {
    let s = Standin::start(&[]);
    let c = client(&s.url);
    assert!(json(&c.refresh_json().unwrap())["id"].is_string());
    c.clear().unwrap();
    let e = c.refresh_json().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ServerError);
    assert_eq!(e.status(), Some(500));
    assert!(e.body().is_some_and(|b| !b.is_empty()));
}

#[test]
fn select_signs_in_a_user_made_from_the_auth0_user() {
    let s = Standin::start(&["--signed-out"]);
    let c = client(&s.url);
    let auth0 = r#"{"user_id":"auth0|42","name":"Ada","email":"ada@example.com","nickname":"ada"}"#;
    let user = json(&c.select_json(auth0).unwrap());
    assert_eq!(user["name"], "Ada");
    assert_eq!(user["email"], "ada@example.com");
    let snap = json(&c.snapshot_json().unwrap());
    assert_eq!(snap["user"]["name"], "Ada");
}

#[test]
fn clear_signs_out() {
    let s = Standin::start(&[]);
    let c = client(&s.url);
    c.clear().unwrap();
    let snap = json(&c.snapshot_json().unwrap());
    assert!(snap.get("user").is_none_or(Value::is_null), "{snap}");
}

#[test]
fn providers_is_not_implemented_locally() {
    let s = Standin::start(&[]);
    let e = client(&s.url).providers_json().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotImplemented);
    assert_eq!(e.status(), Some(501));
    assert!(e.body().unwrap().contains("not implemented locally"));
    assert!(
        e.message().contains("not implemented locally"),
        "{}",
        e.message()
    );
}

#[test]
fn vanity_conflict_and_missing_user() {
    let s = Standin::start(&[]);
    let c = client(&s.url);
    let e = c
        .update_vanity_json(&profile_with_vanity("taken"))
        .unwrap_err();
    assert_eq!((e.kind(), e.status()), (ErrorKind::Conflict, Some(409)));
    let ok = json(
        &c.update_vanity_json(&profile_with_vanity("ada-lovelace"))
            .unwrap(),
    );
    assert_eq!(ok["vanityname"], "ada-lovelace");
    c.clear().unwrap();
    let e = c
        .update_vanity_json(&profile_with_vanity("someone"))
        .unwrap_err();
    assert_eq!((e.kind(), e.status()), (ErrorKind::NotFound, Some(404)));
}

#[test]
fn beta_status_needs_a_signed_in_user() {
    let s = Standin::start(&["--signed-out"]);
    let e = client(&s.url)
        .beta_status_json(&fixture("UserBetaStatus.min.json"))
        .unwrap_err();
    assert_eq!(
        (e.kind(), e.status()),
        (ErrorKind::AuthenticationRequired, Some(511))
    );
}

#[test]
fn a_user_file_sets_the_starting_user() {
    let s = Standin::start(&[
        "--user",
        fixtures().join("UserProfile.min.json").to_str().unwrap(),
    ]);
    let snap = json(&client(&s.url).snapshot_json().unwrap());
    assert_eq!(snap["user"], json(&fixture("UserProfile.min.json")));
}

/// Every invalid fixture is refused before a connection is even opened.
#[test]
fn invalid_documents_are_rejected_before_sending() {
    let server = RawServer::start(constant_json("{}"));
    let c = client(&server.url);
    let mut seen = 0;
    for entry in std::fs::read_dir(fixtures().join("invalid")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let doc = std::fs::read_to_string(&path).unwrap();
        let result = if name.starts_with("UserProfile") {
            c.update_json(&doc)
        } else if name.starts_with("UserBetaStatus") {
            c.beta_status_json(&doc)
        } else {
            continue;
        };
        let e = result.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidDocument, "{name}: {e}");
        let path = e.path().unwrap_or_else(|| panic!("{name}: no path in {e}"));
        assert!(path.starts_with('$'), "{name}: {path}");
        assert!(e.message().contains(path), "{name}: {e}");
        seen += 1;
    }
    assert_eq!(seen, 12);
    drop(c);
    assert_eq!(server.stop().connections, 0);
}

#[test]
fn specific_invalid_paths_are_named() {
    let c = client("http://127.0.0.1:9");
    let cases = [
        ("UserProfile.5.json", "$.aesthetics.font.size"),
        ("UserProfile.7.json", "$.aesthetics.theme.dark"),
        ("UserProfile.3.json", "$.id"),
        ("UserProfile.1.json", "$.id"),
        ("UserProfile.9.json", "$.apiKeys"),
    ];
    for (name, expected) in cases {
        let e = c
            .update_json(&fixture(&format!("invalid/{name}")))
            .unwrap_err();
        assert_eq!(e.path(), Some(expected), "{name}: {e}");
    }
    let e = c
        .beta_status_json(&fixture("invalid/UserBetaStatus.10.json"))
        .unwrap_err();
    assert_eq!(e.path(), Some("$.descope.vision.to.value"), "{e}");
}

#[test]
fn malformed_json_is_its_own_kind() {
    let c = client("http://127.0.0.1:9");
    for bad in ["", "{", "{\"id\":", "nul", "{}}"] {
        assert_eq!(
            c.update_json(bad).unwrap_err().kind(),
            ErrorKind::MalformedJson,
            "{bad:?}"
        );
    }
    assert_eq!(
        c.update_json("[]").unwrap_err().kind(),
        ErrorKind::InvalidDocument
    );
}

#[test]
fn application_id_goes_on_every_route_but_select_and_the_token_only_on_select() {
    let server = RawServer::start(|_, conn| {
        while let Some(request) = conn.read_request() {
            let body: &[u8] = if request.path == "/user" {
                br#"{"user":null}"#
            } else {
                MIN_PROFILE.as_bytes()
            };
            conn.respond(200, "application/json", body);
        }
    });
    let mut config = Config::new(&server.url);
    config.application_id = Some("app-123".into());
    config.access_token = Some("tok-456".into());
    let c = Client::new(config).unwrap();
    c.snapshot_json().unwrap();
    let get = server
        .requests
        .recv_timeout(Duration::from_secs(5))
        .unwrap();
    assert_eq!((get.method.as_str(), get.path.as_str()), ("GET", "/user"));
    assert_eq!(get.header("x-application-id"), Some("app-123"));
    assert_eq!(get.header("authorization"), None);
    assert_eq!(get.header("accept"), Some("application/json"));

    c.select_json("{}").unwrap();
    let select = server
        .requests
        .recv_timeout(Duration::from_secs(5))
        .unwrap();
    assert_eq!(select.path, "/user/select");
    assert_eq!(select.header("authorization"), Some("Bearer tok-456"));
    assert_eq!(select.header("x-application-id"), None);
    assert_eq!(select.header("content-type"), Some("application/json"));
    assert_eq!(select.body, b"{}");
}

#[test]
fn no_credentials_are_sent_unless_configured() {
    let server = RawServer::start(constant_json(r#"{"user":null}"#));
    let c = client(&server.url);
    c.snapshot_json().unwrap();
    let r = server
        .requests
        .recv_timeout(Duration::from_secs(5))
        .unwrap();
    assert_eq!(r.header("x-application-id"), None);
    assert_eq!(r.header("authorization"), None);
    assert!(r.header("user-agent").unwrap().starts_with("pieces-user/"));
}

#[test]
fn the_request_body_is_sent_byte_for_byte() {
    let server = RawServer::start(constant_json(MIN_PROFILE));
    let c = client(&server.url);
    let text = "{ \"id\" : \"u-1\",\n \"aesthetics\":{\"font\":{\"size\":14},\"theme\":{\"dark\":true}}, \"x\":1.50 }";
    c.update_json(text).unwrap();
    let r = server
        .requests
        .recv_timeout(Duration::from_secs(5))
        .unwrap();
    assert_eq!(r.body, text.as_bytes());
}

/// Larger than ureq's 128 KiB output buffer and than the socket's send buffer: the body leaves
/// in several pieces, each resumed where the socket stopped taking it.
#[test]
fn a_four_megabyte_request_body_is_sent_byte_for_byte() {
    let server = RawServer::start(constant_json(MIN_PROFILE));
    let c = client(&server.url);
    let filler: String = (0..4 << 20)
        .map(|i| (b'a' + (i % 26) as u8) as char)
        .collect();
    let open = MIN_PROFILE.strip_suffix('}').unwrap();
    let text = format!(r#"{open},"filler":"{filler}"}}"#);
    c.update_json(&text).unwrap();
    let r = server
        .requests
        .recv_timeout(Duration::from_secs(10))
        .unwrap();
    assert!(
        r.body == text.as_bytes(),
        "{} bytes arrived of {}",
        r.body.len(),
        text.len()
    );
}

#[test]
fn calls_reuse_one_keep_alive_connection() {
    let server = RawServer::start(constant_json(r#"{"user":null}"#));
    let c = client(&server.url);
    for _ in 0..5 {
        c.snapshot_json().unwrap();
    }
    drop(c);
    let record = server.stop();
    assert_eq!((record.connections, record.requests.len()), (1, 5));
}

/// Bytes after a response's body, arriving once the call has returned: the connection is not
/// reused (the probe when the pool hands it out sees them), so the next call gets a clean one.
#[test]
fn bytes_after_a_body_keep_a_connection_out_of_reuse() {
    let (returned, go) = std::sync::mpsc::channel::<()>();
    let (written, after_garbage) = std::sync::mpsc::channel::<()>();
    let script = std::sync::Mutex::new((go, written));
    let server = RawServer::start(move |index, conn| {
        while conn.read_request().is_some() {
            conn.respond(200, "application/json", br#"{"user":null}"#);
            if index == 0 {
                // Only after the client has read the whole response, so that the bytes wait in
                // the socket rather than in the client's buffer.
                let (go, written) = &*script.lock().unwrap();
                go.recv().unwrap();
                conn.write(b"HTTP/1.1 200 X\r\n");
                written.send(()).unwrap();
            }
        }
    });
    let c = client(&server.url);
    c.snapshot_json().unwrap();
    returned.send(()).unwrap();
    after_garbage.recv_timeout(Duration::from_secs(5)).unwrap();
    for _ in 0..3 {
        assert_eq!(c.snapshot_json().unwrap(), r#"{"user":null}"#);
    }
    drop(c);
    let record = server.stop();
    assert_eq!((record.connections, record.requests.len()), (2, 4));
}

#[test]
fn one_client_serves_many_threads() {
    let s = Standin::start(&[]);
    let c = std::sync::Arc::new(client(&s.url));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let c = c.clone();
            std::thread::spawn(move || {
                for _ in 0..50 {
                    c.snapshot_json().unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn a_server_that_never_answers_hits_the_timeout() {
    let server = RawServer::start(|_, conn| {
        conn.read_request();
        std::thread::sleep(Duration::from_secs(30));
    });
    let mut config = Config::new(&server.url);
    config.timeout = Duration::from_millis(300);
    let c = Client::new(config).unwrap();
    let started = Instant::now();
    let e = c.snapshot_json().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    // Not a speed check: proof that the call is bounded at all.
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn a_refused_connection_is_a_connection_error() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let e = client(&format!("http://127.0.0.1:{port}"))
        .snapshot_json()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Connection, "{e}");
}

#[test]
fn a_get_is_retried_once_when_the_connection_drops_but_a_post_is_not() {
    // First connection: read the request and hang up without answering. Later ones answer.
    let script = |index: usize, conn: &mut raw_server::Conn| {
        if index == 0 {
            conn.read_request();
            return;
        }
        while conn.read_request().is_some() {
            conn.respond(200, "application/json", MIN_PROFILE.as_bytes());
        }
    };
    let server = RawServer::start(script);
    client(&server.url).refresh_json().unwrap();
    let record = server.stop();
    assert_eq!((record.connections, record.count("GET")), (2, 2));

    let server = RawServer::start(script);
    let e = client(&server.url).update_json(MIN_PROFILE).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Connection, "{e}");
    let record = server.stop();
    assert_eq!((record.connections, record.count("POST")), (1, 1));
}

#[test]
fn an_invalid_response_body_is_reported_with_its_path_and_body() {
    let server = RawServer::start(constant_json(r#"{"id":5}"#));
    let e = client(&server.url).refresh_json().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{e}");
    assert_eq!(e.status(), Some(200));
    assert_eq!(e.body(), Some(r#"{"id":5}"#));
    assert!(e.path().is_some());
}

#[test]
fn html_on_a_json_route_is_an_invalid_response() {
    let server = RawServer::start(|_, conn| {
        while conn.read_request().is_some() {
            conn.respond(200, "text/html", b"<html></html>");
        }
    });
    let e = client(&server.url).snapshot_json().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{e}");
}

#[test]
fn a_body_over_the_limit_is_refused() {
    let server = RawServer::start(|_, conn| {
        while conn.read_request().is_some() {
            let big = format!(r#"{{"user":null,"pad":"{}"}}"#, "x".repeat(100_000));
            conn.respond(200, "application/json", big.as_bytes());
        }
    });
    let mut config = Config::new(&server.url);
    config.max_response_bytes = 10_000;
    let e = Client::new(config).unwrap().snapshot_json().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ResponseTooLarge, "{e}");
}

#[test]
fn other_statuses_keep_status_and_body() {
    let server = RawServer::start(|_, conn| {
        while conn.read_request().is_some() {
            conn.respond(418, "text/plain", b"short and stout");
        }
    });
    let e = client(&server.url).snapshot_json().unwrap_err();
    assert_eq!(
        (e.kind(), e.status(), e.body()),
        (ErrorKind::HttpStatus, Some(418), Some("short and stout"))
    );
}

#[test]
fn errors_never_show_credentials() {
    let mut config = Config::new("http://127.0.0.1:9");
    config.application_id = Some("app-secret-1".into());
    config.access_token = Some("token-secret-2".into());
    let c = Client::new(config).unwrap();
    for e in [
        c.snapshot_json().unwrap_err(),
        c.select_json("{}").unwrap_err(),
        c.update_json("{").unwrap_err(),
    ] {
        let text = format!("{e} {e:?}");
        assert!(!text.contains("secret"), "{text}");
    }
}

mod typed {
    use super::*;
    use pieces_user::models::{Auth0User, DateTime, UserBetaStatus, UserProfile};

    #[test]
    fn every_route_in_typed_form() {
        let s = Standin::start(&[]);
        let c = client(&s.url);
        let me = c.snapshot().unwrap().user().cloned().expect("signed in");
        assert_eq!(c.refresh().unwrap().id, me.id);

        let mut changed = me.clone();
        changed.aesthetics.font.size = 20;
        changed.aesthetics.theme.dark = !me.aesthetics.theme.dark;
        assert_eq!(c.update(&changed).unwrap(), changed);
        assert_eq!(c.snapshot().unwrap().user(), Some(&changed));

        changed.vanityname = Some("typed-vanity".into());
        assert_eq!(
            c.update_vanity(&changed).unwrap().vanityname.as_deref(),
            Some("typed-vanity")
        );
        changed.vanityname = Some("taken".into());
        assert_eq!(
            c.update_vanity(&changed).unwrap_err().kind(),
            ErrorKind::Conflict
        );

        let status: UserBetaStatus =
            serde_json::from_value(serde_json::json!({"user": me.id})).unwrap();
        assert_eq!(c.beta_status(&status).unwrap().user, me.id);
        assert_eq!(c.providers().unwrap_err().kind(), ErrorKind::NotImplemented);

        let auth0 = Auth0User {
            name: Some("Typed Ada".into()),
            user_id: Some("auth0|typed".into()),
            created_at: DateTime::parse("2024-03-14T09:26:53.589Z"),
            ..Auth0User::default()
        };
        assert_eq!(c.select(&auth0).unwrap().name.as_deref(), Some("Typed Ada"));
        c.clear().unwrap();
        assert!(c.snapshot().unwrap().user().is_none());
    }

    #[test]
    fn typed_documents_keep_unknown_keys() {
        let s = Standin::start(&[]);
        let c = client(&s.url);
        let mut doc = json(&fixture("UserProfile.max.json"));
        doc["fromTheFuture"] = serde_json::json!({"a": [1, 2]});
        let profile: UserProfile = serde_json::from_value(doc.clone()).unwrap();
        let back = c.update(&profile).unwrap();
        assert_eq!(serde_json::to_value(&back).unwrap(), doc);
    }

    #[test]
    fn an_extra_key_that_breaks_the_model_is_refused_before_sending() {
        let server = RawServer::start(constant_json(MIN_PROFILE));
        let c = client(&server.url);
        let mut profile: UserProfile = serde_json::from_str(MIN_PROFILE).unwrap();
        profile.extra.insert("id".into(), serde_json::json!(5));
        let e = c.update(&profile).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidDocument, "{e}");
        drop(c);
        assert_eq!(server.stop().connections, 0);
    }
}
