//! Times building the `Rand` permutation of a 1005x642x3 image, against the
//! Python library's ~0.65 s on this machine class, and against the Python
//! library itself when `python3` can import `imageshuffle` here.
//!
//! Run with `cargo bench --bench perm`.

use std::process::Command;
use std::time::{Duration, Instant};

use picrypt_core::scheme::shuffle::permutation::{logistic_draws, Permutation};
use picrypt_core::scheme::shuffle::Variant;

const SHAPE: (usize, usize, usize) = (1005, 642, 3);
const KEY: u32 = 12345;
const RUNS: usize = 21;
/// The Python library's time for this shape, measured on this machine class.
const PYTHON_SECONDS: f64 = 0.65;
/// Keys whose full-size draw streams are checked for exact duplicates.
const TIE_KEYS: [u32; 3] = [10001, 54321, 99999];

/// Median and fastest wall time of `RUNS` calls of `f`, after one warm-up
/// call (which also starts rayon's threads).
fn timed(mut f: impl FnMut()) -> (Duration, Duration) {
    f();
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort_unstable();
    (times[RUNS / 2], times[0])
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Times the Python library on the same shape, or says why it cannot.
fn python_seconds() -> Result<f64, String> {
    let (h, w, c) = SHAPE;
    let script = format!(
        "import time\n\
         import imageshuffle.imageshuffle as imageshuffle\n\
         ts = []\n\
         for _ in range(3):\n\
         \x20   r = imageshuffle.Rand({KEY})\n\
         \x20   t = time.perf_counter()\n\
         \x20   r.setOrd(({h}, {w}, {c}))\n\
         \x20   ts.append(time.perf_counter() - t)\n\
         print(sorted(ts)[1])\n"
    );
    let output = Command::new("python3")
        .args(["-c", &script])
        .output()
        .map_err(|e| format!("python3 not runnable: {e}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr.lines().last().unwrap_or("no message");
        return Err(format!("python3 could not run imageshuffle: {last}"));
    }
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .map_err(|e| format!("unexpected output from python3: {e}"))
}

fn main() {
    let (h, w, c) = SHAPE;
    let n = h * w * c;
    println!("shape {h}x{w}x{c} = {n} samples, key {KEY}, median of {RUNS} runs");

    let (draws, _) = timed(|| {
        std::hint::black_box(logistic_draws(KEY, n));
    });
    println!("  logistic draws only:        {:8.2} ms", ms(draws));

    let (build, fastest) = timed(|| {
        std::hint::black_box(Permutation::new(KEY, Variant::Rand, h, w, c).expect("shape"));
    });
    println!(
        "  Rand permutation (build):   {:8.2} ms (fastest {:.2} ms)",
        ms(build),
        ms(fastest)
    );
    println!(
        "  speed-up against {PYTHON_SECONDS} s:     {:8.1}x",
        PYTHON_SECONDS / build.as_secs_f64()
    );

    let block = Variant::Block {
        height: 8,
        width: 8,
    };
    let (block_build, _) = timed(|| {
        std::hint::black_box(Permutation::new(KEY, block, h, w, c).expect("shape"));
    });
    println!("  RandBlock 8x8 (build):      {:8.2} ms", ms(block_build));

    let perm = Permutation::new(KEY, Variant::Rand, h, w, c).expect("shape");
    let image: Vec<u8> = (0..n).map(|i| (i * 7 % 251) as u8).collect();
    let (encrypt, _) = timed(|| {
        std::hint::black_box(perm.encrypt(&image).expect("shape"));
    });
    let cipher = perm.encrypt(&image).expect("shape");
    let (decrypt, _) = timed(|| {
        std::hint::black_box(perm.decrypt(&cipher).expect("shape"));
    });
    println!("  encrypt u8 image:           {:8.2} ms", ms(encrypt));
    println!("  decrypt u8 image:           {:8.2} ms", ms(decrypt));

    match python_seconds() {
        Ok(seconds) => println!(
            "  Python imageshuffle:        {:8.2} ms, measured ratio {:.1}x",
            seconds * 1e3,
            seconds / build.as_secs_f64()
        ),
        Err(why) => println!("  Python imageshuffle:        skipped ({why})"),
    }

    for key in TIE_KEYS {
        let mut bits: Vec<u64> = logistic_draws(key, n).iter().map(|x| x.to_bits()).collect();
        bits.sort_unstable();
        let ties = bits.windows(2).filter(|pair| pair[0] == pair[1]).count();
        println!("  key {key:>5}: {ties} exactly repeated draws among {n}");
    }
}
