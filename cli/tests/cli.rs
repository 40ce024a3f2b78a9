//! The `pieces-user` binary against the stand-in (and a few misbehaving loopback servers).
//!
//! The stand-in binary is found as the library's tests find it: `cargo test` in the workspace builds
//! it (or `cargo build -p pieces-standin` before `cargo test -p pieces-user-cli`).

#[path = "../../tests/common/mod.rs"]
mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::Standin;

/// Generous: nothing here should take more than a fraction of it.
const LIMIT: Duration = Duration::from_secs(30);

/// A profile with keys the models do not know, in an order serde_json would not keep, and numbers
/// serde_json would round (12345678901234567890123) or refuse (1e400).
const ODD_PROFILE: &str = r#"{"zeta":12345678901234567890123,"id":"u1","aesthetics":{"theme":{"dark":true},"font":{"size":14}},"name":"Ada Lovelace","email":"ada@example.org","huge":1e400,"alpha":{"nested":[1,2.50,"x"]}}"#;

const ODD_PROFILE_PRETTY: &str = r#"{
  "zeta": 12345678901234567890123,
  "id": "u1",
  "aesthetics": {
    "theme": {
      "dark": true
    },
    "font": {
      "size": 14
    }
  },
  "name": "Ada Lovelace",
  "email": "ada@example.org",
  "huge": 1e400,
  "alpha": {
    "nested": [
      1,
      2.50,
      "x"
    ]
  }
}
"#;

struct Run {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Run {
    fn code(&self) -> i32 {
        self.status.code().expect("exited, not killed by a signal")
    }

    /// The one stderr line, checked to be one line starting with the program's name.
    fn error_line(&self) -> &str {
        let line = self.stderr.strip_suffix('\n').expect("a line on stderr");
        assert!(!line.contains('\n'), "more than one stderr line: {line:?}");
        assert!(line.starts_with("pieces-user: "), "{line:?}");
        line
    }
}

fn pieces_user() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pieces-user"));
    // Nothing from the test's own environment steers discovery or auth.
    command
        .env_remove("PIECES_BASE_URL")
        .env_remove("PIECES_ACCESS_TOKEN")
        .env("HOME", scratch_dir());
    command
}

/// Runs to completion (bounded by LIMIT), with `stdin` as its input.
fn run_with(args: &[&str], stdin: &str) -> Run {
    let mut child = pieces_user()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn pieces-user");
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_string();
    let writer = thread::spawn(move || {
        let _ = input.write_all(stdin.as_bytes());
    });
    let stdout = read_all(child.stdout.take().unwrap());
    let stderr = read_all(child.stderr.take().unwrap());
    let status = wait_bounded(&mut child, LIMIT);
    writer.join().unwrap();
    Run {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

fn run(args: &[&str]) -> Run {
    run_with(args, "")
}

/// Runs against the stand-in.
fn run_at(standin: &Standin, args: &[&str]) -> Run {
    let mut full = vec!["--base-url", standin.url.as_str()];
    full.extend_from_slice(args);
    run(&full)
}

fn read_all(mut source: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut text = String::new();
        source.read_to_string(&mut text).expect("UTF-8 output");
        text
    })
}

fn wait_bounded(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("pieces-user did not exit within {limit:?}");
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// A fresh empty directory (HOME for discovery, files for FILE arguments).
fn scratch_dir() -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("pieces-user-cli-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write_file(text: &str) -> PathBuf {
    let path = scratch_dir().join("doc.json");
    std::fs::write(&path, text).unwrap();
    path
}

fn standin_with(profile: &str) -> Standin {
    let path = write_file(profile);
    Standin::start(&["--user", path.to_str().unwrap()])
}

fn signal(child: &Child, signal: i32) {
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, signal) }, 0);
}

// ---- output passes through unchanged ----

#[test]
fn get_passes_the_text_through_compact_or_pretty_keeping_order_and_numbers() {
    let standin = standin_with(ODD_PROFILE);
    // Into a pipe: compact by default.
    let out = run_at(&standin, &["get"]);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!(out.stdout, format!("{{\"user\":{ODD_PROFILE}}}\n"));
    assert_eq!(run_at(&standin, &["get", "--compact"]).stdout, out.stdout);
    let pretty = run_at(&standin, &["--pretty", "get"]);
    let indented = ODD_PROFILE_PRETTY.trim_end().replace('\n', "\n  ");
    assert_eq!(pretty.stdout, format!("{{\n  \"user\": {indented}\n}}\n"));
}

