//! pieces_user: a blocking client for the Pieces OS User API, with a C ABI.
//!
//! The Rust API ([`Client`], [`Config`], [`models`], [`Error`]) knows nothing of C; `ffi` translates.

pub mod client;
pub mod config;
pub mod discovery;
pub mod error;
pub mod models;
pub mod schema;
pub mod stream;

mod process;
mod resolve;
mod tls;
mod transport;

mod ffi;

pub use client::Client;
pub use config::Config;
pub use discovery::{discover, DiscoveryOptions};
pub use error::{Error, ErrorKind, Result};
pub use stream::{StreamEvent, StreamOptions, UserStream};
