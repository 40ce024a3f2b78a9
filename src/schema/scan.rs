//! The validator proper: one recursive-descent pass over the bytes, driven by the schema table.
//! `validate` runs it on the documents that the accept-only pass (`fast.rs`) does not accept,
//! and that pass hands it what it leaves alone, one value at a time.
//!
//! It gives the verdicts serde_json gives when it reads the text with the schema visitor kept in
//! `reference.rs`, including serde_json's leniencies, because documents it accepted must stay
//! accepted:
//! - values the schema does not look at (unknown keys, a duplicate's second value, the rest of a
//!   document after a violation) are only checked for JSON grammar, as serde_json's `IgnoredAny`
//!   does: no nesting limit, no range check on their numbers;
//!
//! and where serde_json's walk is more lenient or less precise, this departs from it on purpose:
//! - one rule for every string, key or value, read or skipped: UTF-8 without raw control
//!   characters (RFC 8259 §7, §8.1; found by fuzzing), and surrogate escapes only in pairs
//!   (serde_json's `IgnoredAny` lets a lone `\ud800` through);
//! - `-0` is an integer (serde_json reads it as the float `-0.0`);
//! - a number the schema reads that overflows an `f64` (`1e309`) is valid JSON, so it is a
//!   violation at its path ("out of range"), not a syntax error as serde_json reports it;
//! - every value the schema does look at is fully checked: UTF-8, escapes, numbers that overflow
//!   an `f64`, and at most 127 nested containers (serde_json's limit of 128).

use super::datetime::is_date_time_bytes;
use super::{fast, mismatch, model, render_path, Field, Found, Model, Seg, Ty, Violation};

/// serde_json's nesting limit: the 128th container inside another is an error.
const DEPTH_LIMIT: u32 = 128;

/// Returned when the walk stops; what happened is in `Walk::mode` and friends.
struct Stop;

type Step<T = ()> = Result<T, Stop>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Walking,
    Violation,
    Syntax,
}

/// A string as found in the input: its content is `b[start..end]`.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: usize,
    end: usize,
    escaped: bool,
}

/// A key of a model: the index of a known field, or where an unknown key is.
enum Key {
    Known(usize),
    Other(Span),
}

/// Checks `json` against `root`.
pub(super) fn validate(root: &'static Ty, json: &[u8]) -> Result<(), Violation> {
    let mut walk = Walk::new(json);
    let walked = walk.value(root, false);
    if walked.is_ok() || walk.mode == Mode::Violation {
        // A rejected document has been read to its end, so trailing garbage still wins.
        walk.ws();
        if walk.pos < json.len() {
            walk.segs.clear();
            walk.syntax("end of input after the document");
            return Err(walk.into_violation());
        }
    }
    match walked {
        Ok(()) => Ok(()),
        Err(Stop) => Err(walk.into_violation()),
    }
}

/// For the accept-only pass (`fast.rs`), on what it leaves to this walk: where the value at
/// `pos` ends if it fits `ty`, `depth` containers deep.
#[inline(never)]
pub(super) fn checked_value_end(
    b: &[u8],
    pos: usize,
    ty: &'static Ty,
    nullable: bool,
    depth: u32,
) -> Option<usize> {
    let mut walk = Walk::new(b);
    walk.pos = pos;
    walk.depth = depth;
    walk.value(ty, nullable).ok().map(|()| walk.pos)
}

/// Where the value of an unknown key at `pos` ends if it is JSON (see `Walk::skip`).
#[inline(never)]
pub(super) fn skipped_value_end(b: &[u8], pos: usize) -> Option<usize> {
    let mut walk = Walk::new(b);
    walk.pos = pos;
    walk.skip().ok().map(|()| walk.pos)
}

/// Where the string whose quote is at `pos` ends (after its closing quote), and its content
/// if it has no escape, when it is a valid string.
#[inline(never)]
pub(super) fn string_end(b: &[u8], pos: usize) -> Option<(usize, Option<&[u8]>)> {
    let mut walk = Walk::new(b);
    walk.pos = pos;
    let span = walk.string().ok()?;
    let raw = (!span.escaped).then(|| &b[span.start..span.end]);
    Some((walk.pos, raw))
}

struct Walk<'a> {
    b: &'a [u8],
    pos: usize,
    /// Containers open in checked values (skipped values have their own count).
    depth: u32,
    mode: Mode,
    /// The violation, or for a syntax error what was expected and where.
    message: String,
    /// The path of the failure, innermost first, pushed while the walk unwinds.
    segs: Vec<Seg>,
}

// ---------------------------------------------------------------- failures

impl<'a> Walk<'a> {
    fn new(b: &'a [u8]) -> Self {
        Walk {
            b,
            pos: 0,
            depth: 0,
            mode: Mode::Walking,
            message: String::new(),
            segs: Vec::new(),
        }
    }

    /// The text is not JSON at `self.pos`. Once a violation is being unwound, a syntax error
    /// replaces it and the path restarts at the container being read.
    #[cold]
    #[inline(never)]
    fn syntax(&mut self, expected: &str) -> Stop {
        if self.mode == Mode::Violation {
            self.segs.clear();
        }
        self.mode = Mode::Syntax;
        self.message = self.syntax_message(expected);
        Stop
    }