#[test]
fn refresh_prints_the_profile_and_fails_with_6_when_signed_out() {
    let standin = standin_with(ODD_PROFILE);
    let out = run_at(&standin, &["refresh", "--pretty"]);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!(out.stdout, ODD_PROFILE_PRETTY);

    let signed_out = Standin::start(&["--signed-out"]);
    let out = run_at(&signed_out, &["refresh"]);
    assert_eq!(out.code(), 6);
    assert_eq!(out.stdout, "");
    assert_eq!(
        out.error_line(),
        "pieces-user: server_error: HTTP 500: no user is signed in"
    );
}

#[test]
fn providers_on_a_local_pieces_os_is_501_exit_6() {
    let standin = Standin::start(&[]);
    let out = run_at(&standin, &["providers"]);
    assert_eq!(out.code(), 6);
    assert_eq!(out.stdout, "");
    assert_eq!(
        out.error_line(),
        "pieces-user: not_implemented: HTTP 501: not implemented locally"
    );
}

#[test]
fn clear_signs_out_and_prints_nothing() {
    let standin = Standin::start(&[]);
    let out = run_at(&standin, &["clear"]);
    assert_eq!(
        (out.code(), out.stdout.as_str(), out.stderr.as_str()),
        (0, "", "")
    );
    assert_eq!(run_at(&standin, &["get"]).stdout, "{\"user\":null}\n");
}

// ---- documents from a file or stdin ----

#[test]
fn select_reads_stdin_and_sends_the_bearer_token_route() {
    let standin = Standin::start(&["--signed-out"]);
    let auth0 = r#"{"user_id": "auth0|42", "name": "Ada", "email": "ada@example.org"}"#;
    let out = run_with(&["--base-url", &standin.url, "select", "-"], auth0);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let profile: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(profile["id"], "auth0|42");
    assert_eq!(profile["name"], "Ada");
    let now = run_at(&standin, &["get"]);
    assert!(
        now.stdout.contains(r#""email":"ada@example.org""#),
        "{}",
        now.stdout
    );
}

#[test]
fn update_from_a_file_and_from_stdin_keeps_the_text() {
    let standin = Standin::start(&[]);
    let file = write_file(ODD_PROFILE_PRETTY);
    let out = run_at(&standin, &["update", file.to_str().unwrap()]);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!(out.stdout, format!("{ODD_PROFILE}\n"));

    let changed = ODD_PROFILE.replace("Ada Lovelace", "Ada King");
    let out = run_with(&["--base-url", &standin.url, "update", "-"], &changed);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!(
        run_at(&standin, &["get"]).stdout,
        format!("{{\"user\":{changed}}}\n")
    );
}

#[test]
fn a_bad_document_is_refused_before_sending_with_its_path_exit_7() {
    let standin = Standin::start(&[]);
    let before = run_at(&standin, &["get"]).stdout;
    let bad = r#"{"id": "u1", "aesthetics": {"font": {"size": "big"}, "theme": {"dark": true}}}"#;
    let out = run_with(&["--base-url", &standin.url, "update", "-"], bad);
    assert_eq!(out.code(), 7);
    let line = out.error_line();
    assert!(
        line.starts_with("pieces-user: invalid_document: $.aesthetics.font.size: "),
        "{line}"
    );
    let out = run_with(
        &["--base-url", &standin.url, "update-vanity", "-"],
        "{not json",
    );
    assert_eq!(out.code(), 7);
    assert!(
        out.error_line()
            .starts_with("pieces-user: malformed_json: "),
        "{}",
        out.stderr
    );
    assert_eq!(
        run_at(&standin, &["get"]).stdout,
        before,
        "nothing was sent"
    );
}

#[test]
fn update_vanity_conflict_and_signed_out_are_4xx_exit_5() {
    let standin = Standin::start(&[]);
    let taken = r#"{"id": "u1", "aesthetics": {"font": {"size": 14}, "theme": {"dark": true}}, "vanityname": "taken"}"#;
    let out = run_with(&["--base-url", &standin.url, "update-vanity", "-"], taken);
    assert_eq!(out.code(), 5);
    assert!(
        out.error_line()
            .starts_with("pieces-user: conflict: HTTP 409: "),
        "{}",
        out.stderr
    );
    let free = taken.replace("\"taken\"", "\"ada\"");
    let out = run_with(&["--base-url", &standin.url, "update-vanity", "-"], &free);
    assert_eq!(out.code(), 0, "{}", out.stderr);

    let signed_out = Standin::start(&["--signed-out"]);
    let out = run_with(
        &["--base-url", &signed_out.url, "update-vanity", "-"],
        &free,
    );
    assert_eq!(out.code(), 5);
    assert!(
        out.error_line().contains("not_found: HTTP 404"),
        "{}",
        out.stderr
    );
}

#[test]
fn beta_status_echoes_when_signed_in_and_is_511_exit_6_when_not() {
    let status = r#"{"user": "u1", "futureKey": 12345678901234567890123}"#;
    let standin = Standin::start(&[]);
    let out = run_with(&["--base-url", &standin.url, "beta-status", "-"], status);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "{\"user\":\"u1\",\"futureKey\":12345678901234567890123}\n"
    );

    let signed_out = Standin::start(&["--signed-out"]);
    let out = run_with(&["--base-url", &signed_out.url, "beta-status", "-"], status);
    assert_eq!(out.code(), 6);
    assert!(
        out.error_line()
            .contains("authentication_required: HTTP 511"),
        "{}",
        out.stderr
    );
}

