//! `watch`: the user stream as NDJSON, or as one plain line per user state through a template.

use std::sync::mpsc;

use pieces_user::{Client, StreamEvent, StreamOptions};

use crate::exit::Failure;
use crate::jsontext::{self, Style};
use crate::output;

/// How each state is printed.
pub enum Printer {
    /// `{"event":"user","user":{…}}` and the other events, one compact line each.
    Events,
    /// One line per `user` (the template) or `signed_out` (the fixed text); other events are silent.
    Template {
        template: Template,
        signed_out: String,
    },
}

/// Prints events until `count` user states (`user` or `signed_out`) have been seen; without a count,
/// until a signal ends the process (see `interrupt`). A state equal to the previous one is skipped:
/// each printed state is a change.
pub fn run(client: &Client, printer: &Printer, count: Option<u64>) -> Result<(), Failure> {
    let (send, receive) = mpsc::channel();
    let stream = client.user_stream(StreamOptions::default(), move |event| {
        let _ = send.send(event);
    })?;
    let mut states = 0;
    let mut last_state = None;
    for event in receive {
        let state = state_of(&event);
        if state.is_some() {
            if state == last_state {
                continue;
            }
            last_state = state;
        }
        let is_state = event.is_state();
        if let Some(line) = printer.line(event) {
            output::line(&line).map_err(|e| Failure::output(&e))?;
        }
        if is_state {
            states += 1;
            if count.is_some_and(|n| states >= n) {
                break;
            }
        }
    }
    stream.stop();
    Ok(())
}

/// What a state event says, for telling a change from a repeat: the stream re-sends the current
/// state after every (re)connect, and the `GET /user` that follows may say it once more. The text
/// is compacted because the two sources may lay the same profile out differently.
fn state_of(event: &StreamEvent) -> Option<String> {
    match event {
        StreamEvent::User(profile) => Some(jsontext::reformat(profile, Style::Compact)),
        StreamEvent::SignedOut => Some(String::new()),
        _ => None,
    }
}

impl Printer {
    fn line(&self, event: StreamEvent) -> Option<String> {
        match self {
            Printer::Events => event_line(event),
            Printer::Template {
                template,
                signed_out,
            } => match event {
                StreamEvent::User(profile) => Some(template.render(&profile)),
                StreamEvent::SignedOut => Some(signed_out.clone()),
                _ => None,
            },
        }
    }
}

