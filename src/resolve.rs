//! Host resolution for the HTTP agent.
//!
//! ureq resolves the host on every call, before it looks in its connection pool, and with a timeout
//! set it does so on a freshly spawned thread. That costs more than the whole loopback round trip.
//! Pieces OS lives at an IP literal or `localhost`, neither of which needs a resolver, so those are
//! answered here; any other name goes to ureq's default resolver, timeout and all.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

#[derive(Debug, Default)]
pub(crate) struct LoopbackFirstResolver {
    fallback: DefaultResolver,
}

impl Resolver for LoopbackFirstResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        match literal_addrs(uri) {
            Some(addrs) => {
                let mut out = self.empty();
                for addr in addrs {
                    out.push(addr);
                }
                Ok(out)
            }
            None => self.fallback.resolve(uri, config, timeout),
        }
    }
}

/// The addresses of an IP-literal or `localhost` URI, or None when a real lookup is needed.
fn literal_addrs(uri: &Uri) -> Option<Vec<SocketAddr>> {
    let host = uri.host()?;
    let port = uri.port_u16().or_else(|| match uri.scheme_str() {
        Some("https") | Some("wss") => Some(443),
        Some("http") | Some("ws") => Some(80),
        _ => None,
    })?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Some(vec![SocketAddr::new(ip, port)]);
    }
    // RFC 6761: localhost is always loopback; asking DNS would only add time (and a leak).
    if host.eq_ignore_ascii_case("localhost") {
        return Some(vec![
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port),
        ]);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(uri: &str) -> Option<Vec<SocketAddr>> {
        literal_addrs(&uri.parse::<Uri>().unwrap())
    }

    #[test]
    fn literals_and_localhost_need_no_lookup() {
        assert_eq!(
            addrs("http://127.0.0.1:39300/user"),
            Some(vec!["127.0.0.1:39300".parse().unwrap()])
        );
        assert_eq!(
            addrs("http://[::1]:1000/"),
            Some(vec!["[::1]:1000".parse().unwrap()])
        );
        assert_eq!(
            addrs("http://LocalHost:1000/"),
            Some(vec![
                "127.0.0.1:1000".parse().unwrap(),
                "[::1]:1000".parse().unwrap()
            ])
        );
        assert_eq!(
            addrs("https://127.0.0.1/"),
            Some(vec!["127.0.0.1:443".parse().unwrap()])
        );
    }

    #[test]
    fn other_names_go_to_the_real_resolver() {
        assert_eq!(addrs("http://pieces.example:1000/"), None);
    }
}
