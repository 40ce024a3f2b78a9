//! Typed models of the User API documents.
//!
//! The structs and enums are generated from the official JSON Schemas (`generated.rs`, see
//! `tools/gen_models.py`); this file holds what they share. Every struct keeps the keys it does
//! not know in `extra`, every enum keeps values it does not know in `Other`, and date-times keep
//! their original text, so `encode(decode(text))` loses no key, value or enum variant a newer
//! Pieces OS sent. Numbers are the exception: they are held as `i64`, `u64` or the nearest `f64`
//! (`serde_json::Number`), so a number with more significant digits than an `f64` holds, which
//! the schema allows only under a key this version does not know or a non-integer numeric one,
//! comes back as that `f64` (`222222222222222222222222` as `2.2222222222222222e+23`). The
//! `Client::*_json` methods, like the C ABI, hand over the text itself, unchanged.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::schema::{self, DocumentKind, Violation};

/// Declares an open enum: known variants plus `Other(raw)` for values this version does not know.
macro_rules! open_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $wire:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $(
                #[doc = concat!("`", $wire, "`")]
                $variant,
            )*
            /// A value this version does not know, kept verbatim.
            Other(String),
        }

        impl $name {
            /// The wire string.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $wire,)*
                    Self::Other(raw) => raw,
                }
            }

            /// The variant for a wire string; unknown strings become `Other`.
            pub fn from_wire(raw: &str) -> Self {
                match raw {
                    $($wire => Self::$variant,)*
                    _ => Self::Other(raw.to_owned()),
                }
            }
        }

        impl From<&str> for $name {
            fn from(raw: &str) -> Self {
                Self::from_wire(raw)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $crate::models::deserialize_open_enum(d, stringify!($name), Self::from_wire)
            }
        }
    };
}

/// Integer fields of the generated models. JSON's `-0` is an integer (the validator accepts it where
/// the schema says integer), but serde_json reads it as the float `-0.0`, which a plain `i64` field
/// refuses: these read it as 0. Any other float is still refused.
pub(crate) mod int {
    use std::collections::BTreeMap;
    use std::fmt;

    use serde::de::{self, Deserialize, Deserializer, Visitor};

    /// An integer, read from any JSON integer, including `-0`.
    struct Int(i64);

    impl<'de> Deserialize<'de> for Int {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Int, D::Error> {
            d.deserialize_any(IntVisitor)
        }
    }

    struct IntVisitor;

    impl Visitor<'_> for IntVisitor {
        type Value = Int;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an integer")
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Int, E> {
            Ok(Int(v))
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Int, E> {
            i64::try_from(v)
                .map(Int)
                .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Int, E> {
            // Only `-0` reaches here as a float that is an integer: the validator refused the rest.
            if v == 0.0 {
                Ok(Int(0))
            } else {
                Err(E::invalid_type(de::Unexpected::Float(v), &self))
            }
        }
    }

    pub(crate) fn required<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        Int::deserialize(d).map(|Int(v)| v)
    }

    pub(crate) fn optional<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        Option::<Int>::deserialize(d).map(|v| v.map(|Int(v)| v))
    }

    pub(crate) fn optional_map<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<BTreeMap<String, i64>>, D::Error> {
        let map = Option::<BTreeMap<String, Int>>::deserialize(d)?;
        Ok(map.map(|m| m.into_iter().map(|(k, Int(v))| (k, v)).collect()))
    }
}

// Generated: its docs are the official schemas' descriptions, which cover some fields only.
#[allow(missing_docs)]
mod generated;

pub use generated::*;

/// Reads an open enum from a string; `name` only names the enum in messages.
pub(crate) fn deserialize_open_enum<'de, D, T>(
    d: D,
    name: &'static str,
    from_wire: fn(&str) -> T,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    struct WireString<T> {
        name: &'static str,
        from_wire: fn(&str) -> T,
    }

    impl<T> Visitor<'_> for WireString<T> {
        type Value = T;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "a string ({})", self.name)
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
            Ok((self.from_wire)(v))
        }
    }

    d.deserialize_str(WireString { name, from_wire })
}

// ---------------------------------------------------------------- date-times

/// A date-time as it appeared on the wire, kept verbatim so that re-encoding changes nothing.
///
/// Only RFC 3339 text is accepted (`2024-03-14T09:26:53.589Z`, Python's
/// `2024-03-14T09:26:53.589000+00:00`, or a naive `2024-03-14T09:26:53`), the same rule
/// `schema::validate` applies.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DateTime(String);

impl DateTime {
    /// The value for `text`, if it is an RFC 3339 date-time.
    pub fn parse(text: &str) -> Option<DateTime> {
        schema::is_date_time(text).then(|| DateTime(text.to_owned()))
    }