    fn syntax_message(&self, expected: &str) -> String {
        let at = self.pos.min(self.b.len());
        let before = &self.b[..at];
        let line = 1 + before.iter().filter(|&&c| c == b'\n').count();
        let column = 1 + at
            - before
                .iter()
                .rposition(|&c| c == b'\n')
                .map_or(0, |i| i + 1);
        let found = match self.b.get(at) {
            None => "end of input".to_owned(),
            Some(c) if c.is_ascii_graphic() => format!("'{}'", char::from(*c)),
            Some(c) => format!("byte 0x{c:02x}"),
        };
        format!("expected {expected}, found {found} at byte {at} (line {line}, column {column})")
    }

    #[cold]
    #[inline(never)]
    fn violation(&mut self, message: String) -> Stop {
        self.mode = Mode::Violation;
        self.message = message;
        Stop
    }

    fn into_violation(self) -> Violation {
        Violation {
            syntax: self.mode != Mode::Violation,
            path: render_path(&self.segs),
            message: self.message,
        }
    }

    /// A member of the object being read failed: name it, and after a violation read the rest
    /// of the object so that broken JSON further on is still reported as such.
    #[cold]
    #[inline(never)]
    fn unwind_object(&mut self, key: Seg) -> Stop {
        self.segs.push(key);
        if self.mode == Mode::Violation {
            let _ = self.drain_object();
        }
        Stop
    }

    #[cold]
    #[inline(never)]
    fn unwind_array(&mut self, index: usize) -> Stop {
        self.segs.push(Seg::Index(index));
        if self.mode == Mode::Violation {
            let _ = self.drain_array();
        }
        Stop
    }

    /// The rest of an object after a failed member: keys read as serde_json reads a key it
    /// ignores (checked), values skipped.
    fn drain_object(&mut self) -> Step {
        loop {
            match self.ws() {
                b'}' => {
                    self.pos += 1;
                    return Ok(());
                }
                b',' => {
                    self.pos += 1;
                    self.expect_key_quote()?;
                    self.string()?;
                    self.colon()?;
                    self.skip()?;
                }
                _ => return Err(self.syntax("',' or '}'")),
            }
        }
    }

    fn drain_array(&mut self) -> Step {
        loop {
            match self.ws() {
                b']' => {
                    self.pos += 1;
                    return Ok(());
                }
                b',' => {
                    self.pos += 1;
                    self.skip()?;
                }
                _ => return Err(self.syntax("',' or ']'")),
            }
        }
    }
}

// ---------------------------------------------------------------- tokens

impl Walk<'_> {
    /// The byte at `pos`, or 0 at the end (0 is never valid outside a string either).
    #[inline(always)]
    fn peek(&self) -> u8 {
        self.b.get(self.pos).copied().unwrap_or(0)
    }

    /// Skips RFC 8259 whitespace and returns the next byte (0 at the end). Compact text has
    /// none, and every byte above ' ' ends it: one comparison.
    #[inline(always)]
    fn ws(&mut self) -> u8 {
        let c = self.peek();
        if c > b' ' {
            return c;
        }
        self.ws_slow()
    }

    fn ws_slow(&mut self) -> u8 {
        loop {
            let c = self.peek();
            if !matches!(c, b' ' | b'\n' | b'\t' | b'\r') {
                return c;
            }
            self.pos += 1;
        }
    }

    #[inline]
    fn colon(&mut self) -> Step {
        if self.ws() != b':' {
            return Err(self.syntax("':'"));
        }
        self.pos += 1;
        Ok(())
    }

    /// After a ',' in an object: the next key must start here (a '}' would be a trailing comma).
    #[inline]
    fn expect_key_quote(&mut self) -> Step {
        if self.ws() != b'"' {
            return Err(self.syntax("a string key"));
        }
        Ok(())
    }

    /// Opens a container of a checked value at `pos`.
    #[inline]
    fn enter(&mut self) -> Step {
        self.depth += 1;
        if self.depth >= DEPTH_LIMIT {
            return Err(self.syntax("no deeper nesting (recursion limit exceeded)"));
        }
        self.pos += 1;
        Ok(())
    }

    /// `true`, `false` or `null`, whose first byte is at `pos`.
    #[inline]
    fn literal(&mut self, word: &'static [u8]) -> Step {
        if self.b.get(self.pos..self.pos + word.len()) == Some(word) {
            self.pos += word.len();
            return Ok(());
        }
        self.literal_error(word)
    }

    #[cold]
    fn literal_error(&mut self, word: &'static [u8]) -> Step {
        let same = word
            .iter()
            .zip(&self.b[self.pos..])
            .take_while(|(a, b)| a == b)
            .count();
        self.pos += same;
        let name = std::str::from_utf8(word).unwrap_or_default();
        Err(self.syntax(&format!("'{name}'")))
    }
}

// ---------------------------------------------------------------- strings

/// Eight copies of a byte, for testing eight input bytes at once.
const fn splat(byte: u8) -> u64 {
    u64::from_ne_bytes([byte; 8])
}

const LOW_BITS: u64 = splat(0x01);
const HIGH_BITS: u64 = splat(0x80);

