//! A client and its streams belong to the process that created them, as libcurl's handles do.
//!
//! After `fork()` the child has copies of their sockets (shared with the parent: a request from the
//! child would interleave with the parent's on one connection) and none of their threads (a stream's
//! thread exists only in the parent; joining it panics). So every operation first compares the
//! creating process id with the current one; in another process it fails with
//! [`ErrorKind::WrongProcess`] before touching a lock, a socket or a thread. No `pthread_atfork`
//! handler and no process-wide registration: the check costs one `getpid()`.

use crate::error::{Error, ErrorKind, Result};

/// The process that created a client or a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Owner(u32);

impl Owner {
    pub(crate) fn current() -> Owner {
        Owner(std::process::id())
    }

    pub(crate) fn is_current(self) -> bool {
        self.0 == std::process::id()
    }

    /// `what` is "client" or "stream", for the message.
    pub(crate) fn check(self, what: &str) -> Result<()> {
        if self.is_current() {
            return Ok(());
        }
        Err(Error::new(
            ErrorKind::WrongProcess,
            format!(
                "the {what} was created by another process (pid {}) and inherited across fork; \
                 it cannot be used here (pid {}): create a new one in this process",
                self.0,
                std::process::id()
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_creating_process_passes_and_another_fails_with_a_clear_message() {
        assert!(Owner::current().check("client").is_ok());
        let other = Owner(std::process::id().wrapping_add(1));
        let e = other.check("stream").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::WrongProcess);
        assert!(e.message().contains("another process"), "{}", e.message());
        assert!(e.message().contains("create a new one"), "{}", e.message());
    }
}
