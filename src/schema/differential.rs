//! The scanner against the serde_json walk it replaced: every fixture, and thousands of
//! deterministic mutations of them, must get the same verdict from both.

use std::path::Path;

use serde::de::IgnoredAny;

use super::{reference, DocumentKind, Violation};

const KINDS: [DocumentKind; 4] = [
    DocumentKind::UserProfile,
    DocumentKind::ReturnedUserProfile,
    DocumentKind::Auth0User,
    DocumentKind::UserBetaStatus,
];

/// Values swapped in for other values: every JSON type, and the edges of the number and string
/// rules.
const VALUES: &[&str] = &[
    r#""x""#,
    "1",
    "-1",
    "0",
    "-0",
    "-0.0",
    "1e2",
    "1E+2",
    "1.5",
    "-1.5e-3",
    "true",
    "false",
    "null",
    "[]",
    "{}",
    "[1,2]",
    r#"{"a":1}"#,
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "-9223372036854775808",
    "-9223372036854775809",
    "-18446744073709551616",
    "123456789012345678901234567890",
    "1e308",
    "1.7976931348623157e308",
    "1.7976931348623159e308",
    "1e309",
    "1e400",
    "-1e400",
    "0e99999999999999999999",
    "1e-400",
    r#""2024-03-14T09:26:53Z""#,
    r#""2024-03-14T09:26:53.123+01:00""#,
    r#""\u0032024-03-14T09:26:53Z""#,
    r#""2024-02-30T09:26:53Z""#,
    r#""\ud800""#,
    r#""\udc00x""#,
    r#""\ud83d\ude00""#,
    r#""\ud83d\u0041""#,
    r#""a\"b\\c\/d\b\f\n\r\t""#,
    r#""\x""#,
    r#""\u12""#,
    "\"é✓😀\"",
    "\"\u{1}\"",
    "\"\x7f\"",
    r#"[[[[[[[[[[]]]]]]]]]]"#,
    r#"{"a":{"b":{"c":[{"d":null}]}}}"#,
    "01",
    "1.",
    ".5",
    "+1",
    "-",
    "1e",
    "tru",
    "nulll",
    "NaN",
];

/// Bytes inserted or written over others: structure, escapes, control and non-ASCII bytes.
const BYTES: &[u8] = &[
    b'"', b'\\', b'{', b'}', b'[', b']', b',', b':', b' ', b'\t', b'\n', b'0', b'1', b'-', b'.',
    b'e', b'n', b't', b'u', b'a', 0x00, 0x01, 0x0b, 0x1f, 0x7f, 0x80, 0xa0, 0xc3, 0xed, 0xff,
];

/// A small deterministic generator (xorshift), so that failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn fixtures() -> Vec<(String, DocumentKind, Vec<u8>)> {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures"));
    let mut out = vec![];
    let entries = std::fs::read_dir(dir).expect("../shared/fixtures");
    let mut names: Vec<_> = entries.map(|e| e.unwrap().file_name()).collect();
    names.sort();
    for name in names {
        let name = name.to_string_lossy().into_owned();
        let Some(kind) = KINDS
            .iter()
            .find(|k| name.starts_with(&format!("{}.", k.name())))
        else {
            continue;
        };
        let text = std::fs::read(dir.join(&name)).unwrap();
        out.push((name, *kind, text));
    }
    let bench = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/benches/data/profile-3k.json"
    ));
    out.push((
        "profile-3k.json".into(),
        DocumentKind::UserProfile,
        std::fs::read(bench).unwrap(),
    ));
    assert!(out.len() > 10, "fixtures found: {}", out.len());
    out
}

/// The verdict as compared: syntax messages are allowed to differ (the scanner's name the byte
/// offset), but everything else must match.
fn comparable(result: Result<(), Violation>) -> Result<(), Violation> {
    result.map_err(|mut v| {
        if v.syntax {
            v.message.clear();
        }
        v
    })
}

fn agree(kind: DocumentKind, text: &[u8], what: &str) -> Result<(), String> {
    // The accept-only pass may only accept what the full walk accepts, also where the full
    // walk is stricter than the reference on purpose.
    let full = super::scan::validate(kind.root(), text);
    if super::fast::accepts(kind.root(), text) && full.is_err() {
        return Err(format!(
            "{what} as {kind:?}: the fast pass accepts, the full walk says {full:?}"
        ));
    }
    // The scanner reads `-0` as the integer it is; serde_json, as `-0.0`. Compare with `0`.
    let zeroed = minus_zero_as_zero(text);
    let old_result = reference::validate(kind, zeroed.as_deref().unwrap_or(text));
    let new_result = super::validate(kind, text);
    if stricter_on_non_json(&new_result, text)
        || out_of_range_is_a_violation(&old_result, &new_result)
    {
        return Ok(());
    }
    let old = comparable(old_result);
    let new = comparable(new_result);
    if old == new {
        return Ok(());
    }
    Err(format!(
        "{what} as {kind:?}: {}\n  reference {old:?}\n  scanner   {new:?}",
        String::from_utf8_lossy(&text[..text.len().min(400)])
    ))
}

/// An allowed difference: the reference (serde_json's walk) lets raw control characters in keys,
/// invalid UTF-8 and lone surrogate escapes in skipped strings through; the scanner refuses them
/// as syntax errors, so on such text it may also stop before the reference's own (later) error.
/// Allowed only when the scanner says syntax and either the text really is not JSON (serde_json
/// refuses it as a Value) with such a byte in a string, or it has a lone surrogate escape (which
/// serde_json accepts even in a Value, and which cannot become UTF-8 text).
fn stricter_on_non_json(new: &Result<(), Violation>, text: &[u8]) -> bool {
    let not_json = || {
        serde_json::from_slice::<serde_json::Value>(text).is_err()
            && has_control_or_bad_utf8_in_a_string(text)
    };
    matches!(new, Err(v) if v.syntax) && (has_a_lone_surrogate_escape(text) || not_json())
}

