//! Everything written to stdout goes through here, whole lines under one lock, so that an interrupt
//! (which takes the same lock before it ends the process) never cuts a line or a document in half.

use std::io::{self, IsTerminal, Write};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::jsontext::{self, Style};

static OUTPUT: Mutex<()> = Mutex::new(());

/// Held while a line or document is written; nothing is mid-write while it is held by someone else.
pub fn lock() -> MutexGuard<'static, ()> {
    OUTPUT.lock().unwrap_or_else(PoisonError::into_inner)
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
