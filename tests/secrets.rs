//! The access token and the application id never appear in an error's message, Display, Debug or
//! body, in the C ABI's `pieces_last_error` JSON, in a config's Debug output, or in the stand-in's
//! output, across every failing route and fault we can provoke. Each check greps for both strings.
//!
//! (A server that echoes the request headers back in its error body is outside this promise: the body
//! is the server's text, returned as sent.)

mod common;
mod raw_server;

use std::ffi::{c_char, CStr, CString};
use std::fs;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::ptr;
use std::thread;
use std::time::Duration;

use pieces_user::{Client, Config, Error};

use raw_server::{constant_json, RawServer};

const APP_ID: &str = "appid-Q7x2W9kz";
const TOKEN: &str = "tok-Zr81Lm4pV0";

// The C ABI, linked from this crate's own rlib (the exports are #[no_mangle]).
#[repr(C)]
struct PiecesClient {
    _opaque: [u8; 0],
}
extern "C" {
    fn pieces_client_new(config_json: *const c_char, out: *mut *mut PiecesClient) -> i32;
    fn pieces_client_free(client: *mut PiecesClient);
    fn pieces_user_snapshot(client: *const PiecesClient, out: *mut *mut c_char) -> i32;
    fn pieces_user_refresh(client: *const PiecesClient, out: *mut *mut c_char) -> i32;
    fn pieces_user_providers(client: *const PiecesClient, out: *mut *mut c_char) -> i32;
    fn pieces_user_select(
        client: *const PiecesClient,
        doc: *const c_char,
        out: *mut *mut c_char,
    ) -> i32;
    fn pieces_user_update(
        client: *const PiecesClient,
        doc: *const c_char,
        out: *mut *mut c_char,
    ) -> i32;
    fn pieces_user_update_vanity(
        client: *const PiecesClient,
        doc: *const c_char,
        out: *mut *mut c_char,
    ) -> i32;
    fn pieces_user_beta_status(
        client: *const PiecesClient,
        doc: *const c_char,
        out: *mut *mut c_char,
    ) -> i32;
    fn pieces_user_clear(client: *const PiecesClient) -> i32;
    fn pieces_last_error(out: *mut *mut c_char) -> i32;
    fn pieces_string_free(s: *mut c_char);
}

fn assert_clean(what: &str, text: &str) {
    assert!(!text.contains(APP_ID), "{what}: application id in {text}");
    assert!(!text.contains(TOKEN), "{what}: access token in {text}");
}

fn assert_error_clean(what: &str, e: &Error) {
    let all = format!(
        "{e}\n{e:?}\n{}\n{}",
        e.message(),
        e.body().unwrap_or_default()
    );
    assert_clean(what, &all);
}

fn last_error_json() -> String {
    let mut out = ptr::null_mut();
    assert_eq!(unsafe { pieces_last_error(&mut out) }, 0);
    let json = unsafe { CStr::from_ptr(out) }.to_str().unwrap().to_owned();
    unsafe { pieces_string_free(out) };
    json
}

fn config_for(url: &str) -> Config {
    let mut config = Config::new(url);
    config.application_id = Some(APP_ID.into());
    config.access_token = Some(TOKEN.into());
    config
}

fn config_json_for(url: &str, timeout_ms: u64) -> CString {
    CString::new(format!(
        r#"{{"base_url":"{url}","application_id":"{APP_ID}","access_token":"{TOKEN}","timeout_ms":{timeout_ms}}}"#
    ))
    .unwrap()
}

const MIN_PROFILE: &str = r#"{"id":"u-1","aesthetics":{"font":{"size":14},"theme":{"dark":true}}}"#;
const TAKEN: &str =
    r#"{"id":"u-1","vanityname":"taken","aesthetics":{"font":{"size":14},"theme":{"dark":true}}}"#;
const BETA: &str = r#"{"user":"u-1"}"#;

