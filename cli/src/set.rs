//! `set KEY=VALUE…`: edits dotted paths of the profile's text in place, so that every other key,
//! the key order and every number stay exactly as Pieces OS sent them.

use std::ops::Range;

use serde_json::value::RawValue;

use crate::exit::Failure;
use crate::jsontext;

/// One `KEY=VALUE` argument: the path's segments and the value's JSON text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub path: Vec<String>,
    pub value: String,
}

/// `aesthetics.theme.dark=true`: VALUE is taken as JSON when it is JSON (`true`, `42`, `"x"`, `{…}`),
/// else as a string (`vanityname=ada`).
pub fn parse(arg: &str) -> Result<Assignment, Failure> {
    let Some((key, value)) = arg.split_once('=') else {
        return Err(Failure::usage(format!("{arg:?} is not KEY=VALUE")));
    };
    let path: Vec<String> = key.split('.').map(str::to_owned).collect();
    if path.iter().any(String::is_empty) {
        return Err(Failure::usage(format!(
            "{key:?} is not a dotted path (an empty segment)"
        )));
    }
    let value = match serde_json::from_str::<&RawValue>(value) {
        Ok(json) => json.get().trim().to_string(),
        Err(_) => jsontext::quote(value),
    };
    Ok(Assignment { path, value })
}

/// `profile` with `assignment` applied: the value replaced, or added (with any missing intermediate
/// objects) after the object's last member.
pub fn apply(profile: &str, assignment: &Assignment) -> Result<String, Failure> {
    let (span, replacement) = splice(profile, assignment)?;
    let mut edited = String::with_capacity(profile.len() + replacement.len());
    edited.push_str(&profile[..span.start]);
    edited.push_str(&replacement);
    edited.push_str(&profile[span.end..]);
    Ok(edited)
}

/// Where the text changes, and what goes there.
fn splice(text: &str, assignment: &Assignment) -> Result<(Range<usize>, String), Failure> {
    let path = &assignment.path;
    let mut object = jsontext::root(text);
    for (depth, key) in path.iter().enumerate() {
        let Some(members) = jsontext::members(text, &object) else {
            return Err(through_non_object(text, &object, &path[..depth]));
        };
        let rest = &path[depth + 1..];
        match members.iter().rev().find(|m| &m.key == key) {
            Some(found) if rest.is_empty() => {
                return Ok((found.value.clone(), assignment.value.clone()))
            }
            Some(found) => object = found.value.clone(),
            None => {
                let member = format!(
                    "{}:{}",
                    jsontext::quote(key),
                    nested(rest, &assignment.value)
                );
                return Ok(match members.last() {
                    Some(last) => (last.value.end..last.value.end, format!(",{member}")),
                    None => (object.start + 1..object.start + 1, member),
                });
            }
        }
    }
    // A path has at least one segment (`parse`), so the loop returned.
    Err(Failure::usage("empty path"))
}

/// `{"b":{"c":value}}` for the missing segments `b.c`.
fn nested(segments: &[String], value: &str) -> String {
    segments.iter().rev().fold(value.to_string(), |inner, key| {
        format!("{{{}:{inner}}}", jsontext::quote(key))
    })
}

fn through_non_object(text: &str, span: &Range<usize>, walked: &[String]) -> Failure {
    Failure::usage(format!(
        "{} is {}, not an object: cannot set a key inside it",
        walked.join("."),
        jsontext::kind_of(text, span)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(profile: &str, arg: &str) -> String {
        apply(profile, &parse(arg).unwrap()).unwrap()
    }

    #[test]
    fn values_are_json_when_they_parse_else_strings() {
        assert_eq!(parse("a=true").unwrap().value, "true");
        assert_eq!(
            parse("a=12345678901234567890123").unwrap().value,
            "12345678901234567890123"
        );
        assert_eq!(parse("a=\"x\"").unwrap().value, "\"x\"");
        assert_eq!(parse("a={\"k\": 1}").unwrap().value, "{\"k\": 1}");
        assert_eq!(parse("a=ada").unwrap().value, "\"ada\"");
        assert_eq!(parse("a=").unwrap().value, "\"\"");
        assert_eq!(parse("a=x=y").unwrap().value, "\"x=y\"");
        assert_eq!(parse("a.b.c=1").unwrap().path, ["a", "b", "c"]);
    }

    #[test]
    fn bad_keys_are_usage_errors() {
        for arg in ["novalue", "a..b=1", "=1", "a.=1"] {
            assert_eq!(parse(arg).unwrap_err().status, crate::exit::USAGE, "{arg}");
        }
    }

    #[test]
    fn replaces_in_place_keeping_everything_else() {
        let profile = r#"{"id": "x", "big": 12345678901234567890123, "aesthetics": {"theme": {"dark": false}, "z": 1e400}, "later": 1}"#;
        assert_eq!(
            set(profile, "aesthetics.theme.dark=true"),
            r#"{"id": "x", "big": 12345678901234567890123, "aesthetics": {"theme": {"dark": true}, "z": 1e400}, "later": 1}"#
        );
    }

    #[test]
    fn adds_missing_keys_and_objects_after_the_last_member() {
        let profile = "{\n  \"id\": \"x\"\n}";
        assert_eq!(
            set(profile, "vanityname=ada"),
            "{\n  \"id\": \"x\",\"vanityname\":\"ada\"\n}"
        );
        assert_eq!(
            set(profile, "a.b.c=1"),
            "{\n  \"id\": \"x\",\"a\":{\"b\":{\"c\":1}}\n}"
        );
        assert_eq!(set(r#"{"a": { }}"#, "a.k=2"), r#"{"a": {"k":2 }}"#);
    }

    #[test]
    fn a_path_through_a_non_object_names_it() {
        let profile = r#"{"id": "x", "aesthetics": {"theme": [1]}}"#;
        let e = apply(profile, &parse("id.x=1").unwrap()).unwrap_err();
        assert_eq!(e.status, crate::exit::USAGE);
        assert!(e.line.contains("id is a string"), "{}", e.line);
        let e = apply(profile, &parse("aesthetics.theme.dark=1").unwrap()).unwrap_err();
        assert!(
            e.line.contains("aesthetics.theme is an array"),
            "{}",
            e.line
        );
    }
}