/// High bit set in each byte of `v` that is zero. Bytes above the first zero byte may be
/// flagged wrongly (the borrow of the subtraction runs upwards), so only the lowest flag counts.
#[inline(always)]
fn zero_bytes(v: u64) -> u64 {
    v.wrapping_sub(LOW_BITS) & !v & HIGH_BITS
}

/// Flags, in little-endian byte order, the bytes of `chunk` that end a run of plain string
/// content: '"', '\\', and bytes below 0x20.
#[inline(always)]
fn stop_bytes(chunk: u64) -> u64 {
    let quote = zero_bytes(chunk ^ splat(b'"'));
    let backslash = zero_bytes(chunk ^ splat(b'\\'));
    // Below 0x20: subtracting 0x20 borrows into the high bit, which was clear.
    let control = chunk.wrapping_sub(splat(0x20)) & !chunk & HIGH_BITS;
    quote | backslash | control
}

#[inline(always)]
fn is_stop(c: u8) -> bool {
    c == b'"' || c == b'\\' || c < 0x20
}

/// Sixteen bytes at once with SSE2 (always present on x86_64): bit `k` of the first mask is set
/// when byte `k` of `b[i..i + 16]` is a stop byte, of the second when its high bit is set.
///
/// Panics unless `i + 16 <= b.len()`, which is what makes the unaligned load sound.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn probe16(b: &[u8], i: usize) -> (u32, u32) {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_loadu_si128, _mm_max_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };
    let bytes = &b[i..i + 16];
    // SAFETY: `bytes` is 16 readable bytes, and `_mm_loadu_si128` has no alignment requirement;
    // the other intrinsics only compute on registers, with SSE2, which x86_64 always has.
    unsafe {
        let chunk = _mm_loadu_si128(bytes.as_ptr().cast());
        let quote = _mm_cmpeq_epi8(chunk, _mm_set1_epi8(b'"' as i8));
        let backslash = _mm_cmpeq_epi8(chunk, _mm_set1_epi8(b'\\' as i8));
        // Below 0x20 exactly when the unsigned maximum with 0x1f is 0x1f.
        let limit = _mm_set1_epi8(0x1f);
        let control = _mm_cmpeq_epi8(_mm_max_epu8(chunk, limit), limit);
        let stops = _mm_or_si128(_mm_or_si128(quote, backslash), control);
        (
            _mm_movemask_epi8(stops) as u32,
            _mm_movemask_epi8(chunk) as u32,
        )
    }
}

/// The index of the first stop byte at or after `i` (or `b.len()`), and whether any byte before
/// it has its high bit set (so that the string needs a UTF-8 check).
#[inline(always)]
pub(super) fn find_stop(b: &[u8], mut i: usize) -> (usize, bool) {
    #[cfg(target_arch = "x86_64")]
    {
        let mut high = 0;
        while i + 16 <= b.len() {
            let (stops, highs) = probe16(b, i);
            if stops != 0 {
                let at = stops.trailing_zeros();
                high |= highs & ((1u32 << at) - 1);
                return (i + at as usize, high != 0);
            }
            high |= highs;
            i += 16;
        }
        let (stop, tail_high) = find_stop_swar(b, i);
        (stop, tail_high || high != 0)
    }
    #[cfg(not(target_arch = "x86_64"))]
    find_stop_swar(b, i)
}

/// `find_stop` eight bytes at a time, in portable code.
#[inline(always)]
fn find_stop_swar(b: &[u8], mut i: usize) -> (usize, bool) {
    let mut high = 0;
    while let Some(bytes) = b.get(i..i + 8) {
        let chunk = u64::from_le_bytes(bytes.try_into().unwrap_or_default());
        let stops = stop_bytes(chunk);
        if stops != 0 {
            let at = stops.trailing_zeros() as usize / 8;
            // Only the bytes before the stop count; the mask keeps the low `at` bytes.
            high |= chunk & HIGH_BITS & ((1u64 << (at * 8)) - 1);
            return (i + at, high != 0);
        }
        high |= chunk & HIGH_BITS;
        i += 8;
    }
    while let Some(&c) = b.get(i) {
        if is_stop(c) {
            break;
        }
        high |= u64::from(c & 0x80);
        i += 1;
    }
    (i, high != 0)
}