/// Every route through the Rust API and through the C ABI; returns how many calls failed (each
/// failure checked).
fn every_route(what: &str, url: &str, timeout_ms: u64) -> usize {
    let mut config = config_for(url);
    config.timeout = Duration::from_millis(timeout_ms);
    let c = Client::new(config).unwrap();
    assert_clean(what, &format!("{:?}", c.config()));
    let results: Vec<(&str, Result<String, Error>)> = vec![
        ("snapshot", c.snapshot_json()),
        ("refresh", c.refresh_json()),
        ("providers", c.providers_json()),
        ("select", c.select_json(r#"{"user_id":"auth0|s"}"#)),
        ("select invalid", c.select_json(r#"{"user_id":5}"#)),
        ("update", c.update_json(MIN_PROFILE)),
        ("update malformed", c.update_json("{")),
        ("update invalid", c.update_json(r#"{"id":5}"#)),
        ("vanity taken", c.update_vanity_json(TAKEN)),
        ("beta", c.beta_status_json(BETA)),
        ("clear", c.clear().map(|()| String::new())),
        ("vanity after clear", c.update_vanity_json(MIN_PROFILE)),
        ("beta after clear", c.beta_status_json(BETA)),
        ("refresh after clear", c.refresh_json()),
    ];
    let mut failures = 0;
    for (route, result) in &results {
        if let Err(e) = result {
            assert_error_clean(&format!("{what}: {route}"), e);
            failures += 1;
        }
    }

    let config = config_json_for(url, timeout_ms);
    let mut client = ptr::null_mut();
    assert_eq!(
        unsafe { pieces_client_new(config.as_ptr(), &mut client) },
        0
    );
    type Plain = unsafe extern "C" fn(*const PiecesClient, *mut *mut c_char) -> i32;
    type WithBody =
        unsafe extern "C" fn(*const PiecesClient, *const c_char, *mut *mut c_char) -> i32;
    let plain: [(&str, Plain); 3] = [
        ("snapshot", pieces_user_snapshot),
        ("refresh", pieces_user_refresh),
        ("providers", pieces_user_providers),
    ];
    let with_body: [(&str, WithBody, &str); 6] = [
        ("select", pieces_user_select, r#"{"user_id":"auth0|s"}"#),
        ("select invalid", pieces_user_select, r#"{"user_id":5}"#),
        ("update", pieces_user_update, MIN_PROFILE),
        ("update malformed", pieces_user_update, "{"),
        ("vanity taken", pieces_user_update_vanity, TAKEN),
        ("beta", pieces_user_beta_status, BETA),
    ];
    let mut check = |route: &str, rc: i32, out: *mut c_char| {
        if rc == 0 {
            unsafe { pieces_string_free(out) };
        } else {
            assert_clean(&format!("{what}: C {route}"), &last_error_json());
            failures += 1;
        }
    };
    for (route, f) in plain {
        let mut out = ptr::null_mut();
        let rc = unsafe { f(client, &mut out) };
        check(route, rc, out);
    }
    for (route, f, doc) in with_body {
        let doc = CString::new(doc).unwrap();
        let mut out = ptr::null_mut();
        let rc = unsafe { f(client, doc.as_ptr(), &mut out) };
        check(route, rc, out);
    }
    let rc = unsafe { pieces_user_clear(client) };
    check("clear", rc, ptr::null_mut());
    unsafe { pieces_client_free(client) };
    failures
}

#[test]
fn secrets_stay_out_of_errors_and_the_stand_in_output() {
    let dir = std::env::temp_dir().join(format!("pieces-secrets-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let stderr = fs::File::create(dir.join("stderr")).unwrap();
    let mut child = Command::new(common::standin_exe())
        .args(["--port", "0", "--exit-on-stdin-eof"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut url = String::new();
    stdout.read_line(&mut url).unwrap();
    let url = url.trim().to_owned();
    // Everything the stand-in prints after its URL line, collected while the calls run.
    let rest = thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut text);
        text
    });

    // The stand-in answers 501, 500, 409, 404 and 511 along the way.
    let failures = every_route("stand-in", &url, 5000);
    assert!(failures >= 10, "only {failures} failures at the stand-in");

    drop(child.stdin.take());
    let _ = child.kill();
    let _ = child.wait();
    let logs = format!(
        "{}\n{}",
        rest.join().unwrap(),
        fs::read_to_string(dir.join("stderr")).unwrap()
    );
    assert_clean("stand-in output", &logs);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn secrets_stay_out_of_transport_and_response_errors() {
    let refused = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let never = RawServer::start(|_, conn| {
        conn.read_request();
        thread::sleep(Duration::from_secs(5));
    });
    let reset = RawServer::start(|_, conn| {
        conn.read_request();
        conn.reset_on_close();
    });
    let not_json = RawServer::start(constant_json("this is not JSON"));
    let html = RawServer::start(|_, conn| {
        while conn.read_request().is_some() {
            conn.respond(200, "text/html", b"<html>login</html>");
        }
    });
    let teapot = RawServer::start(|_, conn| {
        while conn.read_request().is_some() {
            conn.respond(418, "text/plain", b"short and stout");
        }
    });
    let truncated = RawServer::start(|_, conn| {
        conn.read_request();
        conn.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{");
    });
    let garbage = RawServer::start(|_, conn| {
        conn.read_request();
        conn.write(b"SSH-2.0-OpenSSH\r\n\r\n");
    });
    let https_to_plain = not_json.url.replace("http://", "https://");
    // Only the server that never answers waits for the timeout, so it gets a short one.
    let failures = every_route("never answers", &never.url, 100);
    assert!(failures >= 20, "never answers: only {failures} failures");
    for (what, url) in [
        ("refused", refused.as_str()),
        ("reset", reset.url.as_str()),
        ("not JSON", not_json.url.as_str()),
        ("HTML", html.url.as_str()),
        ("418", teapot.url.as_str()),
        ("truncated", truncated.url.as_str()),
        ("not HTTP", garbage.url.as_str()),
        ("https to a plain server", https_to_plain.as_str()),
    ] {
        let failures = every_route(what, url, 5000);
        assert!(failures >= 20, "{what}: only {failures} failures");
    }
}

#[test]
fn config_errors_do_not_quote_secrets() {
    for json in [
        format!(r#"{{"acess_token":"{TOKEN}"}}"#),
        format!(r#"{{"aplication_id":"{APP_ID}"}}"#),
        format!(r#"{{"access_token":"{TOKEN}\r\nX: y"}}"#),
        format!(r#"{{"application_id":"{APP_ID}\u0000"}}"#),
        format!(r#"{{"access_token":["{TOKEN}"]}}"#),
        format!(r#"{{"access_token":{{"t":"{TOKEN}"}}}}"#),
        format!(r#"{{"access_token":"{TOKEN}","base_url":"ftp://x"}}"#),
        format!(r#"{{"access_token":"{TOKEN}","timeout_ms":0}}"#),
        format!(r#"{{"access_token":"{TOKEN}""#),
    ] {
        let e = Config::from_json(&json).unwrap_err();
        assert_error_clean(&json, &e);
        let c = CString::new(json.clone()).unwrap();
        let mut client = ptr::null_mut();
        assert_ne!(unsafe { pieces_client_new(c.as_ptr(), &mut client) }, 0);
        assert_clean(&json, &last_error_json());
    }
}
