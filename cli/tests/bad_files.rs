//! The bad-input battery for the CLI: the real `picrypt` binary on generated hostile files
//! (containers truncated at every header field boundary and with header bits flipped, for
//! every scheme; bad, truncated, wrong-kind and public key files; non-images, truncated and
//! impossible images; directories, missing paths). Every run must fail with exit status 1
//! and one `picrypt: error:` line (besides the shuffle scheme's documented warning), never
//! a panic, leave no output or temporary file, and change no input.
//!
//! Sampling, to keep the number of processes in the hundreds: every field boundary of every
//! scheme's header is a truncation point and goes through all four container commands
//! (inspect, decrypt, diff as A, diff as B); header bit flips take the lowest and the highest
//! bit of each field, each through two of the four commands in rotation. The exhaustive
//! per-bit matrix runs in-process in `function/tests/battery.rs`.

use picrypt_testkit::battery as battery_matrix;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use battery_matrix::{Expect, Fixture};
use picrypt_core::scheme::shuffle;
use picrypt_core::{image_io, Scheme};
use tempfile::TempDir;

/// Every file under a directory (relative name → contents; `None` for directories).
fn snapshot(root: &Path) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.strip_prefix(root).unwrap().to_path_buf();
            if path.is_dir() {
                stack.push(path);
                out.insert(name, None);
            } else {
                out.insert(name, Some(fs::read(&path).unwrap()));
            }
        }
    }
    out
}

struct Bench {
    dir: TempDir,
    spawns: usize,
    failures: Vec<String>,
}

impl Bench {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes an input file, owner-readable only (key files must be).
    fn write(&self, name: &str, bytes: &[u8]) -> String {
        let path = self.path(name);
        fs::write(&path, bytes).unwrap();
        set_mode(&path, 0o600);
        name.to_string()
    }

    fn run(&mut self, args: &[&str]) -> std::process::Output {
        self.spawns += 1;
        Command::new(env!("CARGO_BIN_EXE_picrypt"))
            .current_dir(self.dir.path())
            .args(args)
            .env("RUST_BACKTRACE", "1")
            .env_remove("PICRYPT_LOG")
            .output()
            .unwrap()
    }

    /// Runs a command that must succeed (a control), then removes `output`.
    fn succeeds(&mut self, args: &[&str], output: &str) {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "control {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        fs::remove_file(self.path(output)).unwrap();
    }

    /// Runs a command that must fail cleanly, mentioning `needle`; records what is wrong.
    fn fails(&mut self, args: &[&str], needle: &str) {
        let before = snapshot(self.dir.path());
        let out = self.run(args);
        let after = snapshot(self.dir.path());
        let stderr = String::from_utf8_lossy(&out.stderr);
        if let Err(e) = judge(out.status.code(), &stderr, needle, &before, &after) {
            self.failures
                .push(format!("{args:?}: {e}\n    stderr: {stderr}"));
        }
    }
}

fn judge(
    code: Option<i32>,
    stderr: &str,
    needle: &str,
    before: &BTreeMap<PathBuf, Option<Vec<u8>>>,
    after: &BTreeMap<PathBuf, Option<Vec<u8>>>,
) -> Result<(), String> {
    if code != Some(1) {
        return Err(format!("exit status {code:?}, expected 1"));
    }
    for bad in ["panicked", "backtrace", "RUST_BACKTRACE", "internal error"] {
        if stderr.contains(bad) {
            return Err(format!("stderr contains {bad:?}"));
        }
    }
    let warning = format!("picrypt: warning: {}", shuffle::WARNING);
    let lines: Vec<&str> = stderr.lines().filter(|l| *l != warning).collect();
    if lines.len() != 1 || !lines[0].starts_with("picrypt: error: ") {
        return Err(format!(
            "{} lines besides the shuffle warning, expected one error line",
            lines.len()
        ));
    }
    if !lines[0].contains(needle) {
        return Err(format!("the error does not mention {needle:?}"));
    }
    if before != after {
        let changed: Vec<_> = before
            .keys()
            .chain(after.keys())
            .filter(|k| before.get(*k) != after.get(*k))
            .collect();
        return Err(format!("files changed or left behind: {changed:?}"));
    }
    Ok(())
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

#[cfg(not(unix))]
fn set_mode(_: &Path, _: u32) {}

/// CRC-32 (ISO-HDLC), for crafting PNG chunks.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A PNG with the given IHDR fields and one IDAT holding `idat` (already zlib data).
fn png(width: u32, height: u32, bit_depth: u8, color_type: u8, idat: &[u8]) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |kind: &[u8], data: &[u8]| {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut typed = kind.to_vec();
        typed.extend_from_slice(data);
        out.extend_from_slice(&typed);
        out.extend_from_slice(&crc32(&typed).to_be_bytes());
    };
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[bit_depth, color_type, 0, 0, 0]);
    chunk(b"IHDR", &ihdr);
    chunk(b"IDAT", idat);
    chunk(b"IEND", &[]);
    out
}

