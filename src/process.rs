//! A client and its streams belong to the process that created them, as libcurl's handles do.
//!
//! After `fork()` the child has copies of their sockets (shared with the parent: a request from the
//! child would interleave with the parent's on one connection) and none of their threads (a stream's
//! thread exists only in the parent; joining it panics). So every operation first compares the
//! creating process id with the current one; in another process it fails with
//! [`ErrorKind::WrongProcess`] before touching a lock, a socket or a thread. No `pthread_atfork`
//! handler and no process-wide registration.
//!
//! On Linux the check reads the process id from a page of memory that the kernel empties in a
//! forked child (`MADV_WIPEONFORK`, Linux 4.14), instead of asking the kernel for it: `getpid()` is
//! a system call, about 0.15 µs here, on every call. Elsewhere, or when the kernel refuses the
//! page, each check calls `getpid()`.

use crate::error::{Error, ErrorKind, Result};

/// The process that created a client or a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Owner(u32);

impl Owner {
    pub(crate) fn current() -> Owner {
        Owner(current_id())
    }

    pub(crate) fn is_current(self) -> bool {
        self.0 == current_id()
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

/// This process's id.
fn current_id() -> u32 {
    #[cfg(target_os = "linux")]
    if let Some(cell) = wipe_on_fork::cell() {
        use std::sync::atomic::Ordering::Relaxed;
        // Zero: the page is new, or emptied by a fork since the id was written.
        return match cell.load(Relaxed) {
            0 => {
                let id = std::process::id();
                cell.store(id, Relaxed);
                id
            }
            id => id,
        };
    }
    std::process::id()
}

#[cfg(target_os = "linux")]
mod wipe_on_fork {
    use std::ptr;
    use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, Ordering};

    /// The page, mapped on first use and never unmapped: one page for the life of the process.
    static PAGE: AtomicPtr<AtomicU32> = AtomicPtr::new(ptr::null_mut());
    /// The kernel refused the page or the advice: each check asks for the id instead.
    static REFUSED: AtomicBool = AtomicBool::new(false);

    /// The cell that holds the process id, or 0 in a child forked since it was written.
    pub(super) fn cell() -> Option<&'static AtomicU32> {
        let mut page = PAGE.load(Ordering::Acquire);
        if page.is_null() {
            if REFUSED.load(Ordering::Relaxed) {
                return None;
            }
            page = install()?;
        }
        // SAFETY: `page` is a live, writable, page-aligned mapping that is never unmapped.
        Some(unsafe { &*page })
    }

    /// Maps the page and publishes it. No lock (a `OnceLock` being set by another thread when the
    /// process forks would leave the child waiting for a thread it does not have): threads that
    /// race each map a page, one is kept and the others are unmapped.
    fn install() -> Option<*mut AtomicU32> {
        let Some(mine) = map() else {
            REFUSED.store(true, Ordering::Relaxed);
            return None;
        };
        match PAGE.compare_exchange(ptr::null_mut(), mine, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => Some(mine),
            Err(theirs) => {
                // SAFETY: `mine` was mapped just now by `map`, with this size, and never shared.
                unsafe { libc::munmap(mine.cast(), page_size()) };
                Some(theirs)
            }
        }
    }

    fn map() -> Option<*mut AtomicU32> {
        let size = page_size();
        // SAFETY: a new private anonymous mapping; nothing else refers to it.
        unsafe {
            let page = libc::mmap(
                ptr::null_mut(),
                size,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            if page == libc::MAP_FAILED {
                return None;
            }
            if libc::madvise(page, size, libc::MADV_WIPEONFORK) != 0 {
                libc::munmap(page, size);
                return None;
            }
            Some(page.cast())
        }
    }

    fn page_size() -> usize {
        // SAFETY: sysconf has no preconditions.
        usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096)
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

    /// The child of a fork must not read its parent's id from the page; it reads its own, and a
    /// client of the parent fails the check there while one made in the child passes.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_forked_child_sees_its_own_id_not_the_parents() {
        let parent = Owner::current();
        assert_eq!(parent.0, std::process::id());
        if wipe_on_fork::cell().is_none() {
            // Still worth running: the fallback, getpid(), must give the same verdicts.
            eprintln!("note: the kernel refused MADV_WIPEONFORK; checking the getpid() fallback");
        }
        // SAFETY: the child only reads and writes memory, calls getpid and _exit: no allocation
        // and no lock, so the other test threads the fork did not copy cannot be waited for.
        let child = unsafe { libc::fork() };
        assert!(child >= 0, "fork failed");
        if child == 0 {
            // SAFETY: getpid has no preconditions.
            let own = unsafe { libc::getpid() } as u32;
            let mut code = 0;
            if current_id() != own || Owner::current().0 != own {
                code |= 1;
            }
            if parent.is_current() {
                code |= 2;
            }
            // SAFETY: ends the child without running the parent's exit handlers or test harness.
            unsafe { libc::_exit(code) };
        }
        let mut status = 0;
        // SAFETY: waits for the child forked above.
        assert_eq!(unsafe { libc::waitpid(child, &mut status, 0) }, child);
        assert!(libc::WIFEXITED(status));
        assert_eq!(
            libc::WEXITSTATUS(status),
            0,
            "1: the child read another id than its own; 2: the parent's owner passed in the child"
        );
        assert!(parent.is_current(), "the parent's page was wiped");
    }
}