// ---- set ----

#[test]
fn set_edits_paths_in_place_keeping_unknown_keys_order_and_numbers() {
    let standin = standin_with(ODD_PROFILE);
    let out = run_at(
        &standin,
        &[
            "set",
            "aesthetics.theme.dark=false",
            "name=Ada King",
            "alpha.added.deep=98765432109876543210987",
            "email=\"a@b.c\"",
        ],
    );
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let expected = r#"{"zeta":12345678901234567890123,"id":"u1","aesthetics":{"theme":{"dark":false},"font":{"size":14}},"name":"Ada King","email":"a@b.c","huge":1e400,"alpha":{"nested":[1,2.50,"x"],"added":{"deep":98765432109876543210987}}}"#;
    assert_eq!(out.stdout, format!("{expected}\n"));
    assert_eq!(
        run_at(&standin, &["get"]).stdout,
        format!("{{\"user\":{expected}}}\n")
    );
}

#[test]
fn set_vanityname_goes_through_the_vanity_route() {
    let standin = Standin::start(&[]);
    let out = run_at(&standin, &["set", "vanityname=taken"]);
    assert_eq!(out.code(), 5, "the vanity route refuses a taken name");
    assert!(
        out.error_line().contains("conflict: HTTP 409"),
        "{}",
        out.stderr
    );
    let out = run_at(&standin, &["set", "vanityname=ada"]);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(out.stdout.contains(r#""vanityname":"ada""#));
}

#[test]
fn set_refuses_bad_paths_and_values_before_sending() {
    let standin = standin_with(ODD_PROFILE);
    let through = run_at(&standin, &["set", "name.first=Ada"]);
    assert_eq!(through.code(), 2);
    assert_eq!(
        through.error_line(),
        "pieces-user: usage: name is a string, not an object: cannot set a key inside it"
    );
    let invalid = run_at(&standin, &["set", "aesthetics.font.size=big"]);
    assert_eq!(invalid.code(), 7);
    assert!(
        invalid.error_line().contains("$.aesthetics.font.size"),
        "{}",
        invalid.stderr
    );
    assert_eq!(run_at(&standin, &["set", "a..b=1"]).code(), 2);
    assert_eq!(run_at(&standin, &["set", "novalue"]).code(), 2);
    assert_eq!(
        run_at(&standin, &["get"]).stdout,
        format!("{{\"user\":{ODD_PROFILE}}}\n"),
        "nothing was stored"
    );
}

#[test]
fn set_when_signed_out_is_exit_9() {
    let standin = Standin::start(&["--signed-out"]);
    let out = run_at(&standin, &["set", "name=Ada"]);
    assert_eq!(out.code(), 9);
    assert_eq!(
        out.error_line(),
        "pieces-user: signed_out: nobody is signed in to Pieces OS: nothing to set"
    );
}

// ---- usage, discovery, connection and server failures ----

#[test]
fn usage_errors_are_exit_2() {
    for args in [
        &[][..],
        &["frobnicate"],
        &["set"],
        &["get", "--compact", "--pretty"],
        &["--base-url", "http://127.0.0.1:1", "--discover", "get"],
        &["--timeout", "0", "get"],
        &["watch", "--count", "0"],
        &["watch", "--signed-out-text", "x"],
        &["--base-url", "ftp://x", "get"],
        &[
            "--base-url",
            "http://127.0.0.1:1",
            "update",
            "/nonexistent/doc.json",
        ],
        &[
            "--base-url",
            "http://127.0.0.1:1",
            "watch",
            "--format",
            "{name",
        ],
    ] {
        let out = run(args);
        assert_eq!(out.code(), 2, "{args:?}: {}", out.stderr);
        assert_eq!(out.stdout, "", "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?}");
    }
}

#[test]
fn nothing_running_is_exit_3_and_discover_finds_pieces_base_url() {
    // No PIECES_BASE_URL and an empty HOME: the scan of 39300-39333 and 5323/1000 finds nobody.
    let out = run(&["get"]);
    assert_eq!(out.code(), 3, "{}", out.stderr);
    assert!(
        out.error_line().starts_with("pieces-user: not_running: "),
        "{}",
        out.stderr
    );
    assert_eq!(run(&["discover"]).code(), 3);

    let standin = Standin::start(&[]);
    let out = pieces_user()
        .args(["discover", "--verbose"])
        .env("PIECES_BASE_URL", &standin.url)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("{}\n", standin.url)
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        stderr,
        format!(
            "pieces-user: discover: PIECES_BASE_URL={0} (used as is, nothing probed)\n\
             pieces-user: discover: found {0}\n",
            standin.url
        )
    );
    // And the API commands use it when no --base-url is given.
    let out = pieces_user()
        .arg("get")
        .env("PIECES_BASE_URL", &standin.url)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .starts_with("{\"user\":{"));
}