const COMMANDS: [&str; 4] = ["inspect", "decrypt", "diff as A", "diff as B"];

/// Runs one container command on a hostile file `name` of `scheme`.
fn container_command(bench: &mut Bench, command: &str, scheme: Scheme, name: &str) {
    let s = scheme.name();
    let (key, a, b) = (
        format!("{s}.key"),
        format!("{s}.a.picrypt"),
        format!("{s}.b.picrypt"),
    );
    match command {
        "inspect" => bench.fails(&["inspect", name], name),
        "decrypt" => bench.fails(&["decrypt", "--key", &key, name, "-o", "out.png"], name),
        "diff as A" => bench.fails(&["diff", name, &b, "-o", "out.picrypt"], name),
        _ => bench.fails(&["diff", &a, name, "-o", "out.picrypt"], name),
    }
}

#[test]
fn every_bad_file_fails_cleanly_and_changes_nothing() {
    let started = Instant::now();
    let fx = Fixture::new(None);
    let mut bench = Bench {
        dir: TempDir::new().unwrap(),
        spawns: 0,
        failures: Vec::new(),
    };
    // Valid inputs.
    let (ia, ib) = (battery_matrix::image_a(), battery_matrix::image_b());
    bench.write("a.png", &image_io::encode_png(&ia).unwrap());
    bench.write("b.png", &image_io::encode_png(&ib).unwrap());
    fs::create_dir(bench.path("dir.picrypt")).unwrap();
    fs::create_dir(bench.path("dir.png")).unwrap();
    fs::create_dir(bench.path("dir.key")).unwrap();
    for p in &fx.pairs {
        let s = p.scheme.name();
        bench.write(&format!("{s}.key"), &fx.key(p.scheme).to_bytes());
        bench.write(&format!("{s}.a.picrypt"), &p.a);
        bench.write(&format!("{s}.b.picrypt"), &p.b);
    }
    let bfv_public = fx.bfv_key.public().unwrap().to_bytes();
    bench.write("bfv.key.pub", &bfv_public);
    let d = fx.diffs.iter().find(|d| d.0 == Scheme::MASK).unwrap();
    bench.write("mask.d.picrypt", &d.1);
    let (_, stranger) = fx.other_key.iter().find(|o| o.0 == Scheme::MASK).unwrap();
    bench.write("mask.stranger.picrypt", stranger);

    // Controls: the valid inputs work, so the failures below are about the hostile ones.
    for s in ["mask", "bfv", "shuffle"] {
        let (key, a, b) = (
            format!("{s}.key"),
            format!("{s}.a.picrypt"),
            format!("{s}.b.picrypt"),
        );
        // The bench made these ciphertexts itself: a bfv one may be trusted, and a shuffle
        // key may encrypt when asked to explicitly.
        let mut decrypt = vec!["decrypt", "--key", &key, &a, "-o", "out.png"];
        let mut encrypt = vec!["encrypt", "--key", &key, "a.png", "-o", "out.picrypt"];
        match s {
            "bfv" => decrypt.push("--insecure-trust-bfv-input"),
            "shuffle" => encrypt.push("--insecure-shuffle"),
            _ => {}
        }
        bench.succeeds(&decrypt, "out.png");
        bench.succeeds(&["diff", &a, &b, "-o", "out.picrypt"], "out.picrypt");
        bench.succeeds(&encrypt, "out.picrypt");
        let out = bench.run(&["inspect", &a]);
        assert!(out.status.success());
    }
    let baseline = snapshot(bench.dir.path());
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();

    // Containers cut at every header field boundary, and one byte short of whole.
    for p in &fx.pairs {
        let s = p.scheme.name();
        let mut cuts = vec![0];
        for (_, offset, len) in battery_matrix::header_fields(p.scheme) {
            cuts.extend([offset, offset + len]);
        }
        cuts.extend([p.a.len() / 2, p.a.len() - 1]);
        cuts.sort_unstable();
        cuts.dedup();
        for cut in cuts {
            let name = bench.write(&format!("{s}.cut{cut:05}.picrypt"), &p.a[..cut]);
            for command in COMMANDS {
                container_command(&mut bench, command, p.scheme, &name);
                *counts.entry("truncated containers").or_default() += 1;
            }
        }
    }

    // Header bits flipped: those that make the container malformed by docs/FORMAT.md, as
    // the in-process battery's table says, fail every command.
    let mut rotation = 0;
    for p in &fx.pairs {
        let s = p.scheme.name();
        for (field, offset, len) in battery_matrix::header_fields(p.scheme) {
            for bit in [0, len * 8 - 1] {
                let mut bytes = p.a.clone();
                bytes[offset + bit / 8] ^= 1 << (bit % 8);
                let expect = if battery_matrix::is_shape(field) {
                    battery_matrix::shape_expect(p.scheme, &bytes)
                } else {
                    battery_matrix::flip_expect(p.scheme, field, &p.a[offset..offset + len], bit)
                };
                let malformed = matches!(
                    expect,
                    Expect::Refused {
                        code: "bad_container" | "unsupported_version",
                        ..
                    }
                );
                let name = bench.write(
                    &format!("{s}.{}.bit{bit}.picrypt", field.replace(' ', "_")),
                    &bytes,
                );
                // A shuffle range is checked against the values when they are used, so
                // `inspect` (the header alone) shows it.
                let header_only = p.scheme == Scheme::SHUFFLE && field.starts_with("range");
                if malformed {
                    let mut ran = 0;
                    while ran < 2 {
                        let command = COMMANDS[rotation % 4];
                        rotation += 1;
                        if header_only && command == "inspect" {
                            continue;
                        }
                        container_command(&mut bench, command, p.scheme, &name);
                        ran += 1;
                        *counts.entry("header bit flips").or_default() += 1;
                    }
                } else if expect
                    == (Expect::Refused {
                        status: 422,
                        code: "shape_mismatch",
                    })
                {
                    // A bfv header of another shape within the same 2048-sample block is
                    // well-formed, and bfv has no tag to tell (docs/SECURITY.md): only
                    // combining it with a ciphertext of the real shape fails.
                    let b = format!("{s}.b.picrypt");
                    bench.fails(&["diff", &name, &b, "-o", "out.picrypt"], "shape mismatch");
                    *counts.entry("header bit flips").or_default() += 1;
                } else {
                    // Well-formed but tampered with, or of another key or shape: the key
                    // holder refuses it.
                    bench.fails(
                        &[
                            "decrypt",
                            "--key",
                            &format!("{s}.key"),
                            &name,
                            "-o",
                            "out.png",
                        ],
                        &name,
                    );
                    *counts.entry("tampered containers (decrypt)").or_default() += 1;
                }
            }
        }
    }

    // Containers that claim enormous sizes.
    for (w, h, c) in [(16384u32, 16384u32, 1u8), (u32::MAX, u32::MAX, 4)] {
        let mut bytes = fx.pairs[0].a.clone();
        bytes[12..16].copy_from_slice(&w.to_le_bytes());
        bytes[16..20].copy_from_slice(&h.to_le_bytes());
        bytes[20] = c;
        let n = w as u128 * h as u128 * c as u128;
        bytes[60..68]
            .copy_from_slice(&((n * 9).div_ceil(8).min(u64::MAX as u128) as u64).to_le_bytes());
        let name = bench.write(&format!("mask.claims-{w}x{h}x{c}.picrypt"), &bytes);
        for command in COMMANDS {
            container_command(&mut bench, command, Scheme::MASK, &name);
            *counts.entry("enormous claims").or_default() += 1;
        }
    }

    // Not containers at all.
    let not_containers: Vec<(&str, Vec<u8>)> = vec![
        ("empty.picrypt", Vec::new()),
        ("text.picrypt", b"hello, world\n".to_vec()),
        ("image.picrypt", image_io::encode_png(&ia).unwrap()),
        ("key-as-container.picrypt", fx.mask_key.to_bytes().to_vec()),
        ("zeros.picrypt", vec![0; 200]),
    ];
    for (name, bytes) in &not_containers {
        bench.write(name, bytes);
        for command in COMMANDS {
            container_command(&mut bench, command, Scheme::MASK, name);
            *counts.entry("not containers").or_default() += 1;
        }
    }
    for name in ["dir.picrypt", "missing.picrypt"] {
        for command in COMMANDS {
            container_command(&mut bench, command, Scheme::MASK, name);
            *counts.entry("directories and missing paths").or_default() += 1;
        }
    }

    // Valid containers that cannot be combined or decrypted together.
    let mismatches: [(&[&str], &str); 9] = [
        (
            &[
                "diff",
                "mask.a.picrypt",
                "mask.stranger.picrypt",
                "-o",
                "out.picrypt",
            ],
            "key mismatch",
        ),
        (
            &[
                "diff",
                "mask.a.picrypt",
                "bfv.b.picrypt",
                "-o",
                "out.picrypt",
            ],
            "scheme mismatch",
        ),
        (
            &[
                "diff",
                "shuffle.a.picrypt",
                "mask.b.picrypt",
                "-o",
                "out.picrypt",
            ],
            "scheme mismatch",
        ),
        (
            &[
                "diff",
                "mask.d.picrypt",
                "mask.b.picrypt",
                "-o",
                "out.picrypt",
            ],
            "range overflow",
        ),
        (
            &[
                "diff",
                "mask.a.picrypt",
                "mask.b.picrypt",
                "--op",
                "sub_sat",
                "-o",
                "out.picrypt",
            ],
            "unsupported operation",
        ),
        (
            &["diff", "mask.a.picrypt", "mask.b.picrypt", "-o", "out.png"],
            "out.png",
        ),
        (
            &[
                "decrypt",
                "--key",
                "mask.key",
                "mask.stranger.picrypt",
                "-o",
                "out.png",
            ],
            "key mismatch",
        ),
        (
            &[
                "decrypt",
                "--key",
                "mask.key",
                "bfv.a.picrypt",
                "-o",
                "out.png",
            ],
            "scheme mismatch",
        ),
        (
            &[
                "decrypt",
                "--key",
                "shuffle.key",
                "mask.a.picrypt",
                "-o",
                "out.png",
            ],
            "scheme mismatch",
        ),
    ];
    for (args, needle) in mismatches {
        bench.fails(args, needle);
        *counts.entry("mismatched inputs").or_default() += 1;
    }
    // Outputs that cannot be written leave nothing behind.
    for (args, needle) in [
        (
            &[
                "decrypt",
                "--key",
                "mask.key",
                "mask.a.picrypt",
                "-o",
                "no/such/dir/out.png",
            ][..],
            "no/such/dir",
        ),
        (
            &[
                "decrypt",
                "--key",
                "mask.key",
                "mask.a.picrypt",
                "-o",
                "dir.png",
            ][..],
            "dir.png",
        ),
        (
            &[
                "decrypt",
                "--key",
                "mask.key",
                "mask.a.picrypt",
                "-o",
                "out.txt",
            ][..],
            "out.txt",
        ),
        (
            &[
                "diff",
                "mask.a.picrypt",
                "mask.b.picrypt",
                "-o",
                "dir.picrypt",
            ][..],
            "dir.picrypt",
        ),
        (
            &[
                "encrypt",
                "--key",
                "mask.key",
                "a.png",
                "-o",
                "no/such/dir/out.picrypt",
            ][..],
            "no/such/dir",
        ),
    ] {
        bench.fails(args, needle);
        *counts.entry("unwritable outputs").or_default() += 1;
    }

    // Key files: truncated at every header boundary, flipped fields, wrong kinds.
    let mask_key = fx.mask_key.to_bytes().to_vec();
    let mut bad_keys: Vec<(String, Vec<u8>)> = Vec::new();
    for cut in [0, 4, 8, 9, 10, 11, 12, 20, 28, 32, 48, 63] {
        bad_keys.push((format!("cut{cut:02}.key"), mask_key[..cut].to_vec()));
    }
    bad_keys.push(("trailing.key".into(), [mask_key.as_slice(), b"\0"].concat()));
    for (field, offset, bit) in [
        ("magic", 0, 0),
        ("version", 8, 0),
        ("scheme-unknown", 9, 2),
        ("scheme-shuffle", 9, 1),
        ("kind-public", 10, 1),
        ("kind-unknown", 10, 2),
        ("reserved", 11, 0),
        ("key_id", 12, 0),
        ("body_len", 28, 0),
        ("body_len-high", 31, 7),
        ("body", 32, 0),
        ("body-last", 63, 7),
    ] {
        let mut bytes = mask_key.clone();
        bytes[offset] ^= 1 << bit;
        bad_keys.push((format!("flip-{field}.key"), bytes));
    }
    for len in [0u32, 31, 33, 1 << 20, (1 << 20) + 1, u32::MAX] {
        let mut bytes = mask_key.clone();
        bytes[28..32].copy_from_slice(&len.to_le_bytes());
        bad_keys.push((format!("body_len-{len}.key"), bytes));
    }
    let bfv_secret = fx.bfv_key.to_bytes().to_vec();
    bad_keys.push((
        "bfv-half.key".into(),
        bfv_secret[..bfv_secret.len() / 2].to_vec(),
    ));
    bad_keys.push((
        "bfv-short.key".into(),
        bfv_secret[..bfv_secret.len() - 1].to_vec(),
    ));
    bad_keys.push((
        "bfv-public-short.key".into(),
        bfv_public[..bfv_public.len() - 1].to_vec(),
    ));
    bad_keys.push(("container-as-key.key".into(), fx.pairs[0].a.clone()));
    bad_keys.push((
        "image-as-key.key".into(),
        image_io::encode_png(&ia).unwrap(),
    ));
    bad_keys.push(("empty.key".into(), Vec::new()));
    for (name, bytes) in &bad_keys {
        bench.write(name, bytes);
        bench.fails(
            &["decrypt", "--key", name, "mask.a.picrypt", "-o", "out.png"],
            name,
        );
        bench.fails(
            &["encrypt", "--key", name, "a.png", "-o", "out.picrypt"],
            name,
        );
        *counts.entry("bad key files").or_default() += 2;
    }
    for name in ["dir.key", "missing.key"] {
        bench.fails(
            &["decrypt", "--key", name, "mask.a.picrypt", "-o", "out.png"],
            name,
        );
        bench.fails(
            &["encrypt", "--key", name, "a.png", "-o", "out.picrypt"],
            name,
        );
        *counts.entry("bad key files").or_default() += 2;
    }
    // A public key where the secret one is needed; a secret key others can read.
    bench.fails(
        &[
            "decrypt",
            "--key",
            "bfv.key.pub",
            "bfv.a.picrypt",
            "-o",
            "out.png",
        ],
        "public key",
    );
    bench.write("loose.key", &mask_key);
    set_mode(&bench.path("loose.key"), 0o644);
    bench.fails(
        &[
            "decrypt",
            "--key",
            "loose.key",
            "mask.a.picrypt",
            "-o",
            "out.png",
        ],
        "readable by others",
    );
    bench.fails(
        &[
            "encrypt",
            "--key",
            "loose.key",
            "a.png",
            "-o",
            "out.picrypt",
        ],
        "readable by others",
    );
    *counts.entry("bad key files").or_default() += 3;

    // Images that are not, or not usable.
    let good_png = image_io::encode_png(&ia).unwrap();
    let mut images: Vec<(String, Vec<u8>)> = vec![
        ("empty.png".into(), Vec::new()),
        ("text.png".into(), b"not an image at all".to_vec()),
        ("container.png".into(), fx.pairs[0].a.clone()),
        (
            "zero.png".into(),
            png(
                0,
                0,
                8,
                2,
                &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
            ),
        ),
        (
            "zero-width.png".into(),
            png(
                0,
                5,
                8,
                2,
                &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
            ),
        ),
        (
            "huge.png".into(),
            png(
                100_000,
                100_000,
                8,
                2,
                &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
            ),
        ),
        (
            "max-dims.png".into(),
            png(
                u32::MAX,
                u32::MAX,
                8,
                6,
                &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
            ),
        ),
        ("bad-crc.png".into(), {
            let mut b = good_png.clone();
            b[29] ^= 1; // the IHDR CRC
            b
        }),
        (
            "gif.png".into(),
            b"GIF89a\x01\x00\x01\x00\x00\x00\x00;".to_vec(),
        ),
    ];
    for cut in [4, 8, 16, 33, good_png.len() / 2, good_png.len() - 20] {
        images.push((format!("cut{cut:04}.png"), good_png[..cut].to_vec()));
    }
    let sixteen = image::DynamicImage::ImageRgb16(image::ImageBuffer::from_pixel(
        3,
        2,
        image::Rgb([1000u16, 2, 3]),
    ));
    let mut bytes = std::io::Cursor::new(Vec::new());
    sixteen
        .write_to(&mut bytes, image::ImageFormat::Png)
        .unwrap();
    images.push(("sixteen-bit.png".into(), bytes.into_inner()));
    let mut jpeg = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(16, 16, image::Rgb([9, 9, 9])))
        .write_to(&mut jpeg, image::ImageFormat::Jpeg)
        .unwrap();
    let jpeg = jpeg.into_inner();
    images.push(("cut.jpg".into(), jpeg[..jpeg.len() / 3].to_vec()));
    for (name, bytes) in &images {
        bench.write(name, bytes);
        bench.fails(
            &["encrypt", "--key", "mask.key", name, "-o", "out.picrypt"],
            name,
        );
        *counts.entry("bad images").or_default() += 1;
    }
    for name in ["dir.png", "missing.png"] {
        bench.fails(
            &["encrypt", "--key", "mask.key", name, "-o", "out.picrypt"],
            name,
        );
        *counts.entry("bad images").or_default() += 1;
    }
    // The whole flow refuses them too, and images of different shapes.
    bench.write(
        "small.png",
        &image_io::encode_png(&battery_matrix::image(4, 4, 3, [0, 0], 1)).unwrap(),
    );
    for (args, needle) in [
        (
            &["run", "text.png", "b.png", "-o", "out.png"][..],
            "text.png",
        ),
        (
            &["run", "a.png", "cut0033.png", "-o", "out.png"][..],
            "cut0033.png",
        ),
        (&["run", "a.png", "small.png", "-o", "out.png"][..], "width"),
        (
            &[
                "run",
                "a.png",
                "b.png",
                "--key",
                "flip-body.key",
                "-o",
                "out.png",
            ][..],
            "flip-body.key",
        ),
    ] {
        bench.fails(args, needle);
        *counts.entry("bad images").or_default() += 1;
    }

    // Nothing the runs did touched the inputs.
    let end = snapshot(bench.dir.path());
    for (name, contents) in &baseline {
        assert_eq!(end.get(name), Some(contents), "{name:?} changed");
    }
    eprintln!(
        "bad files: {} runs of picrypt in {:.1?}; by category: {counts:?}",
        bench.spawns,
        started.elapsed()
    );
    assert!(
        bench.failures.is_empty(),
        "{} of {} runs failed badly:\n{}",
        bench.failures.len(),
        bench.spawns,
        bench.failures.join("\n")
    );
}
