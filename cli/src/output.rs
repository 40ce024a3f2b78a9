//! Everything written to stdout goes through here, whole lines under one lock, so that an interrupt
//! (which takes the same lock before it ends the process) never cuts a line or a document in half.

use std::io::{self, IsTerminal, Write};
use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};
use std::thread;
use std::time::{Duration, Instant};

use crate::jsontext::{self, Style};

static OUTPUT: Mutex<()> = Mutex::new(());

/// Held while a line or document is written; nothing is mid-write while it is held by someone else.
pub fn lock() -> MutexGuard<'static, ()> {
    OUTPUT.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The lock when it comes free within `patience`, else `None`: a line can be stuck in a write to a
/// pipe whose reader has stopped reading, and an interrupt must not wait for that for ever.
pub fn lock_within(patience: Duration) -> Option<MutexGuard<'static, ()>> {
    let deadline = Instant::now() + patience;
    loop {
        match OUTPUT.try_lock() {
            Ok(guard) => return Some(guard),
            Err(TryLockError::Poisoned(e)) => return Some(e.into_inner()),
            Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(5));
            }
            Err(TryLockError::WouldBlock) => return None,
        }
    }
}

/// Pretty on a terminal, compact into a pipe or file, unless forced.
pub fn style(compact: bool, pretty: bool) -> Style {
    if compact {
        Style::Compact
    } else if pretty || io::stdout().is_terminal() {
        Style::Pretty
    } else {
        Style::Compact
    }
}

/// A JSON document (text validated by the core), re-indented without changing a value.
pub fn document(text: &str, style: Style) -> io::Result<()> {
    line(&jsontext::reformat(text, style))
}

/// One line, flushed at once: a status bar or `while read` loop sees it now, not at exit.
pub fn line(text: &str) -> io::Result<()> {
    let _whole = lock();
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.write_all(b"\n")?;
    out.flush()
}
