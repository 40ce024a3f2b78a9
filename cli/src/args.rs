//! The command line (clap derive). Global options may come before or after the command.

use std::path::PathBuf;
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::exit;

const ABOUT: &str = "The Pieces OS User API from the shell: who is signed in, profile changes, \
and the user stream for status bars.";

const LONG_ABOUT: &str = "The Pieces OS User API from the shell: who is signed in, profile \
changes, and the user stream for status bars.

Without --base-url, Pieces OS is found as the library finds it: PIECES_BASE_URL, then the port \
file, then a scan of ports 39300-39333, then the legacy ports 5323 and 1000.

Output is the JSON text Pieces OS sent, unchanged (unknown keys, key order and numbers kept): \
indented when stdout is a terminal, on one line otherwise. Errors are one line on stderr, \
`pieces-user: <category>: <message>`, with the HTTP status and the JSON path in the message \
when there are some.";

#[derive(Parser, Debug)]
#[command(name = "pieces-user", version, about = ABOUT, long_about = LONG_ABOUT)]
pub struct Cli {
    /// Pieces OS at this URL (e.g. http://127.0.0.1:39300) instead of discovery.
    #[arg(
        long,
        global = true,
        value_name = "URL",
        conflicts_with = "discover_flag"
    )]
    pub base_url: Option<String>,

    /// Find Pieces OS on this machine (the default without --base-url).
    #[arg(long = "discover", id = "discover_flag", global = true)]
    pub discover: bool,

    /// Bound on each REST call, connect included [default: 30].
    #[arg(long, global = true, value_name = "SECONDS", value_parser = parse_seconds)]
    pub timeout: Option<Duration>,

    /// Sent as X-Application-ID.
    #[arg(long, global = true, value_name = "ID")]
    pub application_id: Option<String>,

    /// JSON on one line, even on a terminal.
    #[arg(long, global = true, conflicts_with = "pretty")]
    pub compact: bool,

    /// Indented JSON, even into a pipe.
    #[arg(long, global = true)]
    pub pretty: bool,

    #[command(subcommand)]
    pub command: Command,
}

/// FILE, or `-` for stdin.
#[derive(clap::Args, Debug)]
pub struct Input {
    /// The JSON document: a file, or - for stdin. Checked against its model before it is sent.
    #[arg(value_name = "FILE|-")]
    pub file: PathBuf,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Who is signed in: GET /user, `{"user": {…}}` or `{"user": null}`.
    #[command(after_help = "Example:\n  pieces-user get | jq -r '.user.email // \"signed out\"'")]
    Get,

    /// Fetch the profile afresh: GET /user/refresh.
    #[command(after_help = "Example:\n  pieces-user refresh --pretty")]
    Refresh,

    /// The sign-in providers: GET /user/providers (a local Pieces OS answers 501: exit 6).
    #[command(after_help = "Example:\n  pieces-user providers")]
    Providers,

    /// Sign out: POST /user/clear. Prints nothing.
    #[command(after_help = "Example:\n  pieces-user clear && echo signed out")]
    Clear,

