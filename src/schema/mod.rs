//! Validation of JSON documents against the official models, without building them.
//!
//! `validate` runs on every request and response, so it is a single pass over the bytes: no
//! `serde_json::Value`, no allocation unless the document is rejected, keys compared in place
//! with the generated table. A valid document is proved so by a lean accept-only pass
//! (`fast.rs`, with generated functions for the smallest models in `leaves.rs`); any other is
//! read again by the full walk (`scan.rs`), which gives the verdict and builds the message and
//! path. The rules follow the Python SDK 5.0.1 (strict scalars, open enums, RFC 3339
//! date-times); the table they read is generated from its JSON Schemas into `tables.rs`. The
//! verdicts are those of serde_json reading the text with a schema-driven visitor, which is kept
//! as the test oracle in `reference.rs`.

mod datetime;
#[cfg(test)]
mod differential;
mod fast;
mod leaves;
#[cfg(test)]
mod reference;
mod scan;
mod tables;

use std::fmt;

#[cfg(test)]
pub(crate) use datetime::days_in_month as datetime_days_in_month;
pub(crate) use datetime::is_date_time;

/// The four documents the User API exchanges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DocumentKind {
    /// The signed-in user: sent by /user/update and /user/update/vanity, returned by most routes.
    UserProfile,
    /// `{"user": UserProfile | null}`: what GET /user and /user/providers return.
    ReturnedUserProfile,
    /// The identity provider's user, sent to /user/select.
    Auth0User,
    /// The beta programme status, sent to and returned by /user/beta/status.
    UserBetaStatus,
}

/// Why a document was rejected: a syntax error, or a value that does not fit the model at `path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// True when the text is not JSON at all (or nests too deeply to parse).
    pub syntax: bool,
    /// JSON path of the offending value, e.g. `$.aesthetics.font.size` (`$` for the root).
    pub path: String,
    /// What was expected and what was found, e.g. `expected an integer, found string "14"`.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl std::error::Error for Violation {}

/// The JSON type a value must have; one entry of the generated table.
#[derive(Debug)]
pub(crate) enum Ty {
    // The order is the fast pass's (`fast::value`): the types that one first byte admits are
    // neighbours, so that telling them apart after the byte is one comparison, not a chain of
    // branches the CPU mispredicts as values of different types follow one another.
    Str,
    /// An open enum: any string is accepted; the name is only for messages.
    /// (A reference to the name, not the name: it keeps `Ty` at 16 bytes, and `Field` at 64.)
    Enum(&'static &'static str),
    DateTime,
    /// A JSON integer that fits an `i64` (what the typed models hold).
    Int,
    /// Any JSON number, integer or not.
    Num,
    /// An object described by `tables::MODELS[index]`.
    Obj(u16),
    /// An object whose values are all integers (the `indices` maps).
    IntMap,
    Bool,
    Array(&'static Ty),
}

/// One known key of a model. Whether it is required is in `Model::required`.
///
/// A field is one cache line, and a model's fields are consecutive lines: a document's fields
/// cost a pass one line each, and the hardware prefetchers, which fetch lines in pairs and
/// follow a stream of them, bring in the next field with the one read (at two lines per field,
/// half of every pair was wasted).
#[derive(Debug)]
#[repr(C, align(64))]
pub(crate) struct Field {
    /// The key with the separator before it, as both passes probe for it; see
    /// `KeyProbe::member` and `fast::Probe`.
    member: fast::Probe,
    pub nullable: bool,
    pub ty: Ty,
    pub key: &'static str,
    /// The end of a key of 13 to 20 bytes, for the probe (`fast::key_tail`).
    tail: u64,
}

const _: () = assert!(std::mem::size_of::<Field>() == 64);

impl Field {
    pub(crate) const fn new(key: &'static str, ty: Ty, nullable: bool) -> Field {
        Field {
            key,
            ty,
            nullable,
            member: fast::Probe::new(key),
            tail: fast::key_tail(key),
        }
    }
}

/// The first 16 bytes of `key":` (the text after a key's opening quote in compact JSON), read
/// as a little-endian `u128`, and the mask of the bytes that count: what `fast::Probe`, the probe
/// both passes use, is built from (`member`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeyProbe {
    pub head: u128,
    pub mask: u128,
}