impl Walk<'_> {
    /// Reads a string whose opening quote is at `pos`; `pos` ends after the closing quote.
    #[inline(always)]
    fn string(&mut self) -> Step<Span> {
        let start = self.pos + 1;
        let mut i = start;
        let mut escaped = false;
        let mut high = false;
        loop {
            let (stop, seen_high) = find_stop(self.b, i);
            high |= seen_high;
            match self.b.get(stop) {
                Some(b'"') => {
                    i = stop;
                    break;
                }
                Some(b'\\') => {
                    escaped = true;
                    i = self.escape(stop + 1)?;
                }
                Some(_) => {
                    self.pos = stop;
                    return Err(self.syntax("no control character in a string"));
                }
                None => {
                    self.pos = stop;
                    return Err(self.syntax("'\"' to end the string"));
                }
            }
        }
        // Escapes decode to whole characters, so the raw text is UTF-8 exactly when the decoded
        // string is.
        if high && std::str::from_utf8(&self.b[start..i]).is_err() {
            self.pos = start;
            return Err(self.syntax("a UTF-8 string"));
        }
        self.pos = i + 1;
        Ok(Span {
            start,
            end: i,
            escaped,
        })
    }

    /// Checks the escape whose letter is at `i`; returns the index after it.
    fn escape(&mut self, i: usize) -> Step<usize> {
        match self.b.get(i) {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => Ok(i + 1),
            Some(b'u') => self.unicode_escape(i + 1),
            _ => {
                self.pos = i;
                Err(self.syntax("an escape: one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u"))
            }
        }
    }

    /// A `\u` escape (four hex digits) after the `u` at `i - 1`. A surrogate must be part of a
    /// pair, in every string: a lone one cannot become UTF-8 text.
    fn unicode_escape(&mut self, i: usize) -> Step<usize> {
        let unit = self.hex4(i)?;
        if !(0xD800..=0xDFFF).contains(&unit) {
            return Ok(i + 4);
        }
        let paired = unit < 0xDC00
            && self.b.get(i + 4..i + 6) == Some(b"\\u")
            && matches!(hex4(self.b, i + 6), Some(0xDC00..=0xDFFF));
        if !paired {
            self.pos = i;
            return Err(self.syntax("a surrogate pair"));
        }
        Ok(i + 10)
    }

    fn hex4(&mut self, i: usize) -> Step<u16> {
        match hex4(self.b, i) {
            Some(unit) => Ok(unit),
            None => {
                self.pos = i;
                Err(self.syntax("four hex digits"))
            }
        }
    }

    /// The unescaped text of a checked string, for the rare consumers that need it.
    fn decoded(&self, span: Span) -> String {
        let raw = &self.b[span.start..span.end];
        if !span.escaped {
            return String::from_utf8_lossy(raw).into_owned();
        }
        decode(raw)
    }
}

/// `a == b` for slices of the same length, eight bytes at a time: keys are short, and the
/// library call that `==` compiles to costs more than the comparison itself.
#[inline(always)]
pub(super) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let mut a8 = a.chunks_exact(8);
    let mut b8 = b.chunks_exact(8);
    let whole = (&mut a8).zip(&mut b8).all(|(x, y)| {
        u64::from_le_bytes(x.try_into().unwrap_or_default())
            == u64::from_le_bytes(y.try_into().unwrap_or_default())
    });
    whole
        && a8
            .remainder()
            .iter()
            .zip(b8.remainder())
            .all(|(x, y)| x == y)
}

fn hex4(b: &[u8], i: usize) -> Option<u16> {
    let digits = b.get(i..i + 4)?;
    digits.iter().try_fold(0u16, |acc, &c| {
        let digit = char::from(c).to_digit(16)?;
        Some(acc << 4 | digit as u16)
    })
}

/// Decodes the escapes of a string the scanner has checked (surrogates paired, UTF-8).
fn decode(raw: &[u8]) -> String {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] != b'\\' {
            out.push(raw[i]);
            i += 1;
            continue;
        }
        let (c, len) = match raw[i + 1] {
            b'b' => ('\u{8}', 2),
            b'f' => ('\u{c}', 2),
            b'n' => ('\n', 2),
            b'r' => ('\r', 2),
            b't' => ('\t', 2),
            b'u' => unicode_at(raw, i + 2),
            other => (char::from(other), 2),
        };
        let mut buf = [0; 4];
        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        i += len;
    }
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// The character of the `\u` escape whose digits start at `i`, and the escape's length.
fn unicode_at(raw: &[u8], i: usize) -> (char, usize) {
    let unit = u32::from(hex4(raw, i).unwrap_or(0));
    if (0xD800..0xDC00).contains(&unit) {
        let low = u32::from(hex4(raw, i + 6).unwrap_or(0xDC00));
        let c = 0x10000 + ((unit - 0xD800) << 10) + (low.wrapping_sub(0xDC00) & 0x3FF);
        return (char::from_u32(c).unwrap_or('\u{FFFD}'), 12);
    }
    (char::from_u32(unit).unwrap_or('\u{FFFD}'), 6)
}

// ---------------------------------------------------------------- numbers

/// A number as found in the input.
#[derive(Debug, Clone, Copy)]
struct Number {
    start: usize,
    end: usize,
    negative: bool,
    /// Digits before any fraction or exponent.
    int_digits: usize,
    /// No fraction and no exponent: serde_json reads it as an integer if it fits.
    integer: bool,
}

/// What serde_json makes of a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Fits an `i64` (as `i64` or as `u64`).
    I64,
    /// A positive integer above `i64::MAX` that fits a `u64`.
    BigU64,
    Float,
}

/// Integers with at most this many digits fit an `i64` whatever the digits.
const SAFE_DIGITS: usize = 18;

