//! Validator timing (not a test): `cargo bench --bench validate -- FILE...` (UserProfile documents).
//!
//! Prints, per file, the best time per validation over `ROUNDS` rounds of `CALLS` validations
//! (warm: the same document again and again, so caches and branch predictors have learnt it), and
//! the median of `COLD_SAMPLES` single validations each after `disturb()` (cold: as in a real
//! call, where the kernel, the HTTP client and the wait for the answer run between two
//! validations), and "varied": the median over `VARIANTS` documents made from the file, each with
//! other string lengths and other numbers (`variant`), validated in turn, so that the branch
//! predictors cannot learn one document, as they cannot where documents differ from call to call
//! or where other work runs between two calls. Warm shows the cost of the work; cold and varied
//! are closer to what a call pays. Run it
//! pinned to one CPU (`taskset -c 0`, as `benches/bench_rest.sh` does): a thread that moves to
//! the other CPU between two validations finds nothing of the validator in that CPU's caches,
//! which measures the scheduler, not the validator.
//! With `VALIDATE_CALLS=N` in the environment it only runs `N` validations per file and prints
//! nothing, for instruction counts under valgrind: `--toggle-collect='*validate_many*'` then
//! counts exactly the validations.

use std::hint::black_box;
use std::time::{Duration, Instant};

use pieces_user::schema::{validate, DocumentKind};

const ROUNDS: usize = 30;
const CALLS: usize = 200;
const COLD_SAMPLES: usize = 1000;
const VARIANTS: u64 = 64;

#[inline(never)]
fn validate_many(json: &[u8], calls: usize) {
    for _ in 0..calls {
        let verdict = validate(DocumentKind::UserProfile, black_box(json));
        assert!(black_box(verdict).is_ok());
    }
}

fn main() {
    let files: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let counted = std::env::var("VALIDATE_CALLS")
        .ok()
        .and_then(|n| n.parse::<usize>().ok());
    for file in &files {
        let json = std::fs::read(file).unwrap_or_else(|e| panic!("{file}: {e}"));
        if let Some(calls) = counted {
            validate_many(&json, calls);
            continue;
        }
        validate_many(&json, CALLS); // warm up
        let best = (0..ROUNDS)
            .map(|_| {
                let start = Instant::now();
                validate_many(&json, CALLS);
                start.elapsed() / CALLS as u32
            })
            .min()
            .unwrap_or(Duration::ZERO);
        let cold = cold_median(&json);
        let varied = varied_median(&json);
        println!(
            "{file}: {} bytes, best {:.2} us per validation ({:.2} ns/byte), cold median {:.2} us, \
             varied median {:.2} us",
            json.len(),
            best.as_secs_f64() * 1e6,
            best.as_secs_f64() * 1e9 / json.len() as f64,
            cold.as_secs_f64() * 1e6,
            varied.as_secs_f64() * 1e6,
        );
    }
}

