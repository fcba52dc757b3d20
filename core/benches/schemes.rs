//! Keygen, encrypt, subtract and decrypt: time and bytes of the public-key scheme (bfv)
//! next to the default scheme (mask), measured in the same run, on the demo pair
//! (1005×642 RGB) and a 12-megapixel RGB pair, using all cores.
//!
//! `cargo bench -p picrypt-core --bench schemes`

use std::time::{Duration, Instant};

use picrypt_core::ops::{self, Op};
use picrypt_core::Key;
use picrypt_core::{Image, Scheme};

fn image(w: u32, h: u32, seed: u64) -> Image {
    let mut x = seed | 1;
    let data = (0..w as usize * h as usize * 3)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    Image::new(w, h, 3, data).unwrap()
}

/// Median of `runs` timings, and the last result.
fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..runs {
        let t = Instant::now();
        last = Some(f());
        times.push(t.elapsed());
    }
    times.sort();
    (times[runs / 2], last.unwrap())
}

fn s(d: Duration) -> String {
    if d.as_secs_f64() >= 1.0 {
        format!("{:.2} s", d.as_secs_f64())
    } else {
        format!("{:.1} ms", d.as_secs_f64() * 1e3)
    }
}

fn main() {
    println!(
        "{} rayon threads; median of 3 runs (1 for bfv at 12 MP)\n",
        rayon::current_num_threads()
    );
    println!("| image | scheme | keygen | encrypt (one image) | subtract | decrypt diff | ciphertext bytes | × raw |");
    println!("|---|---|---|---|---|---|---|---|");
    for (name, w, h) in [
        ("demo 1005×642", 1005, 642),
        ("12 MP 4000×3000", 4000, 3000),
    ] {
        let (a, b) = (image(w, h, 1), image(w, h, 2));
        for scheme_id in [Scheme::MASK, Scheme::BFV] {
            let runs = if scheme_id == Scheme::BFV && w > 2000 {
                1
            } else {
                3
            };
            let (t_key, key) = time(runs, || Key::generate(scheme_id).unwrap());
            let encrypt_key = key
                .public()
                .unwrap_or_else(|| Key::parse(&key.to_bytes()).unwrap());
            let (t_enc, ca) = time(runs, || encrypt_key.encrypt(&a).unwrap());
            let cb = encrypt_key.encrypt(&b).unwrap();
            let (t_sub, d) = time(runs, || ops::apply(Op::Sub, &ca, &cb).unwrap());
            let (t_dec, pt) = time(runs, || {
                picrypt_core::verify::decrypt_trusting_source(
                    &key,
                    &d,
                    picrypt_core::verify::Expect::Difference,
                )
                .unwrap()
            });
            assert_eq!(pt.values()[0], a.data()[0] as i16 - b.data()[0] as i16);
            let bytes = ca.encoded_len();
            println!(
                "| {name} | {} | {} | {} | {} | {} | {bytes} | {:.2} |",
                scheme_id.name(),
                s(t_key),
                s(t_enc),
                s(t_sub),
                s(t_dec),
                bytes as f64 / a.data().len() as f64
            );
        }
    }
}
