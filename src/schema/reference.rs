//! The serde_json walk that `validate` used before the byte scanner, kept as the oracle the
//! scanner is tested against: it reads the text with serde_json's own parser, so it defines what
//! "identical verdicts" means.

use std::borrow::Cow;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::{
    is_date_time, mismatch, model, render_path, DocumentKind, Found, Model, Seg, Ty, Violation,
};
use std::fmt;

/// Checks a whole JSON text against the model for `kind`.
pub(super) fn validate(kind: DocumentKind, json: &[u8]) -> Result<(), Violation> {
    let mut state = State::default();
    let mut de = serde_json::Deserializer::from_slice(json);
    let seed = ValueSeed {
        ty: kind.root(),
        nullable: false,
        state: &mut state,
    };
    let walked = seed.deserialize(&mut de);
    // A rejected document has been read to its end, so trailing garbage still wins as a syntax error.
    let end = if state.mode == Mode::Syntax {
        Ok(())
    } else {
        de.end()
    };
    match (walked, end) {
        (Ok(()), Ok(())) => Ok(()),
        (Err(e), _) if state.mode != Mode::Violation => Err(state.into_violation(true, &e)),
        (_, Err(e)) => Err(Violation {
            syntax: true,
            path: "$".into(),
            message: e.to_string(),
        }),
        (Err(e), Ok(())) => Err(state.into_violation(false, &e)),
    }
}

// ---------------------------------------------------------------- error state

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Mode {
    #[default]
    Walking,
    Violation,
    Syntax,
}

/// What the walk knows about a failure. Untouched (and unallocated) while the document is valid.
#[derive(Debug, Default)]
struct State {
    mode: Mode,
    message: String,
    segs: Vec<Seg>,
}

impl State {
    /// Records a schema violation; the returned error only unwinds the walk.
    fn violation<E: de::Error>(&mut self, message: String) -> E {
        self.mode = Mode::Violation;
        self.message = message;
        E::custom("schema violation")
    }

    /// A parser error seen for the first time at this level.
    fn note_parser_error(&mut self) {
        if self.mode == Mode::Walking {
            self.mode = Mode::Syntax;
        }
    }

    /// The text turned out not to be JSON while a violation was unwinding: syntax wins, and the
    /// path restarts at the container being read.
    fn syntax_after_violation(&mut self) {
        self.mode = Mode::Syntax;
        self.message.clear();
        self.segs.clear();
    }

    fn into_violation(self, syntax: bool, err: &serde_json::Error) -> Violation {
        Violation {
            syntax,
            path: render_path(&self.segs),
            message: if syntax {
                err.to_string()
            } else {
                self.message
            },
        }
    }
}

// ---------------------------------------------------------------- the walk

