//! Throughput of the mask scheme against the raw primitives it is built on, measured in
//! the same run: encrypt/decrypt vs the XChaCha20 keystream over the same pixel bytes, and
//! subtraction vs a memcpy of the same ciphertext bytes.
//!
//! `cargo bench -p picrypt-core --bench throughput` (set `RAYON_NUM_THREADS` to compare
//! core counts). Results go in docs/PERFORMANCE.md.

use std::hint::black_box;
use std::time::{Duration, Instant};

use chacha20::cipher::{KeyIvInit, StreamCipher};
use chacha20::XChaCha20;
use picrypt_core::ops::{self, Op};
use picrypt_core::verify::{self, Expect};
use picrypt_core::{ContainerRef, Image, Key, Scheme};

/// Median wall time of `runs` calls.
fn median<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            black_box(f());
            t.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

fn image(width: u32, height: u32) -> Image {
    let mut x = 0x1234_5678_9abc_def1u64;
    let data = (0..width as usize * height as usize * 3)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    Image::new(width, height, 3, data).unwrap()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let threads = rayon::current_num_threads();
    println!("mask scheme throughput, {threads} rayon threads (median of runs)\n");
    println!(
        "| image | pixel bytes | XChaCha20 | encrypt | ratio | decrypt | ratio | memcpy into buffer | subtract into buffer | ratio | copy to new buffer | parse + subtract + encode | ratio | decrypt diff |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let key = Key::generate(Scheme::MASK).unwrap();
    for (name, w, h, runs) in [
        ("demo 1005×642", 1005, 642, 21),
        ("12 MP 4000×3000", 4000, 3000, 7),
    ] {
        let a = image(w, h);
        let b = image(h, w);
        let b = Image::new(w, h, 3, b.into_data()).unwrap();
        let n = a.data().len();

        let mut buf = vec![0u8; n];
        let t_stream = median(runs, || {
            let mut c = XChaCha20::new(&[1u8; 32].into(), &[2u8; 24].into());
            c.apply_keystream(&mut buf);
        });
        let t_encrypt = median(runs, || key.encrypt(&a).unwrap());
        let ca = key.encrypt(&a).unwrap();
        let cb = key.encrypt(&b).unwrap();
        let t_decrypt = median(runs, || verify::decrypt(&key, &ca, Expect::Image).unwrap());

        // Same bytes, two settings: into a buffer already in memory (pure compute), and
        // into a fresh allocation (what a server producing a new response pays).
        let src = ca.payload().to_vec();
        let mut dst = vec![0u8; src.len()];
        let t_memcpy = median(runs, || dst.copy_from_slice(black_box(&src)));
        let (ba, bb) = (ca.to_bytes(), cb.to_bytes());
        let (ra, rb) = (
            ContainerRef::parse(&ba).unwrap(),
            ContainerRef::parse(&bb).unwrap(),
        );
        let t_sub_warm = median(runs, || {
            ops::apply_into(Op::Sub, &ra, &rb, &mut dst).unwrap()
        });
        let t_copy_new = median(runs, || black_box(&src).to_vec());
        let t_sub = median(runs, || ops::apply_bytes(Op::Sub, &ba, &bb).unwrap());
        let d = ops::apply(Op::Sub, &ca, &cb).unwrap();
        let t_decrypt_diff = median(runs, || {
            verify::decrypt(&key, &d, Expect::Difference).unwrap()
        });

        println!(
            "| {name} | {n} | {:.2} ms | {:.2} ms | {:.2}× | {:.2} ms | {:.2}× | {:.2} ms | {:.2} ms | {:.2}× | {:.2} ms | {:.2} ms | {:.2}× | {:.2} ms |",
            ms(t_stream),
            ms(t_encrypt),
            ms(t_encrypt) / ms(t_stream),
            ms(t_decrypt),
            ms(t_decrypt) / ms(t_stream),
            ms(t_memcpy),
            ms(t_sub_warm),
            ms(t_sub_warm) / ms(t_memcpy),
            ms(t_copy_new),
            ms(t_sub),
            ms(t_sub) / ms(t_copy_new),
            ms(t_decrypt_diff),
        );
    }
    println!("\nratios: encrypt and decrypt vs XChaCha20 keystream over the pixel bytes (goal: encrypt ≤ 4×);");
    println!("subtract vs memcpy of one ciphertext payload (goal ≤ 3×): packed lane-wise subtraction into an existing");
    println!("buffer vs memcpy into it; and the server's whole job on encoded containers (parse, validate, subtract into");
    println!("a new buffer, header) vs copying the payload into a new buffer.");
}