    /// Sign in as an Auth0User document: POST /user/select (Bearer token from PIECES_ACCESS_TOKEN).
    #[command(
        after_help = "Example:\n  PIECES_ACCESS_TOKEN=... pieces-user select auth0-user.json"
    )]
    Select(Input),

    /// Store a whole UserProfile: POST /user/update.
    #[command(
        after_help = "Example:\n  pieces-user get | jq '.user | .aesthetics.theme.dark = false' | pieces-user update -"
    )]
    Update(Input),

    /// Change the vanity name (the document's `vanityname`): POST /user/update/vanity.
    #[command(
        after_help = "Example:\n  pieces-user get | jq '.user | .vanityname = \"ada\"' | pieces-user update-vanity -"
    )]
    UpdateVanity(Input),

    /// Set the beta status with a UserBetaStatus document: POST /user/beta/status.
    #[command(
        after_help = "Example:\n  echo '{\"user\": \"<id>\", \"beta\": true}' | pieces-user beta-status -"
    )]
    BetaStatus(Input),

    /// Change fields of the signed-in profile by dotted path, keeping everything else.
    ///
    /// Reads the profile (GET /user), sets each KEY to VALUE (missing objects are created), checks the
    /// result and stores it (POST /user/update; POST /user/update/vanity when a KEY is `vanityname`,
    /// the route that checks the name is free). VALUE is JSON when it parses as JSON (true, 42, "x",
    /// {...}), else a string. Prints the stored profile. Nobody signed in: exit 9.
    #[command(
        after_help = "Examples:\n  pieces-user set aesthetics.theme.dark=true\n  pieces-user set vanityname=ada name='\"Ada Lovelace\"'"
    )]
    Set {
        #[arg(required = true, value_name = "KEY=VALUE")]
        assignments: Vec<String>,
    },

    /// The user stream, one line per event, flushed at once, until Ctrl-C/SIGTERM or --count.
    ///
    /// NDJSON: {"event":"connected","url":…}, {"event":"user","user":{…}}, {"event":"signed_out"},
    /// {"event":"error","kind":…,"message":…,"path":…}, {"event":"disconnected","reason":…},
    /// {"event":"reconnecting","attempt":N,"delay_ms":N}, {"event":"overflow","dropped":N}.
    /// The stream reconnects on its own for ever. A user state (`user` or `signed_out`) is printed
    /// only when it differs from the one before: each is a change. With --format, one plain line
    /// per user state instead: the template for a user, --signed-out-text when nobody is signed in.
    /// SIGINT ends it with status 130, SIGTERM with 143, after a complete line.
    #[command(
        after_help = "Examples:\n  pieces-user watch --format '{name} <{email}>' --signed-out-text 'signed out'\n  pieces-user watch --count 1 | jq .user.name"
    )]
    Watch {
        /// Exit (0) after N user states (the first is the current one: 2 waits for the next change).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
        count: Option<u64>,

        /// One plain line per user state: {dotted.path} fields of the profile (missing: empty),
        /// {{ and }} for braces.
        #[arg(long, value_name = "TEMPLATE")]
        format: Option<String>,

        /// The line printed with --format when nobody is signed in.
        #[arg(long, value_name = "TEXT", default_value = "", requires = "format")]
        signed_out_text: String,
    },

    /// Print the base URL of the running Pieces OS (discovery, ignoring --base-url).
    #[command(after_help = "Example:\n  curl \"$(pieces-user discover)/.well-known/version\"")]
    Discover {
        /// List where Pieces OS was looked for, on stderr.
        #[arg(long, short)]
        verbose: bool,
    },

    /// Print a shell completion script.
    #[command(
        after_help = "Example:\n  pieces-user completions bash > ~/.local/share/bash-completion/completions/pieces-user"
    )]
    Completions {
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
}

const EXAMPLES: &str = "Examples:
  pieces-user get
  pieces-user set aesthetics.theme.dark=true
  pieces-user watch --format '{name} <{email}>' --signed-out-text 'signed out'
  pieces-user --base-url http://127.0.0.1:39300 refresh --pretty";

/// The clap command with the exit status table after every help text.
pub fn command() -> clap::Command {
    let table = exit::help_text();
    Cli::command()
        .after_help(format!("{EXAMPLES}\n\n{table}"))
        .mut_subcommands(|sub| {
            let help = match sub.get_after_help() {
                Some(example) => format!("{example}\n\n{table}"),
                None => table.clone(),
            };
            sub.after_help(help)
        })
}

/// Parses the arguments; `--help`, `--version` and usage errors end the process (status 0 or 2).
pub fn parse() -> Cli {
    let matches = command().get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

fn parse_seconds(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if !(0.001..=86_400.0).contains(&seconds) {
        return Err("the timeout must be between 0.001 and 86400 seconds".into());
    }
    Ok(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_is_well_formed() {
        command().debug_assert();
    }

    #[test]
    fn timeouts() {
        assert_eq!(parse_seconds("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_seconds("0").is_err());
        assert!(parse_seconds("NaN").is_err());
        assert!(parse_seconds("1e9").is_err());
    }
}
