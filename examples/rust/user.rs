//! Every User API route from Rust, typed and as JSON text.
//!
//!     cargo run --example user -- http://127.0.0.1:PORT     (or no argument: discover Pieces OS)

use pieces_user::{Client, Config, ErrorKind};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = match std::env::args().nth(1) {
        Some(url) => Config::new(url),
        None => Config::discover(),
    };
    let client = Client::new(config)?;
    println!("talking to {}", client.base_url());

    // Typed: the models are plain structs; unknown keys ride along in `extra`.
    let snapshot = client.snapshot()?;
    let Some(mut me) = snapshot.user().cloned() else {
        println!("nobody is signed in");
        return Ok(());
    };
    println!(
        "signed in: {} ({})",
        me.name.as_deref().unwrap_or("?"),
        me.id
    );

    me.aesthetics.theme.dark = !me.aesthetics.theme.dark;
    let stored = client.update(&me)?;
    println!("dark mode is now {}", stored.aesthetics.theme.dark);

    // Errors carry a stable kind, the HTTP status and the server's text.
    me.vanityname = Some("taken".into());
    match client.update_vanity(&me) {
        Err(e) if e.kind() == ErrorKind::Conflict => println!("vanity name taken: {e}"),
        other => println!("vanity: {:?}", other.map(|p| p.vanityname)),
    }
    match client.providers() {
        Err(e) => println!("providers: {} (status {:?})", e.kind(), e.status()),
        Ok(p) => println!("providers: {:?}", p.user().map(|u| &u.providers)),
    }

    // JSON text: sent and returned byte for byte, validated on the way.
    println!("refresh: {} bytes of JSON", client.refresh_json()?.len());
    match client.update_json(r#"{"id": 5}"#) {
        Err(e) => println!("refused before sending: {e} (path {:?})", e.path()),
        Ok(_) => unreachable!("an invalid document is never sent"),
    }
    Ok(())
}