/// The median time of one validation after `disturb()`.
fn cold_median(json: &[u8]) -> Duration {
    let mut noise = Noise::new();
    let mut times: Vec<Duration> = (0..COLD_SAMPLES)
        .map(|_| {
            noise.disturb();
            let start = Instant::now();
            validate_many(json, 1);
            start.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

/// The median, over 15 passes, of the time per validation of a pass through `VARIANTS` variants of
/// `json`.
fn varied_median(json: &[u8]) -> Duration {
    let docs: Vec<Vec<u8>> = (1..=VARIANTS).map(|seed| variant(json, seed)).collect();
    for doc in &docs {
        let verdict = validate(DocumentKind::UserProfile, doc);
        assert!(verdict.is_ok(), "a variant is not valid: {verdict:?}");
    }
    let mut times: Vec<Duration> = (0..15)
        .map(|_| {
            let start = Instant::now();
            for doc in &docs {
                validate_many(doc, 1);
            }
            start.elapsed() / docs.len() as u32
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

/// `json` (compact, valid) with its string values and integers changed, its structure and keys
/// kept: each string value other than a date-time or an all-capitals enum value becomes letters
/// and digits, up to 8 bytes longer or shorter; each integer other than a `migration` (which
/// would make the `schema` objects differ, as they do not in real documents) gets 1 to 9 digits;
/// other numbers are kept.
fn variant(json: &[u8], seed: u64) -> Vec<u8> {
    let mut rng = Noise::seeded(seed);
    let mut out = Vec::with_capacity(json.len() + json.len() / 4);
    let mut last_key: &[u8] = b"";
    let mut i = 0;
    while i < json.len() {
        match json[i] {
            b'"' => {
                let end = string_end(json, i);
                let text = &json[i + 1..end];
                let is_key = json.get(end + 1) == Some(&b':');
                if is_key {
                    last_key = text;
                }
                if is_key || kept_string(text) {
                    out.extend_from_slice(&json[i..=end]);
                } else {
                    let len = (text.len() as i64 + (rng.next() % 17) as i64 - 8).max(0);
                    out.push(b'"');
                    out.extend((0..len).map(|_| {
                        b"abcdefghijklmnopqrstuvwxyz0123456789"[(rng.next() % 36) as usize]
                    }));
                    out.push(b'"');
                }
                i = end + 1;
            }
            b'0'..=b'9' if last_key != b"migration" => {
                let token = json[i..]
                    .iter()
                    .take_while(|c| c.is_ascii_digit() || b".eE+-".contains(c))
                    .count();
                let end = i + token;
                // A fraction or an exponent is kept whole: new digits could take it out of range.
                if !json[i..end].iter().all(u8::is_ascii_digit) {
                    out.extend_from_slice(&json[i..end]);
                } else {
                    let digits = 1 + rng.next() % 9;
                    out.push(b'1' + (rng.next() % 9) as u8);
                    out.extend((1..digits).map(|_| b'0' + (rng.next() % 10) as u8));
                }
                i = end;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// The index of the quote that closes the string whose opening quote is at `start`.
fn string_end(json: &[u8], start: usize) -> usize {
    let mut k = start + 1;
    while json[k] != b'"' {
        k += if json[k] == b'\\' { 2 } else { 1 };
    }
    k
}

/// Date-times and enum values (all capitals) keep their text: other text would not be valid.
fn kept_string(text: &[u8]) -> bool {
    let date_time = text.len() >= 19 && text[4] == b'-' && text[7] == b'-';
    let enum_value = !text.is_empty()
        && text
            .iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'_');
    date_time || enum_value
}

/// What runs between two validations in a call, roughly: other code and data pass through the
/// caches (4 MB read, more than this machine's L2), and branches the validator does not take
/// train the predictors (random outcomes, direct and indirect).
struct Noise {
    memory: Vec<u8>,
    state: u64,
}

impl Noise {
    fn new() -> Noise {
        Noise {
            memory: vec![1; 4 << 20],
            state: 0x9e37_79b9_7f4a_7c15,
        }
    }

    /// Only the random numbers, from `seed`.
    fn seeded(seed: u64) -> Noise {
        Noise {
            memory: Vec::new(),
            state: 0x9e37_79b9_7f4a_7c15 ^ seed.wrapping_mul(0xff51_afd7_ed55_8ccd),
        }
    }

    fn next(&mut self) -> u64 {
        // xorshift64: cheap, and its bits are as good as random to a branch predictor.
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        self.state
    }

    #[inline(never)]
    fn disturb(&mut self) {
        let mut sum = 0u64;
        for line in self.memory.chunks(64) {
            sum = sum.wrapping_add(u64::from(line[0]));
        }
        const STEPS: [fn(u64) -> u64; 4] = [
            |x| x.wrapping_mul(3),
            |x| x ^ 0x55,
            |x| x.rotate_left(7),
            |x| x.wrapping_add(11),
        ];
        for _ in 0..20_000 {
            let r = self.next();
            if r & 1 == 0 {
                sum = sum.wrapping_add(r);
            } else {
                sum ^= r >> 3;
            }
            sum = black_box(STEPS[(r >> 8) as usize & 3])(sum);
        }
        black_box(sum);
    }
}
