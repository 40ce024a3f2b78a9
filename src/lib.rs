//! pieces_user: a blocking client for the Pieces OS User API, with a C ABI.
//!
//! The Rust API ([`Client`], [`Config`], [`models`], [`Error`]) knows nothing of C; `ffi` translates.

pub mod client;
pub mod config;
pub mod discovery;
pub mod error;
mod interrupt;
pub mod models;
pub mod schema;
pub mod stream;

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
