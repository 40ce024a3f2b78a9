//! TCP helpers shared by the HTTP transport and the stream's WebSocket connection.

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// True for the error of a read, write or connect that ran out of time (a socket timeout reads
/// as `WouldBlock` on Unix).
pub(crate) fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Connects to the first of `addrs` that accepts, trying them in order. The time before
/// `deadline` (`None`: no limit) is shared between the addresses left, so one silent address
/// cannot use up the others' budget. `connect` makes one attempt by the deadline it is given;
/// `give_up` is asked after each failure (an interrupted call stops there, with that error).
///
/// Fails with the last attempt's error, `TimedOut` when the budget ran out before an attempt,
/// or `NotFound` when there is no address at all.
pub(crate) fn connect_first(
    addrs: &[SocketAddr],
    deadline: Option<Instant>,
    give_up: impl Fn() -> bool,
    mut connect: impl FnMut(&SocketAddr, Option<Instant>) -> io::Result<TcpStream>,
) -> io::Result<TcpStream> {
    let mut last = None;
    for (i, addr) in addrs.iter().enumerate() {
        let share = deadline.map(|d| {
            let left = d.saturating_duration_since(Instant::now());
            (left, Instant::now() + left / (addrs.len() - i) as u32)
        });
        let attempt = match share {
            Some((left, _)) if left.is_zero() => return Err(io::ErrorKind::TimedOut.into()),
            Some((_, by)) => connect(addr, Some(by)),
            None => connect(addr, None),
        };
        match attempt {
            Ok(stream) => return Ok(stream),
            Err(e) if give_up() => return Err(e),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address")))
}

/// Keeps the socket timeout at most `left` (so no read or write outlives the deadline) and at least
/// half of it (so early wake-ups stay rare), touching the socket only when that band is left. It is
/// set to 90% of the time left: the next call's full budget, measured a moment later, still fits.
pub(crate) fn ensure_timeout(
    current: &mut Option<Duration>,
    left: Option<Duration>,
    apply: impl FnOnce(Option<Duration>) -> io::Result<()>,
) -> io::Result<()> {
    let fits = match (*current, left) {
        (None, None) => true,
        (Some(cur), Some(left)) => cur <= left && cur >= left / 2,
        _ => false,
    };
    if !fits {
        let want = left.map(|l| (l * 9 / 10).max(Duration::from_micros(1)));
        apply(want)?;
        *current = want;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::time::Duration;

    #[test]
    fn the_first_address_that_accepts_wins_and_the_budget_is_shared() {
        let refused = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let open = TcpListener::bind("127.0.0.1:0").unwrap();
        let addrs = [refused, open.local_addr().unwrap()];
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut given = Vec::new();
        let stream = connect_first(
            &addrs,
            Some(deadline),
            || false,
            |addr, by| {
                given.push(by.unwrap());
                TcpStream::connect(addr)
            },
        )
        .unwrap();
        assert_eq!(stream.peer_addr().unwrap(), addrs[1]);
        // The first of two addresses gets about half of the budget, not all of it.
        assert!(given[0] < deadline - Duration::from_secs(20), "{given:?}");
    }

    #[test]
    fn failures_give_the_last_error_or_stop_when_told() {
        let refused = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let e = connect_first(
            &[refused, refused],
            None,
            || false,
            |a, _| TcpStream::connect(a),
        )
        .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
        let mut tries = 0;
        let _ = connect_first(
            &[refused, refused],
            None,
            || true,
            |a, _| {
                tries += 1;
                TcpStream::connect(a)
            },
        );
        assert_eq!(tries, 1);
        let e = connect_first(&[], None, || false, |a, _| TcpStream::connect(a)).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        let past = Instant::now() - Duration::from_millis(1);
        let e = connect_first(
            &[refused],
            Some(past),
            || false,
            |a, _| TcpStream::connect(a),
        )
        .unwrap_err();
        assert!(is_timeout(&e), "{e}");
    }
}
