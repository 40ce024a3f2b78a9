//! pieces_user: a blocking client for the Pieces OS User API, with a C ABI.
//!
//! The Rust API ([`Client`], [`Config`], [`models`], [`Error`]) knows nothing of C; `ffi` translates.
//!
//! # Connect
//!
//! Name the server with [`Config::new`], or let the client find Pieces OS on this machine with
//! [`Config::discover`]. A named server is not contacted until the first call.
//!
//! ```
//! use pieces_user::{Client, Config};
//!
//! # fn main() -> pieces_user::Result<()> {
//! let client = Client::new(Config::new("http://127.0.0.1:39300"))?;
//! assert_eq!(client.base_url(), "http://127.0.0.1:39300");
//!
//! // Options are fields; start from a default and change what you need.
//! let mut config = Config::new("http://127.0.0.1:39300");
//! config.timeout = std::time::Duration::from_secs(5);
//! let _patient = Client::new(config)?;
//! # Ok(())
//! # }
//! ```
//!
//! # Call a route
//!
//! Each route has a typed form ([`models`]) and a JSON form (`*_json`), which sends and returns
//! the documents' text unchanged, after checking it against the model.
//!
//! ```
//! # use std::io::{BufRead, BufReader, Write};
//! # /// A loopback server that answers every request with `body` as JSON.
//! # fn serve(body: &'static str) -> String {
//! #     let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
//! #     let url = format!("http://{}", listener.local_addr().unwrap());
//! #     std::thread::spawn(move || {
//! #         for stream in listener.incoming() {
//! #             let mut stream = stream.unwrap();
//! #             let mut reader = BufReader::new(stream.try_clone().unwrap());
//! #             let mut line = String::new();
//! #             while reader.read_line(&mut line).unwrap() > 2 {
//! #                 line.clear();
//! #             }
//! #             let head = format!(
//! #                 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
//! #                  Content-Length: {}\r\nConnection: close\r\n\r\n",
//! #                 body.len()
//! #             );
//! #             stream.write_all(head.as_bytes()).unwrap();
//! #             stream.write_all(body.as_bytes()).unwrap();
//! #         }
//! #     });
//! #     url
//! # }
//! use pieces_user::{Client, Config};
//!
//! # fn main() -> pieces_user::Result<()> {
//! # let url = serve(r#"{"user":{"id":"u-1","name":"Ada",
//! #     "aesthetics":{"font":{"size":14},"theme":{"dark":true}}}}"#);
//! let client = Client::new(Config::new(url))?;
//!
//! let snapshot = client.snapshot()?;
//! let user = snapshot.user().expect("signed in");
//! assert_eq!(user.name.as_deref(), Some("Ada"));
//! assert!(user.aesthetics.theme.dark);
//!
//! let text = client.snapshot_json()?; // the same document, as the server sent it
//! assert!(text.contains(r#""id":"u-1""#));
//! # Ok(())
//! # }
//! ```
//!
//! # Handle an error
//!
//! Every [`Error`] has a stable [`ErrorKind`] to branch on, a message to show, and where they
//! exist the HTTP status, the server's body, the JSON path of an invalid document and (through
//! [`std::error::Error::source`]) the underlying I/O, TLS or JSON error.
//!
//! ```
//! use pieces_user::{Client, Config, ErrorKind};
//!
//! # fn main() -> pieces_user::Result<()> {
//! # let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
//! let client = Client::new(Config::new(format!("http://127.0.0.1:{port}")))?; // nothing listens
//!
//! // An invalid document is refused before anything is sent, with the place that is wrong.
//! let e = client.update_json(r#"{"id": 5}"#).unwrap_err();
//! assert_eq!(e.kind(), ErrorKind::InvalidDocument);
//! assert_eq!(e.path(), Some("$.id"));
//!
//! match client.snapshot() {
//!     Ok(snapshot) => println!("{:?}", snapshot.user()),
//!     Err(e) if e.kind() == ErrorKind::Connection => println!("is Pieces OS running? {e}"),
//!     Err(e) => return Err(e),
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Follow the user stream
//!
//! [`Client::user_stream_pull`] opens `/user/stream` on a thread of its own, reconnects as
//! needed, and queues [`StreamEvent`]s; [`Client::user_stream`] hands them to a closure instead.
//!
//! ```
//! use std::time::Duration;
//!
//! use pieces_user::stream::Next;
//! use pieces_user::{Client, Config, StreamEvent, StreamOptions};
//!
//! # fn main() -> pieces_user::Result<()> {
//! # let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
//! # let url = format!("http://127.0.0.1:{port}"); // nothing listens: one failed attempt, then stop
//! let client = Client::new(Config::new(url))?;
//! let mut options = StreamOptions::default();
//! options.max_attempts = Some(1); // give up after one failed connection (default: never)
//! let stream = client.user_stream_pull(options)?;
//! loop {
//!     match stream.next(Duration::from_secs(10))? {
//!         Next::Event(StreamEvent::User(profile)) => println!("user: {profile}"),
//!         Next::Event(StreamEvent::SignedOut) => println!("signed out"),
//!         Next::Event(StreamEvent::Error(e)) => println!("stream error: {e}"),
//!         Next::Event(other) => println!("{}: {}", other.name(), other.to_json()),
//!         Next::Timeout => continue,
//!         Next::Ended => break,
//!     }
//! }
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

pub mod client;
pub mod config;
pub mod discovery;
pub mod error;
mod interrupt;
pub mod models;
pub mod schema;
pub mod stream;

mod check;
mod net;
mod process;
mod resolve;
mod tls;
// Unix only; elsewhere ureq's own TCP transport is used (see `client::build_agent`).
#[cfg(unix)]
mod transport;

mod ffi;

pub use client::Client;
pub use config::Config;
pub use discovery::{discover, DiscoveryOptions};
pub use error::{Error, ErrorKind, Result};
pub use interrupt::CancelToken;
pub use stream::{StreamEvent, StreamOptions, UserStream};

// `log-off` (Cargo.toml) must compile the log calls out, not only turn them down: the C library's
// builds rely on it to drop ureq's per-16-byte level checks.
#[cfg(feature = "log-off")]
const _: () = assert!(log::STATIC_MAX_LEVEL as usize == log::LevelFilter::Off as usize);