#[test]
fn refused_and_timed_out_connections_are_exit_4() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let out = run(&["--base-url", &format!("http://127.0.0.1:{port}"), "get"]);
    assert_eq!(out.code(), 4);
    assert!(
        out.error_line().starts_with("pieces-user: connection: "),
        "{}",
        out.stderr
    );

    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", silent.local_addr().unwrap());
    let out = run(&["--base-url", &url, "--timeout", "0.5", "get"]);
    assert_eq!(out.code(), 4);
    assert!(
        out.error_line().starts_with("pieces-user: timeout: "),
        "{}",
        out.stderr
    );
}

/// Answers every connection with `response`, whatever was asked.
fn canned_server(response: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            let _ = stream.write_all(response.as_bytes());
        }
    });
    url
}

#[test]
fn an_invalid_response_is_exit_8_and_other_statuses_exit_6() {
    let url = canned_server(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 12\r\nConnection: close\r\n\r\n{\"user\": 5}\n",
    );
    let out = run(&["--base-url", &url, "get"]);
    assert_eq!(out.code(), 8);
    assert!(
        out.error_line().contains("invalid_response: $.user"),
        "{}",
        out.stderr
    );

    let url = canned_server(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbusy",
    );
    let out = run(&["--base-url", &url, "get"]);
    assert_eq!(out.code(), 6);
    assert_eq!(out.error_line(), "pieces-user: http_status: HTTP 503: busy");
}

// ---- help and completions ----

#[test]
fn help_lists_the_exit_statuses_and_every_command_has_an_example() {
    let out = run(&["--help"]);
    assert_eq!(out.code(), 0);
    assert!(
        out.stdout.contains("Examples:\n  pieces-user get\n"),
        "{}",
        out.stdout
    );
    for line in [
        "    0  success",
        "    3  Pieces OS is not running",
        "    7  the input document",
        "  130  interrupted by SIGINT",
        "  143  ended by SIGTERM",
    ] {
        assert!(out.stdout.contains(line), "{line:?} missing from --help");
    }
    for command in [
        "get",
        "refresh",
        "providers",
        "clear",
        "select",
        "update",
        "update-vanity",
        "beta-status",
        "set",
        "watch",
        "discover",
        "completions",
    ] {
        let out = run(&[command, "--help"]);
        assert_eq!(out.code(), 0, "{command}");
        assert!(out.stdout.contains("Example"), "{command}: no example");
        assert!(out.stdout.contains("pieces-user "), "{command}");
        assert!(
            out.stdout.contains("Exit status:"),
            "{command}: no exit statuses"
        );
    }
}

#[test]
fn completions_for_bash_zsh_and_fish() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef pieces-user"),
        ("fish", "complete -c pieces-user"),
    ] {
        let out = run(&["completions", shell]);
        assert_eq!(out.code(), 0, "{shell}");
        assert!(out.stdout.contains(marker), "{shell}");
        assert!(out.stdout.contains("update-vanity"), "{shell}");
    }
    assert_eq!(run(&["completions", "tcsh"]).code(), 2);
}

