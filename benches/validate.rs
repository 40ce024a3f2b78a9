//! Validator timing (not a test): `cargo bench --bench validate -- FILE...` (UserProfile documents).
//!
//! Prints, per file, the best time per validation over `ROUNDS` rounds of `CALLS` validations.
//! With `VALIDATE_CALLS=N` in the environment it only runs `N` validations per file and prints
//! nothing, for instruction counts under valgrind: `--toggle-collect='*validate_many*'` then
//! counts exactly the validations.

use std::hint::black_box;
use std::time::{Duration, Instant};

use pieces_user::schema::{validate, DocumentKind};

const ROUNDS: usize = 30;
const CALLS: usize = 200;

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
        println!(
            "{file}: {} bytes, best {:.2} us per validation ({:.2} ns/byte)",
            json.len(),
            best.as_secs_f64() * 1e6,
            best.as_secs_f64() * 1e9 / json.len() as f64
        );
    }
}