impl KeyProbe {
    pub(crate) const fn of(key: &str) -> KeyProbe {
        let key = key.as_bytes();
        let mut bytes = [0u8; 16];
        let mut i = 0;
        while i < 16 && i < key.len() + 2 {
            bytes[i] = if i < key.len() {
                key[i]
            } else if i == key.len() {
                b'"'
            } else {
                b':'
            };
            i += 1;
        }
        let mask = if i == 16 {
            u128::MAX
        } else {
            (1u128 << (8 * i)) - 1
        };
        KeyProbe {
            head: u128::from_le_bytes(bytes),
            mask,
        }
    }

    /// The first 16 bytes of `?"key":`, where `?` is the '{' or ',' before a member and is
    /// not compared (its byte of the mask is 0): the separator, the key and its ':' in one
    /// comparison. Keys of up to 12 bytes fit whole.
    pub(crate) const fn member(key: &str) -> KeyProbe {
        let inner = KeyProbe::of(key);
        KeyProbe {
            head: inner.head << 16 | (b'"' as u128) << 8,
            mask: inner.mask << 16 | 0xff00,
        }
    }
}

#[derive(Debug)]
pub(crate) struct Model {
    pub name: &'static str,
    /// Bit `i` set when `fields[i]` must be present.
    pub required: u64,
    /// The key lookup's perfect hash (see `index_of`): the multiplier, the shift that keeps the
    /// slot's bits, and the slots, each the index in `fields` of the key hashed to it or 255.
    pub seed: u64,
    pub shift: u8,
    pub slots: &'static [u8],
    /// Where this model's `fields.len() + 1` slots start in `tables::SCHEMA_ORDER` (and in the
    /// accept-only pass's copy of it, `fast::Order`).
    pub order: u16,
    /// Sorted by key.
    pub fields: &'static [Field],
}

impl Model {
    /// The index in `fields` of a key, given as its unescaped bytes: the slot of the perfect hash
    /// that `tools/gen_models.py` found for the model's keys, and one comparison with the key in
    /// it. The generated `match` per model it replaced was 26 KB of code, fetched afresh in each
    /// call when a document's keys are not in schema order; the accept pass hashes keys of up to
    /// 13 bytes in place (`fast::short_key`).
    pub(crate) fn index_of(&self, key: &[u8]) -> Option<usize> {
        let mut lanes = [0u8; 16];
        let head = &key[..key.len().min(14)];
        lanes[2..2 + head.len()].copy_from_slice(head);
        let (lo, hi) = words(&lanes);
        let index = self.slot(key_mix(lo, hi, key.len()))?;
        let field = &self.fields[index];
        (field.key.len() == key.len() && scan::same_bytes(field.key.as_bytes(), key))
            .then_some(index)
    }

    /// The field in the slot that `mix` (`key_mix`) hashes to, if any: the only one that can
    /// have the key.
    #[inline(always)]
    pub(crate) fn slot(&self, mix: u64) -> Option<usize> {
        let slot = mix.wrapping_mul(self.seed) >> self.shift;
        let index = usize::from(*self.slots.get(slot as usize)?);
        (index < self.fields.len()).then_some(index)
    }
}

/// The two little-endian words of 16 bytes.
#[inline(always)]
pub(crate) fn words(bytes: &[u8; 16]) -> (u64, u64) {
    let (lo, hi) = bytes.split_at(8);
    let word = |w: &[u8]| u64::from_le_bytes(w.try_into().unwrap_or_default());
    (word(lo), word(hi))
}

/// What the key lookup hashes: the first 14 bytes of a key, as two words of 16 bytes that hold
/// two zero bytes and then those bytes (zeros after them), and the key's length. The generator
/// checks that it tells the keys of each model apart.
#[inline(always)]
pub(crate) fn key_mix(lo: u64, hi: u64, len: usize) -> u64 {
    lo ^ hi.rotate_left(31) ^ len as u64
}

impl DocumentKind {
    fn root(self) -> &'static Ty {
        match self {
            DocumentKind::UserProfile => &Ty::Obj(tables::USER_PROFILE),
            DocumentKind::ReturnedUserProfile => &Ty::Obj(tables::RETURNED_USER_PROFILE),
            DocumentKind::Auth0User => &Ty::Obj(tables::AUTH0_USER),
            DocumentKind::UserBetaStatus => &Ty::Obj(tables::USER_BETA_STATUS),
        }
    }

    /// The model name, as in the official SDKs.
    pub fn name(self) -> &'static str {
        match self {
            DocumentKind::UserProfile => "UserProfile",
            DocumentKind::ReturnedUserProfile => "ReturnedUserProfile",
            DocumentKind::Auth0User => "Auth0User",
            DocumentKind::UserBetaStatus => "UserBetaStatus",
        }
    }
}

