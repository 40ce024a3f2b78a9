//! JSON handled as text: re-indenting, and finding the members of an object, without parsing values.
//!
//! serde_json here has neither `preserve_order` nor `arbitrary_precision` (turning them on would
//! change the library's build too), so a round trip through `Value` would reorder keys and round
//! `12345678901234567890123` or refuse `1e400`. Working on the text keeps every key and every value
//! byte for byte. Every function expects text the core has already validated as JSON; on anything
//! else they do not panic, they just produce something unspecified.

use std::ops::Range;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// No white space outside strings: one line.
    Compact,
    /// Two-space indentation, one member or element per line (as `serde_json::to_string_pretty`).
    Pretty,
}

/// `text` with its white space outside strings replaced according to `style`; tokens unchanged.
pub fn reformat(text: &str, style: Style) -> String {
    let bytes = text.as_bytes();
    let mut out = Indenter {
        out: String::with_capacity(text.len() + text.len() / 4),
        depth: 0,
        just_opened: false,
        pretty: style == Style::Pretty,
    };
    let mut i = skip_space(bytes, 0);
    while i < bytes.len() {
        let end = match bytes[i] {
            b'{' | b'[' => {
                out.open(bytes[i] as char);
                i + 1
            }
            b'}' | b']' => {
                out.close(bytes[i] as char);
                i + 1
            }
            b',' => {
                out.comma();
                i + 1
            }
            b':' => {
                out.out.push_str(if out.pretty { ": " } else { ":" });
                i + 1
            }
            _ => {
                let end = token_end(bytes, i);
                out.token(&text[i..end]);
                end
            }
        };
        i = skip_space(bytes, end);
    }
    out.out
}

struct Indenter {
    out: String,
    depth: usize,
    /// A bracket was just opened: its newline waits until we know whether the container is empty.
    just_opened: bool,
    pretty: bool,
}

impl Indenter {
    fn newline(&mut self) {
        if self.pretty {
            self.out.push('\n');
            for _ in 0..self.depth {
                self.out.push_str("  ");
            }
        }
    }

    fn settle_open(&mut self) {
        if self.just_opened {
            self.just_opened = false;
            self.newline();
        }
    }

    fn open(&mut self, bracket: char) {
        self.settle_open();
        self.out.push(bracket);
        self.depth += 1;
        self.just_opened = true;
    }

    fn close(&mut self, bracket: char) {
        self.depth = self.depth.saturating_sub(1);
        if self.just_opened {
            self.just_opened = false; // `{}` and `[]` stay on one line
        } else {
            self.newline();
        }
        self.out.push(bracket);
    }

    fn comma(&mut self) {
        self.out.push(',');
        self.newline();
    }

    fn token(&mut self, token: &str) {
        self.settle_open();
        self.out.push_str(token);
    }
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

fn skip_space(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && is_space(bytes[i]) {
        i += 1;
    }
    i
}

/// The end of the string or scalar token starting at `start`.
fn token_end(bytes: &[u8], start: usize) -> usize {
    if bytes[start] == b'"' {
        return string_end(bytes, start);
    }
    let mut i = start;
    while i < bytes.len() && !is_space(bytes[i]) && !matches!(bytes[i], b',' | b'}' | b']' | b':') {
        i += 1;
    }
    i.max(start + 1)
}

/// The index just past the closing quote of the string whose opening quote is at `start`.
fn string_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// The end of the value (scalar, string, object or array) starting at `start`.
pub fn value_end(text: &str, start: usize) -> usize {
    let bytes = text.as_bytes();
    if !matches!(bytes.get(start), Some(b'{' | b'[')) {
        return token_end(bytes, start).min(bytes.len());
    }
    let mut depth = 0usize;
    let mut i = start;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i = string_end(bytes, i);
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    bytes.len()
}

/// The span of the whole document, without surrounding white space.
pub fn root(text: &str) -> Range<usize> {
    let start = skip_space(text.as_bytes(), 0);
    start..value_end(text, start)
}

/// One member of an object: its decoded key and the span of its value in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub key: String,
    pub value: Range<usize>,
}

