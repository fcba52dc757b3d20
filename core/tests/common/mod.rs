//! Helpers shared by the core's integration tests.
#![allow(dead_code)]

use picrypt_core::Image;

pub mod kat;

/// A deterministic pseudo-random image (xorshift), different for each `seed`.
pub fn image(width: u32, height: u32, channels: u8, seed: u64) -> Image {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let n = width as usize * height as usize * channels as usize;
    let data = (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    Image::new(width, height, channels, data).unwrap()
}

/// Decrypts as `picrypt decrypt` does a file it has no inputs for: as what the header
/// claims to be (image or difference), with every check the scheme has, trusting the
/// source for bfv (these tests made every ciphertext themselves).
pub fn open(
    key: &picrypt_core::Key,
    c: &picrypt_core::Container,
) -> picrypt_core::Result<picrypt_core::Plaintext> {
    use picrypt_core::verify::{self, Expect};
    verify::decrypt_trusting_source(key, c, Expect::claimed_by(c.header()))
}