// ---- watch ----

/// A running `watch`, its stdout lines delivered through a channel as they arrive.
struct Watch {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Watch {
    fn start(standin: &Standin, args: &[&str]) -> Watch {
        let mut child = pieces_user()
            .args(["--base-url", &standin.url, "watch"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn pieces-user watch");
        let lines = line_channel(child.stdout.take().unwrap());
        Watch { child, lines }
    }

    fn next_line(&self) -> String {
        self.lines
            .recv_timeout(LIMIT)
            .expect("a line from watch within the limit")
    }

    /// Lines until one satisfies `wanted`; returns it.
    fn line_where(&self, wanted: impl Fn(&str) -> bool) -> String {
        loop {
            let line = self.next_line();
            if wanted(&line) {
                return line;
            }
        }
    }

    /// Sends `sig`, waits for the exit and returns it with every line printed after what was read.
    fn stop_with(mut self, sig: i32) -> (ExitStatus, Vec<String>) {
        signal(&self.child, sig);
        let status = wait_bounded(&mut self.child, Duration::from_secs(5));
        (status, self.lines.iter().collect())
    }
}

/// Every piece of stdout, split at newlines; a last piece without its newline is kept marked.
fn line_channel(stdout: ChildStdout) -> mpsc::Receiver<String> {
    let (send, receive) = mpsc::channel();
    thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    let line = match line.strip_suffix('\n') {
                        Some(whole) => whole.to_string(),
                        None => format!("INCOMPLETE:{line}"),
                    };
                    if send.send(line).is_err() {
                        return;
                    }
                }
            }
        }
    });
    receive
}

fn event(line: &str) -> serde_json::Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?} is not a JSON line: {e}"))
}