/// The other: a number the schema reads that overflows an `f64` is valid JSON, so the scanner
/// reports a violation ("out of the range") where serde_json reports a syntax error; when the
/// text is broken further on, the scanner reads on to that syntax error, where serde_json stopped
/// at the number.
fn out_of_range_is_a_violation(old: &Result<(), Violation>, new: &Result<(), Violation>) -> bool {
    matches!(old, Err(v) if v.syntax && v.message.starts_with("number out of range"))
        && matches!(new, Err(v) if v.syntax || v.message.contains("out of the range"))
}

/// `text` with each `-0` number (a rough scan: after `:`, `[`, `,` or white space, before
/// anything but a digit, `.` or an exponent) turned into ` 0`; None when there is none.
fn minus_zero_as_zero(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = text.to_vec();
    let mut changed = false;
    for i in 0..text.len().saturating_sub(1) {
        let before = if i == 0 { b' ' } else { text[i - 1] };
        let after = text.get(i + 2).copied().unwrap_or(b' ');
        if text[i] == b'-'
            && text[i + 1] == b'0'
            && b":[, \t\r\n".contains(&before)
            && !(after.is_ascii_digit() || b".eE".contains(&after))
        {
            out[i] = b' ';
            changed = true;
        }
    }
    changed.then_some(out)
}

/// True when `text` has a `\u` escape of a surrogate that is not part of a high-low pair (a
/// rough scan: escapes are not told from text that looks like them).
fn has_a_lone_surrogate_escape(text: &[u8]) -> bool {
    let unit = |i: usize| -> Option<u16> {
        let digits = text.get(i..i + 6)?;
        if &digits[..2] != b"\\u" {
            return None;
        }
        u16::from_str_radix(std::str::from_utf8(&digits[2..]).ok()?, 16).ok()
    };
    let mut i = 0;
    while i < text.len() {
        match unit(i) {
            Some(0xD800..=0xDBFF) if matches!(unit(i + 6), Some(0xDC00..=0xDFFF)) => i += 12,
            Some(0xD800..=0xDFFF) => return true,
            _ => i += 1,
        }
    }
    false
}

/// True when some string in `text` holds a raw control byte or is not UTF-8 (a rough scan: it
/// follows quotes and escapes only, which is enough for the documents the tests build).
fn has_control_or_bad_utf8_in_a_string(text: &[u8]) -> bool {
    let mut i = 0;
    while i < text.len() {
        if text[i] != b'"' {
            i += 1;
            continue;
        }
        let start = i + 1;
        let mut j = start;
        while j < text.len() && text[j] != b'"' {
            j += if text[j] == b'\\' { 2 } else { 1 };
        }
        let content = &text[start..j.min(text.len())];
        if content.iter().any(|&c| c < 0x20) || std::str::from_utf8(content).is_err() {
            return true;
        }
        i = j + 1;
    }
    false
}

/// The end of the JSON value that starts at `start` (after whitespace), if there is one.
fn value_end(text: &[u8], start: usize) -> Option<usize> {
    let mut values = serde_json::Deserializer::from_slice(&text[start..]).into_iter::<IgnoredAny>();
    match values.next() {
        Some(Ok(_)) => Some(start + values.byte_offset()),
        _ => None,
    }
}

fn positions_of(text: &[u8], byte: u8) -> Vec<usize> {
    (0..text.len()).filter(|&i| text[i] == byte).collect()
}

/// One random edit of `text`.
fn mutate(rng: &mut Rng, text: &[u8]) -> (Vec<u8>, &'static str) {
    let mut out = text.to_vec();
    let at = rng.below(text.len() + 1);
    let what = match rng.below(9) {
        0 if !out.is_empty() => {
            let last = out.len() - 1;
            out[at.min(last)] = *rng.pick(BYTES);
            "byte overwritten"
        }
        1 => {
            out.insert(at, *rng.pick(BYTES));
            "byte inserted"
        }
        2 if at < out.len() => {
            let len = 1 + rng.below(4);
            out.drain(at..(at + len).min(out.len()));
            "bytes deleted"
        }
        3 | 4 => return swap_value(rng, text),
        5 => return duplicate_member(rng, text),
        6 => return unknown_member(rng, text),
        7 => return escape_key(rng, text),
        _ => {
            out.truncate(at);
            "truncated"
        }
    };
    (out, what)
}

/// Replaces the value after a random ':' (or in an array) with one of `VALUES`.
fn swap_value(rng: &mut Rng, text: &[u8]) -> (Vec<u8>, &'static str) {
    let mut starts = positions_of(text, b':');
    starts.extend(positions_of(text, b'['));
    let Some(&colon) = starts.get(rng.below(starts.len())) else {
        return (text.to_vec(), "unchanged");
    };
    let start = colon + 1;
    let end = value_end(text, start).unwrap_or(start);
    let mut out = text[..start].to_vec();
    out.extend_from_slice(rng.pick(VALUES).as_bytes());
    out.extend_from_slice(&text[end..]);
    (out, "value swapped")
}

/// Repeats a random member of an object right after itself.
fn duplicate_member(rng: &mut Rng, text: &[u8]) -> (Vec<u8>, &'static str) {
    let colons = positions_of(text, b':');
    let Some(&colon) = colons.get(rng.below(colons.len())) else {
        return (text.to_vec(), "unchanged");
    };
    let key_start = text[..colon].iter().rposition(|&c| c == b',' || c == b'{');
    let (Some(key_start), Some(end)) = (key_start, value_end(text, colon + 1)) else {
        return (text.to_vec(), "unchanged");
    };
    let mut out = text[..end].to_vec();
    out.push(b',');
    out.extend_from_slice(&text[key_start + 1..end]);
    out.extend_from_slice(&text[end..]);
    (out, "member duplicated")
}

