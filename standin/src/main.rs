//! pieces-standin: a stand-in for the Pieces OS User API on 127.0.0.1, for the demo and the tests.
//!
//! Prints its base URL as the first stdout line, then serves until SIGINT/SIGTERM (exit 0).

mod faults;
mod http;
mod routes;
mod server;
mod state;
mod stream;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::exit;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;

use pieces_user::schema::{validate, DocumentKind};
use tungstenite::Utf8Bytes;

/// The signed-in user when no `--user` is given.
pub const DEFAULT_USER: &str = include_str!("default_user.json");

/// Everything the connection threads share.
pub struct App {
    pub state: state::State,
    pub faults: faults::Faults,
    /// Reported by the health route as `ok:<instance>`; new on every start.
    pub instance: String,
}

struct Options {
    port: u16,
    user: Option<Utf8Bytes>,
    exit_on_stdin_eof: bool,
}

fn usage() -> String {
    format!(
        "\
Usage: pieces-standin [--port N] [--user FILE | --signed-out] [--exit-on-stdin-eof]

A stand-in Pieces OS User API server on 127.0.0.1. Prints its base URL
(http://127.0.0.1:PORT) as the first line on stdout, then serves until
SIGINT or SIGTERM (exit status 0).

Options:
  --port N              port to listen on; 0 (the default) picks a free one
  --user FILE           start signed in as this UserProfile JSON
                        (default: a built-in profile)
  --signed-out          start with nobody signed in
  --exit-on-stdin-eof   exit when stdin is closed (no orphans when the parent dies)
  --help                show this text

Vanity names /user/update/vanity refuses with 409: {}

{}",
        routes::TAKEN_VANITY.join(", "),
        faults::HELP
    )
}

fn fail(message: &str) -> ! {
    eprintln!("pieces-standin: {message}\n(see --help)");
    exit(2)
}

fn parse_args() -> Options {
    let mut opts = Options {
        port: 0,
        user: None,
        exit_on_stdin_eof: false,
    };
    let (mut user_file, mut signed_out) = (None, false);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        // Accept both `--flag value` and `--flag=value`.
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) => (f.to_string(), Some(v.to_string())),
            None => (arg.clone(), None),
        };
        let mut value = || inline.clone().or_else(|| args.next());
        match flag.as_str() {
            "--port" => {
                let v = value().unwrap_or_else(|| fail("--port needs a number"));
                opts.port = v
                    .parse()
                    .unwrap_or_else(|_| fail(&format!("bad port {v:?}")));
            }
            "--user" => user_file = Some(value().unwrap_or_else(|| fail("--user needs a file"))),
            "--signed-out" => signed_out = true,
            "--exit-on-stdin-eof" => opts.exit_on_stdin_eof = true,
            "--help" | "-h" => {
                print!("{}", usage());
                exit(0);
            }
            _ => fail(&format!("unknown argument {arg:?}")),
        }
    }
    opts.user = match (user_file, signed_out) {
        (Some(_), true) => fail("--user and --signed-out exclude each other"),
        (Some(path), false) => Some(load_user(&path)),
        (None, true) => None,
        (None, false) => Some(Utf8Bytes::from_static(DEFAULT_USER)),
    };
    opts
}

/// Reads and validates the `--user` profile; a bad file is a startup error, not a silent default.
fn load_user(path: &str) -> Utf8Bytes {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| fail(&format!("cannot read --user {path}: {e}")));
    if let Err(v) = validate(DocumentKind::UserProfile, text.as_bytes()) {
        fail(&format!(
            "--user {path} is not a valid UserProfile: {}: {}",
            v.path, v.message
        ));
    }
    Utf8Bytes::from(text)
}

/// A random UUID (version 4 layout), from the kernel's generator when it is available.
pub fn random_uuid() -> String {
    static FALLBACK: AtomicU64 = AtomicU64::new(0);
    let mut b = [0u8; 16];
    let from_kernel = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut b));
    if from_kernel.is_err() {
        // Unique enough for a test server: time, pid and a counter.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let n = FALLBACK.fetch_add(1, Ordering::Relaxed);
        b[..8].copy_from_slice(&nanos.to_le_bytes());
        b[8..].copy_from_slice(&(n ^ u64::from(std::process::id()) << 32).to_le_bytes());
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// Write end of the self-pipe the signal handler pokes.
static SIGNAL_PIPE: AtomicI32 = AtomicI32::new(-1);

/// Only async-signal-safe work here: one write(2) to the self-pipe.
extern "C" fn on_signal(_: libc::c_int) {
    let fd = SIGNAL_PIPE.load(Ordering::Relaxed);
    if fd >= 0 {
        // SAFETY: write(2) on a valid fd with a 1-byte static buffer is async-signal-safe.
        unsafe { libc::write(fd, b"x".as_ptr().cast(), 1) };
    }
}

/// SIGINT/SIGTERM → exit 0, via a self-pipe watched by a thread (which may do anything).
fn install_signal_handlers() -> std::io::Result<()> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: pipe(2) writes two fds into a 2-element array.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    SIGNAL_PIPE.store(fds[1], Ordering::Relaxed);
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a zeroed sigaction with a valid handler and an empty mask is well-formed.
        let rc = unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            libc::sigemptyset(&mut sa.sa_mask);
            sa.sa_flags = libc::SA_RESTART;
            libc::sigaction(sig, &sa, std::ptr::null_mut())
        };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    let read_fd = fds[0];
    thread::Builder::new()
        .name("signals".into())
        .spawn(move || loop {
            let mut byte = 0u8;
            // SAFETY: reading one byte into a local from the pipe we own.
            let n = unsafe { libc::read(read_fd, (&mut byte as *mut u8).cast(), 1) };
            if n == 1 {
                exit(0);
            }
            if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return;
        })?;
    Ok(())
}

/// Exits once stdin reaches end of file: the parent (a test) is gone or let go of us.
fn exit_on_stdin_eof() {
    let spawned = thread::Builder::new().name("stdin-watch".into()).spawn(|| {
        let mut sink = [0u8; 512];
        let mut stdin = std::io::stdin();
        loop {
            match stdin.read(&mut sink) {
                Ok(0) => exit(0),
                Err(e) if e.kind() != std::io::ErrorKind::Interrupted => exit(0),
                _ => {}
            }
        }
    });
    if spawned.is_err() {
        fail("cannot start the stdin watcher");
    }
}

fn main() {
    let opts = parse_args();
    // Handlers first: a test may signal us the moment it has read the URL.
    if let Err(e) = install_signal_handlers() {
        fail(&format!("cannot install signal handlers: {e}"));
    }
    if opts.exit_on_stdin_eof {
        exit_on_stdin_eof();
    }
    let listener = TcpListener::bind(("127.0.0.1", opts.port))
        .unwrap_or_else(|e| fail(&format!("cannot listen on 127.0.0.1:{}: {e}", opts.port)));
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(opts.port);
    let app = Arc::new(App {
        state: state::State::new(opts.user),
        faults: faults::Faults::default(),
        instance: random_uuid(),
    });
    let mut out = std::io::stdout().lock();
    if writeln!(out, "http://127.0.0.1:{port}")
        .and_then(|()| out.flush())
        .is_err()
    {
        fail("cannot write the URL to stdout");
    }
    drop(out);
    server::run(app, listener);
}
