//! The accept-only pass `validate` makes first: the walk of `scan.rs` for documents that are
//! valid, without what it needs to explain a rejection.
//!
//! It answers "valid" or "not sure". Only "valid" is final; on "not sure" (a violation, broken
//! JSON, or something it leaves alone) the full walk reads the document again and gives the
//! verdict, so messages and paths are that walk's. It checks everything the full walk checks,
//! and hands it the rare cases (escaped or non-ASCII strings, numbers other than small
//! non-negative integers, values of unknown keys, keys out of schema order are looked up here)
//! one value at a time through `scan::checked_value_end` and friends.
//!
//! Why a second walk: the full one keeps its cursor in a struct behind `&mut self` and is
//! shaped around building paths and messages. This one passes the cursor by value and returns
//! the new one, so the hot loop (a known key in schema order, then a small value, in compact
//! text) stays in registers.

use super::datetime::is_date_time_bytes;
use super::scan::{
    checked_value_end, find_stop, same_bytes, skipped_value_end, small_integer, string_end,
};
use super::{compiled, model, Field, KeyProbe, Model, Ty};

/// serde_json's nesting limit, as in `scan.rs`: the 128th container inside another is an error.
const DEPTH_LIMIT: u32 = 128;

/// Where a value ends, or `None` when this pass is not sure that it is valid.
type End = Option<usize>;

/// True when `json` is a valid `root`; false when the full walk must decide.
pub(super) fn accepts(root: &'static Ty, b: &[u8]) -> bool {
    if let (Ty::Obj(m), b'{') = (root, byte(b, 0)) {
        return accepts_object(*m, b);
    }
    match value(b, 0, root, false, 0) {
        Some(end) => ws(b, end) == b.len(),
        None => false,
    }
}

/// The byte at `pos`, or 0 at the end (0 is never valid outside a string either).
#[inline(always)]
fn byte(b: &[u8], pos: usize) -> u8 {
    b.get(pos).copied().unwrap_or(0)
}

/// Skips RFC 8259 whitespace. Compact text has none: one comparison.
#[inline(always)]
fn ws(b: &[u8], pos: usize) -> usize {
    if byte(b, pos) > b' ' {
        return pos;
    }
    ws_slow(b, pos)
}

/// Indented text has runs of spaces: they are skipped 16 bytes at a time.
#[inline(never)]
fn ws_slow(b: &[u8], mut pos: usize) -> usize {
    while let Some(chunk) = chunk16(b, pos) {
        let text = !blank16(chunk) & 0xffff;
        if text != 0 {
            return pos + text.trailing_zeros() as usize;
        }
        pos += 16;
    }
    while matches!(byte(b, pos), b' ' | b'\n' | b'\t' | b'\r') {
        pos += 1;
    }
    pos
}

/// Bit `k` set when byte `k` of `chunk` is RFC 8259 white space.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn blank16(chunk: &[u8; 16]) -> u32 {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    // SAFETY: as in `special16`.
    unsafe {
        let v = _mm_loadu_si128(chunk.as_ptr().cast());
        let is = |c: u8| _mm_cmpeq_epi8(v, _mm_set1_epi8(c as i8));
        let blank = _mm_or_si128(
            _mm_or_si128(is(b' '), is(b'\n')),
            _mm_or_si128(is(b'\t'), is(b'\r')),
        );
        _mm_movemask_epi8(blank) as u32
    }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn blank16(chunk: &[u8; 16]) -> u32 {
    chunk.iter().enumerate().fold(0, |mask, (k, &c)| {
        mask | u32::from(matches!(c, b' ' | b'\n' | b'\t' | b'\r')) << k
    })
}

/// The value at `pos`, checked against `ty`; `depth` containers are open. The schema says
/// what the value should be, so the type is looked at first and the byte checked against it.
#[inline(always)]
fn value(b: &[u8], pos: usize, ty: &'static Ty, nullable: bool, depth: u32) -> End {
    let c = byte(b, pos);
    let end = match ty {
        Ty::Str | Ty::Enum(_) if c == b'"' => plain_string(b, pos),
        Ty::Int | Ty::Num if c.is_ascii_digit() => digits(b, pos),
        Ty::Obj(m) if c == b'{' => return object(b, pos, model(*m), depth),
        Ty::Array(item) if c == b'[' => return array(b, pos, item, depth),
        Ty::DateTime if c == b'"' => plain_date_time(b, pos),
        Ty::Bool if c == b't' => literal(b, pos, b"true"),
        Ty::Bool if c == b'f' => literal(b, pos, b"false"),
        Ty::IntMap if c == b'{' => return int_map(b, pos, depth),
        _ => None,
    };
    match end {
        Some(end) => Some(end),
        None => other_value(b, pos, ty, nullable, depth),
    }
}

