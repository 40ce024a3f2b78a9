//! Discovery timing (not a test): `cargo bench --bench discovery`.
//!
//! Two cases on a free 34-port loopback range shaped like 39300–39333, plus two legacy ports and a
//! missing port file: nothing running (target ≤ 100 ms) and Pieces OS on the first port (≤ 20 ms).
//! Prints median and p90 over `RUNS` runs of [`pieces_user::discover`].

use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread;
use std::time::{Duration, Instant};

use pieces_user::{discover, DiscoveryOptions};

#[path = "../tests/ports/mod.rs"]
mod ports;
use ports::free_range;

const RUNS: usize = 200;
const RANGE: u16 = 34;

fn main() {
    // 34 range ports + 2 legacy, all bound so they stay free while we pick them.
    let mut listeners = free_range(RANGE + 2);
    let first = listeners[0].local_addr().unwrap().port();
    let mut options = DiscoveryOptions::default();
    options.ports = (first, first + RANGE - 1);
    options.port_file =
        Some(std::env::temp_dir().join("pieces-bench-no-such-dir/Config/.port.txt"));
    options.legacy_ports = vec![first + RANGE, first + RANGE + 1];
    options.env_base_url = None;

    let server = listeners.remove(0);
    drop(listeners); // every port but the first now refuses

    // Case 1: nothing running (the first port is released too).
    let addr = server.local_addr().unwrap();
    drop(server);
    let none = time(|| {
        assert!(discover(&options).is_err());
    });
    report("nothing running (36 ports refused)", &none, 100);

    // Case 2: a health responder on the first port.
    let server = TcpListener::bind(addr).expect("first port was taken meanwhile");
    thread::spawn(move || serve_health(server));
    let expected = format!("http://{addr}");
    let found = time(|| {
        assert_eq!(discover(&options).unwrap(), expected);
    });
    report("server on the first port", &found, 20);
}

fn time(mut f: impl FnMut()) -> Vec<Duration> {
    f(); // warm up (thread stacks, page faults)
    let mut samples: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    samples.sort();
    samples
}

fn report(name: &str, sorted: &[Duration], target_ms: u64) {
    let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
    let (median, p90, max) = (at(0.5), at(0.9), sorted[sorted.len() - 1]);
    let verdict = if p90 <= Duration::from_millis(target_ms) {
        "within"
    } else {
        "OVER"
    };
    println!(
        "{name}: median {:.2} ms, p90 {:.2} ms, max {:.2} ms over {} runs ({verdict} the {target_ms} ms target)",
        ms(median),
        ms(p90),
        ms(max),
        sorted.len()
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn serve_health(listener: TcpListener) {
    for conn in listener.incoming() {
        let Ok(mut conn) = conn else { continue };
        thread::spawn(move || {
            let mut request = Vec::new();
            let mut buf = [0u8; 512];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match conn.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let body = "ok:00000000-0000-0000-0000-000000000000";
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        });
    }
}