/// Checks one value against `ty`.
struct ValueSeed<'s> {
    ty: &'static Ty,
    nullable: bool,
    state: &'s mut State,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl ValueSeed<'_> {
    fn reject<E: de::Error>(self, found: Found<'_>) -> Result<(), E> {
        Err(self.state.violation(mismatch(self.ty, found)))
    }

    fn accept_if<E: de::Error>(self, ok: bool, found: Found<'_>) -> Result<(), E> {
        if ok {
            Ok(())
        } else {
            self.reject(found)
        }
    }

    fn string<E: de::Error>(self, s: &str) -> Result<(), E> {
        let ok = match self.ty {
            Ty::Str | Ty::Enum(_) => true,
            Ty::DateTime => is_date_time(s),
            _ => false,
        };
        self.accept_if(ok, Found::Str(s))
    }

    /// A container of the wrong type is read to its end first, with serde_json's nesting limit,
    /// so that text too deep to parse is reported as such rather than as a type mismatch.
    fn reject_container<A, E>(self, drain: A, found: Found<'_>) -> Result<(), E>
    where
        A: FnOnce() -> Result<(), E>,
        E: de::Error,
    {
        if let Err(e) = drain() {
            self.state.note_parser_error();
            return Err(e);
        }
        self.reject(found)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.ty.expected())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        let ok = self.nullable;
        self.accept_if(ok, Found::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.visit_unit()
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        let ok = matches!(self.ty, Ty::Bool);
        self.accept_if(ok, Found::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        let ok = matches!(self.ty, Ty::Int | Ty::Num);
        self.accept_if(ok, Found::Int(i128::from(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        let ok = match self.ty {
            Ty::Int => i64::try_from(v).is_ok(),
            Ty::Num => true,
            _ => false,
        };
        if !ok && matches!(self.ty, Ty::Int) {
            let message =
                format!("expected an integer that fits 64 bits signed, found integer {v}");
            return Err(self.state.violation(message));
        }
        self.accept_if(ok, Found::Int(i128::from(v)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        let ok = matches!(self.ty, Ty::Num);
        self.accept_if(ok, Found::Float(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.string(v)
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<(), E> {
        self.string(v)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        match self.ty {
            Ty::Array(item) => walk_array(item, self.state, seq),
            _ => self.reject_container(|| drain_seq_deep(&mut seq), Found::Array),
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        match self.ty {
            Ty::Obj(m) => walk_object(model(*m), self.state, map),
            Ty::IntMap => walk_int_map(self.state, map),
            _ => self.reject_container(|| drain_map_deep(&mut map), Found::Object),
        }
    }
}

fn walk_array<'de, A: SeqAccess<'de>>(
    item: &'static Ty,
    state: &mut State,
    mut seq: A,
) -> Result<(), A::Error> {
    let mut index = 0;
    loop {
        let seed = ValueSeed {
            ty: item,
            nullable: false,
            state,
        };
        match seq.next_element_seed(seed) {
            Ok(Some(())) => index += 1,
            Ok(None) => return Ok(()),
            Err(e) => return Err(unwind_seq(state, &mut seq, e, index)),
        }
    }
}

/// A key as read: the index of a known field, or the text of any other key (owned only when the
/// input escaped it).
enum Key<'de> {
    Known(usize),
    Other(Cow<'de, str>),
}

/// Reads a key of `model` (of no model for the `indices` maps). `next` is the field that follows
/// the previous key: writers that emit keys in schema order (sorted, as serde and the fixtures do)
/// then cost one comparison per key instead of a lookup.
///
/// Keys are read as raw bytes: a known key is ASCII, so matching it proves it is valid UTF-8, and
/// only the other keys pay for the UTF-8 check.
struct KeySeed {
    model: Option<&'static Model>,
    next: usize,
}

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Key<'de>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Key<'de>, D::Error> {
        d.deserialize_bytes(self)
    }
}

impl KeySeed {
    fn lookup(&self, key: &[u8]) -> Option<usize> {
        let model = self.model?;
        match model.fields.get(self.next) {
            Some(field) if field.key.as_bytes() == key => Some(self.next),
            // A binary search of the sorted keys, not the passes' hash: the oracle shares no
            // lookup with what it checks.
            _ => model
                .fields
                .binary_search_by(|f| f.key.as_bytes().cmp(key))
                .ok(),
        }
    }
}

fn utf8<E: de::Error>(key: &[u8]) -> Result<&str, E> {
    std::str::from_utf8(key).map_err(|_| E::custom("invalid UTF-8 in an object key"))
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_bytes<E: de::Error>(self, v: &'de [u8]) -> Result<Key<'de>, E> {
        match self.lookup(v) {
            Some(i) => Ok(Key::Known(i)),
            None => Ok(Key::Other(Cow::Borrowed(utf8(v)?))),
        }
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Key<'de>, E> {
        match self.lookup(v) {
            Some(i) => Ok(Key::Known(i)),
            None => Ok(Key::Other(Cow::Owned(utf8(v)?.to_owned()))),
        }
    }
}

fn walk_object<'de, A: MapAccess<'de>>(
    model: &'static Model,
    state: &mut State,
    mut map: A,
) -> Result<(), A::Error> {
    let mut seen: u64 = 0;
    let mut next = 0;
    loop {
        let seed = KeySeed {
            model: Some(model),
            next,
        };
        let key = match map.next_key_seed(seed) {
            Ok(Some(key)) => key,
            Ok(None) => break,
            Err(e) => {
                state.note_parser_error();
                return Err(e);
            }
        };
        let index = match key {
            Key::Known(index) => index,
            Key::Other(name) => {
                if let Err(e) = map.next_value::<IgnoredAny>() {
                    return Err(unwind_map(state, &mut map, e, || name.into_owned()));
                }
                continue;
            }
        };
        next = index + 1;
        let field = &model.fields[index];
        let bit = 1u64 << index;
        if seen & bit != 0 {
            return Err(duplicate(state, &mut map, field.key));
        }
        seen |= bit;
        let seed = ValueSeed {
            ty: &field.ty,
            nullable: field.nullable,
            state,
        };
        if let Err(e) = map.next_value_seed(seed) {
            return Err(unwind_map(state, &mut map, e, || field.key.to_owned()));
        }
    }
    let missing = model.required & !seen;
    if missing != 0 {
        let key = model.fields[missing.trailing_zeros() as usize].key;
        let err = state.violation(format!("missing required key {key:?}"));
        state.segs.push(Seg::Key(key.to_owned()));
        return Err(err);
    }
    Ok(())
}

/// A key seen twice: the second value is skipped so that the rest of the text is still read.
fn duplicate<'de, A: MapAccess<'de>>(state: &mut State, map: &mut A, key: &str) -> A::Error {
    if let Err(e) = map.next_value::<IgnoredAny>() {
        state.note_parser_error();
        state.segs.push(Seg::Key(key.to_owned()));
        return e;
    }
    let err = state.violation(format!("duplicate key {key:?}"));
    unwind_map(state, map, err, || key.to_owned())
}

fn walk_int_map<'de, A: MapAccess<'de>>(state: &mut State, mut map: A) -> Result<(), A::Error> {
    loop {
        let seed = KeySeed {
            model: None,
            next: 0,
        };
        let name = match map.next_key_seed(seed) {
            Ok(Some(Key::Other(name))) => name,
            Ok(Some(Key::Known(_))) | Ok(None) => return Ok(()),
            Err(e) => {
                state.note_parser_error();
                return Err(e);
            }
        };
        let seed = ValueSeed {
            ty: &Ty::Int,
            nullable: false,
            state,
        };
        if let Err(e) = map.next_value_seed(seed) {
            return Err(unwind_map(state, &mut map, e, || name.into_owned()));
        }
    }
}

// ---------------------------------------------------------------- unwinding

/// A value inside an object failed: name it in the path and, for a violation, read the rest of
/// the object so that the parser can check the remaining text.
fn unwind_map<'de, A: MapAccess<'de>>(
    state: &mut State,
    map: &mut A,
    err: A::Error,
    key: impl FnOnce() -> String,
) -> A::Error {
    state.note_parser_error();
    state.segs.push(Seg::Key(key()));
    if state.mode == Mode::Violation {
        if let Err(e) = drain_map(map) {
            state.syntax_after_violation();
            return e;
        }
    }
    err
}

fn unwind_seq<'de, A: SeqAccess<'de>>(
    state: &mut State,
    seq: &mut A,
    err: A::Error,
    index: usize,
) -> A::Error {
    state.note_parser_error();
    state.segs.push(Seg::Index(index));
    if state.mode == Mode::Violation {
        if let Err(e) = drain_seq(seq) {
            state.syntax_after_violation();
            return e;
        }
    }
    err
}

fn drain_map<'de, A: MapAccess<'de>>(map: &mut A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

fn drain_seq<'de, A: SeqAccess<'de>>(seq: &mut A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

fn drain_map_deep<'de, A: MapAccess<'de>>(map: &mut A) -> Result<(), A::Error> {
    while map.next_key::<IgnoredAny>()?.is_some() {
        map.next_value_seed(Deep)?;
    }
    Ok(())
}

fn drain_seq_deep<'de, A: SeqAccess<'de>>(seq: &mut A) -> Result<(), A::Error> {
    while seq.next_element_seed(Deep)?.is_some() {}
    Ok(())
}

/// Skips any value through `deserialize_any`, so serde_json's nesting limit applies (unlike
/// `IgnoredAny`, which serde_json skips without recursing and without a limit).
#[derive(Clone, Copy)]
struct Deep;

impl<'de> DeserializeSeed<'de> for Deep {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Deep {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        drain_seq_deep(&mut seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        drain_map_deep(&mut map)
    }
}