/// What `value` does not read in line: whitespace before the value, literals, and what it
/// leaves to the full walk.
#[inline(never)]
fn other_value(b: &[u8], pos: usize, ty: &'static Ty, nullable: bool, depth: u32) -> End {
    let after_ws = ws(b, pos);
    if after_ws != pos {
        return value(b, after_ws, ty, nullable, depth);
    }
    match byte(b, pos) {
        b'n' if nullable => literal(b, pos, b"null"),
        _ => checked_value_end(b, pos, ty, nullable, depth),
    }
}

/// Where a non-negative integer of at most 18 digits at `pos` ends (see `small_integer`),
/// with a shortcut for one digit, the most common.
#[inline(always)]
fn digits(b: &[u8], pos: usize) -> End {
    if !continues_number(byte(b, pos + 1)) {
        return Some(pos + 1);
    }
    small_integer(b, pos)
}

/// Whether `c`, after a digit, is part of the same number: one load from a table.
#[inline(always)]
fn continues_number(c: u8) -> bool {
    const TABLE: [bool; 256] = {
        let mut t = [false; 256];
        let mut c = b'0';
        while c <= b'9' {
            t[c as usize] = true;
            c += 1;
        }
        t[b'.' as usize] = true;
        t[b'e' as usize] = true;
        t[b'E' as usize] = true;
        t
    };
    TABLE[usize::from(c)]
}

#[inline(always)]
fn literal(b: &[u8], pos: usize, word: &[u8]) -> End {
    let end = pos + word.len();
    (b.get(pos..end) == Some(word)).then_some(end)
}

/// Where the string whose quote is at `pos` ends, if it is plain: printable ASCII without
/// escapes. The others (escapes, UTF-8, errors) are left to the
/// full walk's reader.
#[inline(always)]
fn plain_string(b: &[u8], pos: usize) -> End {
    let mut i = pos + 1;
    while let Some(chunk) = chunk16(b, i) {
        let (stops, _) = special16(chunk);
        if stops != 0 {
            // The first special byte must be the closing quote: one load, not a second mask.
            let end = i + stops.trailing_zeros() as usize;
            return (byte(b, end) == b'"').then_some(end + 1);
        }
        i += 16;
    }
    // The last bytes, one at a time: the last strings of every document end there.
    while let Some(&c) = b.get(i) {
        match c {
            b'"' => return Some(i + 1),
            b'\\' | ..=0x1f | 0x80.. => return None,
            _ => i += 1,
        }
    }
    None
}

/// The 16 bytes at `pos`, if there are 16. One comparison: the slice's own check would be two
/// (it also guards against `pos + 16` overflowing), and these reads are the hot loop.
#[inline(always)]
fn chunk16(b: &[u8], pos: usize) -> Option<&[u8; 16]> {
    if pos < b.len().saturating_sub(15) {
        // SAFETY: `pos + 16 <= b.len()`, so the 16 bytes are inside `b`, and `[u8; 16]` has
        // the alignment of `u8`.
        return Some(unsafe { &*b.as_ptr().add(pos).cast::<[u8; 16]>() });
    }
    None
}