/// Checks a whole JSON text against the model for `kind`.
pub fn validate(kind: DocumentKind, json: &[u8]) -> Result<(), Violation> {
    // Most documents are valid: a leaner pass proves it, and the full walk, which explains
    // rejections, only reads the others (see `fast.rs`).
    if fast::accepts(kind.root(), json) {
        return Ok(());
    }
    scan::validate(kind.root(), json)
}

/// The verdict of the full walk alone, without the accept-only pass that [`validate`] tries
/// first. Not part of the API: the validate fuzz target holds the two passes to the same
/// verdicts with it.
#[doc(hidden)]
pub fn validate_with_full_walk(kind: DocumentKind, json: &[u8]) -> Result<(), Violation> {
    scan::validate(kind.root(), json)
}

/// [`validate`] for the document that `buf` holds from `start` on (what comes before it is the
/// caller's, and is neither read nor changed). On a violation the bytes come back untouched, for
/// the error's copy of the body.
pub(crate) fn validate_tail(
    kind: DocumentKind,
    buf: Vec<u8>,
    start: usize,
) -> Result<Checked, (Violation, Vec<u8>)> {
    let start = start.min(buf.len());
    match validate(kind, &buf[start..]) {
        Ok(()) => Ok(Checked { buf, start }),
        Err(v) => Err((v, buf)),
    }
}

/// A buffer whose bytes from `start` on are a document [`validate_tail`] accepted, or nothing.
#[derive(Debug)]
pub(crate) struct Checked {
    buf: Vec<u8>,
    start: usize,
}

impl Checked {
    /// A buffer that nothing was appended to (a route that answers no document).
    pub(crate) fn nothing(buf: Vec<u8>) -> Checked {
        let start = buf.len();
        Checked { buf, start }
    }

    /// The whole buffer: what the caller put in front, then the document.
    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// The document as text, without a second pass over it: the scanner has already proved it
    /// UTF-8.
    pub(crate) fn into_text(self) -> String {
        let Checked { mut buf, start } = self;
        buf.drain(..start);
        debug_assert!(std::str::from_utf8(&buf).is_ok());
        // SAFETY: `validate` accepts only UTF-8. Outside strings the JSON grammar allows ASCII
        // bytes alone; inside, the accept-only pass (fast.rs, leaves.rs) takes plain ASCII strings
        // only and hands every other to the full walk's string reader (scan.rs), which checks any
        // string, key or value, read or skipped, that holds a byte above 0x7F. The test
        // `accepted_documents_are_utf8` in differential.rs holds both passes to this on mutated
        // fixtures. `Checked` is made only by `validate_tail`, over the bytes from `start` on, and
        // by `nothing`, with none; the bytes before `start` are gone.
        unsafe { String::from_utf8_unchecked(buf) }
    }
}

fn model(index: u16) -> &'static Model {
    &tables::MODELS[usize::from(index)]
}

/// A step of the path, collected innermost first while an error unwinds.
#[derive(Debug)]
enum Seg {
    Key(String),
    Index(usize),
}

fn render_path(segs: &[Seg]) -> String {
    use std::fmt::Write;
    let mut out = String::from("$");
    for seg in segs.iter().rev() {
        match seg {
            Seg::Index(i) => {
                let _ = write!(out, "[{i}]");
            }
            Seg::Key(k) if is_identifier(k) => {
                out.push('.');
                out.push_str(k);
            }
            Seg::Key(k) => {
                let quoted = serde_json::to_string(k).unwrap_or_default();
                let _ = write!(out, "[{quoted}]");
            }
        }
    }
    out
}

fn is_identifier(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

// ---------------------------------------------------------------- messages

impl Ty {
    fn expected(&self) -> String {
        match self {
            Ty::Str => "a string".into(),
            Ty::Int => "an integer".into(),
            Ty::Bool => "a boolean".into(),
            Ty::Num => "a number".into(),
            Ty::DateTime => "an RFC 3339 date-time string".into(),
            Ty::Enum(name) => format!("a string ({name})"),
            Ty::Obj(m) => format!("an object ({})", model(*m).name),
            Ty::Array(_) => "an array".into(),
            Ty::IntMap => "an object of integers".into(),
        }
    }
}

/// A found value, as quoted in a message.
enum Found<'a> {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(&'a str),
    Array,
    Object,
}

/// Found strings are quoted up to this many characters, so a message never echoes a whole secret.
const QUOTE_LIMIT: usize = 40;

