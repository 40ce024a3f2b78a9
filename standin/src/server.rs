//! Accept loop and the per-connection request loop (one thread per connection).

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use crate::http::{self, Conn, Response};
use crate::routes::{self, Outcome};
use crate::{faults, stream, App};

/// Most connections served at once (stream connections included); more get a 503.
const MAX_CONNECTIONS: usize = 256;
/// An idle keep-alive connection is closed after this long, so parked clients cannot pin threads.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Serves `listener` forever.
pub fn run(app: Arc<App>, listener: TcpListener) {
    let active = Arc::new(AtomicUsize::new(0));
    for accepted in listener.incoming() {
        match accepted {
            Ok(sock) => admit(&app, &active, sock),
            Err(e) => {
                // Typically EMFILE: back off briefly instead of spinning on the error.
                eprintln!("pieces-standin: accept failed: {e}");
                thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// Counts the connection in and starts its thread, or turns it away when at the cap.
fn admit(app: &Arc<App>, active: &Arc<AtomicUsize>, mut sock: TcpStream) {
    if active.fetch_add(1, Ordering::AcqRel) >= MAX_CONNECTIONS {
        active.fetch_sub(1, Ordering::AcqRel);
        // Non-blocking so a client that never reads cannot stall the accept loop.
        let _ = sock.set_nonblocking(true);
        let busy = Response::text(503, "too many connections");
        let _ = sock.write_all(&http::encode(&busy, false, false));
        return;
    }
    let (app, counter) = (app.clone(), active.clone());
    let spawned = thread::Builder::new().name("conn".into()).spawn(move || {
        serve_connection(&app, sock);
        counter.fetch_sub(1, Ordering::AcqRel);
    });
    if spawned.is_err() {
        active.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Answers requests on one connection until it closes or turns into a WebSocket.
fn serve_connection(app: &Arc<App>, sock: TcpStream) {
    let loopback = sock
        .peer_addr()
        .map(|a| a.ip().is_loopback())
        .unwrap_or(false);
    // Latency benchmarks: never let Nagle hold back a response.
    if sock.set_nodelay(true).is_err() || sock.set_read_timeout(Some(IDLE_TIMEOUT)).is_err() {
        return;
    }
    let mut conn = Conn::new(sock);
    loop {
        let req = match conn.read_request() {
            Ok(req) => req,
            Err(e) => {
                if let Some(resp) = e.response() {
                    let _ = conn.write_response(&resp, false, false);
                }
                return;
            }
        };
        let resp = if req.path.starts_with("/__admin/") {
            faults::handle(app, &req, loopback)
        } else {
            app.faults.before_response();
            match routes::handle(app, &req) {
                Outcome::Respond(resp) => resp,
                Outcome::Upgrade(key) => {
                    let (sock, leftover) = conn.into_parts();
                    stream::serve(app, sock, leftover, &key);
                    return;
                }
            }
        };
        let keep_alive = req.keep_alive();
        if conn
            .write_response(&resp, req.method == "HEAD", keep_alive)
            .is_err()
            || !keep_alive
        {
            return;
        }
    }
}
