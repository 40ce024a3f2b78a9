//! The date-time rule shared by the validator and `models::DateTime`.
//!
//! RFC 3339 as the official SDKs write it: `YYYY-MM-DD`, `T` (or `t` or a space), `hh:mm:ss`, an
//! optional fraction of 1 to 9 digits, and an optional offset `Z`, `z` or `±hh:mm`. The offset is
//! optional because Python writes naive date-times without one. Impossible dates and times are
//! rejected, as pydantic does; so are leap seconds, which Python's datetime cannot hold.

/// True when `s` is a date-time the official SDKs accept and write.
pub(crate) fn is_date_time(s: &str) -> bool {
    is_date_time_bytes(s.as_bytes())
}

/// The same rule on the raw text of a JSON string: the scanner has checked it but not made it a
/// `str`, and every accepted byte is ASCII anyway.
pub(crate) fn is_date_time_bytes(b: &[u8]) -> bool {
    let Some((head, rest)) = b.split_first_chunk::<19>() else {
        return false;
    };
    date_and_time(head) && fraction_and_offset(rest)
}

/// `YYYY-MM-DDThh:mm:ss` read as three overlapping 8-byte words (bytes 0..8, 8..16 and
/// 11..19), each with the bytes that must be digits flagged in a mask and the bytes that must
/// be fixed separators spelled out (the `T` is checked on its own: it has three spellings).
const WORDS: [(usize, u64, u64, u64); 3] = [
    // "YYYY-MM-": digits at 0..4, 5, 6; '-' at 4 and 7.
    (
        0,
        0x00ff_ff00_ffff_ffff,
        0xff00_00ff_0000_0000,
        0x2d00_002d_0000_0000,
    ),
    // "DDThh:mm": digits at 0, 1, 3, 4, 6, 7; ':' at 5.
    (
        8,
        0xffff_00ff_ff00_ffff,
        0x0000_ff00_0000_0000,
        0x0000_3a00_0000_0000,
    ),
    // "hh:mm:ss": digits at 0, 1, 3, 4, 6, 7; ':' at 2 and 5.
    (
        11,
        0xffff_00ff_ff00_ffff,
        0x0000_ff00_00ff_0000,
        0x0000_3a00_003a_0000,
    ),
];

/// Fixed positions, so no bounds checks and no loops: the scanner meets many date-times.
fn date_and_time(b: &[u8; 19]) -> bool {
    let shape = WORDS.iter().fold(true, |ok, &(at, digits, fixed, want)| {
        let mut word = [0; 8];
        word.copy_from_slice(&b[at..at + 8]);
        let word = u64::from_le_bytes(word);
        ok & all_digits(word, digits) & (word & fixed == want)
    });
    if !(shape && matches!(b[10], b'T' | b't' | b' ')) {
        return false;
    }
    // Every digit is one now: fields are compared as numbers (text comparisons of two bytes
    // compiled to byte swaps through the stack).
    let digit = |i: usize| u32::from(b[i] - b'0');
    let two = |i: usize| digit(i) * 10 + digit(i + 1);
    let month = two(5);
    let day = two(8);
    // Only February needs the year.
    let last_day = match month {
        2 => days_in_month(two(0) * 100 + two(2), 2),
        _ => days_in_month(1, month),
    };
    b[..4] != *b"0000"
        && (1..=12).contains(&month)
        && day >= 1
        && day <= last_day
        && two(11) <= 23
        && b[14] <= b'5'
        && b[17] <= b'5'
}

/// Whether the bytes of `word` flagged (0xff) in `mask` are all ASCII digits. With the digits'
/// '0' taken away a digit is a byte below 10: its high nibble is clear, and stays clear when 6
/// is added. A carry out of a byte can only come from a byte that fails anyway.
fn all_digits(word: u64, mask: u64) -> bool {
    const ZEROS: u64 = u64::from_ne_bytes([b'0'; 8]);
    const SIXES: u64 = u64::from_ne_bytes([6; 8]);
    const HIGH_NIBBLES: u64 = u64::from_ne_bytes([0xf0; 8]);
    let values = word ^ ZEROS;
    (values | values.wrapping_add(SIXES)) & HIGH_NIBBLES & mask == 0
}

fn fraction_and_offset(mut rest: &[u8]) -> bool {
    if let Some(after_dot) = rest.strip_prefix(b".") {
        let digits = after_dot.iter().take_while(|c| c.is_ascii_digit()).count();
        if !(1..=9).contains(&digits) {
            return false;
        }
        rest = &after_dot[digits..];
    }
    match rest {
        [] | [b'Z'] | [b'z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => {
            [h1, h2, m2].iter().all(|c| c.is_ascii_digit())
                && u32::from(h1 - b'0') * 10 + u32::from(h2 - b'0') <= 23
                && (b'0'..=b'5').contains(m1)
        }
        _ => false,
    }
}

pub(crate) fn is_leap_year(year: u32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

pub(crate) fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::is_date_time;

    #[test]
    fn accepts_what_the_sdks_write() {
        for ok in [
            "2024-03-14T09:26:53.589000+00:00",
            "2024-03-14T09:26:53.589Z",
            "2024-06-01T00:00:00+00:00",
            "2024-03-14T00:00:00",
            "2024-03-14 09:26:53z",
            "2024-03-14t09:26:53.123456789-05:30",
            "2024-02-29T12:00:00Z",
            "2000-02-29T12:00:00Z",
        ] {
            assert!(is_date_time(ok), "{ok}");
        }
    }

    #[test]
    fn rejects_impossible_or_malformed_values() {
        for bad in [
            "2024-02-30T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-00-01T00:00:00Z",
            "2024-04-31T00:00:00Z",
            "2024-03-14T24:00:00Z",
            "2024-03-14T23:60:00Z",
            "2024-03-14T23:59:60Z",
            "2024-03-14T09:26:53.Z",
            "2024-03-14T09:26:53.1234567890Z",
            "2024-03-14T09:26:53+24:00",
            "2024-03-14T09:26:53+0000",
            "2024-03-14T09:26:53ZZ",
            "2024-03-14",
            "0000-01-01T00:00:00Z",
            "2024-3-14T09:26:53Z",
            "２０２４-03-14T09:26:53Z",
            "tomorrow",
            "",
        ] {
            assert!(!is_date_time(bad), "{bad}");
        }
    }
}