impl fmt::Display for Found<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Found::Null => f.write_str("null"),
            Found::Bool(b) => write!(f, "boolean {b}"),
            Found::Int(i) => write!(f, "integer {i}"),
            Found::Float(x) => write!(f, "number {x:?}"),
            Found::Array => f.write_str("an array"),
            Found::Object => f.write_str("an object"),
            Found::Str(s) => {
                let cut: String = s.chars().take(QUOTE_LIMIT).collect();
                let quoted = serde_json::to_string(&cut).map_err(|_| fmt::Error)?;
                let more = if cut.len() < s.len() { "…" } else { "" };
                write!(f, "string {quoted}{more}")
            }
        }
    }
}

fn mismatch(ty: &Ty, found: Found<'_>) -> String {
    format!("expected {}, found {found}", ty.expected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_keys_are_sorted_and_fit_the_seen_mask() {
        for m in tables::MODELS.iter() {
            assert!(m.fields.len() <= 64, "{}", m.name);
            for (i, f) in m.fields.iter().enumerate() {
                assert_eq!(
                    m.index_of(f.key.as_bytes()),
                    Some(i),
                    "{}.{}",
                    m.name,
                    f.key
                );
            }
            assert_eq!(m.index_of(b"no such key"), None);
            assert!(
                m.fields.windows(2).all(|w| w[0].key < w[1].key),
                "{}",
                m.name
            );
        }
    }

    #[test]
    fn the_key_lookup_finds_no_key_a_model_lacks() {
        let all: Vec<&str> = tables::MODELS
            .iter()
            .flat_map(|m| m.fields.iter().map(|f| f.key))
            .collect();
        for m in tables::MODELS.iter() {
            let own = |k: &[u8]| m.fields.iter().any(|f| f.key.as_bytes() == k);
            let mut others: Vec<Vec<u8>> = Vec::new();
            for key in &all {
                let k = key.as_bytes();
                others.push(k.to_vec());
                others.push([k, b"x"].concat());
                others.push(k[..k.len() - 1].to_vec());
                for i in 0..k.len() {
                    let mut changed = k.to_vec();
                    changed[i] ^= 0x20;
                    others.push(changed);
                }
            }
            others.extend([b"".to_vec(), b"\xff\x00".to_vec(), vec![b'a'; 300]]);
            for k in others.iter().filter(|k| !own(k)) {
                assert_eq!(
                    m.index_of(k),
                    None,
                    "{}: {:?}",
                    m.name,
                    String::from_utf8_lossy(k)
                );
            }
        }
    }

    #[test]
    fn key_probes_cover_the_key_its_quote_and_the_colon() {
        let short = KeyProbe::of("id");
        assert_eq!(
            short.head,
            u128::from_le_bytes(*b"id\":\0\0\0\0\0\0\0\0\0\0\0\0")
        );
        assert_eq!(short.mask, 0xffff_ffff);
        let fifteen = KeyProbe::of("abcdefghijklmno");
        assert_eq!(fifteen.head, u128::from_le_bytes(*b"abcdefghijklmno\""));
        assert_eq!(fifteen.mask, u128::MAX);
        let long = KeyProbe::of("abcdefghijklmnopqrstuvwxyz");
        assert_eq!(long.head, u128::from_le_bytes(*b"abcdefghijklmnop"));
        assert_eq!(long.mask, u128::MAX);
        let member = KeyProbe::member("id");
        assert_eq!(
            member.head,
            u128::from_le_bytes(*b"\0\"id\":\0\0\0\0\0\0\0\0\0\0")
        );
        assert_eq!(member.mask, 0xffff_ffff_ff00);
        let twelve = KeyProbe::member("abcdefghijkl");
        assert_eq!(twelve.head, u128::from_le_bytes(*b"\0\"abcdefghijkl\":"));
        assert_eq!(twelve.mask, u128::MAX << 8);
        let thirteen = KeyProbe::member("abcdefghijklm");
        assert_eq!(thirteen.head, u128::from_le_bytes(*b"\0\"abcdefghijklm\""));
        assert_eq!(thirteen.mask, u128::MAX << 8);
    }

    #[test]
    fn paths_quote_keys_that_are_not_identifiers() {
        let segs = vec![
            Seg::Key("weird key".into()),
            Seg::Index(2),
            Seg::Key("iterable".into()),
        ];
        assert_eq!(render_path(&segs), r#"$.iterable[2]["weird key"]"#);
    }
}
