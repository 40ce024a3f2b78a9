//! Latency of the user stream on loopback: from the instant the server starts writing a profile frame
//! to the instant the host sees the event (the callback's entry, or `next()` returning), for 3 KB and
//! ~30 KB profiles at 1000 and 100 frames per second. Prints p50/p99/max in microseconds.
//!
//! `cargo bench --bench stream_latency` (not a test: it asserts nothing and takes about a minute).

#[path = "../tests/ws_server/mod.rs"]
mod ws_server;

use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use pieces_user::stream::Next;
use pieces_user::{Client, Config, StreamEvent, StreamOptions};
use tungstenite::Utf8Bytes;
use ws_server::WsServer;

const PROFILE_3K: &str = include_str!("data/profile-3k.json");

/// The 3 KB profile grown to about `bytes` with API keys, a list real profiles carry.
fn profile_of(bytes: usize) -> String {
    let mut v: serde_json::Value = serde_json::from_str(PROFILE_3K).expect("3 KB profile");
    let mut keys = Vec::new();
    while serde_json::to_string(&v).unwrap().len() + keys.len() * 40 < bytes {
        keys.push(format!("pk_bench_{:030}", keys.len()));
    }
    if !keys.is_empty() {
        v["apiKeys"] = keys.into();
    }
    serde_json::to_string(&v).unwrap()
}

#[derive(Clone, Copy, PartialEq)]
enum Api {
    Callback,
    Pull,
    /// The floor: a bare tungstenite read loop on the same server, no validation, no thread hop.
    RawTungstenite,
}

struct Run {
    api: Api,
    frame: Utf8Bytes,
    rate: u32,
    count: usize,
}

fn main() {
    let sizes = [("3 KB", profile_of(0)), ("30 KB", profile_of(30 * 1024))];
    for (label, profile) in &sizes {
        println!(
            "validating one {label} profile: {:.1} µs (part of every user event)",
            validate_cost(profile)
        );
    }
    println!("frame   bytes  rate/s  api       frames   p50 µs   p99 µs   max µs");
    for (label, profile) in &sizes {
        for (rate, count) in [(1000, 3000), (100, 600)] {
            for api in [Api::Callback, Api::Pull, Api::RawTungstenite] {
                if std::env::var("BENCH_ONLY").is_ok_and(|only| !label.starts_with(&only)) {
                    continue;
                }
                let run = Run {
                    api,
                    frame: Utf8Bytes::from(profile.clone()),
                    rate,
                    count,
                };
                let mut lat = measure(&run);
                lat.sort_unstable_by(f64::total_cmp);
                let name = match api {
                    Api::Callback => "callback",
                    Api::Pull => "pull",
                    Api::RawTungstenite => "raw-ws",
                };
                println!(
                    "{label:<6} {:>6}  {rate:>6}  {name:<8}  {:>6}  {:>7.1}  {:>7.1}  {:>7.1}",
                    profile.len(),
                    lat.len(),
                    pct(&lat, 0.50),
                    pct(&lat, 0.99),
                    pct(&lat, 1.0),
                );
            }
        }
    }
}

/// Mean time of the profile validation the stream runs on each frame.
fn validate_cost(profile: &str) -> f64 {
    use pieces_user::schema::{validate, DocumentKind};
    let rounds = 2000;
    let start = Instant::now();
    for _ in 0..rounds {
        validate(DocumentKind::UserProfile, profile.as_bytes()).expect("valid profile");
    }
    start.elapsed().as_secs_f64() * 1e6 / f64::from(rounds)
}

fn pct(sorted: &[f64], q: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i]
}

/// Latencies in µs, one per frame, matched by order (the stream delivers in order, nothing drops).
fn measure(run: &Run) -> Vec<f64> {
    let server = WsServer::start(Some(PROFILE_3K.to_string()));
    let client = Client::new(Config::new(server.url.as_str())).expect("client");
    let seen: Arc<Mutex<Vec<Instant>>> = Arc::new(Mutex::new(Vec::with_capacity(run.count + 8)));
    let mut options = StreamOptions::default();
    options.queue_size = run.count + 16;
    if run.api == Api::RawTungstenite {
        return measure_raw(run, &server);
    }
    let (stream, consumer) = match run.api {
        Api::Callback => {
            let seen = Arc::clone(&seen);
            let stream = client
                .user_stream(options, move |e| {
                    let at = Instant::now();
                    if matches!(e, StreamEvent::User(_)) {
                        seen.lock().unwrap().push(at);
                    }
                })
                .expect("stream");
            (Arc::new(stream), None)
        }
        Api::Pull => {
            let stream = Arc::new(client.user_stream_pull(options).expect("stream"));
            let (s, seen) = (Arc::clone(&stream), Arc::clone(&seen));
            let consumer = thread::spawn(move || pull_loop(&s, &seen));
            (stream, Some(consumer))
        }
        Api::RawTungstenite => unreachable!("measured by measure_raw"),
    };
    // The user from GET /user and the push on connect come first; wait for both.
    wait_until(|| seen.lock().unwrap().len() >= 2);
    seen.lock().unwrap().clear();

    let sent = send_paced(run, &server);
    wait_until(|| seen.lock().unwrap().len() >= run.count);
    stream.stop();
    if let Some(consumer) = consumer {
        consumer.join().unwrap();
    }
    let seen = seen.lock().unwrap();
    latencies(&sent, &seen)
}

fn send_paced(run: &Run, server: &WsServer) -> Vec<Instant> {
    let sent = Arc::new(Mutex::new(Vec::with_capacity(run.count)));
    let period = Duration::from_secs(1) / run.rate;
    let start = Instant::now();
    for i in 0..run.count {
        pace(start + period * i as u32);
        server.push_timed(&run.frame, &sent);
    }
    wait_until(|| sent.lock().unwrap().len() >= run.count);
    let sent = sent.lock().unwrap().clone();
    sent
}

fn latencies(sent: &[Instant], seen: &[Instant]) -> Vec<f64> {
    sent.iter()
        .zip(seen.iter())
        .map(|(s, r)| r.duration_since(*s).as_secs_f64() * 1e6)
        .collect()
}

fn measure_raw(run: &Run, server: &WsServer) -> Vec<f64> {
    let url = format!("{}/user/stream", server.url.replace("http://", "ws://"));
    let (mut ws, _) = tungstenite::connect(url.as_str()).expect("raw connect");
    // The push on connect.
    ws.read().expect("greeting");
    let count = run.count;
    let reader = thread::spawn(move || {
        let mut seen = Vec::with_capacity(count);
        while seen.len() < count {
            if let Ok(tungstenite::Message::Text(_)) = ws.read() {
                seen.push(Instant::now());
            }
        }
        seen
    });
    let sent = send_paced(run, server);
    let seen = reader.join().unwrap();
    latencies(&sent, &seen)
}

fn pull_loop(stream: &pieces_user::UserStream, seen: &Mutex<Vec<Instant>>) {
    loop {
        match stream.next(Duration::from_secs(30)).expect("pull stream") {
            Next::Event(StreamEvent::User(_)) => seen.lock().unwrap().push(Instant::now()),
            Next::Event(_) => {}
            Next::Timeout | Next::Ended => return,
        }
    }
}

/// Sleeps to just before `at`, then spins, so frames leave on schedule.
fn pace(at: Instant) {
    let now = Instant::now();
    if at > now + Duration::from_micros(200) {
        thread::sleep(at - now - Duration::from_micros(150));
    }
    while Instant::now() < at {
        std::hint::spin_loop();
    }
}

fn wait_until(done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "the stream fell silent");
        thread::sleep(Duration::from_millis(1));
    }
}
