//! Test hooks under `/__admin/`: fault modes that tests switch on to see how the client copes.
//!
//! Kept apart from the User API so new modes can be added without touching the routes.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use once_cell::sync::Lazy;
use tungstenite::Utf8Bytes;

use crate::http::{Request, Response};
use crate::App;

/// Shown by `--help`.
pub const HELP: &str = "\
Admin hooks (POST, loopback only):
  /__admin/stream/drop        cut every /user/stream connection (TCP shutdown, no close frame)
  /__admin/stream/garbage     send every stream the frames {\"id\": 5} (JSON, not a valid profile)
                              and `this is not JSON`
  /__admin/stream/big         send every stream a valid ~1 MB profile (the current user is unchanged)
  /__admin/stream/mute-pings  stop reading from stream sockets, so pings go unanswered
  /__admin/delay?ms=N         delay every following normal response by N ms (0 resets)
  /__admin/hang               following normal requests are read but not answered until reset
  /__admin/reset              turn every fault mode off (hung requests are then answered)
";

/// The fault modes currently on.
#[derive(Default)]
struct Modes {
    delay_ms: u64,
    hang: bool,
    mute_pings: bool,
}

#[derive(Default)]
pub struct Faults {
    modes: Mutex<Modes>,
    /// Woken whenever a mode changes, so held requests and muted readers re-check.
    changed: Condvar,
}

impl Faults {
    fn lock(&self) -> MutexGuard<'_, Modes> {
        self.modes.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn update(&self, change: impl FnOnce(&mut Modes)) {
        change(&mut self.lock());
        self.changed.notify_all();
    }

    /// Called before every normal (non-admin) request is handled: holds it while `hang` is on,
    /// then applies the configured delay.
    pub fn before_response(&self) {
        let delay = {
            let mut modes = self.lock();
            while modes.hang {
                modes = self.changed.wait(modes).unwrap_or_else(|e| e.into_inner());
            }
            modes.delay_ms
        };
        if delay > 0 {
            thread::sleep(Duration::from_millis(delay));
        }
    }

    /// Blocks a stream reader while `mute-pings` is on.
    pub fn wait_while_muted(&self) {
        let mut modes = self.lock();
        while modes.mute_pings {
            modes = self.changed.wait(modes).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// A valid profile of about 1 MB: the built-in user with a long `apiKeys` list.
static BIG_PROFILE: Lazy<Utf8Bytes> = Lazy::new(|| {
    let mut profile: serde_json::Value =
        serde_json::from_str(crate::DEFAULT_USER).expect("built-in profile is JSON");
    let keys: Vec<String> = (0..24_000).map(|i| format!("pk_standin_{i:032}")).collect();
    profile["apiKeys"] = keys.into();
    serde_json::to_string(&profile)
        .expect("a Value always serialises")
        .into()
});

/// Answers a request under `/__admin/`.
pub fn handle(app: &App, req: &Request, from_loopback: bool) -> Response {
    if !from_loopback {
        return Response::text(403, "admin hooks are loopback only");
    }
    let action = req.path.trim_start_matches("/__admin/");
    if !KNOWN.contains(&action) {
        return Response::text(404, "no such admin hook");
    }
    if req.method != "POST" {
        return Response::text(405, "admin hooks take POST").with_header("Allow", "POST");
    }
    match action {
        "stream/drop" => app.state.hub.drop_all(),
        "stream/garbage" => {
            app.state
                .hub
                .broadcast(&Utf8Bytes::from_static(r#"{"id": 5}"#));
            app.state
                .hub
                .broadcast(&Utf8Bytes::from_static("this is not JSON"));
        }
        "stream/big" => app.state.hub.broadcast(&BIG_PROFILE),
        "stream/mute-pings" => app.faults.update(|m| m.mute_pings = true),
        "delay" => match req.query_param("ms").and_then(|v| v.parse::<u64>().ok()) {
            Some(ms) => app.faults.update(|m| m.delay_ms = ms),
            None => return Response::text(400, "delay needs ?ms=N"),
        },
        "hang" => app.faults.update(|m| m.hang = true),
        // "reset", the only hook left in KNOWN.
        _ => app.faults.update(|m| *m = Modes::default()),
    }
    Response::no_content()
}

const KNOWN: [&str; 7] = [
    "stream/drop",
    "stream/garbage",
    "stream/big",
    "stream/mute-pings",
    "delay",
    "hang",
    "reset",
];