/// Bit `k` of the first mask set when byte `k` of `chunk` (16 bytes) is not plain string
/// content: '"', '\\', below 0x20 or above 0x7f; bit `k` of the second when it is '"'.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn special16(chunk: &[u8; 16]) -> (u32, u32) {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_cmplt_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };
    // SAFETY: `chunk` is 16 readable bytes, and `_mm_loadu_si128` has no alignment
    // requirement; the other intrinsics only compute on registers, with SSE2, which x86_64
    // always has.
    unsafe {
        let v = _mm_loadu_si128(chunk.as_ptr().cast());
        let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
        let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
        // Signed: below 0x20 are the control characters and every byte from 0x80.
        let outside = _mm_cmplt_epi8(v, _mm_set1_epi8(0x20));
        let stops = _mm_or_si128(_mm_or_si128(quote, backslash), outside);
        (
            _mm_movemask_epi8(stops) as u32,
            _mm_movemask_epi8(quote) as u32,
        )
    }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn special16(chunk: &[u8; 16]) -> (u32, u32) {
    chunk
        .iter()
        .enumerate()
        .fold((0, 0), |(stops, quotes), (k, &c)| {
            let stop = c == b'"' || c == b'\\' || !(0x20..0x80).contains(&c);
            (
                stops | u32::from(stop) << k,
                quotes | u32::from(c == b'"') << k,
            )
        })
}

#[inline(always)]
fn plain_date_time(b: &[u8], pos: usize) -> End {
    let end = plain_string(b, pos)?;
    is_date_time_bytes(&b[pos + 1..end - 1]).then_some(end)
}

/// Opens a container of a checked value: the new depth, unless that is too deep.
#[inline(always)]
fn enter(depth: u32) -> Option<u32> {
    let depth = depth + 1;
    (depth < DEPTH_LIMIT).then_some(depth)
}

/// An object of model `m` whose '{' is at `pos`.
#[inline(never)]
fn object(b: &[u8], mut pos: usize, m: &'static Model, depth: u32) -> End {
    let depth = enter(depth)?;
    let mut members = Members { seen: 0, next: 0 };
    loop {
        // `pos` is at the '{' or ',' before a member. The next key of the schema, in compact
        // text, is found with one 16-byte comparison; it cannot have been seen, since `next`
        // is past every key seen so far.
        let probed = m.fields.get(members.next).and_then(|field| {
            let after = probe_member(b, pos, field)?;
            Some((field, after))
        });
        pos = match probed {
            Some((field, after)) => {
                members.seen |= 1 << members.next;
                members.next += 1;
                value(b, after, &field.ty, field.nullable, depth)?
            }
            None => {
                let (end, now) = other_member(b, pos, m, members, depth)?;
                members = now;
                end
            }
        };
        match byte(b, pos) {
            b',' => continue,
            b'}' => break,
            _ => {}
        }
        pos = ws(b, pos);
        match byte(b, pos) {
            b',' => {}
            b'}' => break,
            _ => return None,
        }
    }
    (m.required & !members.seen == 0).then_some(pos + 1)
}

/// The keys of an object read so far.
#[derive(Clone, Copy)]
struct Members {
    /// Bit `i` set when `fields[i]` has been read.
    seen: u64,
    /// One past the highest index in `seen`: the key expected next, as keys come in schema
    /// order.
    next: usize,
}

/// What the object loop does not read in line, after the '{' or ',' at `pos`: white space, a
/// key out of schema order or unknown, or the end of an empty object. Returns where the
/// member ends (or where the '}' of an empty object is) and the keys read.
#[inline(never)]
fn other_member(
    b: &[u8],
    pos: usize,
    m: &'static Model,
    mut members: Members,
    depth: u32,
) -> Option<(usize, Members)> {
    let at = ws(b, pos + 1);
    if byte(b, at) == b'}' && byte(b, pos) == b'{' {
        return Some((at, members));
    }
    let probed = if at > pos + 1 {
        probe_after_blank(b, at, m, members.next)
    } else {
        None
    };
    let (index, after) = match probed {
        Some(found) => found,
        None => any_key(b, at, m)?,
    };
    let end = match m.fields.get(index) {
        Some(field) => {
            let bit = 1u64 << index;
            if members.seen & bit != 0 {
                return None;
            }
            members.seen |= bit;
            members.next = members.next.max(index + 1);
            value(b, after, &field.ty, field.nullable, depth)?
        }
        None => skipped_value_end(b, after)?,
    };
    Some((end, members))
}

/// Indented text: the expected key, `fields[next]`, may follow the white space before the
/// quote at `at` (the probe does not look at the byte before the quote).
#[inline(never)]
fn probe_after_blank(b: &[u8], at: usize, m: &Model, next: usize) -> Option<(usize, usize)> {
    let after = probe_member(b, at - 1, m.fields.get(next)?)?;
    Some((next, after))
}

