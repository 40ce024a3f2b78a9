//! Loopback ports for tests and benchmarks that need several consecutive free ones.

#![allow(dead_code)]

use std::net::TcpListener;

/// `n` consecutive free loopback ports, all bound (so nobody takes them meanwhile). Drop a listener
/// to make its port refuse; hand it to a server to serve on it.
pub fn free_range(n: u16) -> Vec<TcpListener> {
    for _ in 0..200 {
        let first = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = first.local_addr().unwrap().port();
        if base.checked_add(n).is_none() {
            continue;
        }
        let mut all = vec![first];
        for port in base + 1..base + n {
            match TcpListener::bind(("127.0.0.1", port)) {
                Ok(l) => all.push(l),
                Err(_) => break,
            }
        }
        if all.len() == usize::from(n) {
            return all;
        }
    }
    panic!("no {n} consecutive free ports");
}