impl Walk<'_> {
    /// Reads a number with the strict JSON grammar; its first byte is at `pos`.
    #[inline]
    fn number(&mut self) -> Step<Number> {
        let start = self.pos;
        let negative = self.peek() == b'-';
        if negative {
            self.pos += 1;
        }
        let int_start = self.pos;
        match self.peek() {
            b'0' => self.pos += 1,
            b'1'..=b'9' => self.digits(),
            _ => return Err(self.syntax("a digit")),
        }
        let int_digits = self.pos - int_start;
        if self.peek().is_ascii_digit() {
            return Err(self.syntax("no leading zero"));
        }
        let mut integer = true;
        if self.peek() == b'.' {
            self.pos += 1;
            self.required_digits()?;
            integer = false;
        }
        if matches!(self.peek(), b'e' | b'E') {
            self.pos += 1;
            if matches!(self.peek(), b'+' | b'-') {
                self.pos += 1;
            }
            self.required_digits()?;
            integer = false;
        }
        Ok(Number {
            start,
            end: self.pos,
            negative,
            int_digits,
            integer,
        })
    }

    #[inline(always)]
    fn digits(&mut self) {
        while self.peek().is_ascii_digit() {
            self.pos += 1;
        }
    }

    fn required_digits(&mut self) -> Step {
        if !self.peek().is_ascii_digit() {
            return Err(self.syntax("a digit"));
        }
        self.digits();
        Ok(())
    }

    /// serde_json's reading of a number inside a value the schema rejects anyway: an `f64` that
    /// overflows is an error.
    #[inline]
    fn checked_number(&mut self) -> Step<Number> {
        let n = self.number()?;
        if !self.in_range(n) {
            self.pos = n.start;
            return Err(self.syntax("a number that fits a 64-bit float"));
        }
        Ok(n)
    }

    /// Integers of up to 18 digits and numbers whose magnitude stays well below 1e308 are finite;
    /// the rest (rare) are parsed as serde_json parses them, since its rounding decides which
    /// side of `f64::MAX` they fall.
    fn in_range(&self, n: Number) -> bool {
        if n.integer && n.int_digits <= SAFE_DIGITS {
            return true;
        }
        let text = &self.b[n.start..n.end];
        let exponent = exponent_of(text);
        (n.int_digits as i64).saturating_add(exponent) <= 300
            || serde_json::from_slice::<f64>(text).is_ok()
    }
}

/// The explicit exponent of a number's text (0 if none), saturating.
fn exponent_of(text: &[u8]) -> i64 {
    let Some(e) = text.iter().position(|&c| c == b'e' || c == b'E') else {
        return 0;
    };
    let rest = &text[e + 1..];
    let (negative, digits) = match rest.first() {
        Some(b'-') => (true, &rest[1..]),
        Some(b'+') => (false, &rest[1..]),
        _ => (false, rest),
    };
    let value = digits.iter().fold(0i64, |acc, &c| {
        acc.saturating_mul(10).saturating_add(i64::from(c - b'0'))
    });
    if negative {
        -value
    } else {
        value
    }
}

impl Number {
    /// What it is as an integer: `i64` or `u64` if it is an integer that fits (`-0` too, which
    /// serde_json would make the float `-0.0`), else `f64`.
    fn class(self, b: &[u8]) -> Class {
        if !self.integer {
            return Class::Float;
        }
        let digits = &b[self.start + usize::from(self.negative)..self.end];
        if digits.len() <= SAFE_DIGITS {
            return Class::I64;
        }
        let value = digits.iter().try_fold(0u64, |acc, &c| {
            acc.checked_mul(10)?.checked_add(u64::from(c - b'0'))
        });
        match (value, self.negative) {
            (None, _) => Class::Float,
            (Some(v), false) if v > i64::MAX as u64 => Class::BigU64,
            (Some(v), true) if v > i64::MIN.unsigned_abs() => Class::Float,
            _ => Class::I64,
        }
    }

    /// The value as a message quotes it, with serde_json's own conversion.
    fn found(self, b: &[u8]) -> Found<'static> {
        let text = &b[self.start..self.end];
        match self.class(b) {
            Class::I64 | Class::BigU64 => {
                let value = std::str::from_utf8(text)
                    .ok()
                    .and_then(|s| s.parse::<i128>().ok());
                Found::Int(value.unwrap_or_default())
            }
            Class::Float => Found::Float(serde_json::from_slice::<f64>(text).unwrap_or(f64::NAN)),
        }
    }
}

// ---------------------------------------------------------------- checked values

/// Where the number at `pos` ends if it is a non-negative integer of at most `SAFE_DIGITS`
/// digits (most numbers are), which fits `Ty::Int` and `Ty::Num` whatever its digits. `pos`
/// must be at a digit.
#[inline(always)]
pub(super) fn small_integer(b: &[u8], start: usize) -> Option<usize> {
    let mut end = start + 1;
    if b.get(start) != Some(&b'0') {
        while end < b.len() && b[end].is_ascii_digit() {
            end += 1;
        }
    }
    if end - start > SAFE_DIGITS {
        return None;
    }
    // A digit here is a leading zero; the others continue the number.
    match b.get(end) {
        Some(b'.' | b'e' | b'E' | b'0'..=b'9') => None,
        _ => Some(end),
    }
}