/// Where the value of `field` starts if its key, in compact text, follows the separator at
/// `pos` (see `KeyProbe::member`).
#[inline(always)]
fn probe_member(b: &[u8], pos: usize, field: &Field) -> Option<usize> {
    let head = u128::from_le_bytes(*chunk16(b, pos)?);
    if (head ^ field.member.head) & field.member.mask != 0 {
        return None;
    }
    let key = field.key.as_bytes();
    let quote = pos + 2 + key.len();
    // Keys of more than 12 bytes do not fit the probe with their '":'.
    if key.len() > 12 {
        let tail = &key[key.len().min(14)..];
        if b.get(quote..quote + 2) != Some(b"\":")
            || !same_bytes(&b[quote - tail.len()..quote], tail)
        {
            return None;
        }
    }
    Some(quote + 2)
}

/// An `indices` map (any keys, integer values) whose '{' is at `pos`.
#[inline(never)]
fn int_map(b: &[u8], pos: usize, depth: u32) -> End {
    let depth = enter(depth)?;
    let mut pos = ws(b, pos + 1);
    if byte(b, pos) == b'}' {
        return Some(pos + 1);
    }
    loop {
        let (end, _) = key_text(b, pos)?;
        let after = colon(b, end)?;
        pos = ws(b, value(b, after, &Ty::Int, false, depth)?);
        match byte(b, pos) {
            b',' => pos = ws(b, pos + 1),
            b'}' => return Some(pos + 1),
            _ => return None,
        }
    }
}

/// A key that is not the next one of the schema, and its ':': the index of the field (or
/// `fields.len()` for an unknown key) and where its value starts.
#[inline(always)]
fn any_key(b: &[u8], pos: usize, m: &Model) -> Option<(usize, usize)> {
    let (end, raw) = key_text(b, pos)?;
    let index = (m.lookup)(raw).unwrap_or(m.fields.len());
    Some((index, colon(b, end)?))
}

/// The text of the unescaped key whose quote is at `pos`, and where it ends.
#[inline(always)]
fn key_text(b: &[u8], pos: usize) -> Option<(usize, &[u8])> {
    if byte(b, pos) != b'"' {
        return None;
    }
    let (stop, high) = find_stop(b, pos + 1);
    if !high && byte(b, stop) == b'"' {
        return Some((stop + 1, &b[pos + 1..stop]));
    }
    // Escaped keys are left to the full walk, which looks them up decoded.
    let (end, raw) = string_end(b, pos)?;
    Some((end, raw?))
}

/// The ':' after a key ending at `pos`: where the value starts.
#[inline(always)]
fn colon(b: &[u8], pos: usize) -> End {
    let pos = ws(b, pos);
    (byte(b, pos) == b':').then_some(pos + 1)
}

/// An array of `item` whose '[' is at `pos`.
#[inline(never)]
fn array(b: &[u8], pos: usize, item: &'static Ty, depth: u32) -> End {
    let depth = enter(depth)?;
    let mut pos = ws(b, pos + 1);
    if byte(b, pos) == b']' {
        return Some(pos + 1);
    }
    loop {
        pos = ws(b, value(b, pos, item, false, depth)?);
        match byte(b, pos) {
            b',' => pos += 1,
            b']' => return Some(pos + 1),
            _ => return None,
        }
    }
}

// ---------------------------------------------------------------- the per-model functions
//
// `compiled.rs` (generated) has one function per model that reads an object whose keys come in
// schema order, in compact text: each key of the schema in turn is tried with a constant probe,
// and a value is read by the reader of its type below, so nothing is looked up in the table.
// What they do not expect - a key out of order or unknown, white space, `null`, an escape - is
// read by the table walk above: a value they cannot read at once goes to `by_table`, and an
// object they cannot finish (`Miss::Other`) is read again from its '{' by `object`.
//
// Reading an object again is what could make the pass superlinear: in an object whose last key
// is unknown, at every level of a deep document, each level would read all below it again. So
// what is read again is counted against `spare` (twice the document at the start), and when it
// runs out the pass stops and leaves the document to the full walk. The table walk never calls
// back into these functions, so each byte is read at most once by them.

/// Where a value ends, or why the per-model function could not say.
pub(super) type Step = Result<usize, Miss>;

