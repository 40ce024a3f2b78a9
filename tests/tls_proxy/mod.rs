//! TLS in front of a plain loopback server, for https:// and wss:// tests: a throwaway CA (written
//! to a PEM file the client config can name) and a proxy that terminates TLS and pipes the bytes to
//! the target. Putting it in front of the stand-in tests both HTTPS calls and the WSS stream.

#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A CA and a certificate it signed for 127.0.0.1 and localhost.
pub struct TestPki {
    pub ca_file: PathBuf,
    server: Arc<rustls::ServerConfig>,
    _dir: TempDir,
}

impl TestPki {
    pub fn new() -> TestPki {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "pieces_user test CA");
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();

        let leaf_key = KeyPair::generate().unwrap();
        let leaf_params =
            CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
        let leaf = leaf_params.signed_by(&leaf_key, &ca).unwrap();

        let dir = TempDir::new();
        let ca_file = dir.0.join("ca.pem");
        std::fs::write(&ca_file, ca.pem()).unwrap();

        let chain = vec![leaf.der().clone(), CertificateDer::from(ca.der().to_vec())];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
        TestPki {
            ca_file,
            server: Arc::new(server),
            _dir: dir,
        }
    }

    /// Starts a TLS proxy to `target` (an `http://127.0.0.1:PORT` URL); returns its `https://` URL.
    pub fn proxy(&self, target: &str) -> String {
        let target: SocketAddr = target.trim_start_matches("http://").parse().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("https://{}", listener.local_addr().unwrap());
        let config = self.server.clone();
        thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let config = config.clone();
                thread::spawn(move || {
                    let _ = relay(client, target, config);
                });
            }
        });
        url
    }
}

/// One connection: TLS on the client side, plain TCP to the target, bytes both ways until either closes.
fn relay(
    client: TcpStream,
    target: SocketAddr,
    config: Arc<rustls::ServerConfig>,
) -> io::Result<()> {
    let upstream = TcpStream::connect(target)?;
    let conn = rustls::ServerConnection::new(config).map_err(io::Error::other)?;
    let mut tls = rustls::StreamOwned::new(conn, client);
    // Short read timeouts let one thread serve both directions without a second TLS handle.
    tls.sock.set_read_timeout(Some(Duration::from_millis(5)))?;
    upstream.set_read_timeout(Some(Duration::from_millis(5)))?;
    let mut upstream_r = upstream.try_clone()?;
    let mut upstream_w = upstream;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match tls.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => upstream_w.write_all(&buf[..n])?,
            Err(e) if is_timeout(&e) => {}
            Err(_) => break,
        }
        match upstream_r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                tls.write_all(&buf[..n])?;
                tls.flush()?;
            }
            Err(e) if is_timeout(&e) => {}
            Err(_) => break,
        }
    }
    let _ = upstream_w.shutdown(Shutdown::Both);
    tls.conn.send_close_notify();
    let _ = tls.flush();
    Ok(())
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "pieces-tls-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
