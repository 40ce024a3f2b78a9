//! `pieces-user`: the Pieces OS User API from the shell, on the Rust core.

mod args;
mod commands;
mod exit;
mod interrupt;
mod jsontext;
mod output;
mod set;
mod watch;

use std::process::ExitCode;

fn main() -> ExitCode {
    if let Err(e) = interrupt::install() {
        eprintln!("pieces-user: cannot install signal handlers: {e}");
        return ExitCode::from(exit::FAILURE);
    }
    let cli = args::parse();
    match commands::run(cli) {
        Ok(()) => ExitCode::from(exit::OK),
        Err(failure) => {
            if !failure.line.is_empty() {
                eprintln!("pieces-user: {}", failure.line);
            }
            ExitCode::from(failure.status)
        }
    }
}