/// A per-model function: the object whose '{' is at `pos`, `depth` containers deep, with what
/// may still be read again.
pub(super) type ObjFn = fn(&[u8], usize, u32, &mut usize) -> Step;

// A `usize`, so that a `Step` is a pair of registers: with a byte it is returned in memory.
#[repr(usize)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Miss {
    /// Something the function does not read (see above): the table walk reads the object.
    Other,
    /// The table walk found the value wrong, or `spare` ran out: the full walk decides.
    Invalid,
}

/// True when `b` is a valid `root` by the per-model functions and the table walk they fall back
/// to; false when the full walk must decide.
fn accepts_object(m: u16, b: &[u8]) -> bool {
    let mut spare = b.len().saturating_mul(2);
    let end = match object_or_again(b, 0, 0, &mut spare, compiled::OBJECTS[usize::from(m)], m) {
        Ok(end) => end,
        Err(_) => return false,
    };
    ws(b, end) == b.len()
}

/// [`accepts`] for an object without the table walk reading anything again: true when the
/// per-model functions read the document through.
#[cfg(test)]
pub(super) fn read_alone(root: &'static Ty, b: &[u8]) -> bool {
    let Ty::Obj(m) = root else { return false };
    let f = compiled::OBJECTS[usize::from(*m)];
    matches!(f(b, 0, 0, &mut 0), Ok(end) if end == b.len())
}

/// The per-model functions on a document, with `spare` bytes that may be read again; where it
/// ends and what is left of `spare`.
#[cfg(test)]
pub(super) fn read_with_spare(root: &'static Ty, b: &[u8], mut spare: usize) -> (Step, usize) {
    let Ty::Obj(m) = root else {
        return (Err(Miss::Other), spare);
    };
    let step = object_or_again(b, 0, 0, &mut spare, compiled::OBJECTS[usize::from(*m)], *m);
    (step, spare)
}

/// A key of the schema with the separator before it, as `probe_member` reads it.
pub(super) struct Key {
    /// `?"key":` (up to 16 bytes); `?` is the '{' or ',' and is not compared.
    bytes: [u8; 16],
    /// Bit `k` set when byte `k` of `bytes` is not compared.
    ignored: u32,
    text: &'static str,
}

impl Key {
    pub(super) const fn new(text: &'static str) -> Key {
        let probe = KeyProbe::member(text);
        let bytes = probe.head.to_le_bytes();
        let mask = probe.mask.to_le_bytes();
        let mut ignored = 0;
        let mut k = 0;
        while k < 16 {
            if mask[k] == 0 {
                ignored |= 1 << k;
            }
            k += 1;
        }
        Key {
            bytes,
            ignored,
            text,
        }
    }
}

/// Where the value starts if `key`, in compact text, follows the '{' or ',' at `at`.
#[inline(always)]
pub(super) fn key(b: &[u8], at: usize, key: &Key) -> Option<usize> {
    let Some(chunk) = chunk16(b, at) else {
        return key_near_end(b, at, key);
    };
    if same16(chunk, &key.bytes) | key.ignored != 0xffff {
        return None;
    }
    let text = key.text.as_bytes();
    let quote = at + 2 + text.len();
    // Keys of more than 12 bytes do not fit the probe with their '":'.
    if text.len() > 12 {
        let tail = &text[text.len().min(14)..];
        if b.get(quote..quote + 2) != Some(b"\":")
            || !same_bytes(&b[quote - tail.len()..quote], tail)
        {
            return None;
        }
    }
    Some(quote + 2)
}

/// `key` in the last 16 bytes, where the probe cannot read: the last key of every document is
/// there, and without this the whole document would be read again by the table walk.
#[inline(never)]
fn key_near_end(b: &[u8], at: usize, key: &Key) -> Option<usize> {
    let text = key.text.as_bytes();
    let quote = at + 2 + text.len();
    let found = b.get(at + 1) == Some(&b'"')
        && b.get(at + 2..quote) == Some(text)
        && b.get(quote..quote + 2) == Some(b"\":");
    found.then_some(quote + 2)
}