impl Walk<'_> {
    /// Checks one value against `ty`. Scalars are read in place; containers (and errors) in
    /// `container`, so that only they pay for a call.
    #[inline(always)]
    fn value(&mut self, ty: &'static Ty, nullable: bool) -> Step {
        match self.ws() {
            b'"' => self.string_value(ty),
            b'0'..=b'9' if matches!(ty, Ty::Int | Ty::Num) => match small_integer(self.b, self.pos)
            {
                Some(end) => {
                    self.pos = end;
                    Ok(())
                }
                None => self.number_value(ty),
            },
            b'-' | b'0'..=b'9' => self.number_value(ty),
            _ => self.container(ty, nullable),
        }
    }

    /// The rest of `value`: containers, literals, and what is not a value.
    #[inline(never)]
    fn container(&mut self, ty: &'static Ty, nullable: bool) -> Step {
        match self.peek() {
            b'{' => match ty {
                Ty::Obj(m) => self.object(model(*m)),
                Ty::IntMap => self.int_map(),
                _ => self.reject_container(ty, Found::Object),
            },
            b'[' => match ty {
                Ty::Array(item) => self.array(item),
                _ => self.reject_container(ty, Found::Array),
            },
            b't' => {
                self.literal(b"true")?;
                self.expect(matches!(ty, Ty::Bool), ty, Found::Bool(true))
            }
            b'f' => {
                self.literal(b"false")?;
                self.expect(matches!(ty, Ty::Bool), ty, Found::Bool(false))
            }
            b'n' => {
                self.literal(b"null")?;
                self.expect(nullable, ty, Found::Null)
            }
            _ => Err(self.syntax("a value")),
        }
    }

    #[inline]
    fn expect(&mut self, ok: bool, ty: &Ty, found: Found<'_>) -> Step {
        if ok {
            return Ok(());
        }
        Err(self.violation(mismatch(ty, found)))
    }

    #[inline(always)]
    fn string_value(&mut self, ty: &Ty) -> Step {
        let span = self.string()?;
        let ok = match ty {
            Ty::Str | Ty::Enum(_) => true,
            Ty::DateTime if !span.escaped => is_date_time_bytes(&self.b[span.start..span.end]),
            Ty::DateTime => is_date_time_bytes(self.decoded(span).as_bytes()),
            _ => false,
        };
        if ok {
            return Ok(());
        }
        let text = self.decoded(span);
        Err(self.violation(mismatch(ty, Found::Str(&text))))
    }

    #[inline(never)]
    fn number_value(&mut self, ty: &Ty) -> Step {
        let n = self.number()?;
        let fast = n.integer && n.int_digits <= SAFE_DIGITS && matches!(ty, Ty::Int | Ty::Num);
        if fast {
            return Ok(());
        }
        if !self.in_range(n) {
            let text =
                crate::error::elide_middle(&String::from_utf8_lossy(&self.b[n.start..n.end]), 40);
            let message = format!(
                "expected {}, found {text}, out of the range of a 64-bit float",
                ty.expected()
            );
            return Err(self.violation(message));
        }
        let class = n.class(self.b);
        match (ty, class) {
            (Ty::Num, _) | (Ty::Int, Class::I64) => Ok(()),
            (Ty::Int, Class::BigU64) => {
                let text = String::from_utf8_lossy(&self.b[n.start..n.end]).into_owned();
                let message =
                    format!("expected an integer that fits 64 bits signed, found integer {text}");
                Err(self.violation(message))
            }
            _ => {
                let found = n.found(self.b);
                Err(self.violation(mismatch(ty, found)))
            }
        }
    }

    /// A container where the schema wants something else. It is read to its end first, with
    /// the nesting limit, so that text too deep to parse is reported as such.
    fn reject_container(&mut self, ty: &Ty, found: Found<'_>) -> Step {
        self.any_checked()?;
        Err(self.violation(mismatch(ty, found)))
    }

    fn object(&mut self, m: &'static Model) -> Step {
        self.enter()?;
        let mut seen: u64 = 0;
        let mut next = 0;
        if self.ws() == b'}' {
            self.pos += 1;
        } else {
            if self.peek() != b'"' {
                return Err(self.syntax("a string key"));
            }
            loop {
                match self.key(m, next)? {
                    Key::Known(index) => {
                        next = index + 1;
                        self.member(&m.fields[index], index, &mut seen)?;
                    }
                    Key::Other(span) => self.unknown_member(span)?,
                }
                // Compact text: the ',' and the next key's quote, checked together.
                if self.b.get(self.pos..self.pos + 2) == Some(b",\"") {
                    self.pos += 1;
                    continue;
                }
                if self.object_separator()? {
                    break;
                }
            }
        }
        self.depth -= 1;
        let missing = m.required & !seen;
        if missing != 0 {
            return Err(self.missing(m, missing));
        }
        Ok(())
    }

    /// After a member: true at the closing '}', false after a ',' (with a key to follow).
    #[inline]
    fn object_separator(&mut self) -> Step<bool> {
        match self.ws() {
            b',' => {
                self.pos += 1;
                self.expect_key_quote()?;
                Ok(false)
            }
            b'}' => {
                self.pos += 1;
                Ok(true)
            }
            _ => Err(self.syntax("',' or '}'")),
        }
    }

    /// The value of the known key `field`, which is `fields[index]`, after its ':'.
    #[inline]
    fn member(&mut self, field: &'static Field, index: usize, seen: &mut u64) -> Step {
        let bit = 1u64 << index;
        if *seen & bit != 0 {
            return Err(self.duplicate(field.key));
        }
        *seen |= bit;
        match self.value(&field.ty, field.nullable) {
            Ok(()) => Ok(()),
            Err(Stop) => Err(self.unwind_object(Seg::Key(field.key.to_owned()))),
        }
    }

    /// The value of an unknown key, after its ':'.
    fn unknown_member(&mut self, span: Span) -> Step {
        match self.skip() {
            Ok(()) => Ok(()),
            Err(Stop) => {
                let key = self.decoded(span);
                Err(self.unwind_object(Seg::Key(key)))
            }
        }
    }

    /// A known key seen twice: its second value is skipped so that the rest is still read.
    #[cold]
    fn duplicate(&mut self, key: &'static str) -> Stop {
        if self.skip().is_err() {
            self.segs.push(Seg::Key(key.to_owned()));
            return Stop;
        }
        self.violation(format!("duplicate key {key:?}"));
        self.unwind_object(Seg::Key(key.to_owned()))
    }

    #[cold]
    fn missing(&mut self, m: &Model, missing: u64) -> Stop {
        let key = m.fields[missing.trailing_zeros() as usize].key;
        let stop = self.violation(format!("missing required key {key:?}"));
        self.segs.push(Seg::Key(key.to_owned()));
        stop
    }

    /// Reads a key of `m`, whose quote is at `pos`, and the ':' after it. Writers that emit keys
    /// in schema order (sorted, as serde and the fixtures do) make `fields[next]` the key nearly
    /// every time, and compact ones put the ':' right after it: then the key is found with one
    /// 16-byte comparison (see `KeyProbe`), without even looking for the closing quote.
    #[inline(always)]
    fn key(&mut self, m: &'static Model, next: usize) -> Step<Key> {
        if let Some(field) = m.fields.get(next) {
            if let Some(after) = self.probe_key(field) {
                self.pos = after;
                return Ok(Key::Known(next));
            }
        }
        self.any_key(m)
    }

    /// Where `"key":` ends if it starts at `pos`: the accept-only pass's probe, which reads from
    /// the byte before the quote (a '{', ',' or white space, and not compared).
    #[inline(always)]
    fn probe_key(&self, field: &Field) -> Option<usize> {
        fast::probe_member(self.b, self.pos.checked_sub(1)?, field)
    }

    /// A key read in full and looked up, and the ':' after it.
    fn any_key(&mut self, m: &'static Model) -> Step<Key> {
        let span = self.string()?;
        let found = if span.escaped {
            m.index_of(self.decoded(span).as_bytes())
        } else {
            m.index_of(&self.b[span.start..span.end])
        };
        if self.colon().is_err() {
            let key = match found {
                Some(index) => m.fields[index].key.to_owned(),
                None => self.decoded(span),
            };
            self.segs.push(Seg::Key(key));
            return Err(Stop);
        }
        Ok(found.map_or(Key::Other(span), Key::Known))
    }

    fn array(&mut self, item: &'static Ty) -> Step {
        self.enter()?;
        if self.ws() == b']' {
            self.pos += 1;
            self.depth -= 1;
            return Ok(());
        }
        let mut index = 0;
        loop {
            if self.value(item, false).is_err() {
                return Err(self.unwind_array(index));
            }
            index += 1;
            match self.ws() {
                b',' => self.pos += 1,
                b']' => break,
                _ => {
                    let stop = self.syntax("',' or ']'");
                    self.segs.push(Seg::Index(index));
                    return Err(stop);
                }
            }
        }
        self.pos += 1;
        self.depth -= 1;
        Ok(())
    }

    /// The `indices` maps: any keys, integer values.
    fn int_map(&mut self) -> Step {
        self.enter()?;
        if self.ws() == b'}' {
            self.pos += 1;
            self.depth -= 1;
            return Ok(());
        }
        loop {
            if self.peek() != b'"' {
                return Err(self.syntax("a string key"));
            }
            let span = self.string()?;
            if self
                .colon()
                .and_then(|()| self.value(&Ty::Int, false))
                .is_err()
            {
                let key = self.decoded(span);
                return Err(self.unwind_object(Seg::Key(key)));
            }
            if self.object_separator()? {
                break;
            }
        }
        self.depth -= 1;
        Ok(())
    }

    /// Any value, read as strictly as a checked one but against no schema.
    fn any_checked(&mut self) -> Step {
        match self.ws() {
            b'"' => self.string().map(drop),
            b'{' => self.any_checked_object(),
            b'[' => self.any_checked_array(),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.checked_number().map(drop),
            _ => Err(self.syntax("a value")),
        }
    }

    fn any_checked_object(&mut self) -> Step {
        self.enter()?;
        if self.ws() == b'}' {
            self.pos += 1;
        } else {
            loop {
                if self.peek() != b'"' {
                    return Err(self.syntax("a string key"));
                }
                self.string()?;
                self.colon()?;
                self.any_checked()?;
                if self.object_separator()? {
                    break;
                }
            }
        }
        self.depth -= 1;
        Ok(())
    }

    fn any_checked_array(&mut self) -> Step {
        self.enter()?;
        if self.ws() == b']' {
            self.pos += 1;
        } else {
            loop {
                self.any_checked()?;
                match self.ws() {
                    b',' => self.pos += 1,
                    b']' => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(self.syntax("',' or ']'")),
                }
            }
        }
        self.depth -= 1;
        Ok(())
    }
}

