//! TLS faults beside tests/tls.rs (which runs the routes and the stream through a TLS proxy): a
//! loopback rustls server of our own, with a test CA made at test time (rcgen), for what a proxy
//! cannot do precisely. A plain HTTP server answering 400 at an https URL gives a TLS error that says
//! so; a CA file without a certificate is refused; and SIGPIPE over TLS: a host with SIGPIPE at its
//! default action survives the server hanging up mid-request (checked in a child process, because the
//! Rust test harness itself ignores SIGPIPE).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use pieces_user::{Client, Config, ErrorKind};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

const USER: &str = r#"{"user":null}"#;

/// A CA, and a server certificate it signed for `localhost` and `127.0.0.1`.
struct TestPki {
    ca_pem: String,
    server_config: Arc<rustls::ServerConfig>,
}

fn make_pki(name: &str) -> TestPki {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, format!("pieces_user test CA {name}"));
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();

    let server_key = KeyPair::generate().unwrap();
    let leaf =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    let leaf_cert = leaf.signed_by(&server_key, &ca).unwrap();

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server_config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf_cert.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
        )
        .unwrap();
    TestPki {
        ca_pem: ca.pem(),
        server_config: Arc::new(server_config),
    }
}

fn write_temp(name: &str, text: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("pieces-tls-{}-{name}", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

/// What the TLS server does after reading a request head.
#[derive(Clone, Copy)]
enum Mode {
    /// Answer `USER` and keep the connection.
    Answer,
    /// Send FIN, wait, close with the body unread: the client's next writes get EPIPE.
    HangUp,
}

/// Reads a request head from `r`; false at EOF or error.
fn read_head(r: &mut impl BufRead) -> Option<usize> {
    let mut content_length = 0;
    let mut first = true;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() && !first {
            return Some(content_length);
        }
        first = false;
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                content_length = value.trim().parse().ok()?;
            }
        }
    }
}

fn serve_tls(config: Arc<rustls::ServerConfig>, mode: Mode) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    small_receive_buffer(&listener);
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for tcp in listener.incoming() {
            let Ok(tcp) = tcp else { return };
            let config = config.clone();
            thread::spawn(move || {
                let conn = rustls::ServerConnection::new(config).unwrap();
                let mut tls = BufReader::new(rustls::StreamOwned::new(conn, tcp));
                while let Some(len) = read_head(&mut tls) {
                    if let Mode::HangUp = mode {
                        let _ = tls.get_ref().sock.shutdown(Shutdown::Write);
                        thread::sleep(Duration::from_millis(50));
                        return;
                    }
                    let mut body = vec![0; len];
                    if tls.read_exact(&mut body).is_err() {
                        return;
                    }
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{USER}",
                        USER.len()
                    );
                    let stream = tls.get_mut();
                    if stream.write_all(reply.as_bytes()).is_err() || stream.flush().is_err() {
                        return;
                    }
                }
            });
        }
    });
    format!("127.0.0.1:{port}")
}

/// A plain-HTTP server that answers one request per connection with `USER`. In `Answer` mode it does
/// what real servers do with bytes that are not HTTP (a TLS ClientHello): answer 400 at once.
fn serve_plain(mode: Mode) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    small_receive_buffer(&listener);
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for tcp in listener.incoming() {
            let Ok(tcp) = tcp else { return };
            thread::spawn(move || {
                let mut r = BufReader::new(tcp);
                if let Mode::Answer = mode {
                    let mut first = [0u8; 1];
                    if r.read(&mut first).is_ok() && first[0] != b'G' && first[0] != b'P' {
                        let _ = r.get_mut().write_all(
                            b"HTTP/1.1 400 Bad Request\r\nContent-Length: 11\r\nConnection: close\r\n\r\nBad Request",
                        );
                        return;
                    }
                }
                if read_head(&mut r).is_some() {
                    match mode {
                        Mode::HangUp => {
                            let _ = r.get_ref().shutdown(Shutdown::Write);
                            thread::sleep(Duration::from_millis(50));
                        }
                        Mode::Answer => {
                            let reply = format!(
                                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{USER}",
                                USER.len()
                            );
                            let _ = r.get_mut().write_all(reply.as_bytes());
                        }
                    }
                }
            });
        }
    });
    format!("127.0.0.1:{port}")
}