/// `key` in a leaf model's function, which calls nothing so that it needs no stack frame:
/// near the end of the input the probe is done in line.
#[inline(always)]
pub(super) fn leaf_key(b: &[u8], at: usize, key: &Key) -> Option<usize> {
    let Some(chunk) = chunk16(b, at) else {
        let text = key.text.as_bytes();
        let quote = at + 2 + text.len();
        let found = b.get(at + 1) == Some(&b'"')
            && b.get(at + 2..quote).is_some_and(|k| same_bytes(k, text))
            && b.get(quote..quote + 2) == Some(b"\":");
        return found.then_some(quote + 2);
    };
    if same16(chunk, &key.bytes) | key.ignored != 0xffff {
        return None;
    }
    let text = key.text.as_bytes();
    let quote = at + 2 + text.len();
    if text.len() > 12 {
        let tail = &text[text.len().min(14)..];
        if b.get(quote..quote + 2) != Some(b"\":")
            || !same_bytes(&b[quote - tail.len()..quote], tail)
        {
            return None;
        }
    }
    Some(quote + 2)
}

/// Bit `k` set when byte `k` of `chunk` is byte `k` of `bytes`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn same16(chunk: &[u8; 16], bytes: &[u8; 16]) -> u32 {
    use std::arch::x86_64::{_mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8};
    // SAFETY: as in `special16`; both are 16 readable bytes.
    unsafe {
        let v = _mm_loadu_si128(chunk.as_ptr().cast());
        let w = _mm_loadu_si128(bytes.as_ptr().cast());
        _mm_movemask_epi8(_mm_cmpeq_epi8(v, w)) as u32
    }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn same16(chunk: &[u8; 16], bytes: &[u8; 16]) -> u32 {
    (0..16).fold(0, |mask, k| mask | u32::from(chunk[k] == bytes[k]) << k)
}

/// Opens an object of a per-model function.
#[inline(always)]
pub(super) fn open(depth: u32) -> Result<u32, Miss> {
    enter(depth).ok_or(Miss::Invalid)
}

/// After a member's value: true at a ',', false at the '}'.
#[inline(always)]
pub(super) fn more(b: &[u8], at: usize) -> Result<bool, Miss> {
    match byte(b, at) {
        b',' => Ok(true),
        b'}' => Ok(false),
        _ => Err(Miss::Other),
    }
}

/// The end of an object whose '}' is at `at`, if every required key was read.
#[inline(always)]
pub(super) fn closed(at: usize, seen: u64, required: u64) -> Step {
    if seen & required == required {
        return Ok(at + 1);
    }
    Err(Miss::Other)
}

/// The value of `fields[i]` of model `m` at `v`, read by the table walk.
#[inline(never)]
pub(super) fn by_table(b: &[u8], v: usize, depth: u32, m: u16, i: usize) -> Step {
    let field = &model(m).fields[i];
    value(b, v, &field.ty, field.nullable, depth).ok_or(Miss::Invalid)
}

/// The same, when the per-model functions have read part of it already.
#[inline(never)]
fn again_by_table(b: &[u8], v: usize, depth: u32, spare: &mut usize, m: u16, i: usize) -> Step {
    let end = by_table(b, v, depth, m, i)?;
    spend(spare, end - v)?;
    Ok(end)
}

fn spend(spare: &mut usize, read: usize) -> Result<(), Miss> {
    *spare = spare.checked_sub(read).ok_or(Miss::Invalid)?;
    Ok(())
}

#[inline(always)]
pub(super) fn str_field(b: &[u8], v: usize, depth: u32, m: u16, i: usize) -> Step {
    if byte(b, v) == b'"' {
        if let Some(end) = plain_string(b, v) {
            return Ok(end);
        }
    }
    by_table(b, v, depth, m, i)
}

#[inline(always)]
pub(super) fn int_field(b: &[u8], v: usize, depth: u32, m: u16, i: usize) -> Step {
    if byte(b, v).wrapping_sub(b'0') < 10 {
        if let Some(end) = digits(b, v) {
            return Ok(end);
        }
    }
    by_table(b, v, depth, m, i)
}

#[inline(always)]
pub(super) fn bool_field(b: &[u8], v: usize, depth: u32, m: u16, i: usize) -> Step {
    let end = match byte(b, v) {
        b't' => literal(b, v, b"true"),
        b'f' => literal(b, v, b"false"),
        _ => None,
    };
    match end {
        Some(end) => Ok(end),
        None => by_table(b, v, depth, m, i),
    }
}

