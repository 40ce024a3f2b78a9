//! The blocking client. PLACEHOLDER until the routes land.
pub struct Client;
