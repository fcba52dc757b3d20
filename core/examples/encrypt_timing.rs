//! Native baseline for the page's benchmark (tests/browser/bench.mjs): decodes one image as
//! the page does (EXIF orientation applied) and times the mask scheme's encryption of its
//! pixels, printing one JSON line. Run it with `RAYON_NUM_THREADS=1` to compare with the
//! page's single WebAssembly thread.
//!
//! Usage: cargo run --release -p picrypt-core --example encrypt_timing -- IMAGE [RUNS]

use std::time::Instant;

use picrypt_core::{image_io, Key, Scheme};

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: encrypt_timing IMAGE [RUNS]");
    let runs: usize = args
        .next()
        .map_or(15, |r| r.parse().expect("RUNS is a number"));
    let bytes = std::fs::read(&path).expect("readable image");
    let (image, _) = image_io::decode_oriented(&bytes).expect("an image");
    let key = Key::generate(Scheme::MASK).expect("a key");
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(key.encrypt(&image).expect("encrypts"));
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    println!(
        "{{\"median_ms\": {:.3}, \"runs\": {runs}, \"threads\": {}, \"samples\": {}}}",
        times[runs / 2],
        rayon::current_num_threads(),
        image.data().len()
    );
}