/// Inserts an odd unknown member at the start of a random object.
fn unknown_member(rng: &mut Rng, text: &[u8]) -> (Vec<u8>, &'static str) {
    const KEYS: &[&str] = &[
        r#""zz""#,
        "\"a\u{1}b\"",
        r#""\u0041""#,
        r#""\ud800""#,
        "\"\u{e9}\"",
        "\"\x7f\"",
        r#""we\"ird""#,
    ];
    let braces = positions_of(text, b'{');
    let Some(&brace) = braces.get(rng.below(braces.len())) else {
        return (text.to_vec(), "unchanged");
    };
    let mut member = rng.pick(KEYS).as_bytes().to_vec();
    member.push(b':');
    member.extend_from_slice(rng.pick(VALUES).as_bytes());
    member.push(b',');
    let mut out = text[..=brace].to_vec();
    out.extend_from_slice(&member);
    out.extend_from_slice(&text[brace + 1..]);
    (out, "unknown member inserted")
}

/// Writes the first character of a random key as a `\u` escape.
fn escape_key(rng: &mut Rng, text: &[u8]) -> (Vec<u8>, &'static str) {
    let colons = positions_of(text, b':');
    let Some(&colon) = colons.get(rng.below(colons.len())) else {
        return (text.to_vec(), "unchanged");
    };
    let Some(open) = text[..colon.saturating_sub(1)]
        .iter()
        .rposition(|&c| c == b'"')
    else {
        return (text.to_vec(), "unchanged");
    };
    let Some(&c) = text.get(open + 1) else {
        return (text.to_vec(), "unchanged");
    };
    let mut out = text[..=open].to_vec();
    out.extend_from_slice(format!("\\u{:04x}", c).as_bytes());
    out.extend_from_slice(&text[open + 2..]);
    (out, "key escaped")
}

/// The maximal `UserProfile` fixture, compact: every model, and the `schema` object about 200 times.
fn maximal_profile() -> Vec<u8> {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures"));
    compact(&std::fs::read(dir.join("UserProfile.max.json")).unwrap()).unwrap()
}

fn compact(text: &[u8]) -> Option<Vec<u8>> {
    let value: serde_json::Value = serde_json::from_slice(text).ok()?;
    serde_json::to_vec(&value).ok()
}

/// A fixture as written, then compact (when it is JSON at all).
fn as_written_and_compact(text: Vec<u8>) -> impl Iterator<Item = Vec<u8>> {
    let compact = compact(&text);
    [Some(text), compact].into_iter().flatten()
}

