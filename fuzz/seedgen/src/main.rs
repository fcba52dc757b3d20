//! Writes deterministic seed inputs for the fuzz targets into `<dir>/<target>/`
//! (`fuzz/seeds/` in the repository).
//!
//! Everything is made under fixed keys and fixed nonces (`encrypt_with_nonce`, which is
//! only for tests: the seeds are public test data), so rerunning gives the same files.
//!
//! Usage: `cargo run --manifest-path fuzz/seedgen/Cargo.toml -- fuzz/seeds`

use std::path::{Path, PathBuf};

use base64::Engine;
use picrypt_core::ops::{self, Op};
use picrypt_core::{npy, Container, Image, Key};

fn image(width: u32, height: u32, channels: u8, seed: u32) -> Image {
    let n = (width * height * channels as u32) as usize;
    let data = (0..n)
        .map(|i| ((i as u32).wrapping_mul(37).wrapping_add(seed.wrapping_mul(101)) % 256) as u8)
        .collect();
    Image::new(width, height, channels, data).unwrap()
}

fn nonce(i: u8) -> [u8; 24] {
    let mut n = [0u8; 24];
    for (j, b) in n.iter_mut().enumerate() {
        *b = i.wrapping_mul(31).wrapping_add(j as u8);
    }
    n
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

fn encrypt(key: &Key, img: &Image, n: u8) -> Container {
    key.encrypt_with_nonce(img, &nonce(n)).unwrap()
}

fn inline_request(a: &[u8], b: &[u8], extra: &str) -> Vec<u8> {
    let e = base64::engine::general_purpose::STANDARD;
    format!(
        r#"{{"a":{{"inline":"{}"}},"b":{{"inline":"{}"}}{extra}}}"#,
        e.encode(a),
        e.encode(b)
    )
    .into_bytes()
}

/// The input layout of the `diff_bytes` target: u16 LE length of A, A, B.
fn diff_input(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut v = (a.len() as u16).to_le_bytes().to_vec();
    v.extend_from_slice(a);
    v.extend_from_slice(b);
    v
}

fn main() {
    let root = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "seeds".into()));
    let key = Key::mask_from_secret(&[7u8; 32]);
    let other_key = Key::mask_from_secret(&[9u8; 32]);

    // Small shapes: every channel count, odd sizes (padding bits), one 64-sample block
    // boundary (8×8×1) and one just past it.
    let shapes: &[(u32, u32, u8)] = &[
        (1, 1, 1),
        (1, 1, 2),
        (2, 1, 3),
        (3, 2, 4),
        (5, 3, 1),
        (8, 8, 1),
        (13, 5, 3),
    ];

    let containers = root.join("container_parse");
    let diffs = root.join("diff_bytes");
    let requests = root.join("function_request");
    let mut fresh = Vec::new();
    for (i, &(w, h, c)) in shapes.iter().enumerate() {
        let a = encrypt(&key, &image(w, h, c, 1), 2 * i as u8);
        let b = encrypt(&key, &image(w, h, c, 2), 2 * i as u8 + 1);
        let diff = ops::apply(Op::Sub, &a, &b).unwrap();
        let (a, b, diff) = (a.to_bytes(), b.to_bytes(), diff.to_bytes());
        write(&containers, &format!("fresh_{w}x{h}x{c}"), &a);
        write(&containers, &format!("diff_{w}x{h}x{c}"), &diff);
        write(&diffs, &format!("fresh_{w}x{h}x{c}"), &diff_input(&a, &b));
        if i < 3 {
            // A difference minus a fresh ciphertext: refused (range overflow).
            write(&diffs, &format!("overflow_{w}x{h}x{c}"), &diff_input(&diff, &b));
            write(&requests, &format!("diff_{w}x{h}x{c}"), &inline_request(&a, &b, ""));
        }
        fresh.push((a, b));
    }
    // Mismatches the server must refuse cleanly.
    let (a1, _) = &fresh[0];
    let (a2, _) = &fresh[2];
    let foreign = encrypt(&other_key, &image(1, 1, 1, 3), 50).to_bytes();
    write(&diffs, "shape_mismatch", &diff_input(a1, a2));
    write(&diffs, "key_mismatch", &diff_input(a1, &foreign));
    write(&diffs, "truncated_b", &diff_input(a1, &a1[..a1.len() - 1]));
    write(&requests, "key_mismatch", &inline_request(a1, &foreign, ""));
    write(&requests, "op_inline", &inline_request(&fresh[1].0, &fresh[1].1, r#","op":"sub","output":"inline""#));
    write(&requests, "unknown_op", &inline_request(a1, a1, r#","op":"add""#));
    write(&requests, "s3_inputs", br#"{"a":{"s3":{"key":"picrypt/a.picrypt","bucket":"b"}},"b":{"s3":{"key":"picrypt/b.picrypt"}}}"#);
    write(&requests, "s3_output", &inline_request(a1, a1, r#","output":{"s3":{"key":"picrypt/out.picrypt"}}"#));
    write(&requests, "bad_base64", br#"{"a":{"inline":"AAA"},"b":{"inline":"!!!!"}}"#);
    write(&requests, "empty_object", b"{}");

    // Key files: the two fixed keys and one more.
    let keys = root.join("keyfile_parse");
    for (name, secret) in [("key7", [7u8; 32]), ("key9", [9u8; 32]), ("key0", [0u8; 32])] {
        let k = Key::mask_from_secret(&secret);
        write(&keys, name, &k.to_bytes());
    }
    // A container is the most likely wrong file to be handed as a key.
    write(&keys, "container", &fresh[0].0);

    // .npy arrays: encode_u8 output for every channel count, and a 2-D (H, W) array as
    // NumPy writes it, plus version 2.0 headers.
    let npys = root.join("npy_decode");
    for &(w, h, c) in &shapes[..5] {
        write(&npys, &format!("u8_{w}x{h}x{c}"), &npy::encode_u8(&image(w, h, c, 4)));
    }
    let two_d = |version: u8| {
        let dict = "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3), }";
        let mut v = b"\x93NUMPY".to_vec();
        v.push(version);
        v.push(0);
        if version == 1 {
            v.extend_from_slice(&(dict.len() as u16).to_le_bytes());
        } else {
            v.extend_from_slice(&(dict.len() as u32).to_le_bytes());
        }
        v.extend_from_slice(dict.as_bytes());
        v.extend_from_slice(&[1, 2, 3, 4, 5, 6]);
        v
    };
    write(&npys, "u8_2d_v1", &two_d(1));
    write(&npys, "u8_2d_v2", &two_d(2));
    write(&npys, "u8_2d_v3", &two_d(3));
    let shape = picrypt_core::Shape::new(2, 1, 1).unwrap();
    write(&npys, "i16_refused", &npy::encode_i16(&shape, &[-1, 300]));
    shuffle_seeds(&root);
    result_check_seeds(&root, &key);
    eprintln!("seeds written under {}", root.display());
}

/// A key file built byte by byte: magic, version 1, scheme id, kind 1 (secret), reserved,
/// key id, body length, body.
fn key_file(scheme_id: u8, id: [u8; 16], body: &[u8]) -> Vec<u8> {
    let mut v = b"PICRYPTK".to_vec();
    v.extend_from_slice(&[1, scheme_id, 1, 0]);
    v.extend_from_slice(&id);
    v.extend_from_slice(&(body.len() as u32).to_le_bytes());
    v.extend_from_slice(body);
    v
}

/// Seeds for the legacy `shuffle` scheme (scheme id 3), when this build of picrypt-core
/// has it: key files with fixed ids (its ids are random, not derived), containers, and
/// `sub` / `sub_sat` inputs. Built only through the generic API so this file compiles
/// against builds without the scheme, which then get no shuffle seeds.
fn shuffle_seeds(root: &Path) {
    // Key 12345, Rand variant; key 777, RandBlock 2×2.
    let rand_body: Vec<u8> = [12345u32.to_le_bytes().as_slice(), &[0u8; 9]].concat();
    let mut block_body = 777u32.to_le_bytes().to_vec();
    block_body.push(1);
    block_body.extend_from_slice(&2u32.to_le_bytes());
    block_body.extend_from_slice(&2u32.to_le_bytes());
    let files = [
        ("shuffle_rand", key_file(3, [0x33; 16], &rand_body)),
        ("shuffle_block", key_file(3, [0x44; 16], &block_body)),
    ];
    let mut keys = Vec::new();
    for (name, bytes) in &files {
        match Key::parse(bytes) {
            Ok(k) => {
                write(&root.join("keyfile_parse"), name, bytes);
                keys.push((*name, k));
            }
            Err(e) => {
                eprintln!("no shuffle seeds: this build refuses a shuffle key file ({e})");
                return;
            }
        }
    }
    let containers = root.join("container_parse");
    let diffs = root.join("diff_bytes");
    let requests = root.join("function_request");
    let sub_sat = Op::from_name("sub_sat");
    for (name, key) in &keys {
        for &(w, h, c) in &[(1u32, 1u32, 1u8), (2, 2, 1), (4, 4, 3), (5, 3, 2)] {
            let enc = |seed| key.encrypt_insecure_legacy(&image(w, h, c, seed));
            // A 2×2 block does not fit a 1×1 image: skip the shapes a variant refuses.
            let (Ok(a), Ok(b)) = (enc(5), enc(6)) else {
                continue;
            };
            let tag = format!("{name}_{w}x{h}x{c}");
            write(&containers, &format!("{tag}_fresh"), &a.to_bytes());
            let diff = ops::apply(Op::Sub, &a, &b).unwrap();
            write(&containers, &format!("{tag}_diff"), &diff.to_bytes());
            write(&diffs, &format!("{tag}_sub"), &diff_input(&a.to_bytes(), &b.to_bytes()));
            // A difference minus a fresh ciphertext: wider values, more modulus bits.
            write(&diffs, &format!("{tag}_diff_minus_fresh"), &diff_input(&diff.to_bytes(), &b.to_bytes()));
            if let Some(op) = sub_sat {
                let sat = ops::apply(op, &a, &b).unwrap();
                write(&containers, &format!("{tag}_sub_sat"), &sat.to_bytes());
                // The top bit of the length word selects Op::ALL[1].
                let mut input = diff_input(&a.to_bytes(), &b.to_bytes());
                input[1] |= 0x80;
                write(&diffs, &format!("{tag}_sub_sat"), &input);
            }
            if (w, h) == (4, 4) {
                let (a, b) = (a.to_bytes(), b.to_bytes());
                write(&requests, &format!("{tag}_sub"), &inline_request(&a, &b, ""));
                write(&requests, &format!("{tag}_sub_sat"), &inline_request(&a, &b, r#","op":"sub_sat""#));
            }
        }
    }
    // Mask and shuffle mixed: refused as a scheme mismatch.
    let mask_key = Key::mask_from_secret(&[7u8; 32]);
    let m = encrypt(&mask_key, &image(1, 1, 1, 1), 0).to_bytes();
    let s = keys[0].1.encrypt_insecure_legacy(&image(1, 1, 1, 1)).unwrap().to_bytes();
    write(&diffs, "mask_minus_shuffle", &diff_input(&m, &s));
}

/// Seeds for `result_check`: answers a server could give for A − B of the target's fixed
/// inputs (5×3×3 images 1, 2, 3 under nonces 100, 101, 102 and key [7; 32]): the honest
/// result, other differences, the inputs themselves, and two forgeries built by hand.
fn result_check_seeds(root: &Path, key: &Key) {
    let dir = root.join("result_check");
    let inputs: Vec<Container> = (0..3u8)
        .map(|i| encrypt(key, &image(5, 3, 3, 1 + i as u32), 100 + i))
        .collect();
    let sub = |x: usize, y: usize| ops::apply(Op::Sub, &inputs[x], &inputs[y]).unwrap().to_bytes();
    write(&dir, "honest_a_minus_b", &sub(0, 1));
    write(&dir, "b_minus_a", &sub(1, 0));
    write(&dir, "a_minus_c", &sub(0, 2));
    write(&dir, "c_minus_b", &sub(2, 1));
    for (i, c) in inputs.iter().enumerate() {
        write(&dir, &format!("input_{i}"), &c.to_bytes());
    }
    // The zero forgery: terms +R, −R (a repeated nonce), zero payload, tag 0.
    let honest = sub(0, 1);
    let mut forged = honest.clone();
    forged[68..92].copy_from_slice(&[0x42; 24]);
    forged[93..117].copy_from_slice(&[0x42; 24]);
    let payload_start = 68 + 2 * 25;
    forged[payload_start..].fill(0);
    forged[48..56].fill(0);
    write(&dir, "cancelling_forgery", &forged);
    // +A +B: the second term's sign flipped (its tag and payload left honest).
    let mut plus = honest.clone();
    plus[92 + 25] = 0x01;
    plus[24..28].copy_from_slice(&0i32.to_le_bytes());
    plus[28..32].copy_from_slice(&510i32.to_le_bytes());
    write(&dir, "plus_a_plus_b_header", &plus);
    write(&dir, "truncated", &honest[..honest.len() - 1]);
}
