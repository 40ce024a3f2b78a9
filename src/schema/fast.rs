//! The accept-only pass `validate` makes first: the walk of `scan.rs` for documents that are
//! valid, without what it needs to explain a rejection.
//!
//! It answers "valid" or "not sure". Only "valid" is final; on "not sure" (a violation, broken
//! JSON, or something it leaves alone) the full walk reads the document again and gives the
//! verdict, so messages and paths are that walk's. It checks everything the full walk checks,
//! and hands it the rare cases (escaped or non-ASCII strings, numbers other than small
//! non-negative integers, values of unknown keys) one value at a time through
//! `scan::checked_value_end` and friends. Keys are expected in schema order, or, for a model
//! whose keys have come in another order in the document, in that order (`Order`); a key not
//! expected is looked up.
//!
//! Why a second walk: the full one keeps its cursor in a struct behind `&mut self` and is
//! shaped around building paths and messages. This one passes the cursor by value and returns
//! the new one, so the hot loop (a known key in schema order, then a small value, in compact
//! text) stays in registers.

use super::datetime::is_date_time_bytes;
use super::scan::{
    checked_value_end, find_stop, same_bytes, skipped_value_end, small_integer, string_end,
};
use super::tables::{MODELS, SCHEMA_ORDER};
use super::{key_mix, leaves, model, words, Field, KeyProbe, Model, Ty};

/// serde_json's nesting limit, as in `scan.rs`: the 128th container inside another is an error.
const DEPTH_LIMIT: u32 = 128;

/// Where a value ends, or `None` when this pass is not sure that it is valid.
type End = Option<usize>;

