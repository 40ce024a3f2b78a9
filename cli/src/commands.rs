//! Each command: build the client, call the core, print the text it returns.

use std::io::{self, Read};
use std::path::Path;

use pieces_user::discovery::{self, ENV_BASE_URL};
use pieces_user::{Client, Config, DiscoveryOptions};

use crate::args::{Cli, Command, Input};
use crate::exit::{self, Failure};
use crate::jsontext::{self, Style};
use crate::output;
use crate::set;
use crate::watch::{self, Printer, Template};

/// The Bearer token for /user/select comes from the environment, not the command line (where
/// every user of the machine could read it in the process list).
const ENV_ACCESS_TOKEN: &str = "PIECES_ACCESS_TOKEN";

pub fn run(cli: Cli) -> Result<(), Failure> {
    let style = output::style(cli.compact, cli.pretty);
    let config = config(&cli);
    // Arguments are checked before anything is sent or read from stdin.
    match cli.command {
        Command::Discover { verbose } => discover(verbose),
        Command::Completions { shell } => completions(shell),
        Command::Set { assignments } => {
            let assignments = parse_assignments(&assignments)?;
            let client = Client::new(config)?;
            print(set_fields(&client, &assignments)?, style)
        }
        Command::Watch {
            count,
            format,
            signed_out_text,
        } => {
            let printer = printer(format, signed_out_text)?;
            watch::run(&Client::new(config)?, &printer, count)
        }
        rest => call(&Client::new(config)?, rest, style),
    }
}

/// The commands that are one REST call.
fn call(client: &Client, command: Command, style: Style) -> Result<(), Failure> {
    let text = match command {
        Command::Get => client.snapshot_json()?,
        Command::Refresh => client.refresh_json()?,
        Command::Providers => client.providers_json()?,
        Command::Clear => return Ok(client.clear()?),
        Command::Select(input) => client.select_json(&read_input(&input)?)?,
        Command::Update(input) => client.update_json(&read_input(&input)?)?,
        Command::UpdateVanity(input) => client.update_vanity_json(&read_input(&input)?)?,
        Command::BetaStatus(input) => client.beta_status_json(&read_input(&input)?)?,
        other => return Err(Failure::usage(format!("{other:?} is not a REST call"))),
    };
    print(text, style)
}

fn print(text: String, style: Style) -> Result<(), Failure> {
    output::document(&text, style).map_err(|e| Failure::output(&e))
}

fn config(cli: &Cli) -> Config {
    let mut config = match &cli.base_url {
        Some(url) => Config::new(url.as_str()),
        None => Config::discover(),
    };
    if let Some(timeout) = cli.timeout {
        config.timeout = timeout;
        config.connect_timeout = config.connect_timeout.min(timeout);
    }
    config.application_id = cli.application_id.clone();
    config.access_token = std::env::var(ENV_ACCESS_TOKEN)
        .ok()
        .filter(|t| !t.is_empty());
    config
}

/// The document named by FILE, or stdin for `-`.
fn read_input(input: &Input) -> Result<String, Failure> {
    let mut bytes = Vec::new();
    let (name, result) = if input.file == Path::new("-") {
        (
            "stdin".to_string(),
            io::stdin().lock().read_to_end(&mut bytes),
        )
    } else {
        let name = input.file.display().to_string();
        (
            name,
            std::fs::File::open(&input.file).and_then(|mut f| f.read_to_end(&mut bytes)),
        )
    };
    result.map_err(|e| Failure::usage(format!("cannot read {name}: {e}")))?;
    String::from_utf8(bytes).map_err(|_| {
        Failure::new(
            exit::INVALID_DOCUMENT,
            "malformed_json",
            format!("$: {name} is not UTF-8"),
        )
    })
}

fn parse_assignments(args: &[String]) -> Result<Vec<set::Assignment>, Failure> {
    args.iter().map(|arg| set::parse(arg)).collect()
}

/// Reads the profile, applies every assignment to its text and stores it; returns what was stored.
fn set_fields(client: &Client, assignments: &[set::Assignment]) -> Result<String, Failure> {
    let snapshot = client.snapshot_json()?;
    let root = jsontext::root(&snapshot);
    let user = jsontext::member(&snapshot, &root, "user")
        .filter(|span| &snapshot[span.clone()] != "null")
        .ok_or_else(|| {
            Failure::new(
                exit::SIGNED_OUT,
                "signed_out",
                "nobody is signed in to Pieces OS: nothing to set",
            )
        })?;
    let mut profile = snapshot[user].to_string();
    for assignment in assignments {
        profile = set::apply(&profile, assignment)?;
    }
    let vanity = assignments.iter().any(|a| a.path == ["vanityname"]);
    Ok(if vanity {
        client.update_vanity_json(&profile)?
    } else {
        client.update_json(&profile)?
    })
}

fn printer(format: Option<String>, signed_out_text: String) -> Result<Printer, Failure> {
    Ok(match format {
        Some(template) => Printer::Template {
            template: Template::parse(&template)?,
            signed_out: signed_out_text,
        },
        None => Printer::Events,
    })
}

/// The URL on stdout; with `verbose`, the places searched, in order, on stderr.
fn discover(verbose: bool) -> Result<(), Failure> {
    let options = DiscoveryOptions::default();
    if verbose {
        for place in places(&options) {
            eprintln!("pieces-user: discover: {place}");
        }
    }
    let url = discovery::discover(&options)?;
    if verbose {
        eprintln!("pieces-user: discover: found {url}");
    }
    output::line(&url).map_err(|e| Failure::output(&e))
}

/// What discovery will look at. The core reports what each probe found only when all failed (in the
/// not_running message); a successful search tells only the winner.
fn places(options: &DiscoveryOptions) -> Vec<String> {
    if let Some(url) = &options.env_base_url {
        return vec![format!("{ENV_BASE_URL}={url} (used as is, nothing probed)")];
    }
    let mut places = vec![format!("{ENV_BASE_URL}: not set")];
    places.push(match &options.port_file {
        Some(path) => format!("port file {}: {}", path.display(), port_file_text(path)),
        None => "port file: none (no home directory)".to_string(),
    });
    let (first, last) = options.ports;
    places.push(format!(
        "ports {first}-{last} on {}, lowest healthy wins",
        options.host
    ));
    let legacy: Vec<String> = options.legacy_ports.iter().map(u16::to_string).collect();
    places.push(format!("legacy ports {}", legacy.join(", ")));
    places
}

/// The start of the port file, quoted: a port is a few bytes, and a wrong path (a device, a huge
/// file) must cost nothing, as in the core.
fn port_file_text(path: &Path) -> String {
    let mut text = Vec::new();
    match std::fs::File::open(path).and_then(|f| f.take(64).read_to_end(&mut text)) {
        Ok(_) => format!("{:?}", String::from_utf8_lossy(&text).trim()),
        Err(e) => e.to_string(),
    }
}

fn completions(shell: clap_complete::Shell) -> Result<(), Failure> {
    let mut script = Vec::new();
    clap_complete::generate(
        shell,
        &mut crate::args::command(),
        "pieces-user",
        &mut script,
    );
    output::line(String::from_utf8_lossy(&script).trim_end()).map_err(|e| Failure::output(&e))
}