#[test]
fn fixtures_get_the_same_verdicts() {
    let mut failures = vec![];
    for (name, _, text) in fixtures() {
        for kind in KINDS {
            failures.extend(agree(kind, &text, &name).err());
            if let Some(compact) = compact(&text) {
                failures.extend(agree(kind, &compact, &name).err());
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every `schema` object of the compact maximal fixture, the last one too, must be read by
/// the leaf function of `EmbeddedModelSchema`, or `object` reads it a second time.
#[test]
fn leaf_functions_read_every_schema_object_of_the_fixture() {
    let index = super::tables::MODELS
        .iter()
        .position(|m| m.name == "EmbeddedModelSchema")
        .and_then(|i| u16::try_from(i).ok())
        .unwrap();
    let leaf = super::fast::leaf(index).expect("EmbeddedModelSchema is a leaf model");
    let text = maximal_profile();
    let starts: Vec<usize> = text
        .windows(10)
        .enumerate()
        .filter(|(_, w)| w == b"\"schema\":{")
        .map(|(at, _)| at + 9)
        .collect();
    assert!(starts.len() > 100, "{}", starts.len());
    for start in starts {
        let end = leaf(&text, start, 0);
        assert!(
            end.is_some_and(|end| text[end - 1] == b'}'),
            "at byte {start}: {end:?}"
        );
    }
    // At the very end of the input, where the 16-byte probes cannot read.
    let last = br#"{"schema":{"migration":10,"semantic":"s"}}"#;
    assert_eq!(leaf(last, 10, 0), Some(last.len() - 1));
    // An empty object ends after its '}', if it may be empty.
    for (m, model) in super::tables::MODELS.iter().enumerate() {
        let Some(leaf) = super::fast::leaf(m as u16) else {
            continue;
        };
        let expected = (model.required == 0).then_some(2);
        assert_eq!(leaf(b"{}", 0, 0), expected, "{}", model.name);
        assert_eq!(leaf(b"{},", 0, 0), expected, "{}", model.name);
    }
}

/// A leaf object is accepted as a repeat only when it is the same text as the one accepted
/// before it, whole, inside the input, and not nested too deep.
#[test]
fn a_repeat_is_only_the_same_text_whole() {
    use super::fast::repeated;
    let first = br#"{"migration":0,"semantic":"MAJOR_0_MINOR_0_PATCH_1"}"#;
    let mut text = first.to_vec();
    text.push(b',');
    let at = text.len();
    text.extend_from_slice(first);
    let span = (0, first.len());
    assert_eq!(repeated(&text, at, span, 0), Some(text.len()));
    assert_eq!(repeated(&text, at, span, 126), Some(text.len()));
    // The 128th container is one too many, as in the walks.
    assert_eq!(repeated(&text, at, span, 127), None);
    assert_eq!(repeated(&text, at, (0, 0), 0), None, "nothing accepted yet");
    for cut in at..text.len() {
        assert_eq!(repeated(&text[..cut], at, span, 0), None, "cut at {cut}");
    }
    for k in at..text.len() {
        let mut other = text.clone();
        other[k] ^= 0x01;
        assert_eq!(repeated(&other, at, span, 0), None, "byte {k} changed");
    }
    // Objects shorter than the 16-byte reads.
    let short = br#"{"a":1},{"a":1},{"a":2}"#;
    assert_eq!(repeated(short, 8, (0, 7), 0), Some(15));
    assert_eq!(repeated(short, 16, (0, 7), 0), None);
}

/// In the maximal fixture the `schema` object is the same text nearly 200 times: all but the
/// first must be accepted as repeats, or the comparison only costs time. Every byte of a later
/// copy changed must still get the full walk's verdict.
#[test]
fn repeated_schema_objects_are_compared_and_a_changed_copy_is_read() {
    let kind = DocumentKind::UserProfile;
    let text = maximal_profile();
    // In schema order the first `schema` object is accepted by its leaf function; with its keys
    // reversed, by the object loop: either way the others are compared with it.
    let stamps: [&[u8]; 2] = [
        br#""schema":{"migration":0,"semantic":"MAJOR_0_MINOR_0_PATCH_1"}"#,
        br#""schema":{"semantic":"MAJOR_0_MINOR_0_PATCH_1","migration":0}"#,
    ];
    let mut failures = vec![];
    for (text, stamp) in [text.clone(), reordered(&text, KeyOrder::Reversed)]
        .into_iter()
        .zip(stamps)
    {
        let before = super::fast::REPEATS.with(|n| n.get());
        assert!(super::fast::accepts(kind.root(), &text));
        let starts: Vec<usize> = text
            .windows(stamp.len())
            .enumerate()
            .filter(|(_, w)| *w == stamp)
            .map(|(at, _)| at + 9)
            .collect();
        let counted = super::fast::REPEATS.with(|n| n.get()) - before;
        assert!(starts.len() > 100, "{}", starts.len());
        // At least those: other leaf models repeat too.
        assert!(
            counted >= starts.len() - 1,
            "{counted} of {}: {}",
            starts.len(),
            String::from_utf8_lossy(stamp)
        );

        let third = starts[2];
        for k in third..third + stamp.len() - 9 {
            for byte in [b'0', b'1', b'x', b'"', b'}', b' ', b'\\', 0x80] {
                let mut changed = text.clone();
                changed[k] = byte;
                failures.extend(agree(kind, &changed, &format!("byte {k} -> {byte:#x}")).err());
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `text` (compact JSON) with the members of every object in another order: reversed, or
/// sorted by a rank drawn once for each key name, as a serializer that writes fields in the
/// order its models declare them would.
fn reordered(text: &[u8], order: KeyOrder) -> Vec<u8> {
    let mut ranks = std::collections::HashMap::new();
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut rank = |key: &[u8]| *ranks.entry(key.to_vec()).or_insert_with(|| rng.next());
    let mut out = vec![];
    reorder_value(text, 0, order, &mut rank, &mut out);
    out
}

#[derive(Clone, Copy, Debug)]
enum KeyOrder {
    Reversed,
    Declared,
}

/// Writes the value at `start` to `out`, its objects' members reordered; returns where it ends.
fn reorder_value(
    text: &[u8],
    start: usize,
    order: KeyOrder,
    rank: &mut dyn FnMut(&[u8]) -> u64,
    out: &mut Vec<u8>,
) -> usize {
    let (open, close) = match text[start] {
        b'{' => (b'{', b'}'),
        b'[' => (b'[', b']'),
        _ => {
            let end = value_end(text, start).unwrap();
            out.extend_from_slice(&text[start..end]);
            return end;
        }
    };
    let mut items: Vec<(Vec<u8>, Vec<u8>)> = vec![];
    let mut pos = start + 1;
    while text[pos] != close {
        let mut key = vec![];
        if open == b'{' {
            let key_end = value_end(text, pos).unwrap();
            key = text[pos..key_end].to_vec();
            pos = key_end + 1; // the ':'
        }
        let mut item = vec![];
        pos = reorder_value(text, pos, order, rank, &mut item);
        items.push((key, item));
        if text[pos] == b',' {
            pos += 1;
        }
    }
    if open == b'{' {
        match order {
            KeyOrder::Reversed => items.reverse(),
            KeyOrder::Declared => items.sort_by_cached_key(|(key, _)| rank(key)),
        }
    }
    out.push(open);
    for (k, (key, item)) in items.iter().enumerate() {
        if k > 0 {
            out.push(b',');
        }
        if open == b'{' {
            out.extend_from_slice(key);
            out.push(b':');
        }
        out.extend_from_slice(item);
    }
    out.push(close);
    pos + 1
}

/// Pieces OS and the official SDKs other than Python's write keys in the order their models
/// declare them, not alphabetically. Every fixture in such orders, and mutations of them, must
/// get the same verdicts as in schema order; the valid ones must be accepted by the fast pass.
#[test]
fn documents_in_other_key_orders_get_the_same_verdicts() {
    let mut rng = Rng(0x5851_f42d_4c95_7f2d);
    let mut failures = vec![];
    let mut total = 0;
    for (name, kind, text) in fixtures() {
        let Some(text) = compact(&text) else { continue };
        for order in [KeyOrder::Reversed, KeyOrder::Declared] {
            let doc = reordered(&text, order);
            let what = format!("{name} {order:?}");
            assert_eq!(
                serde_json::from_slice::<serde_json::Value>(&doc).unwrap(),
                serde_json::from_slice::<serde_json::Value>(&text).unwrap(),
                "{what}: the reordering changed the document"
            );
            for other in KINDS {
                failures.extend(agree(other, &doc, &what).err());
            }
            if super::validate(kind, &text).is_ok() && !super::fast::accepts(kind.root(), &doc) {
                failures.push(format!(
                    "{what}: valid, and the fast pass does not accept it"
                ));
            }
            for round in 0..150 {
                let (changed, how) = mutate(&mut rng, &doc);
                total += 1;
                failures.extend(agree(kind, &changed, &format!("{what} #{round} ({how})")).err());
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {total}:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// In a document whose keys are in another order than the schema's, the models that come back
/// are read in the order learnt from their first objects: their keys are found by the probe,
/// not looked up. Before, every key out of schema order was looked up.
#[test]
fn keys_in_a_learnt_order_are_probed_not_looked_up() {
    let kind = DocumentKind::UserProfile;
    let text = maximal_profile();
    let keys = text.windows(2).filter(|w| w == b"\":").count();
    for order in [KeyOrder::Reversed, KeyOrder::Declared] {
        let doc = reordered(&text, order);
        let before = super::fast::LOOKUPS.with(|n| n.get());
        assert!(super::fast::accepts(kind.root(), &doc));
        let looked_up = super::fast::LOOKUPS.with(|n| n.get()) - before;
        // The maximal fixture holds every model, many of them once: those keys are looked up
        // (399 of 1363 reversed, 363 in the declared order, counting the keys the learnt loop
        // finds by their hash in line; 1017 reversed without `Order`).
        assert!(
            looked_up * 3 < keys,
            "{order:?}: {looked_up} of {keys} keys looked up"
        );
    }
}

/// An object whose keys leave schema order part way is finished by the learnt loop
/// (`rest_in_learnt_order`): what it reads after the hand-over gets the same verdicts, and the
/// valid documents are accepted by the fast pass.
#[test]
fn an_object_handed_to_the_learnt_loop_part_way_gets_the_same_verdicts() {
    // `Aesthetics` has the keys font, schema and theme; font and theme are required. `theme`
    // first is in schema order (nothing read yet); a key after it is out of order.
    let schema = r#"{"migration":0,"semantic":"MAJOR_0_MINOR_0_PATCH_1"}"#;
    let cases = [
        (
            r#"{"theme":{"dark":true},"font":{"size":14}}"#.to_owned(),
            true,
        ),
        (
            format!(r#"{{"theme":{{"dark":true}},"schema":{schema},"font":{{"size":14}}}}"#),
            true,
        ),
        (
            format!(
                r#"{{"theme":{{"dark":true}},"font":{{"size":14}}, "extra" : [1,{{"a":2}}],"schema":{schema}}}"#
            ),
            true,
        ),
        (
            format!(r#"{{"theme":{{"dark":true}},"schema":{schema}}}"#),
            false,
        ),
        (
            r#"{"theme":{"dark":true},"font":{"size":14},"theme":{"dark":false}}"#.to_owned(),
            false,
        ),
        (
            r#"{"theme":{"dark":true},"font":{"size":"14"}}"#.to_owned(),
            false,
        ),
        (
            r#"{"theme":{"dark":true},"font":{"size":14},"schema":{"migration":"0"}}"#.to_owned(),
            false,
        ),
        (
            r#"{"theme":{"dark":true},"font":{"size":14},"schema":null}"#.to_owned(),
            true,
        ),
    ];
    let ok = r#"{"font":{"size":14},"theme":{"dark":true}}"#;
    let mut failures = vec![];
    for (case, valid) in &cases {
        // The model's first object, alone and after its required keys in schema order in an
        // unknown key's value (skipped, so it teaches nothing).
        for doc in [
            format!(r#"{{"aesthetics":{case},"id":"u"}}"#),
            format!(r#"{{"aesthetics":{case},"id":"u","unknown":{ok}}}"#),
        ] {
            failures.extend(agree(DocumentKind::UserProfile, doc.as_bytes(), case).err());
            let verdict = super::validate(DocumentKind::UserProfile, doc.as_bytes()).is_ok();
            if verdict != *valid {
                failures.push(format!("{doc}: valid {verdict}, expected {valid}"));
            }
            if *valid && !super::fast::accepts(DocumentKind::UserProfile.root(), doc.as_bytes()) {
                failures.push(format!("{doc}: left to the full walk"));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// A key the learnt order expects may have been read already in that object: a duplicate,
/// which the fast pass must not take from the probe.
#[test]
fn a_duplicate_of_an_expected_key_is_turned_down_in_learnt_order() {
    // The first two `schema` objects teach `EmbeddedModelSchema` the order semantic, migration
    // (the first marks the model as out of schema order, the second is read in learnt order);
    // the third repeats a key: where it is expected again (after `migration`, schema order's
    // guess is `semantic`), where the other key is expected, and as the first key.
    let taught = r#"{"semantic":"MAJOR_0_MINOR_0_PATCH_1","migration":0}"#;
    let cases = [
        r#"{"semantic":"MAJOR_0_MINOR_0_PATCH_1","migration":0,"semantic":"X"}"#,
        r#"{"semantic":"MAJOR_0_MINOR_0_PATCH_1","semantic":"X","migration":0}"#,
        r#"{"migration":0,"migration":1,"semantic":"MAJOR_0_MINOR_0_PATCH_1"}"#,
    ];
    let mut failures = vec![];
    for case in cases {
        let doc = format!(
            r#"{{"aesthetics":{{"font":{{"schema":{taught},"size":14}},"schema":{taught},"theme":{{"dark":true,"schema":{case}}}}},"id":"u"}}"#
        );
        failures.extend(agree(DocumentKind::UserProfile, doc.as_bytes(), case).err());
        if super::validate(DocumentKind::UserProfile, doc.as_bytes()).is_ok() {
            failures.push(format!("{case}: valid"));
        }
        if super::fast::accepts(DocumentKind::UserProfile.root(), doc.as_bytes()) {
            failures.push(format!("{case}: accepted by the fast pass"));
        }
        // Without the repeated key, the document is valid and read by the fast pass.
        let fixed = doc.replacen(case, taught, 1);
        if !super::fast::accepts(DocumentKind::UserProfile.root(), fixed.as_bytes()) {
            failures.push(format!("{case}: the fixed document is not accepted"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The C ABI hands accepted documents over without looking for a NUL (`give_text`): a NUL
/// anywhere, in place of a byte or added, must be rejected, by both passes.
#[test]
fn no_accepted_document_holds_a_nul() {
    let mut accepted = vec![];
    for (name, kind, text) in fixtures() {
        for text in as_written_and_compact(text) {
            if super::validate(kind, &text).is_err() {
                continue;
            }
            let step = (text.len() / 300).max(1);
            for at in (0..text.len()).step_by(step) {
                let mut replaced = text.clone();
                replaced[at] = 0;
                let mut added = text.clone();
                added.insert(at, 0);
                for changed in [replaced, added] {
                    if super::validate(kind, &changed).is_ok()
                        || super::fast::accepts(kind.root(), &changed)
                    {
                        accepted.push(format!("{name}: NUL at {at}"));
                    }
                }
            }
        }
    }
    assert!(accepted.is_empty(), "{accepted:?}");
}

/// The accept-only pass must be what accepts the documents, or it only costs time.
#[test]
fn the_fast_pass_accepts_every_valid_fixture() {
    let mut missed = vec![];
    for (name, kind, text) in fixtures() {
        for text in as_written_and_compact(text) {
            if super::scan::validate(kind.root(), &text).is_ok()
                && !super::fast::accepts(kind.root(), &text)
            {
                missed.push(name.clone());
            }
        }
    }
    assert!(missed.is_empty(), "{missed:?}");
}

#[test]
fn truncations_get_the_same_verdicts() {
    let mut failures = vec![];
    for (name, kind, text) in fixtures() {
        let step = (text.len() / 150).max(1);
        for end in (0..text.len()).step_by(step) {
            failures.extend(agree(kind, &text[..end], &format!("{name} cut at {end}")).err());
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn mutations_get_the_same_verdicts() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut failures = vec![];
    let (mut total, mut syntax, mut violations) = (0, 0, 0);
    for (name, kind, text) in fixtures() {
        let text = compact(&text).unwrap_or(text);
        for round in 0..400 {
            let mut doc = text.clone();
            let mut whats = vec![];
            for _ in 0..1 + rng.below(3) {
                let (next, what) = mutate(&mut rng, &doc);
                doc = next;
                whats.push(what);
            }
            let what = format!("{name} #{round} ({})", whats.join(", "));
            total += 1;
            match super::validate(kind, &doc) {
                Err(v) if v.syntax => syntax += 1,
                Err(_) => violations += 1,
                Ok(()) => {}
            }
            failures.extend(agree(kind, &doc, &what).err());
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {total} differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The mutations must exercise every outcome to mean anything.
    let accepted = total - syntax - violations;
    let counts = format!("{accepted} accepted, {violations} violations, {syntax} syntax errors");
    assert!(accepted > total / 10, "{counts}");
    assert!(violations > total / 10, "{counts}");
    assert!(syntax > total / 10, "{counts}");
    eprintln!("{total} mutations: {counts}");
}

/// The accept pass counts an integer's digits in one 8-byte word (up to 7 digits) and reads a
/// string's first 32 bytes in one step: integers of 1 to 20 digits, with and without a leading
/// zero, before every byte that decides where they end; strings of 0 to 70 bytes with a quote,
/// an escape, a control character or a non-ASCII byte at every position; each in the table walk
/// (`Font.size`, `UserProfile.name`) and in a leaf function (`Auth0Identity`), in the middle of
/// the input and where it ends, so that the word or the second 16 bytes run past it. Plain ones
/// must be accepted by the pass itself, not only by the full walk after it.
#[test]
fn numbers_and_strings_of_every_length_get_the_same_verdicts() {
    // A value followed by more than 32 bytes, so that the reads past it stay inside the input.
    let profile = |size: &str, name: &str| {
        format!(
            r#"{{"aesthetics":{{"font":{{"size":{size}}},"theme":{{"dark":true}}}},"id":"u","name":{name},"username":"{PAST}"}}"#
        )
    };
    let identity = |expires: &str, provider: &str| {
        format!(
            r#"{{"identities":[{{"expires_in":{expires},"provider":{provider},"user_id":"{PAST}"}}]}}"#
        )
    };
    const PAST: &str = "a value longer than the reads past the one before it";
    let mut plain = vec![];
    let mut other = vec![];
    for len in 1..=20 {
        for first in ['1', '0'] {
            let n = format!("{first}{}", "7".repeat(len - 1));
            let small = len <= 18 && (first != '0' || len == 1);
            for after in ["", ".5", "e1", "E1", "x", "-", " "] {
                let value = format!("{n}{after}");
                let docs = [profile(&value, "\"x\""), identity(&value, "\"x\"")];
                match small && after.is_empty() {
                    true => plain.extend(docs),
                    false => other.extend(docs),
                }
                // Cut at the end of the number: nothing to read past it.
                other.push(format!(r#"{{"aesthetics":{{"font":{{"size":{value}"#));
                other.push(format!(r#"{{"identities":[{{"expires_in":{value}"#));
            }
        }
    }
    for len in 0..=70 {
        let text = "s".repeat(len);
        let quoted = format!("\"{text}\"");
        plain.push(profile("1", &quoted));
        plain.push(identity("1", &quoted));
        other.push(format!(r#"{{"id":"u","name":{quoted}"#));
        for at in 0..=len {
            for special in ["\"", "\\n", "\\u0041", "\u{1}", "\u{7f}", "é"] {
                let s = format!("\"{}{special}{}\"", &text[..at], &text[at..]);
                other.push(profile("1", &s));
                other.push(identity("1", &s));
                other.push(format!(r#"{{"id":"u","name":{s}"#));
            }
        }
    }
    let mut failures = vec![];
    for doc in plain.iter().chain(&other) {
        for kind in KINDS {
            failures.extend(agree(kind, doc.as_bytes(), "length edge").err());
        }
    }
    for doc in &plain {
        let kind = match doc.starts_with(r#"{"identities""#) {
            true => DocumentKind::Auth0User,
            false => DocumentKind::UserProfile,
        };
        if reference::validate(kind, doc.as_bytes()).is_err() {
            failures.push(format!("not valid as {kind:?}: {doc}"));
        } else if !super::fast::accepts(kind.root(), doc.as_bytes()) {
            failures.push(format!("left to the full walk as {kind:?}: {doc}"));
        }
    }
    assert!(
        plain.len() > 150 && other.len() > 10_000,
        "{} / {}",
        plain.len(),
        other.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn edge_cases_get_the_same_verdicts() {
    let beta = |rest: &str| format!(r#"{{"user":"u"{rest}}}"#);
    let mut docs: Vec<String> = vec![
        String::new(),
        " ".into(),
        "{}".into(),
        "[]".into(),
        "null".into(),
        "\"x\"".into(),
        "1".into(),
        beta(""),
        beta(" "),
        beta(",\"a\u{1}b\":1"),
        beta(",\"a\":\"\u{1}\""),
        beta(",\"a\":\"\\ud800\""),
        beta(",\"a\":\"\\udc00\""),
        beta(",\"a\":1e400"),
        beta(",\"auth0\":{\"x\":1e400}"),
        beta(",\"auth0\":1e400"),
        beta(",\"auth0\":[1e400]"),
        beta(",\"auth0\":[\"\\ud800\"]"),
        beta(",\"auth0\":{\"\u{1}\":1}"),
        format!("{{\"user\":5,\"a\":\"\\ud800\"}}"),
        format!("{{\"user\":5,\"a\":1e400}}"),
        format!("{{\"user\":5,\"\u{1}\":1}}"),
        format!("{{\"user\":5,\"a\":{{\"\u{1}\":1}}}}"),
        format!("{{\"user\":5}}\u{a0}"),
        format!("{{\"user\":5}} \t\r\n"),
        format!("{{\"user\":\"u\",\"user\":5,\"x\":\"\\ud800\"}}"),
        format!("{{\"user\":\"u\",\"user\":[}}"),
        beta("\u{b}"),
        beta("\u{c}"),
    ];
    for depth in [126, 127, 128, 129, 1000] {
        let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        docs.push(nested.clone());
        docs.push(beta(&format!(",\"auth0\":{nested}")));
        docs.push(beta(&format!(",\"future\":{nested}")));
        docs.push(format!("{{\"user\":5,\"future\":{nested}}}"));
        let objects = format!("{}{}", "{\"a\":".repeat(depth), "}".repeat(depth));
        docs.push(beta(&format!(",\"auth0\":{objects}")));
        docs.push(beta(&format!(",\"future\":{objects}")));
    }
    docs.extend(fast_path_edges());
    let mut failures = vec![];
    for doc in &docs {
        for kind in KINDS {
            failures.extend(agree(kind, doc.as_bytes(), "edge case").err());
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Cases around the scanner's fast paths: 16-byte string probes, the expected key matched with its
/// ':' in one comparison, the small-integer shortcut, and reads that end near the input's end.
fn fast_path_edges() -> Vec<String> {
    let mut docs = vec![];
    let profile = |rest: &str| {
        format!(
            r#"{{"id":"u","aesthetics":{{"font":{{"size":14}},"theme":{{"dark":true}}}}{rest}}}"#
        )
    };
    // White space between a key and its ':' or value.
    for gap in [" ", "  ", "\n", "\t", " \r\n "] {
        docs.push(format!(r#"{{"user"{gap}:{gap}"u"}}"#));
        docs.push(profile(&format!(r#","name"{gap}:"x""#)));
    }
    // Keys and strings of every length around 8 and 16 bytes, known and unknown, escaped and not.
    for len in [7, 8, 9, 14, 15, 16, 17, 18, 31, 32, 33] {
        let word = "k".repeat(len);
        let a = "a".repeat(len);
        docs.push(profile(&format!(r#","{word}":1"#)));
        docs.push(profile(&format!(r#","name":"{word}""#)));
        docs.push(profile(&format!(r#","name":"{a}\n{a}""#)));
        docs.push(profile(&format!(r#","name":"{a}\u00e9""#)));
        docs.push(profile(&format!(r#","name":"{a}é""#)));
        docs.push(profile(&format!(r#","name":"{a}\u0001""#)));
        docs.push(profile(&format!(",\"name\":\"{a}\u{1}\"")));
        // Unterminated at the very end of the input, so probes run past it.
        docs.push(format!(r#"{{"user":"{word}"#));
        docs.push(format!(r#"{{"{word}"#));
    }
    // Keys whose prefix matches the expected key, and the expected key without its ':'.
    docs.push(profile(r#","names":"x""#));
    docs.push(profile(r#","nam":"x""#));
    docs.push(profile(r#","name""x""#));
    docs.push(r#"{"user""u"}"#.to_string());
    docs.push(r#"{"user":"u","auth0":{"vision":null},"descope""#.to_string());
    // Integers around the shortcut's limits, leading zeros, signs, numbers at the end of input.
    for n in [
        "0",
        "-0",
        "01",
        "00",
        "-01",
        "7",
        "123456789012345678",
        "1234567890123456789",
        "9223372036854775807",
        "9223372036854775808",
        "-9223372036854775808",
        "-9223372036854775809",
        "18446744073709551616",
        "14.0",
        "14e0",
        "1e",
        "1.",
        "-",
        "+1",
    ] {
        docs.push(format!(
            r#"{{"id":"u","aesthetics":{{"font":{{"size":{n}}},"theme":{{"dark":true}}}}}}"#
        ));
        docs.push(format!(r#"{{"id":"u","aesthetics":{{"font":{{"size":{n}"#));
    }
    // Empty objects and arrays where the leaf functions (leaves.rs) read them, whole,
    // cut short at every byte and with any one byte left out: a '}' or ']' counted twice would
    // close the object around them. Keys in schema order and a long last value, so that those
    // functions read them rather than the table walk.
    for doc in [
        r#"{"user_metadata":{"global_id":"g","allocation":{}},"username":"a user name"}"#,
        r#"{"auth0":{"vision":{}},"user":"a user id past the last probe"}"#,
        r#"{"auth0":{"schema":{"migration":0,"semantic":"s"},"vision":{}},"descope":{},"user":"u"}"#,
        r#"{"identities":[{},{}],"name":"a name past the last probe"}"#,
        r#"{"aesthetics":{"font":{},"theme":{}},"id":"an id past the last probe"}"#,
        r#"{"aesthetics":{"font":{},"theme":{}}}"#,
        r#"{"aesthetics":{"font":{"size":14},"theme":{}},"id":"u","name":"x"}"#,
        r#"{"id":"u","providers":{"iterable":[]},"username":"x"}"#,
        r#"{"id":"u","providers":{"iterable":[{}]}}"#,
        r#"{"id":"u","providers":{"iterable":[{},{"connection":"c"}]},"username":"x"}"#,
        r#"{"id":"u","providers":{"iterable":[{"connection":"c"},{}]}}"#,
    ] {
        docs.extend((1..=doc.len()).map(|end| doc[..end].to_string()));
        docs.extend((0..doc.len()).map(|gap| format!("{}{}", &doc[..gap], &doc[gap + 1..])));
    }
    // The values of a leaf model (only scalar keys, read without a call): every kind of value,
    // in the middle of the input and at its end.
    let migrations = [
        "0",
        "12",
        "123456789012345678",
        "1234567890123456789",
        "1.5",
        "-1",
        "01",
        "null",
        "\"7\"",
    ];
    let semantics = ["null", "\"é\"", "\"\\u00e9\"", "5", "\"a\u{1}\"", " \"s\""];
    let schemas = migrations
        .iter()
        .map(|m| (*m, "\"s\""))
        .chain(semantics.iter().map(|s| ("0", *s)));
    for (migration, semantic) in schemas {
        let schema = format!(r#"{{"migration":{migration},"semantic":{semantic}}}"#);
        docs.push(format!(r#"{{"schema":{schema},"user":null}}"#));
        docs.push(format!(r#"{{"schema":{schema}}}"#));
    }
    // Date-times at fixed positions: good, bad digits, bad separators, cut short.
    for value in [
        "2024-03-14T09:26:53.589Z",
        "2024-03-14T09:26:53Z",
        "2024-03-14 09:26:53+01:00",
        "2024-02-29T00:00:00",
        "2023-02-29T00:00:00",
        "2024-13-01T00:00:00Z",
        "2024-03-14T24:00:00Z",
        "2024-03-14T09:26:53.Z",
        "2024-03-14T09:26",
        "2024-03-1",
        "２024-03-14T09:26:53Z",
    ] {
        docs.push(profile(&format!(r#","created":{{"value":"{value}"}}"#)));
    }
    docs
}

/// Sequences that are not UTF-8: a lone continuation byte, a truncated two- and three-byte
/// sequence, an overlong '/', an encoded surrogate, a code point above U+10FFFF, and bytes that
/// never occur.
const NOT_UTF8: &[&[u8]] = &[
    b"\x80",
    b"\xc3",
    b"\xe2\x82",
    b"\xc0\xaf",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"\xfe",
    b"\xff",
];

/// `Checked::into_text` skips the UTF-8 check because the scanner accepts only UTF-8: no
/// sequence above, put inside a known key, an unknown key, a checked string value or a skipped
/// one, or between tokens, may ever be accepted.
#[test]
fn accepted_documents_are_utf8() {
    let mut tried = 0;
    for (name, kind, text) in fixtures() {
        let text = compact(&text).unwrap_or(text);
        // Every string of the document (keys and values, known and unknown), and a position
        // outside strings; the unknown member puts one inside a value the schema skips.
        let with_unknown = match text.iter().position(|&c| c == b'{') {
            Some(brace) => [
                &text[..=brace],
                br#""zz":{"k":["s",{"t":"u"}]},"#.as_slice(),
                &text[brace + 1..],
            ]
            .concat(),
            None => continue,
        };
        for doc in [&text, &with_unknown] {
            let quotes = positions_of(doc, b'"');
            let mut at: Vec<usize> = quotes.iter().map(|q| q + 1).collect();
            at.push(doc.len());
            // Every string of the small fixtures; about 120 spread over each large one.
            let step = (at.len() / 120).max(1);
            for &pos in at.iter().step_by(step) {
                for bad in NOT_UTF8 {
                    let mut mutated = doc[..pos].to_vec();
                    mutated.extend_from_slice(bad);
                    mutated.extend_from_slice(&doc[pos..]);
                    tried += 1;
                    assert!(
                        super::validate(kind, &mutated).is_err(),
                        "{name}: {bad:x?} at {pos} was accepted"
                    );
                }
            }
        }
    }
    assert!(tried > 5_000, "only {tried} documents tried");
}

#[test]
fn validate_tail_gives_back_the_same_bytes() {
    let front = b"\xff\x00{not json".as_slice();
    for (name, kind, text) in fixtures() {
        let verdict = super::validate(kind, &text);
        match super::validate_tail(kind, text.clone(), 0) {
            Ok(checked) => {
                assert!(verdict.is_ok(), "{name}");
                assert_eq!(checked.into_text().as_bytes(), &text[..], "{name}");
            }
            Err((_, bytes)) => {
                assert!(verdict.is_err(), "{name}");
                assert_eq!(bytes, text, "{name}");
            }
        }
        // Bytes in front of the document are the caller's: not validated, not changed, and not
        // part of the text.
        let buf = [front, &text[..]].concat();
        match super::validate_tail(kind, buf.clone(), front.len()) {
            Ok(checked) => {
                assert!(verdict.is_ok(), "{name}");
                assert_eq!(checked.into_bytes(), buf, "{name}");
                let again = super::validate_tail(kind, buf.clone(), front.len()).unwrap();
                assert_eq!(again.into_text().as_bytes(), &text[..], "{name}");
            }
            Err((_, bytes)) => {
                assert!(verdict.is_err(), "{name}");
                assert_eq!(bytes, buf, "{name}");
            }
        }
    }
    assert_eq!(super::Checked::nothing(front.to_vec()).into_text(), "");
    assert_eq!(super::Checked::nothing(front.to_vec()).into_bytes(), front);
}