// ---------------------------------------------------------------- skipped values

/// The open containers of a skipped value, one bit each (set = object). serde_json skips such
/// values without a nesting limit, so past 64 levels the bits spill to the heap instead of the
/// walk recursing.
struct Frames {
    low: u64,
    high: Vec<u64>,
    len: usize,
}

impl Frames {
    fn new() -> Self {
        Frames {
            low: 0,
            high: Vec::new(),
            len: 0,
        }
    }

    fn word(&mut self, level: usize) -> &mut u64 {
        match level / 64 {
            0 => &mut self.low,
            n => {
                if self.high.len() < n {
                    self.high.resize(n, 0);
                }
                &mut self.high[n - 1]
            }
        }
    }

    fn push(&mut self, object: bool) {
        let level = self.len;
        let bit = 1u64 << (level % 64);
        let word = self.word(level);
        *word = if object { *word | bit } else { *word & !bit };
        self.len += 1;
    }

    /// Whether the innermost open container is an object; `None` when none is open.
    fn top(&mut self) -> Option<bool> {
        let level = self.len.checked_sub(1)?;
        Some(*self.word(level) >> (level % 64) & 1 == 1)
    }

    fn pop(&mut self) {
        self.len -= 1;
    }
}

impl Walk<'_> {
    /// Skips any value, checking only its grammar (see the module comment).
    fn skip(&mut self) -> Step {
        let mut frames = Frames::new();
        loop {
            if self.skip_scalar_or_open(&mut frames)? {
                continue;
            }
            // Close what ends here; stop at a ',' that starts another value of an open container.
            loop {
                let Some(object) = frames.top() else {
                    return Ok(());
                };
                match (self.ws(), object) {
                    (b',', _) => {
                        self.pos += 1;
                        if object {
                            self.skipped_key()?;
                        }
                        break;
                    }
                    (b'}', true) | (b']', false) => {
                        self.pos += 1;
                        frames.pop();
                    }
                    (_, true) => return Err(self.syntax("',' or '}'")),
                    (_, false) => return Err(self.syntax("',' or ']'")),
                }
            }
        }
    }

    /// One step of `skip`: a whole scalar or empty container (false), or the opening of a
    /// container, with its first key, which is pushed to `frames` (true).
    fn skip_scalar_or_open(&mut self, frames: &mut Frames) -> Step<bool> {
        match self.ws() {
            b'"' => self.string().map(|_| false),
            b'{' => {
                self.pos += 1;
                if self.ws() == b'}' {
                    self.pos += 1;
                    return Ok(false);
                }
                frames.push(true);
                if self.peek() != b'"' {
                    return Err(self.syntax("a string key"));
                }
                self.skipped_key_body().map(|()| true)
            }
            b'[' => {
                self.pos += 1;
                if self.ws() == b']' {
                    self.pos += 1;
                    return Ok(false);
                }
                frames.push(false);
                Ok(true)
            }
            b't' => self.literal(b"true").map(|()| false),
            b'f' => self.literal(b"false").map(|()| false),
            b'n' => self.literal(b"null").map(|()| false),
            b'-' | b'0'..=b'9' => self.number().map(|_| false),
            _ => Err(self.syntax("a value")),
        }
    }

    /// After a ',' in a skipped object: `"key":`.
    fn skipped_key(&mut self) -> Step {
        self.expect_key_quote()?;
        self.skipped_key_body()
    }

    fn skipped_key_body(&mut self) -> Step {
        self.string()?;
        self.colon()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first_stop(text: &[u8]) -> (usize, bool) {
        find_stop(text, 0)
    }

    #[test]
    fn stop_bytes_are_found_in_and_after_whole_chunks() {
        assert_eq!(first_stop(b"abcdefgh\""), (8, false));
        assert_eq!(first_stop(b"abc\\defgh"), (3, false));
        assert_eq!(first_stop(b"abcdefghijk\x1f"), (11, false));
        assert_eq!(first_stop("é\"aaaaaaaa".as_bytes()), (2, true));
        assert_eq!(first_stop("a\"é".as_bytes()), (1, false));
        assert_eq!(first_stop("aaaaaaaaa\"éééé".as_bytes()), (9, false));
        assert_eq!(first_stop(b"plain"), (5, false));
        assert_eq!(first_stop(b"\x7f\x20\xff\""), (3, true));
    }

    #[test]
    fn decode_handles_every_escape() {
        assert_eq!(
            decode(br#"a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00z"#),
            "a\"\\/\u{8}\u{c}\n\r\té😀z"
        );
    }

    #[test]
    fn frames_spill_past_64_levels() {
        let mut frames = Frames::new();
        for level in 0..200 {
            frames.push(level % 3 == 0);
        }
        for level in (0..200).rev() {
            assert_eq!(frames.top(), Some(level % 3 == 0), "{level}");
            frames.pop();
        }
        assert_eq!(frames.top(), None);
    }
}