/// What the value at `span` is, in words (for error messages).
pub fn kind_of(text: &str, span: &Range<usize>) -> &'static str {
    match text.as_bytes().get(span.start) {
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

/// The members of the object at `object`, in document order; `None` when it is not an object.
pub fn members(text: &str, object: &Range<usize>) -> Option<Vec<Member>> {
    let bytes = text.as_bytes();
    if bytes.get(object.start) != Some(&b'{') {
        return None;
    }
    let mut found = Vec::new();
    let mut i = skip_space(bytes, object.start + 1);
    while i < object.end && bytes[i] == b'"' {
        let key_end = string_end(bytes, i);
        let key = serde_json::from_str::<String>(&text[i..key_end]).ok()?;
        let colon = skip_space(bytes, key_end);
        let start = skip_space(bytes, colon + 1);
        let end = value_end(text, start);
        found.push(Member {
            key,
            value: start..end,
        });
        i = skip_space(bytes, end);
        if bytes.get(i) == Some(&b',') {
            i = skip_space(bytes, i + 1);
        }
    }
    Some(found)
}

/// The spans of the elements of the array at `array`; `None` when it is not an array.
pub fn elements(text: &str, array: &Range<usize>) -> Option<Vec<Range<usize>>> {
    let bytes = text.as_bytes();
    if bytes.get(array.start) != Some(&b'[') {
        return None;
    }
    let mut found = Vec::new();
    let mut i = skip_space(bytes, array.start + 1);
    while i < array.end && bytes[i] != b']' {
        let end = value_end(text, i);
        found.push(i..end);
        i = skip_space(bytes, end);
        if bytes.get(i) == Some(&b',') {
            i = skip_space(bytes, i + 1);
        }
    }
    Some(found)
}

/// The value of member `key` of the object at `object` (the last one, should a key repeat).
pub fn member(text: &str, object: &Range<usize>, key: &str) -> Option<Range<usize>> {
    members(text, object)?
        .into_iter()
        .rev()
        .find(|m| m.key == key)
        .map(|m| m.value)
}

/// A JSON string literal for `s`.
pub fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ODD: &str = r#" {"zeta": 12345678901234567890123, "alpha" : [1e400, -0.10, {}, []],
        "s": "a \" , } ] { [ : \\", "nested": {"b": true, "a": null, "u": "\u00e9\n"}} "#;

    #[test]
    fn compact_keeps_every_token_and_the_order() {
        assert_eq!(
            reformat(ODD, Style::Compact),
            r#"{"zeta":12345678901234567890123,"alpha":[1e400,-0.10,{},[]],"s":"a \" , } ] { [ : \\","nested":{"b":true,"a":null,"u":"\u00e9\n"}}"#
        );
    }

    #[test]
    fn pretty_indents_like_serde_json_without_touching_values() {
        let expected = r#"{
  "zeta": 12345678901234567890123,
  "alpha": [
    1e400,
    -0.10,
    {},
    []
  ],
  "s": "a \" , } ] { [ : \\",
  "nested": {
    "b": true,
    "a": null,
    "u": "\u00e9\n"
  }
}"#;
        assert_eq!(reformat(ODD, Style::Pretty), expected);
        // Same layout as serde_json where serde_json can represent the values.
        let plain = r#"{"a":[1,{"b":"c"}],"d":{}}"#;
        let value: serde_json::Value = serde_json::from_str(plain).unwrap();
        assert_eq!(
            reformat(plain, Style::Pretty),
            serde_json::to_string_pretty(&value).unwrap()
        );
    }

    #[test]
    fn scalars_at_the_root() {
        assert_eq!(reformat(" 1e400 ", Style::Pretty), "1e400");
        assert_eq!(reformat("\"x\"", Style::Compact), "\"x\"");
    }

    #[test]
    fn members_in_order_with_spans() {
        let span = root(ODD);
        let found = members(ODD, &span).unwrap();
        let keys: Vec<&str> = found.iter().map(|m| m.key.as_str()).collect();
        assert_eq!(keys, ["zeta", "alpha", "s", "nested"]);
        assert_eq!(&ODD[found[0].value.clone()], "12345678901234567890123");
        assert_eq!(&ODD[found[1].value.clone()], "[1e400, -0.10, {}, []]");
        let nested = member(ODD, &span, "nested").unwrap();
        assert_eq!(&ODD[member(ODD, &nested, "u").unwrap()], r#""\u00e9\n""#);
        let items = elements(ODD, &found[1].value).unwrap();
        assert_eq!(items.len(), 4);
        assert_eq!(&ODD[items[1].clone()], "-0.10");
        assert!(members(ODD, &found[0].value).is_none());
        assert_eq!(kind_of(ODD, &found[2].value), "a string");
    }
}