    /// The original text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The UTC instant `ms` milliseconds after the Unix epoch, written as the TypeScript SDK does
    /// (`2024-03-14T09:26:53.589Z`). None outside the years 1 to 9999.
    pub fn from_unix_millis(ms: i64) -> Option<DateTime> {
        let days = ms.div_euclid(86_400_000);
        let ms_of_day = ms.rem_euclid(86_400_000);
        let (year, month, day) = civil_from_days(days);
        if !(1..=9999).contains(&year) {
            return None;
        }
        let (secs, millis) = (ms_of_day / 1000, ms_of_day % 1000);
        let (hour, minute, second) = (secs / 3600, secs / 60 % 60, secs % 60);
        Some(DateTime(format!(
            "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{millis:03}Z"
        )))
    }

    /// The current time, in the form of [`DateTime::from_unix_millis`].
    pub fn now() -> DateTime {
        let ms = match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
            Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
        };
        DateTime::from_unix_millis(ms)
            .unwrap_or_else(|| DateTime("1970-01-01T00:00:00.000Z".to_owned()))
    }
}

/// Proleptic Gregorian (year, month, day) of a day count from 1970-01-01, by counting whole
/// 400-year eras (146,097 days each) and then years within the era starting on March 1st, so the
/// leap day falls at the end of the counted year.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let shifted = days + 719_468; // days from 0000-03-01 to 1970-01-01
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for DateTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for DateTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Rfc3339;

        impl Visitor<'_> for Rfc3339 {
            type Value = DateTime;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 date-time string")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<DateTime, E> {
                DateTime::parse(v).ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
            }
        }

        d.deserialize_str(Rfc3339)
    }
}

// ---------------------------------------------------------------- documents

/// A top-level document of the User API.
pub trait Document: Serialize + de::DeserializeOwned + Send + Sync + 'static {
    /// Which document this is, for validation against its model.
    const KIND: DocumentKind;
}

impl Document for UserProfile {
    const KIND: DocumentKind = DocumentKind::UserProfile;
}

impl Document for ReturnedUserProfile {
    const KIND: DocumentKind = DocumentKind::ReturnedUserProfile;
}

impl Document for Auth0User {
    const KIND: DocumentKind = DocumentKind::Auth0User;
}

impl Document for UserBetaStatus {
    const KIND: DocumentKind = DocumentKind::UserBetaStatus;
}

/// Validates `json` (so that errors name the JSON path) and builds the typed document.
pub fn decode<T: Document>(json: &[u8]) -> Result<T, Violation> {
    schema::validate(T::KIND, json)?;
    // Only reachable for what the validator lets through but serde cannot build, e.g. values
    // nested deeper than serde_json's limit inside an unknown key.
    serde_json::from_slice(json).map_err(|e| Violation {
        syntax: e.is_syntax() || e.is_eof(),
        path: "$".to_owned(),
        message: e.to_string(),
    })
}

/// The document as compact JSON text.
pub fn encode<T: Document>(doc: &T) -> String {
    // Serializing these types cannot fail: every map key is a string and no value is a float.
    serde_json::to_string(doc).unwrap_or_default()
}

impl ReturnedUserProfile {
    /// The signed-in user; `{"user": null}` and `{}` both mean nobody is signed in.
    pub fn user(&self) -> Option<&UserProfile> {
        self.user.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_millis_are_written_like_typescript() {
        let cases = [
            (0, "1970-01-01T00:00:00.000Z"),
            (1_710_408_413_589, "2024-03-14T09:26:53.589Z"),
            (951_782_400_000, "2000-02-29T00:00:00.000Z"),
            (-1, "1969-12-31T23:59:59.999Z"),
            (253_402_300_799_999, "9999-12-31T23:59:59.999Z"),
        ];
        for (ms, text) in cases {
            assert_eq!(DateTime::from_unix_millis(ms).unwrap().as_str(), text);
        }
        assert_eq!(DateTime::from_unix_millis(253_402_300_800_000), None);
        assert!(schema::is_date_time(DateTime::now().as_str()));
    }

    #[test]
    fn civil_dates_agree_with_a_day_by_day_count() {
        let (mut y, mut m, mut d) = (1970i64, 1i64, 1i64);
        for days in 0..800_000 {
            assert_eq!(civil_from_days(days), (y, m, d), "day {days}");
            d += 1;
            let len = crate::schema::datetime_days_in_month(y as u32, m as u32) as i64;
            if d > len {
                d = 1;
                m += 1;
                if m > 12 {
                    m = 1;
                    y += 1;
                }
            }
        }
    }
}
