//! fork() from a Rust program: a client and its stream belong to the process that created them.
//! In the child every call fails with `WrongProcess` before any I/O, stopping and dropping do not
//! touch the parent's thread or socket; the parent carries on.
//!
//! One test in this file, so the test harness has as few threads as possible when it forks; the
//! child only runs the checks below and leaves with `_exit`.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use common::Standin;
use pieces_user::stream::Next;
use pieces_user::{Client, Config, ErrorKind, StreamEvent, StreamOptions, UserStream};

fn next_user(stream: &UserStream) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Next::Event(StreamEvent::User(_)) = stream.next(Duration::from_millis(100)).unwrap()
        {
            return true;
        }
    }
    false
}

/// Everything the child tries; the number of failed checks.
fn in_child(client: &Client, stream: UserStream) -> i32 {
    let mut failed = 0;
    let mut expect_wrong_process = |what: &str, kind: Option<ErrorKind>| {
        if kind != Some(ErrorKind::WrongProcess) {
            eprintln!("child: {what} gave {kind:?}, want WrongProcess");
            failed += 1;
        }
    };
    expect_wrong_process("snapshot", client.snapshot_json().err().map(|e| e.kind()));
    expect_wrong_process("clear", client.clear().err().map(|e| e.kind()));
    expect_wrong_process("rediscover", client.rediscover().err().map(|e| e.kind()));
    let pulled = stream.next(Duration::ZERO).err().map(|e| e.kind());
    expect_wrong_process("next", pulled);
    let started = client.user_stream_pull(StreamOptions::default());
    expect_wrong_process("user_stream_pull", started.err().map(|e| e.kind()));
    let message = client.check_process().unwrap_err().message().to_owned();
    if !message.contains("another process") || !message.contains("create a new one") {
        eprintln!("child: unclear message {message:?}");
        failed += 1;
    }
    stream.stop(); // returns at once: no thread to join, no socket shut down
    drop(stream);
    failed
}

#[test]
fn a_forked_child_cannot_use_what_it_inherited_and_the_parent_is_unaffected() {
    let standin = Standin::start(&[]);
    let client = Client::new(Config::new(&standin.url)).unwrap();
    client.snapshot_json().unwrap(); // a pooled keep-alive connection
    let stream = client.user_stream_pull(StreamOptions::default()).unwrap();
    assert!(next_user(&stream));

    // SAFETY: the child runs only the checks (which fail before any lock, socket or thread is
    // touched) and leaves with _exit, never returning into the test harness.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let copy = unsafe { std::ptr::read(&stream) }; // the child's own copy of the handle
        let failed = catch_unwind(AssertUnwindSafe(|| in_child(&client, copy))).unwrap_or(100);
        unsafe { libc::_exit(failed) };
    }
    let mut status = 0;
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "child status {status:#x}"
    );

    // The parent's pool and stream were left alone.
    client
        .update_json(r#"{"id":"u-fork","vanityname":"after","aesthetics":{"font":{"size":14},"theme":{"dark":true}}}"#)
        .unwrap();
    assert!(next_user(&stream));
    stream.stop();
}