/// A small receive buffer (inherited by accepted sockets) keeps a big upload blocked in the kernel,
/// so the server's hang-up lands mid-write.
fn small_receive_buffer(listener: &TcpListener) {
    let small: libc::c_int = 4096;
    // SAFETY: setsockopt on a socket we own, with an int-sized option value.
    unsafe {
        libc::setsockopt(
            listener.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&small as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

fn client(url: &str, ca: Option<&Path>) -> Client {
    let mut config = Config::new(url);
    config.tls_ca_file = ca.map(Path::to_path_buf);
    config.timeout = Duration::from_secs(10);
    Client::new(config).unwrap()
}

#[test]
fn https_with_the_test_ca_works_by_name_and_by_ip() {
    let pki = make_pki("ok");
    let ca = write_temp("ca-ok.pem", &pki.ca_pem);
    let addr = serve_tls(pki.server_config.clone(), Mode::Answer);
    let port = addr.rsplit(':').next().unwrap();
    for url in [
        format!("https://{addr}"),
        format!("https://localhost:{port}"),
    ] {
        let c = client(&url, Some(&ca));
        assert_eq!(c.snapshot_json().unwrap(), USER, "{url}");
        // Keep-alive over TLS: a second call on the pooled connection.
        assert_eq!(c.snapshot_json().unwrap(), USER, "{url}");
        assert_eq!(c.stream_url(), format!("wss://{}/user/stream", &url[8..]));
    }
    let _ = std::fs::remove_file(ca);
}

#[test]
fn a_plain_http_server_at_an_https_url_is_a_clear_error() {
    let pki = make_pki("plain");
    let ca = write_temp("ca-plain.pem", &pki.ca_pem);
    let addr = serve_plain(Mode::Answer);
    let e = client(&format!("https://{addr}"), Some(&ca))
        .snapshot_json()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    assert!(e.message().contains("plain http:// server"), "{e}");
    let _ = std::fs::remove_file(ca);
}

#[test]
fn a_ca_file_without_a_certificate_is_refused_at_creation() {
    let path = write_temp("ca-empty.pem", "not a certificate\n");
    let mut config = Config::new("https://127.0.0.1:1");
    config.tls_ca_file = Some(path.clone());
    let e = Client::new(config).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    let _ = std::fs::remove_file(path);
}

#[test]
fn a_ca_file_that_is_not_a_regular_file_or_too_big_is_refused_unread() {
    let sparse = write_temp("ca-huge.pem", "");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&sparse)
        .unwrap()
        .set_len(pieces_user::config::MAX_CA_FILE_BYTES + 1)
        .unwrap();
    let cases = [
        (PathBuf::from("/dev/zero"), "not a regular file"),
        (std::env::temp_dir(), "not a regular file"),
        (sparse.clone(), "larger than 4194304 bytes"),
    ];
    for (path, why) in cases {
        let mut config = Config::new("https://127.0.0.1:1");
        config.tls_ca_file = Some(path.clone());
        let e = Client::new(config).err().unwrap();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{path:?}: {e}");
        assert!(e.message().contains(why), "{path:?}: {e}");
    }
    let _ = std::fs::remove_file(sparse);
}

/// The child half of the SIGPIPE test, run by the parent below in a child process (`--ignored`);
/// ignored otherwise, since on its own it proves nothing.
#[test]
#[ignore = "child process of a_host_without_a_sigpipe_handler_survives_hang_ups_over_https_and_http"]
fn sigpipe_child() {
    assert!(
        std::env::var_os("PIECES_SIGPIPE_CHILD").is_some(),
        "run by a_host_without_a_sigpipe_handler_survives_hang_ups_over_https_and_http, not alone"
    );
    // What a C host that installs no handler has (Rust's runtime set SIG_IGN before main).
    // SAFETY: resetting a signal disposition; no handler function is involved.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let pki = make_pki("sigpipe");
    let ca = write_temp("ca-sigpipe.pem", &pki.ca_pem);
    let big = format!(
        r#"{{"id":"u-1","aesthetics":{{"font":{{"size":14}},"theme":{{"dark":true}}}},"name":"{}"}}"#,
        "x".repeat(16 << 20)
    );
    let https = format!("https://{}", serve_tls(pki.server_config, Mode::HangUp));
    let http = format!("http://{}", serve_plain(Mode::HangUp));
    let mut broken_pipes = 0;
    for url in [&https, &http] {
        let c = client(url, Some(&ca));
        for _ in 0..3 {
            let e = c.update_json(&big).unwrap_err();
            assert!(
                matches!(e.kind(), ErrorKind::Connection | ErrorKind::Tls),
                "{url}: {e}"
            );
            if e.message().contains("Broken pipe") {
                broken_pipes += 1;
            }
        }
    }
    let _ = std::fs::remove_file(ca);
    println!("broken pipes: {broken_pipes}");
}

#[test]
fn a_host_without_a_sigpipe_handler_survives_hang_ups_over_https_and_http() {
    use std::os::unix::process::ExitStatusExt;
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "sigpipe_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("PIECES_SIGPIPE_CHILD", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.signal(),
        None,
        "the child was killed by a signal (13 is SIGPIPE)\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{stdout}");
    // EPIPE is the error that comes with SIGPIPE: seeing it proves the dangerous path was taken.
    let pipes: usize = stdout
        .lines()
        .find_map(|l| l.split("broken pipes: ").nth(1))
        .expect("the child ran")
        .trim()
        .parse()
        .unwrap();
    assert!(
        pipes > 0,
        "no call saw EPIPE: the test proved nothing\n{stdout}"
    );
}
