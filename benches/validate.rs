//! Validator timing (not a test): `cargo bench --bench validate -- FILE...` (UserProfile documents).
//!
//! Prints, per file, the best time per validation over `ROUNDS` rounds of `CALLS` validations
//! (warm: the same document again and again, so caches and branch predictors have learnt it), and
//! the median of `COLD_SAMPLES` single validations each after `disturb()` (cold: as in a real
//! call, where the kernel, the HTTP client and the wait for the answer run between two
//! validations). Warm shows the cost of the work; cold is closer to what a call pays. Run it
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
        println!(
            "{file}: {} bytes, best {:.2} us per validation ({:.2} ns/byte), cold median {:.2} us",
            json.len(),
            best.as_secs_f64() * 1e6,
            best.as_secs_f64() * 1e9 / json.len() as f64,
            cold.as_secs_f64() * 1e6,
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
