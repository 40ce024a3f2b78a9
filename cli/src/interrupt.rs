//! Ctrl-C and SIGTERM end any command at once, including one blocked in a REST call or a stream.
//!
//! The signal thread ends the process itself, between two lines of output (never inside one). A
//! command owns its process, so ending it is the quickest and surest interrupt: every socket closes
//! with it. The library's own interrupt (`Client::interrupt`, `CancelToken`) is for hosts that must
//! live on after cancelling a call; a command has nothing left to do once interrupted.

use std::io;
use std::thread;
use std::time::Duration;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::exit;
use crate::output;

/// Installs the handlers and starts the thread that waits for them. Called first thing in `main`.
pub fn install() -> io::Result<()> {
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                on_interrupt(signal);
            }
        })?;
    Ok(())
}

/// A line being written is finished first, unless its write is stuck this long (a reader that
/// stopped reading): then the process ends anyway.
const LINE_PATIENCE: Duration = Duration::from_secs(1);

/// Ends the process with 130 (SIGINT) or 143 (SIGTERM), once no line is being written: output so far
/// is complete lines only, and nothing more follows. A REST call in flight is abandoned (a POST may
/// or may not have reached Pieces OS, exactly as with a lost connection).
fn on_interrupt(signal: i32) -> ! {
    let _no_more_output = output::lock_within(LINE_PATIENCE);
    let status = if signal == SIGTERM {
        exit::SIGTERM
    } else {
        exit::SIGINT
    };
    std::process::exit(i32::from(status))
}