#[test]
fn watch_sees_an_update_from_a_second_process_and_sigint_ends_it_with_130() {
    let standin = standin_with(ODD_PROFILE);
    let watch = Watch::start(&standin, &[]);
    let connected = event(&watch.next_line());
    assert_eq!(connected["event"], "connected");
    assert_eq!(connected["url"], standin.stream_url());
    let first = watch.line_where(|l| l.starts_with(r#"{"event":"user","#));
    // The profile is spliced in as sent: numbers and key order intact.
    assert_eq!(first, format!(r#"{{"event":"user","user":{ODD_PROFILE}}}"#));

    let changed = ODD_PROFILE.replace("Ada Lovelace", "Ada King");
    let update = run_with(&["--base-url", &standin.url, "update", "-"], &changed);
    assert_eq!(update.code(), 0, "{}", update.stderr);
    let seen = watch.line_where(|l| l.contains("Ada King"));
    assert_eq!(seen, format!(r#"{{"event":"user","user":{changed}}}"#));

    let (status, rest) = watch.stop_with(libc::SIGINT);
    assert_eq!(status.code(), Some(130));
    for line in rest {
        // Complete lines only, no partial one (serde_json cannot check: it refuses 1e400).
        assert!(
            line.starts_with(r#"{"event":""#) && line.ends_with('}'),
            "{line:?}"
        );
    }
}

#[test]
fn watch_format_prints_plain_lines_and_sigterm_ends_it_with_143() {
    let standin = Standin::start(&[]);
    let watch = Watch::start(
        &standin,
        &[
            "--format",
            "{name} <{email}> {{{aesthetics.theme.dark}}}",
            "--signed-out-text",
            "signed out",
        ],
    );
    assert_eq!(
        watch.next_line(),
        "Grace Hopper <grace.hopper@example.org> {true}"
    );
    assert_eq!(run_at(&standin, &["clear"]).code(), 0);
    watch.line_where(|l| l == "signed out");
    let (status, rest) = watch.stop_with(libc::SIGTERM);
    assert_eq!(status.code(), Some(143));
    for line in rest {
        assert!(
            [
                "signed out",
                "Grace Hopper <grace.hopper@example.org> {true}"
            ]
            .contains(&line.as_str()),
            "{line:?}"
        );
    }
}

#[test]
fn watch_count_ends_with_0_after_n_states() {
    let standin = Standin::start(&["--signed-out"]);
    let out = run_at(&standin, &["watch", "--count", "1"]);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines.last(),
        Some(&r#"{"event":"signed_out"}"#),
        "{lines:?}"
    );
    assert!(lines.iter().all(|l| !l.contains("\"user\"")), "{lines:?}");

    let out = run_at(&standin, &["watch", "--count", "1", "--format", "{name}"]);
    assert_eq!(
        (out.code(), out.stdout.as_str()),
        (0, "\n"),
        "signed out, no --signed-out-text: an empty line"
    );
}

#[test]
fn watch_count_2_waits_for_the_next_change_and_repeats_are_not_changes() {
    let standin = standin_with(ODD_PROFILE);
    let mut watch = Watch::start(&standin, &["--count", "2"]);
    watch.line_where(|l| l.starts_with(r#"{"event":"user","#));
    // The same profile again (and a dropped stream that reconnects and re-sends it) is no change.
    assert_eq!(
        run_with(&["--base-url", &standin.url, "update", "-"], ODD_PROFILE).code(),
        0
    );
    standin.post("/__admin/stream/drop", b"");
    watch.line_where(|l| l.starts_with(r#"{"event":"connected","#));
    let changed = ODD_PROFILE.replace("Ada Lovelace", "Ada King");
    assert_eq!(
        run_with(&["--base-url", &standin.url, "update", "-"], &changed).code(),
        0
    );
    let status = wait_bounded(&mut watch.child, LIMIT);
    assert_eq!(status.code(), Some(0));
    let rest: Vec<String> = watch.lines.iter().collect();
    let users: Vec<&String> = rest
        .iter()
        .filter(|l| l.contains(r#""event":"user""#))
        .collect();
    assert_eq!(
        users,
        [&format!(r#"{{"event":"user","user":{changed}}}"#)],
        "{rest:?}"
    );
}

#[test]
fn watch_ends_quietly_with_1_when_its_reader_goes_away() {
    let standin = Standin::start(&[]);
    let mut child = pieces_user()
        .args(["--base-url", &standin.url, "watch"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert!(first.starts_with(r#"{"event":"connected""#), "{first}");
    drop(stdout);
    // The next line written meets the closed pipe.
    assert_eq!(run_at(&standin, &["clear"]).code(), 0);
    let status = wait_bounded(&mut child, LIMIT);
    assert_eq!(status.code(), Some(1));
    let stderr = read_all(child.stderr.take().unwrap()).join().unwrap();
    assert_eq!(stderr, "");
}

// ---- interrupts ----

#[test]
fn sigint_ends_watch_even_when_its_reader_stopped_reading() {
    let standin = Standin::start(&[]);
    let mut child = pieces_user()
        .args(["--base-url", &standin.url, "watch"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    // About 3 KB a line: 60 changes fill the pipe (64 KB), and the next write blocks.
    let mut profile = standin.get("/user").json()["user"].clone();
    for i in 0..60 {
        profile["name"] = format!("User {i}").into();
        let reply = standin.post("/user/update", profile.to_string().as_bytes());
        assert_eq!(reply.status, 200);
    }
    thread::sleep(Duration::from_millis(500)); // let it reach the blocked write
    let started = Instant::now();
    signal(&child, libc::SIGINT);
    let status = wait_bounded(&mut child, Duration::from_secs(10));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(status.code(), Some(130));
    drop(stdout);
}

#[test]
fn sigint_ends_a_blocked_rest_call_promptly_with_130() {
    // Accepts and never answers: the call would wait for its 30 s timeout.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", silent.local_addr().unwrap());
    for (sig, expected) in [(libc::SIGINT, 130), (libc::SIGTERM, 143)] {
        let mut child = pieces_user()
            .args(["--base-url", &url, "--timeout", "30", "get"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Once the request has connected, the handlers (installed first thing) are in place.
        let (_held, _) = silent.accept().unwrap();
        let started = Instant::now();
        signal(&child, sig);
        let status = wait_bounded(&mut child, Duration::from_secs(5));
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(status.code(), Some(expected));
        let mut stdout = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut stdout)
            .unwrap();
        assert_eq!(stdout, "");
    }
}

#[test]
fn the_readme_lists_the_same_exit_statuses_as_help() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md beside cli/");
    let help = run(&["--help"]).stdout;
    let table = help
        .split("Exit status:\n")
        .nth(1)
        .expect("a table in --help");
    let rows: Vec<(&str, &str)> = table
        .lines()
        .filter_map(|line| line.trim().split_once("  "))
        .collect();
    assert!(rows.len() >= 12, "{rows:?}");
    for (code, meaning) in rows {
        let row = format!("| {code} | {} |", meaning.trim());
        assert!(readme.contains(&row), "README lacks {row}");
    }
}

#[test]
fn discover_verbose_lists_every_place_and_finds_the_port_file_port() {
    let standin = Standin::start(&[]);
    let home = scratch_dir();
    let config = home.join("Documents/com.pieces.os/production/Config");
    std::fs::create_dir_all(&config).unwrap();
    let port = standin.url.rsplit(':').next().unwrap();
    std::fs::write(config.join(".port.txt"), format!("{port}\n")).unwrap();

    let out = pieces_user()
        .args(["discover", "-v"])
        .env("HOME", &home)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("{}\n", standin.url)
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    let expected = [
        "PIECES_BASE_URL: not set".to_string(),
        format!(
            "port file {}: \"{port}\"",
            config.join(".port.txt").display()
        ),
        "ports 39300-39333 on 127.0.0.1, lowest healthy wins".to_string(),
        if cfg!(target_os = "linux") {
            "legacy ports 5323, 1000".to_string()
        } else {
            "legacy ports 1000, 5323".to_string()
        },
        format!("found {}", standin.url),
    ];
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), expected.len(), "{stderr}");
    for (line, want) in lines.iter().zip(&expected) {
        assert_eq!(*line, format!("pieces-user: discover: {want}"));
    }
    // The API commands find it the same way.
    let out = pieces_user()
        .arg("get")
        .env("HOME", &home)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
}

/// stdout on a terminal: pretty by default, `--compact` forces one line.
#[test]
fn a_terminal_gets_pretty_output_unless_compact_is_asked() {
    use std::os::fd::{FromRawFd, OwnedFd};
    let standin = standin_with(ODD_PROFILE);
    for (extra, expected) in [
        (None, ODD_PROFILE_PRETTY.to_string()),
        (Some("--compact"), format!("{ODD_PROFILE}\n")),
    ] {
        // The output is a few hundred bytes: it waits in the terminal's buffer until read below.
        let (mut controller, mut terminal) = (-1, -1);
        // SAFETY: openpty writes two new descriptors, owned below; the other pointers may be null.
        let rc = unsafe {
            libc::openpty(
                &mut controller,
                &mut terminal,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        assert_eq!(rc, 0, "openpty");
        // SAFETY: both descriptors were just opened and nothing else owns them.
        let (controller, terminal) = unsafe {
            (
                OwnedFd::from_raw_fd(controller),
                OwnedFd::from_raw_fd(terminal),
            )
        };
        let mut command = pieces_user();
        command.args(["--base-url", &standin.url, "refresh"]);
        command.args(extra);
        let mut child = command.stdout(Stdio::from(terminal)).spawn().unwrap();
        let status = wait_bounded(&mut child, LIMIT);
        assert_eq!(status.code(), Some(0));
        drop(command); // the parent's copy of the terminal end, so reads end with EIO
        let mut out = Vec::new();
        let _ = std::fs::File::from(controller).read_to_end(&mut out);
        // The terminal turns \n into \r\n on output.
        let out = String::from_utf8(out).unwrap().replace("\r\n", "\n");
        assert_eq!(out, expected, "{extra:?}");
    }
}