/// The NDJSON line of an event: its name, then the members of the core's JSON form of it. The
/// profile is spliced in compacted, never re-encoded. `stopped` is not printed: the stream only
/// stops when this command ends it.
fn event_line(event: StreamEvent) -> Option<String> {
    let name = match &event {
        StreamEvent::User(profile) => {
            let user = jsontext::reformat(profile, Style::Compact);
            return Some(format!(r#"{{"event":"user","user":{user}}}"#));
        }
        StreamEvent::SignedOut => return Some(r#"{"event":"signed_out"}"#.to_string()),
        StreamEvent::Stopped { .. } => return None,
        // Every other event (including kinds a later library adds) is its name and JSON members.
        other => other.name(),
    };
    let fields = event.into_json();
    // The core's form is a compact object: `{"url":"…"}` becomes `{"event":"connected","url":"…"}`.
    let rest = fields.strip_prefix('{').unwrap_or("}");
    let separator = if rest == "}" { "" } else { "," };
    Some(format!(r#"{{"event":"{name}"{separator}{rest}"#))
}

/// A `--format` template: text with `{dotted.path}` fields into the profile; `{{` and `}}` are braces.
#[derive(Debug, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, PartialEq, Eq)]
enum Part {
    Text(String),
    Field(Vec<String>),
}

impl Template {
    pub fn parse(template: &str) -> Result<Template, Failure> {
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut chars = template.chars().peekable();
        while let Some(c) = chars.next() {
            match (c, chars.peek()) {
                ('{', Some('{')) | ('}', Some('}')) => {
                    chars.next();
                    text.push(c);
                }
                ('{', _) => {
                    let mut field = String::new();
                    let closed = chars.by_ref().any(|c| {
                        c == '}' || {
                            field.push(c);
                            false
                        }
                    });
                    if !closed {
                        return Err(Failure::usage(format!(
                            "--format: {{{field} is not closed (write {{{{ for a brace)"
                        )));
                    }
                    let path: Vec<String> = field.split('.').map(|s| s.trim().to_owned()).collect();
                    if path.iter().any(String::is_empty) {
                        return Err(Failure::usage(format!(
                            "--format: {{{field}}} is not a field (write {{{{ for a brace)"
                        )));
                    }
                    parts.push(Part::Text(std::mem::take(&mut text)));
                    parts.push(Part::Field(path));
                }
                ('}', _) => {
                    return Err(Failure::usage(
                        "--format: a lone `}` (write }} for a brace)",
                    ))
                }
                _ => text.push(c),
            }
        }
        parts.push(Part::Text(text));
        Ok(Template { parts })
    }

    /// The line for a profile. A missing field (or null) is empty; a string is its text, a number
    /// or boolean its JSON text, an object or array its compact JSON. Line breaks become spaces.
    pub fn render(&self, profile: &str) -> String {
        let mut line = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => line.push_str(text),
                Part::Field(path) => line.push_str(&field(profile, path)),
            }
        }
        line.replace(['\n', '\r'], " ")
    }
}

/// Segments name object keys, or (all digits) array indexes: `providers.iterable.0.type`.
fn field(profile: &str, path: &[String]) -> String {
    let mut span = jsontext::root(profile);
    for segment in path {
        let next = match segment.parse::<usize>() {
            Ok(index) if profile.as_bytes().get(span.start) == Some(&b'[') => {
                jsontext::elements(profile, &span).and_then(|items| items.get(index).cloned())
            }
            _ => jsontext::member(profile, &span, segment),
        };
        match next {
            Some(found) => span = found,
            None => return String::new(),
        }
    }
    let text = &profile[span];
    match text.as_bytes().first() {
        Some(b'"') => serde_json::from_str::<String>(text).unwrap_or_default(),
        Some(b'n') => String::new(),
        _ => jsontext::reformat(text, Style::Compact),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pieces_user::{Error, ErrorKind};
    use std::time::Duration;

    const USER: &str = r#"{"id": "u1", "name": "Ada\nLovelace", "email": "ada@example.org",
        "aesthetics": {"theme": {"dark": true}, "font": {"size": 12345678901234567890123}},
        "providers": {"iterable": [{"type": "github"}]}, "picture": null}"#;

    fn render(template: &str) -> String {
        Template::parse(template).unwrap().render(USER)
    }

    #[test]
    fn fields_escapes_and_missing_values() {
        assert_eq!(render("{name} <{email}>"), "Ada Lovelace <ada@example.org>");
        assert_eq!(render("{{{id}}} }}{{"), "{u1} }{");
        assert_eq!(render("dark={aesthetics.theme.dark}"), "dark=true");
        assert_eq!(render("{aesthetics.font.size}"), "12345678901234567890123");
        assert_eq!(render("[{nope}|{id.deeper}|{picture}]"), "[||]");
        assert_eq!(render("{providers.iterable.0.type}"), "github");
        assert_eq!(render("{aesthetics.theme}"), r#"{"dark":true}"#);
        assert_eq!(render("plain"), "plain");
    }

    #[test]
    fn bad_templates_are_usage_errors() {
        for bad in ["{}", "{a..b}", "x } y", "{unclosed", "{{{x"] {
            let e = Template::parse(bad).unwrap_err();
            assert_eq!(e.status, crate::exit::USAGE, "{bad}");
        }
    }

    #[test]
    fn event_lines_carry_the_name_and_the_core_fields() {
        let user = event_line(StreamEvent::User(
            "{\n \"id\": 12345678901234567890123\n}".into(),
        ));
        assert_eq!(
            user.unwrap(),
            r#"{"event":"user","user":{"id":12345678901234567890123}}"#
        );
        assert_eq!(
            event_line(StreamEvent::SignedOut).unwrap(),
            r#"{"event":"signed_out"}"#
        );
        let reconnecting = StreamEvent::Reconnecting {
            attempt: 2,
            delay: Duration::from_millis(400),
        };
        assert_eq!(
            event_line(reconnecting).unwrap(),
            r#"{"event":"reconnecting","attempt":2,"delay_ms":400}"#
        );
        let error = event_line(StreamEvent::Error(Error::new(
            ErrorKind::Connection,
            "refused",
        )));
        let value: serde_json::Value = serde_json::from_str(&error.unwrap()).unwrap();
        assert_eq!(value["event"], "error");
        assert_eq!(value["kind"], "connection");
        assert!(event_line(StreamEvent::Stopped { reason: "x".into() }).is_none());
    }
}