#[inline(always)]
pub(super) fn date_time_field(b: &[u8], v: usize, depth: u32, m: u16, i: usize) -> Step {
    if byte(b, v) == b'"' {
        if let Some(end) = plain_date_time(b, v) {
            return Ok(end);
        }
    }
    by_table(b, v, depth, m, i)
}

// The readers of a leaf model's values. They call nothing: what they do not read at once
// (escapes, UTF-8, big numbers, white space) is `Miss::Other`, and the leaf object, a few
// scalars, is read again by the table walk.

/// `null` for a nullable key.
#[inline(always)]
fn null_leaf(b: &[u8], v: usize, nullable: bool) -> Step {
    match nullable && b.get(v..v + 4) == Some(b"null") {
        true => Ok(v + 4),
        false => Err(Miss::Other),
    }
}

#[inline(always)]
pub(super) fn str_leaf(b: &[u8], v: usize, nullable: bool) -> Step {
    if byte(b, v) == b'"' {
        return plain_string(b, v).ok_or(Miss::Other);
    }
    null_leaf(b, v, nullable)
}

#[inline(always)]
pub(super) fn int_leaf(b: &[u8], v: usize, nullable: bool) -> Step {
    if byte(b, v).wrapping_sub(b'0') < 10 {
        if !continues_number(byte(b, v + 1)) {
            return Ok(v + 1);
        }
        return small_integer(b, v).ok_or(Miss::Other);
    }
    null_leaf(b, v, nullable)
}

#[inline(always)]
pub(super) fn bool_leaf(b: &[u8], v: usize, nullable: bool) -> Step {
    let end = match byte(b, v) {
        b't' => literal(b, v, b"true"),
        b'f' => literal(b, v, b"false"),
        _ => return null_leaf(b, v, nullable),
    };
    end.ok_or(Miss::Other)
}

/// A field whose value is an object of model `child`, read by `f`.
#[inline(always)]
#[allow(clippy::too_many_arguments)] // the position, the field, and the child's function
pub(super) fn obj_field(
    b: &[u8],
    v: usize,
    depth: u32,
    m: u16,
    i: usize,
    spare: &mut usize,
    f: ObjFn,
    child: u16,
) -> Step {
    if byte(b, v) != b'{' {
        return by_table(b, v, depth, m, i);
    }
    object_or_again(b, v, depth, spare, f, child)
}

/// A field whose value is an array of objects of model `child`, each read by `f`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(super) fn objs_field(
    b: &[u8],
    v: usize,
    depth: u32,
    m: u16,
    i: usize,
    spare: &mut usize,
    f: ObjFn,
    child: u16,
) -> Step {
    if byte(b, v) != b'[' {
        return by_table(b, v, depth, m, i);
    }
    match objects(b, v, depth, spare, f, child) {
        Err(Miss::Other) => again_by_table(b, v, depth, spare, m, i),
        done => done,
    }
}

/// The array of objects whose '[' is at `v`, in compact text.
#[inline(never)]
fn objects(b: &[u8], v: usize, depth: u32, spare: &mut usize, f: ObjFn, child: u16) -> Step {
    let depth = open(depth)?;
    let mut at = v + 1;
    if byte(b, at) == b']' {
        return Ok(at + 1);
    }
    loop {
        if byte(b, at) != b'{' {
            return Err(Miss::Other);
        }
        at = object_or_again(b, at, depth, spare, f, child)?;
        match byte(b, at) {
            b',' => at += 1,
            b']' => return Ok(at + 1),
            _ => return Err(Miss::Other),
        }
    }
}

/// The object of model `child` whose '{' is at `v`: by `f`, or else by the table walk.
#[inline(always)]
fn object_or_again(
    b: &[u8],
    v: usize,
    depth: u32,
    spare: &mut usize,
    f: ObjFn,
    child: u16,
) -> Step {
    match f(b, v, depth, spare) {
        Err(Miss::Other) => object_again(b, v, depth, spare, child),
        done => done,
    }
}

#[inline(never)]
fn object_again(b: &[u8], v: usize, depth: u32, spare: &mut usize, child: u16) -> Step {
    let end = object(b, v, model(child), depth).ok_or(Miss::Invalid)?;
    spend(spare, end - v)?;
    Ok(end)
}
