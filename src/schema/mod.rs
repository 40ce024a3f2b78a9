//! Validation of JSON documents against the official models, without building them.
//! PLACEHOLDER: only checks syntax; the generated validator replaces this file.

/// The four documents the User API exchanges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DocumentKind {
    UserProfile,
    ReturnedUserProfile,
    Auth0User,
    UserBetaStatus,
}

/// Why a document was rejected: a syntax error, or a value that does not fit the model at `path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// True when the text is not JSON at all (or nests too deeply to parse).
    pub syntax: bool,
    /// JSON path of the offending value, e.g. `$.aesthetics.font.size` (`$` for the root).
    pub path: String,
    /// What was expected and what was found, e.g. `expected an integer, found a string`.
    pub message: String,
}

/// Checks a whole JSON text against the model for `kind`.
pub fn validate(_kind: DocumentKind, json: &[u8]) -> Result<(), Violation> {
    serde_json::from_slice::<serde::de::IgnoredAny>(json)
        .map(|_| ())
        .map_err(|e| Violation {
            syntax: true,
            path: "$".into(),
            message: e.to_string(),
        })
}