/// True when `json` is a valid `root`; false when the full walk must decide.
pub(super) fn accepts(root: &'static Ty, b: &[u8]) -> bool {
    let mut seen = Seen::default();
    match value(b, 0, root, false, 0, &mut seen) {
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
fn value(
    b: &[u8],
    pos: usize,
    ty: &'static Ty,
    nullable: bool,
    depth: u32,
    seen: &mut Seen,
) -> End {
    let c = byte(b, pos);
    // Tests on the first byte, then on the type within each kind of byte, at most three ways
    // each: a `match` on the type alone compiles to a jump through a table, an indirect branch
    // whose target changes from key to key and is mispredicted wherever the CPU has not learnt
    // the document (in a real call, nearly everywhere).
    let end = if c == b'"' {
        match ty {
            Ty::Str | Ty::Enum(_) => plain_string(b, pos),
            Ty::DateTime => plain_date_time(b, pos),
            _ => None,
        }
    } else if c.is_ascii_digit() {
        match ty {
            Ty::Int | Ty::Num => digits(b, pos),
            _ => None,
        }
    } else if c == b'{' {
        match ty {
            Ty::Obj(m) => return model_object(b, pos, *m, depth, seen),
            Ty::IntMap => return int_map(b, pos, depth, seen),
            _ => None,
        }
    } else {
        match (ty, c) {
            (Ty::Array(item), b'[') => return array(b, pos, item, depth, seen),
            (Ty::Bool, b't') => literal(b, pos, b"true"),
            (Ty::Bool, b'f') => literal(b, pos, b"false"),
            _ => None,
        }
    };
    match end {
        Some(end) => Some(end),
        None => other_value(b, pos, ty, nullable, depth, seen),
    }
}

/// What `value` does not read in line: whitespace before the value, literals, and what it
/// leaves to the full walk.
#[inline(never)]
fn other_value(
    b: &[u8],
    pos: usize,
    ty: &'static Ty,
    nullable: bool,
    depth: u32,
    seen: &mut Seen,
) -> End {
    let after_ws = ws(b, pos);
    if after_ws != pos {
        return value(b, after_ws, ty, nullable, depth, seen);
    }
    match byte(b, pos) {
        b'n' if nullable => literal(b, pos, b"null"),
        _ => checked_value_end(b, pos, ty, nullable, depth),
    }
}

/// Where a non-negative integer of at most 18 digits at `pos` ends (see `small_integer`). Up to
/// 7 digits, the digits are counted in one 8-byte word, without a loop: a loop's exit, at a
/// different count for nearly every number, is a branch the CPU mispredicts.
#[inline(always)]
fn digits(b: &[u8], pos: usize) -> End {
    let Some(word) = chunk8(b, pos) else {
        return small_integer(b, pos);
    };
    let stops = not_digits8(u64::from_le_bytes(*word));
    if stops == 0 {
        return small_integer(b, pos);
    }
    let end = pos + (stops.trailing_zeros() / 8) as usize;
    // A '0' followed by a digit, or a fraction or an exponent: the full walk decides.
    let leading_zero = b[pos] == b'0' && end > pos + 1;
    (!leading_zero && !continues_number(b[end])).then_some(end)
}

/// The 8 bytes at `pos`, if there are 8.
#[inline(always)]
fn chunk8(b: &[u8], pos: usize) -> Option<&[u8; 8]> {
    b.get(pos..)?.first_chunk::<8>()
}

/// Bits set in each byte of `word` (little-endian) that is not an ASCII digit: exact up to the
/// first such byte, which is all `trailing_zeros` reads. With '0' taken away a digit is a byte
/// below 10: its high nibble is clear, and stays clear when 6 is added. Only a byte that is not a
/// digit carries into the next, so only bytes after the first such byte can be flagged wrongly.
#[inline(always)]
fn not_digits8(word: u64) -> u64 {
    const ZEROS: u64 = u64::from_ne_bytes([b'0'; 8]);
    const SIXES: u64 = u64::from_ne_bytes([6; 8]);
    const HIGH_NIBBLES: u64 = u64::from_ne_bytes([0xf0; 8]);
    let values = word ^ ZEROS;
    (values | values.wrapping_add(SIXES)) & HIGH_NIBBLES
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
/// escapes. The others (escapes, UTF-8, errors) are left to the full walk's reader.
#[inline(always)]
fn plain_string(b: &[u8], pos: usize) -> End {
    let mut i = pos + 1;
    if let (Some(first), Some(second)) = (chunk16(b, i), chunk16(b, i + 16)) {
        let stops = special16(first) | special16(second) << 16;
        if stops != 0 {
            let end = i + stops.trailing_zeros() as usize;
            return (byte(b, end) == b'"').then_some(end + 1);
        }
        i += 32;
    }
    while let Some(chunk) = chunk16(b, i) {
        let stops = special16(chunk);
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

/// Bit `k` set when byte `k` of `chunk` (16 bytes) is not plain string content: '"', '\\',
/// below 0x20 or above 0x7f.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn special16(chunk: &[u8; 16]) -> u32 {
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
        _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), outside)) as u32
    }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn special16(chunk: &[u8; 16]) -> u32 {
    chunk.iter().enumerate().fold(0, |stops, (k, &c)| {
        let stop = c == b'"' || c == b'\\' || !(0x20..0x80).contains(&c);
        stops | u32::from(stop) << k
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

/// An object of model `m` whose '{' is at `pos`. Its keys are expected in schema order, or, with
/// `LEARNT` (for a model whose keys have come out of schema order in this document,
/// `Seen::disordered`), each after the one that came before it in the objects of this model read
/// before (`Order`). Two functions from one text: documents in schema order pay nothing for the
/// learnt order's table and duplicate check (merged into one loop, they cost 13 % more).
#[inline(never)]
fn object<const LEARNT: bool>(
    b: &[u8],
    pos: usize,
    m: &'static Model,
    depth: u32,
    seen: &mut Seen,
) -> End {
    let depth = enter(depth)?;
    let members = Members { seen: 0, next: 0 };
    if LEARNT {
        return learnt_members(b, pos, m, members, usize::from(m.order), depth, seen);
    }
    object_members::<false>(b, pos, m, members, usize::from(m.order), depth, seen)
}

/// The loop of the learnt order (`object::<true>`), also for the rest of an object whose keys
/// have just come out of schema order (`rest_in_learnt_order`): one copy of it.
#[inline(never)]
fn learnt_members(
    b: &[u8],
    pos: usize,
    m: &'static Model,
    members: Members,
    slot: usize,
    depth: u32,
    seen: &mut Seen,
) -> End {
    object_members::<true>(b, pos, m, members, slot, depth, seen)
}

/// The rest of an object whose member ending at `end`, `fields[index]`, came before the key
/// expected in schema order: read in learnt order, so that its keys are found in line by their
/// hash, and the order they come in is learnt for the model's next objects, from the first one on.
#[inline(never)]
fn rest_in_learnt_order(
    b: &[u8],
    end: usize,
    m: &'static Model,
    members: Members,
    index: usize,
    depth: u32,
    seen: &mut Seen,
) -> End {
    // The schema-order loop does not keep `slot`, which it does not need.
    let slot = usize::from(m.order) + index + 1;
    match after_member(b, end)? {
        (pos, true) => learnt_members(b, pos, m, members, slot, depth, seen),
        (pos, false) => (m.required & !members.seen == 0).then_some(pos + 1),
    }
}

/// The members of an object from the '{' or ',' at `pos` on, `members` read so far.
/// `slot` (learnt order) is the slot in `Order` of the last known key read,
/// `Model::order + i + 1` after `fields[i]`, or `Model::order` after the '{'.
#[inline(always)]
fn object_members<const LEARNT: bool>(
    b: &[u8],
    mut pos: usize,
    m: &'static Model,
    mut members: Members,
    mut slot: usize,
    depth: u32,
    seen: &mut Seen,
) -> End {
    loop {
        // `pos` is at the '{' or ',' before a member. The key expected next, in compact text, is
        // found with one 16-byte comparison. In schema order it cannot have been read, since
        // `next` is past every key read so far; in learnt order it may have been, and is then
        // left to `other_member`, which turns the duplicate down.
        if LEARNT {
            members.next = seen.order.next(slot);
        }
        pos = match expected_member(b, pos, m, members.next) {
            Some((field, after)) if !LEARNT || members.seen & 1 << members.next == 0 => {
                members.seen |= 1 << members.next;
                if LEARNT {
                    slot = usize::from(m.order) + members.next + 1;
                } else {
                    members.next += 1;
                }
                value(b, after, &field.ty, field.nullable, depth, seen)?
            }
            _ => match hashed_member::<LEARNT>(b, pos, m, members.seen) {
                // Learnt order: a known key in another place, in compact text, found in line.
                Some((index, after)) => {
                    seen.order.learn(slot, index);
                    slot = usize::from(m.order) + index + 1;
                    members.seen |= 1 << index;
                    let field = &m.fields[index];
                    value(b, after, &field.ty, field.nullable, depth, seen)?
                }
                None => {
                    let expected = members.next;
                    let (end, now, index) = other_member(b, pos, m, members, depth, seen)?;
                    members = now;
                    if LEARNT && index < m.fields.len() {
                        seen.order.learn(slot, index);
                        slot = usize::from(m.order) + index + 1;
                    } else if !LEARNT && index < expected {
                        return rest_in_learnt_order(b, end, m, members, index, depth, seen);
                    }
                    end
                }
            },
        };
        let more;
        (pos, more) = after_member(b, pos)?;
        if !more {
            break;
        }
    }
    (m.required & !members.seen == 0).then_some(pos + 1)
}

/// In learnt order (`LEARNT`), the index of a known key not read yet that follows the separator
/// at `pos` in compact text, and where its value starts: the learnt loop reads it in line, where a
/// call to `other_member` and back cost about 100 instructions. `None` leaves the key to
/// `other_member`, and always does in schema order, whose loop keeps its registers for the hot path.
#[inline(always)]
fn hashed_member<const LEARNT: bool>(
    b: &[u8],
    pos: usize,
    m: &Model,
    read: u64,
) -> Option<(usize, usize)> {
    if !LEARNT {
        return None;
    }
    #[cfg(test)]
    LOOKUPS.with(|n| n.set(n.get() + 1));
    let (index, len) = short_key(m, chunk16(b, pos)?)?;
    let index = index?;
    // The separator, the quotes and the key, then the ':'.
    let colon = pos + len + 3;
    (read & 1 << index == 0 && byte(b, colon) == b':').then_some((index, colon + 1))
}

/// `fields[index]` of `m` and where its value starts, if its key follows the separator at `pos`
/// (compact text; see `probe_member`).
#[inline(always)]
fn expected_member(
    b: &[u8],
    pos: usize,
    m: &'static Model,
    index: usize,
) -> Option<(&'static Field, usize)> {
    let field = m.fields.get(index)?;
    Some((field, probe_member(b, pos, field)?))
}

/// Where the ',' or the '}' after a member ending at `pos` is, and whether it is the ','.
#[inline(always)]
fn after_member(b: &[u8], pos: usize) -> Option<(usize, bool)> {
    match byte(b, pos) {
        b',' => return Some((pos, true)),
        b'}' => return Some((pos, false)),
        _ => {}
    }
    let pos = ws(b, pos);
    match byte(b, pos) {
        b',' => Some((pos, true)),
        b'}' => Some((pos, false)),
        _ => None,
    }
}

/// The keys of an object read so far.
#[derive(Clone, Copy)]
struct Members {
    /// Bit `i` set when `fields[i]` has been read.
    seen: u64,
    /// The key expected next. In schema order, one past the highest index in `seen`.
    next: usize,
}

/// What the object loops do not read in line, after the '{' or ',' at `pos`: white space, a
/// key other than the expected one, or the end of an empty object. Returns where the member
/// ends (or where the '}' of an empty object is), the keys read, and the index of the key read
/// (`fields.len()` for an unknown key or none).
///
/// A known key that comes before the expected one marks the model as written in another order
/// than the schema's (`Seen::disorder`).
#[inline(never)]
fn other_member(
    b: &[u8],
    pos: usize,
    m: &'static Model,
    mut members: Members,
    depth: u32,
    seen: &mut Seen,
) -> Option<(usize, Members, usize)> {
    let at = ws(b, pos + 1);
    if byte(b, at) == b'}' && byte(b, pos) == b'{' {
        return Some((at, members, m.fields.len()));
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
            if index < members.next {
                seen.disorder(m);
            }
            members.next = members.next.max(index + 1);
            value(b, after, &field.ty, field.nullable, depth, seen)?
        }
        None => skipped_value_end(b, after)?,
    };
    Some((end, members, index))
}

/// Indented text: the expected key, `fields[next]`, may follow the white space before the
/// quote at `at` (the probe does not look at the byte before the quote).
#[inline(never)]
fn probe_after_blank(
    b: &[u8],
    at: usize,
    m: &'static Model,
    next: usize,
) -> Option<(usize, usize)> {
    let (_, after) = expected_member(b, at - 1, m, next)?;
    Some((next, after))
}

/// Where the value of `field` starts if its key, in compact text, follows the separator at
/// `pos` (see `leaf_key`).
#[inline(always)]
pub(super) fn probe_member(b: &[u8], pos: usize, field: &Field) -> Option<usize> {
    probe_key(b, pos, &field.member, field.key, field.tail)
}

/// Where the value starts after a probe at `pos` matched the first 16 bytes of `?"key":`.
/// Keys of more than 12 bytes do not fit the probe with their '":': their rest is compared here,
/// for keys of up to 20 bytes as one word, `tail` (see `key_tail`). `len` is the key's length,
/// `key` its text.
#[inline(always)]
fn after_probe(b: &[u8], pos: usize, len: usize, key: &[u8], tail: u64) -> Option<usize> {
    let quote = pos + 2 + len;
    if len > 12 && len <= 20 {
        let end = b.get(quote - 6..quote + 2)?;
        return (u64::from_le_bytes(end.try_into().ok()?) == tail).then_some(quote + 2);
    }
    if len > 12 {
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
fn int_map(b: &[u8], pos: usize, depth: u32, seen: &mut Seen) -> End {
    let depth = enter(depth)?;
    let mut pos = ws(b, pos + 1);
    if byte(b, pos) == b'}' {
        return Some(pos + 1);
    }
    loop {
        let (end, _) = key_text(b, pos)?;
        let after = colon(b, end)?;
        pos = ws(b, value(b, after, &Ty::Int, false, depth, seen)?);
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
    #[cfg(test)]
    LOOKUPS.with(|n| n.set(n.get() + 1));
    // `pos` follows a '{', ',' or white space.
    if let Some(chunk) = chunk16(b, pos - 1) {
        if let Some((index, len)) = short_key(m, chunk) {
            return Some((index.unwrap_or(m.fields.len()), colon(b, pos + len + 2)?));
        }
    }
    // Keys of 14 bytes or more, escaped or not ASCII, or in the last 16 bytes of the text.
    let (end, raw) = key_text(b, pos)?;
    let index = m.index_of(raw).unwrap_or(m.fields.len());
    Some((index, colon(b, end)?))
}

/// A key of up to 13 bytes, plain ASCII, whose quote is at byte 1 of `chunk` (byte 0 is the
/// separator or white space before it): its index in `fields`, if `m` has it, and its length.
/// `Model::index_of` without reading the key twice: the closing quote is found, the key hashed
/// and compared with the field's probe (`?"` and the key's first 14 bytes, in the field's cache
/// line) in the same 16 bytes, where they lie.
#[inline(always)]
fn short_key(m: &Model, chunk: &[u8; 16]) -> Option<(Option<usize>, usize)> {
    // The separator and the quote are not the key's end.
    let stops = special16(chunk) & !0b11;
    let end = stops.trailing_zeros() as usize;
    if chunk[1] != b'"' || stops == 0 || chunk[end] != b'"' {
        return None;
    }
    let len = end - 2;
    let (lo, hi) = words(chunk);
    let (lo_mask, hi_mask) = KEY_LANES[len];
    let (lo, hi) = (lo & lo_mask, hi & hi_mask);
    let Some(index) = m.slot(key_mix(lo, hi, len)) else {
        return Some((None, len));
    };
    let probe = &m.fields[index].member;
    let (want_lo, want_hi) = words(&probe.bytes);
    let same = lo == want_lo & lo_mask && hi == want_hi & hi_mask;
    Some((
        (same && usize::from(probe.len) == len).then_some(index),
        len,
    ))
}

/// For a key of `len` bytes (up to 13) at byte 2 of 16, the masks of its bytes in the two words
/// of the 16 (`words`).
const KEY_LANES: [(u64, u64); 14] = {
    let mut masks = [(0, 0); 14];
    let mut len = 0;
    while len < 14 {
        let lanes = ((1u128 << (8 * len)) - 1) << 16;
        masks[len] = (lanes as u64, (lanes >> 64) as u64);
        len += 1;
    }
    masks
};

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
fn array(b: &[u8], pos: usize, item: &'static Ty, depth: u32, seen: &mut Seen) -> End {
    let depth = enter(depth)?;
    let mut pos = ws(b, pos + 1);
    if byte(b, pos) == b']' {
        return Some(pos + 1);
    }
    loop {
        pos = ws(b, value(b, pos, item, false, depth, seen)?);
        match byte(b, pos) {
            b',' => pos += 1,
            b']' => return Some(pos + 1),
            _ => return None,
        }
    }
}

// ---------------------------------------------------------------- leaf models
//
// A leaf model has scalar keys only, at most 8 of them (`LEAF_MAX_KEYS` in the generator: the
// larger ones are few in a document); `EmbeddedModelSchema`, the `schema` key of nearly every
// model, is one, and is about half the objects of a document. `leaves.rs` (generated) has one
// function for each: the keys of the schema in its order, each tried with a constant probe,
// each value read by the readers below. They call nothing, so they need no stack frame, which
// is most of what reading such an object through `object` costs. What they do not read at once
// (a key out of order or unknown, white space, escapes, big numbers) gives `None`, and `object`
// reads the few scalars again. Only leaves are generated: one function per model of the whole
// schema made the code twenty times larger, and in a real call, where the kernel and the HTTP
// client run between two validations, its instruction-cache misses cost more than it saved.
//
// A leaf object that is the same text as the last one of its model accepted in the document
// (by its function or by the object loops) is accepted by comparing the two (`repeated`): the
// `schema` object is nearly always the same text, since its enum has one known value besides
// UNKNOWN. Nothing outlives the document.

/// The object of model `m` whose '{' is at `pos`: by its leaf function if it has one, in the
/// order its keys have come in this document.
#[inline(always)]
fn model_object(b: &[u8], pos: usize, m: u16, depth: u32, seen: &mut Seen) -> End {
    let index = usize::from(m);
    let learnt_order = seen.disordered[index];
    let Some(leaf) = leaves::LEAVES[index] else {
        return match learnt_order {
            false => object::<false>(b, pos, model(m), depth, seen),
            true => object::<true>(b, pos, model(m), depth, seen),
        };
    };
    if let Some(end) = repeated(b, pos, seen.last[index], depth) {
        #[cfg(test)]
        REPEATS.with(|n| n.set(n.get() + 1));
        return Some(end);
    }
    let end = match learnt_order {
        false => match leaf(b, pos, depth) {
            Some(end) => end,
            None => object::<false>(b, pos, model(m), depth, seen)?,
        },
        true => object::<true>(b, pos, model(m), depth, seen)?,
    };
    seen.last[index] = (pos, end);
    Some(end)
}

/// What the pass has learnt from the document so far; nothing outlives it.
struct Seen {
    /// The last object of each leaf model accepted in this document, as `(start, end)`; `(0, 0)`
    /// for none yet. Nearly every model has a `schema` key, and its `EmbeddedModelSchema` object
    /// is the same text throughout a document, about half of the objects in it.
    last: [(usize, usize); MODELS.len()],
    /// The models whose keys have come out of schema order in this document.
    disordered: [bool; MODELS.len()],
    order: Order,
}

impl Default for Seen {
    fn default() -> Seen {
        Seen {
            last: [(0, 0); MODELS.len()],
            disordered: [false; MODELS.len()],
            order: Order::new(),
        }
    }
}

impl Seen {
    /// Model `m` (by its table entry) is written in another order than the schema's.
    fn disorder(&mut self, m: &'static Model) {
        // `m` is an entry of `MODELS`: its index from its address, without a search.
        let offset = (m as *const Model as usize).wrapping_sub(MODELS.as_ptr() as usize);
        if let Some(flag) = self
            .disordered
            .get_mut(offset / std::mem::size_of::<Model>())
        {
            *flag = true;
        }
    }
}

/// The key `object::<true>` probes for next, for each model: one slot for after the '{' and one after
/// each key, `Model::order` onwards. Schema (alphabetical) order to begin with, as the Python
/// SDK writes keys; when another key comes, it is the one expected after the same key from then
/// on. Documents written in another order keep it: the official Dart SDK's models, generated from
/// the same OpenAPI specification as Pieces OS's, write keys in the specification's order. Their
/// models repeat through a document, so after the first object of a model its keys are found by
/// the probe, not looked up. The maximal 30 KB profile with its keys reversed: 371k
/// instructions per validation before, 261k with the repeats of leaf objects read by the object
/// loops compared too, 188k with this table (alphabetical: 102k).
struct Order([u8; ORDER_SLOTS]);

/// `SCHEMA_ORDER`'s length rounded up to a power of two, so that a slot is found with a mask and
/// no bounds check: the object loop reads one for every key.
const ORDER_SLOTS: usize = SCHEMA_ORDER.len().next_power_of_two();

impl Order {
    fn new() -> Order {
        let mut slots = [u8::MAX; ORDER_SLOTS];
        slots[..SCHEMA_ORDER.len()].copy_from_slice(&SCHEMA_ORDER);
        Order(slots)
    }

    /// The index in its model's `fields` of the key expected after `slot`; past the end of
    /// `fields` when none is (after the last key, the '}').
    #[inline(always)]
    fn next(&self, slot: usize) -> usize {
        usize::from(self.0[slot & (ORDER_SLOTS - 1)])
    }

    /// `fields[index]` came after `slot`.
    #[inline(always)]
    fn learn(&mut self, slot: usize, index: usize) {
        self.0[slot & (ORDER_SLOTS - 1)] = u8::try_from(index).unwrap_or(u8::MAX);
    }
}

/// Where the object at `pos` ends if it is the same text as `last`, an object of the same leaf
/// model accepted earlier in this document. Whether an object of a leaf model is valid depends
/// on its bytes and on `depth` alone: its known keys hold scalars, checked by their bytes; the
/// values of unknown keys are skipped by a walk that does not depend on it (`scan::Walk::skip`); the
/// order learnt from the document (`Order`) only decides which key is probed first. And the
/// bytes decide where the object ends. So an identical text is valid where the object itself
/// may open, which is the one depth checked again.
#[inline(always)]
pub(super) fn repeated(b: &[u8], pos: usize, (start, end): (usize, usize), depth: u32) -> End {
    // An object is at least `{}`: an empty span means none yet.
    let (Some(first), Some(copy)) = (b.get(start..end), b.get(pos..pos + (end - start))) else {
        return None;
    };
    if first.is_empty() || enter(depth).is_none() {
        return None;
    }
    same_text(first, copy).then_some(pos + copy.len())
}

/// `a == c` for slices of the same length: 16 bytes at a time, the last 16 possibly overlapping
/// the ones before, the results gathered and tested once. Up to 64 bytes (a `schema` object is
/// about 50) without a loop.
#[inline(always)]
fn same_text(a: &[u8], c: &[u8]) -> bool {
    let len = a.len();
    if len < 16 || c.len() != len {
        return same_bytes(a, c);
    }
    let same_at = |k: usize| {
        // SAFETY: `k + 16 <= len` at every call below, so the 16 bytes are inside `a` and `c`.
        let chunk = |s: &[u8]| unsafe { &*s.as_ptr().add(k).cast::<[u8; 16]>() };
        same16(chunk(a), chunk(c))
    };
    let mut same = same_at(0) & same_at(len - 16);
    if len > 32 {
        same &= same_at(16);
    }
    if len > 48 {
        same &= same_at(32);
    }
    let mut k = 48;
    while k + 16 < len {
        same &= same_at(k);
        k += 16;
    }
    same == 0xffff
}

/// A leaf model's function: where the object whose '{' is at `pos` ends, `depth` containers
/// deep, or `None` when `object` must read it.
pub(super) type LeafFn = fn(&[u8], usize, u32) -> End;

/// A key of a leaf model, as its generated function reads it.
pub(super) struct Key {
    probe: Probe,
    text: &'static str,
    tail: u64,
}

impl Key {
    pub(super) const fn new(text: &'static str) -> Key {
        Key {
            probe: Probe::new(text),
            text,
            tail: key_tail(text),
        }
    }
}

/// The last 8 bytes of `"key":` for a key of 13 to 20 bytes, as a little-endian word: with the
/// probe's first 16 bytes of `?"key":` they cover the whole of it, so that the rest of such a key
/// is compared in one step (`after_probe`). 0 for other keys, which do not use it.
pub(super) const fn key_tail(text: &str) -> u64 {
    let key = text.as_bytes();
    let n = key.len();
    if n < 13 || n > 20 {
        return 0;
    }
    let mut bytes = [b'"'; 8];
    let mut i = 0;
    while i < 6 {
        bytes[i] = key[n - 6 + i];
        i += 1;
    }
    bytes[7] = b':';
    u64::from_le_bytes(bytes)
}

/// A key of the schema with the separator before it, as `probe_key` reads it. Its text is not
/// kept here: the table's `Field` has it, beside this.
#[derive(Debug)]
pub(super) struct Probe {
    /// `?"key":` (up to 16 bytes); `?` is the '{' or ',' and is not compared.
    bytes: [u8; 16],
    /// Bit `k` set when byte `k` of `bytes` is not compared.
    ignored: u16,
    /// The key's length in bytes (keys are short; a longer one is never expected here).
    len: u8,
}

impl Probe {
    pub(super) const fn new(text: &'static str) -> Probe {
        assert!(text.len() <= u8::MAX as usize, "a key of over 255 bytes");
        let probe = KeyProbe::member(text);
        let mask = probe.mask.to_le_bytes();
        let mut ignored = 0;
        let mut k = 0;
        while k < 16 {
            if mask[k] == 0 {
                ignored |= 1 << k;
            }
            k += 1;
        }
        Probe {
            bytes: probe.head.to_le_bytes(),
            ignored,
            len: text.len() as u8,
        }
    }
}

/// Where the value starts if `key`, in compact text, follows the '{' or ',' at `at`.
#[inline(always)]
pub(super) fn leaf_key(b: &[u8], at: usize, key: &Key) -> Option<usize> {
    probe_key(b, at, &key.probe, key.text, key.tail)
}

/// Where the value starts if the key `text`, probed by `key`, in compact text, follows the '{'
/// or ',' at `at`. In the last 16 bytes, where the probe cannot read, the key is compared in
/// line: the last object of a document is often a leaf.
#[inline(always)]
fn probe_key(b: &[u8], at: usize, key: &Probe, text: &'static str, tail: u64) -> Option<usize> {
    let len = usize::from(key.len);
    let Some(chunk) = chunk16(b, at) else {
        let text = text.as_bytes();
        let quote = at + 2 + len;
        let found = b.get(at + 1) == Some(&b'"')
            && b.get(at + 2..quote).is_some_and(|k| same_bytes(k, text))
            && b.get(quote..quote + 2) == Some(b"\":");
        return found.then_some(quote + 2);
    };
    if same16(chunk, &key.bytes) | u32::from(key.ignored) != 0xffff {
        return None;
    }
    after_probe(b, at, len, text.as_bytes(), tail)
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

/// Opens a leaf object: `None` when it is one container too deep.
#[inline(always)]
pub(super) fn open(depth: u32) -> Option<()> {
    enter(depth).map(|_| ())
}

/// After a member's value: true at a ',', false at the '}'.
#[inline(always)]
pub(super) fn more(b: &[u8], at: usize) -> Option<bool> {
    match byte(b, at) {
        b',' => Some(true),
        b'}' => Some(false),
        _ => None,
    }
}

/// The end of an object whose '}' is at `at`, if every required key was read.
#[inline(always)]
pub(super) fn closed(at: usize, seen: u64, required: u64) -> End {
    (seen & required == required).then_some(at + 1)
}

/// `null` for a nullable key.
#[inline(always)]
fn null_leaf(b: &[u8], v: usize, nullable: bool) -> End {
    (nullable && b.get(v..v + 4) == Some(b"null")).then_some(v + 4)
}

#[inline(always)]
pub(super) fn str_leaf(b: &[u8], v: usize, nullable: bool) -> End {
    if byte(b, v) == b'"' {
        return plain_string(b, v);
    }
    null_leaf(b, v, nullable)
}

#[inline(always)]
pub(super) fn int_leaf(b: &[u8], v: usize, nullable: bool) -> End {
    if byte(b, v).wrapping_sub(b'0') < 10 {
        return digits(b, v);
    }
    null_leaf(b, v, nullable)
}

#[inline(always)]
pub(super) fn bool_leaf(b: &[u8], v: usize, nullable: bool) -> End {
    match byte(b, v) {
        b't' => literal(b, v, b"true"),
        b'f' => literal(b, v, b"false"),
        _ => null_leaf(b, v, nullable),
    }
}

#[cfg(test)]
thread_local! {
    /// How many keys this thread has looked up rather than found by a probe, for the tests.
    pub(super) static LOOKUPS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    /// How many leaf objects this thread has accepted as repeats of an earlier one, for the
    /// tests.
    pub(super) static REPEATS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The leaf function of model `m`, for the tests.
#[cfg(test)]
pub(super) fn leaf(m: u16) -> Option<LeafFn> {
    leaves::LEAVES[usize::from(m)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::tables::MODELS;

    fn member(sep: u8, key: &str, rest: &str) -> Vec<u8> {
        let mut text = vec![sep];
        text.extend_from_slice(format!("\"{key}\"{rest}").as_bytes());
        text
    }

    /// Equal texts of every length up to 100 compare equal, and a difference at any byte is seen.
    #[test]
    fn same_text_sees_every_byte() {
        let a: Vec<u8> = (0..100u8).map(|i| b'a' + i % 26).collect();
        for len in 0..=a.len() {
            let mut c = a[..len].to_vec();
            assert!(same_text(&a[..len], &c), "{len}");
            for k in 0..len {
                c[k] ^= 0x20;
                assert!(!same_text(&a[..len], &c), "{len}: byte {k}");
                c[k] ^= 0x20;
            }
        }
    }

    /// A key out of order is found by the hash where it lies (keys of up to 13 bytes, with 16
    /// bytes to read) and by `Model::index_of` otherwise, and only if the model has it: every key
    /// of the schema, one byte longer or shorter, or with one byte changed, in every model.
    #[test]
    fn keys_out_of_order_are_found_exactly() {
        let keys = MODELS.iter().flat_map(|m| m.fields.iter().map(|f| f.key));
        let mut candidates: Vec<String> = Vec::new();
        for key in keys {
            candidates.extend([
                key.to_owned(),
                format!("{key}x"),
                key[..key.len() - 1].into(),
            ]);
            for i in 0..key.len() {
                let mut changed = key.as_bytes().to_vec();
                changed[i] ^= 0x20;
                if let Ok(text) = String::from_utf8(changed) {
                    if !text.contains(['"', '\\']) && !text.chars().any(|c| c.is_control()) {
                        candidates.push(text);
                    }
                }
            }
        }
        let mut hashed = 0;
        for m in MODELS.iter() {
            for key in &candidates {
                let want = m.fields.iter().position(|f| f.key == key);
                let value = key.len() + 4;
                for rest in [":1,\"padding past sixteen bytes\":0}", ":1}"] {
                    let text = member(b',', key, rest);
                    let found =
                        any_key(&text, 1, m).map(|(i, at)| (m.fields.get(i).map(|_| i), at));
                    assert_eq!(
                        found,
                        Some((want, value)),
                        "{}: {key:?} in {text:?}",
                        m.name
                    );
                    hashed += usize::from(chunk16(&text, 0).is_some() && key.len() <= 13);
                }
            }
        }
        assert!(
            hashed > 10_000,
            "the in-place hash was tried {hashed} times"
        );
    }

    /// `plain_string` ends a string exactly where its closing quote is, and only there: strings
    /// of 0 to 70 bytes with a quote, a backslash, a control character or a byte above 0x7f at
    /// every position, followed by enough text for every read or by the end of the input.
    #[test]
    fn plain_strings_end_exactly_at_their_quote() {
        for len in 0..=70 {
            for at in 0..=len {
                for special in [b'"', b'\\', 0x01, 0x1f, 0x7f, 0x80, 0xff] {
                    let mut text = vec![b'"'];
                    text.extend((0..len).map(|k| b'a' + (k % 26) as u8));
                    text.insert(1 + at, special);
                    text.push(b'"');
                    // The first special byte decides: a quote ends the string, any other is
                    // left to the full walk (0x7f, DEL, is plain content).
                    let stop = text[1..]
                        .iter()
                        .position(|&c| c == b'"' || c == b'\\' || !(0x20..0x80).contains(&c));
                    let want = stop.filter(|&k| text[1 + k] == b'"').map(|k| k + 2);
                    for tail in [
                        &b""[..],
                        &br#","and more text past the end of the 32 bytes read""#[..],
                    ] {
                        let mut doc = text.clone();
                        doc.extend_from_slice(tail);
                        assert_eq!(
                            plain_string(&doc, 0),
                            want,
                            "{:?}",
                            String::from_utf8_lossy(&doc)
                        );
                    }
                }
            }
        }
    }

    /// `digits` ends a non-negative integer of at most 18 digits exactly after its last digit,
    /// and is not sure (None) of a leading zero, a fraction, an exponent or more digits: integers
    /// of 1 to 20 digits before every kind of byte, with text to read past them or at the end
    /// of the input.
    #[test]
    fn digits_end_exactly_after_the_last_digit() {
        for len in 1..=20 {
            for first in [b'0', b'1', b'9'] {
                for after in [
                    &b""[..],
                    b",",
                    b"}",
                    b"]",
                    b" ",
                    b".5",
                    b"e1",
                    b"E1",
                    b"x",
                    b"-",
                    b":",
                ] {
                    for tail in [&b""[..], &b",\"and more past the eight bytes read\":1}"[..]] {
                        let mut doc = vec![first];
                        doc.extend((1..len).map(|k| b'0' + (k % 10) as u8));
                        doc.extend_from_slice(after);
                        doc.extend_from_slice(tail);
                        let fraction_or_exponent =
                            matches!(after.first(), Some(b'.' | b'e' | b'E'));
                        let leading_zero = first == b'0' && len > 1;
                        let want =
                            (len <= 18 && !leading_zero && !fraction_or_exponent).then_some(len);
                        assert_eq!(digits(&doc, 0), want, "{:?}", String::from_utf8_lossy(&doc));
                    }
                }
            }
        }
    }

    /// Every field's in-order probe finds its key after a '{' or ',', with 16 bytes to read or
    /// at the very end of the input, and gives where the value starts; it takes no other key of
    /// the model, nor the key one byte longer or shorter, or without its ':'.
    #[test]
    fn every_member_probe_finds_its_key_and_no_other() {
        let padding = r#":1,"padding past sixteen bytes":0}"#;
        for m in MODELS.iter() {
            for f in m.fields {
                let what = format!("{}.{}", m.name, f.key);
                let start = f.key.len() + 4;
                for sep in [b'{', b','] {
                    let text = member(sep, f.key, padding);
                    assert_eq!(probe_member(&text, 0, f), Some(start), "{what}");
                    assert_eq!(
                        probe_member(&text[..start], 0, f),
                        Some(start),
                        "{what} at the end"
                    );
                }
                let longer = format!("{}x", f.key);
                let shorter = &f.key[..f.key.len() - 1];
                let others = m.fields.iter().map(|o| o.key).filter(|k| *k != f.key);
                for key in others.chain([longer.as_str(), shorter]) {
                    let text = member(b',', key, padding);
                    assert_eq!(probe_member(&text, 0, f), None, "{what} took {key}");
                    assert_eq!(
                        probe_member(&text[..key.len() + 4], 0, f),
                        None,
                        "{what}: {key}"
                    );
                }
                let no_colon = member(b',', f.key, &padding.replacen(':', " ", 1));
                assert_eq!(probe_member(&no_colon, 0, f), None, "{what} without ':'");
                // Every byte counts, past the probe's 16 too (`after_probe`, `key_tail`).
                for i in 0..f.key.len() {
                    let mut changed = member(b',', f.key, padding);
                    changed[2 + i] ^= 0x01;
                    assert_eq!(probe_member(&changed, 0, f), None, "{what}: byte {i}");
                    let end = f.key.len() + 4;
                    assert_eq!(
                        probe_member(&changed[..end], 0, f),
                        None,
                        "{what}: byte {i}"
                    );
                }
            }
        }
    }
}
