//! Trust roots for https:// and wss://: the certificates in `tls_ca_file` when it is set (a local
//! Pieces OS behind a private CA, or a test CA), otherwise the webpki set.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use crate::config::MAX_CA_FILE_BYTES;
use crate::error::{Error, ErrorKind, Result};

/// The certificates of a PEM file; an unreadable file, or one without a certificate, is an error.
pub(crate) fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    // The path comes from the caller and may be anything, even megabytes: quote it shortened.
    let shown = crate::error::elide_middle(&path.display().to_string(), 200);
    let bad = |why: String| {
        Error::new(
            ErrorKind::InvalidArgument,
            format!("tls_ca_file {shown}: {why}"),
        )
    };
    let pem = read_bounded(path).map_err(bad)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("not PEM: {e}")))?;
    if certs.is_empty() {
        return Err(bad("holds no certificate".into()));
    }
    Ok(certs)
}

/// The file's bytes, if it is a regular file of at most [`MAX_CA_FILE_BYTES`].
fn read_bounded(path: &Path) -> std::result::Result<Vec<u8>, String> {
    use std::io::Read;
    // Checked before opening too: opening a FIFO would wait for a writer.
    let regular = |m: std::fs::Metadata| match m.is_file() {
        true => Ok(m),
        false => Err("not a regular file".to_string()),
    };
    regular(std::fs::metadata(path).map_err(|e| e.to_string())?)?;
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let metadata = regular(file.metadata().map_err(|e| e.to_string())?)?;
    let too_big = || format!("larger than {MAX_CA_FILE_BYTES} bytes");
    if metadata.len() > MAX_CA_FILE_BYTES {
        return Err(too_big());
    }
    // The size may change between the check and the read: the read is bounded too.
    let mut pem = Vec::with_capacity(metadata.len() as usize);
    file.take(MAX_CA_FILE_BYTES + 1)
        .read_to_end(&mut pem)
        .map_err(|e| e.to_string())?;
    if pem.len() as u64 > MAX_CA_FILE_BYTES {
        return Err(too_big());
    }
    Ok(pem)
}

/// A rustls client configuration (ring, TLS 1.2 and 1.3) trusting `ca_file` or the webpki roots.
pub(crate) fn client_config(ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            for cert in read_ca_file(path)? {
                roots.add(cert).map_err(|e| {
                    Error::new(
                        ErrorKind::InvalidArgument,
                        format!("tls_ca_file {}: {e}", path.display()),
                    )
                })?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::new(ErrorKind::Tls, format!("TLS setup: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The rustls error inside an I/O error, if that is what it is: rustls reports bad certificates and
/// failed handshakes through `io::Error`, which would otherwise read as a connection problem.
pub(crate) fn tls_failure(e: &std::io::Error) -> Option<&rustls::Error> {
    e.get_ref()?.downcast_ref::<rustls::Error>()
}

/// A TLS failure as the library reports it. A message that is not TLS at all is most often a plain
/// HTTP server behind an https:// URL (its "HTTP/1.1 400" is not a TLS record); say so, as
/// rustls's words alone do not.
pub(crate) fn tls_error(e: &rustls::Error) -> Error {
    let hint = match e {
        rustls::Error::InvalidMessage(_) => {
            " (the server does not speak TLS: is it a plain http:// server?)"
        }
        _ => "",
    };
    Error::new(ErrorKind::Tls, format!("TLS: {e}{hint}")).with_source(e.clone())
}
