//! The legacy shuffle scheme from the command line: file-level interop with the Python
//! library imageshuffle (its own outputs, from the shared reference vectors), saturating
//! subtraction equal to cv2.subtract, locally and through the function, and the warning.

mod common;

use std::path::PathBuf;
use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use image::{DynamicImage, ImageBuffer};
use serde_json::Value;
use tempfile::TempDir;

fn vectors() -> Value {
    serde_json::from_str(include_str!(
        "../../core/tests/vectors/imageshuffle_vectors.json"
    ))
    .unwrap()
}

fn picrypt() -> Command {
    Command::cargo_bin("picrypt").unwrap()
}

struct Dir(TempDir);

impl Dir {
    fn new() -> Dir {
        Dir(TempDir::new().unwrap())
    }
    fn p(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }
    /// Runs picrypt here; returns (stdout, stderr), asserting success.
    fn ok(&self, args: &[&str]) -> (String, String) {
        let out = picrypt()
            .current_dir(self.0.path())
            .args(args)
            .output()
            .unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(out.status.success(), "{args:?}: {stderr}");
        (String::from_utf8(out.stdout).unwrap(), stderr)
    }
    /// [`Dir::ok`] for a command that encrypts with a legacy key: it needs the explicit
    /// `--insecure-shuffle` opt-in.
    fn legacy(&self, args: &[&str]) -> (String, String) {
        let mut args = args.to_vec();
        args.push("--insecure-shuffle");
        self.ok(&args)
    }
}

/// An HWC u8 array as an image of 1–4 channels.
fn to_image(shape: &[usize], data: Vec<u8>) -> DynamicImage {
    let (h, w, c) = (shape[0] as u32, shape[1] as u32, shape[2]);
    match c {
        1 => DynamicImage::ImageLuma8(ImageBuffer::from_raw(w, h, data).unwrap()),
        2 => DynamicImage::ImageLumaA8(ImageBuffer::from_raw(w, h, data).unwrap()),
        3 => DynamicImage::ImageRgb8(ImageBuffer::from_raw(w, h, data).unwrap()),
        4 => DynamicImage::ImageRgba8(ImageBuffer::from_raw(w, h, data).unwrap()),
        _ => unreachable!("vectors have 1 to 4 channels"),
    }
}

fn npy_u8(shape: &[usize], data: &[u8]) -> Vec<u8> {
    let mut dict = format!(
        "{{'descr': '|u1', 'fortran_order': False, 'shape': ({}, {}, {}), }}",
        shape[0], shape[1], shape[2]
    );
    while (10 + dict.len() + 1) % 64 != 0 {
        dict.push(' ');
    }
    dict.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out.extend_from_slice(data);
    out
}

fn npy_body(bytes: &[u8]) -> Vec<u8> {
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    bytes[10 + header_len..].to_vec()
}

fn shape_of(case: &Value) -> Vec<usize> {
    case["shape_hwc"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect()
}

fn b64(case: &Value, field: &str) -> Vec<u8> {
    STANDARD.decode(case[field].as_str().unwrap()).unwrap()
}

fn keygen_legacy(d: &Dir, case: &Value) -> String {
    let key = case["key"].as_u64().unwrap().to_string();
    let mut args = vec![
        "keygen",
        "--scheme",
        "shuffle",
        "--legacy-key",
        &key,
        "-o",
        "legacy.key",
        "--force",
    ];
    let block;
    if let Some(b) = case["block_hw"].as_array() {
        block = format!("{}x{}", b[0], b[1]);
        args.extend(["--block", &block]);
    }
    d.ok(&args).1
}

/// For every library case: our PNG and .npy outputs are the library's bytes, and we
/// decrypt the library's scrambled arrays back to the input.
#[test]
fn every_library_case_at_file_level() {
    for case in vectors()["shuffle_cases"].as_array().unwrap() {
        let d = Dir::new();
        let shape = shape_of(case);
        let (input, expected) = (b64(case, "input_u8_b64"), b64(case, "encrypted_u8_b64"));
        let what = format!("{} key {} {:?}", case["class"], case["key"], shape);
        let warning = keygen_legacy(&d, case);
        assert_eq!(warning.matches("NOT secure").count(), 1, "{warning}");
        to_image(&shape, input.clone()).save(d.p("in.png")).unwrap();
        let (_, warning) = d.legacy(&["encrypt", "--key", "legacy.key", "in.png", "-o", "out.png"]);
        assert_eq!(warning.matches("NOT secure").count(), 1, "{warning}");
        assert_eq!(
            image::open(d.p("out.png")).unwrap().into_bytes(),
            expected,
            "{what}: PNG"
        );
        d.legacy(&["encrypt", "--key", "legacy.key", "in.png", "-o", "out.npy"]);
        assert_eq!(
            npy_body(&std::fs::read(d.p("out.npy")).unwrap()),
            expected,
            "{what}: npy"
        );
        // The library's own scrambled array, as .npy and as PNG, decrypts to the input.
        std::fs::write(d.p("lib.npy"), npy_u8(&shape, &expected)).unwrap();
        to_image(&shape, expected.clone())
            .save(d.p("lib.png"))
            .unwrap();
        for (src, out) in [("lib.npy", "back.npy"), ("lib.png", "back.png")] {
            d.ok(&["decrypt", "--key", "legacy.key", src, "-o", out]);
        }
        assert_eq!(
            npy_body(&std::fs::read(d.p("back.npy")).unwrap()),
            input,
            "{what}"
        );
        assert_eq!(
            image::open(d.p("back.png")).unwrap().into_bytes(),
            input,
            "{what}"
        );
        // And through a container.
        d.legacy(&[
            "encrypt",
            "--key",
            "legacy.key",
            "in.png",
            "-o",
            "c.picrypt",
        ]);
        let (_, warning) = d.ok(&["inspect", "c.picrypt"]);
        assert!(warning.contains("NOT secure"), "{warning}");
        d.ok(&["decrypt", "--key", "legacy.key", "c.picrypt", "-o", "c.png"]);
        assert_eq!(
            image::open(d.p("c.png")).unwrap().into_bytes(),
            input,
            "{what}"
        );
    }
}

fn serve() -> common::Serve {
    common::serve(picrypt().args(["serve", "--addr", "127.0.0.1:0"]))
}

/// `run --op sub_sat --render saturate` gives exactly cv2.subtract(before, after), in-process
/// and through the function; the signed `sub` gives the exact difference.
#[test]
fn sub_sat_is_cv2_subtract_locally_and_remotely() {
    let server = serve();
    for case in vectors()["saturating_subtract_cases"].as_array().unwrap() {
        let d = Dir::new();
        let shape = shape_of(case);
        let (a, b) = (b64(case, "a_u8_b64"), b64(case, "b_u8_b64"));
        let cv2: Vec<u8> = a
            .iter()
            .zip(&b)
            .map(|(&x, &y)| x.saturating_sub(y))
            .collect();
        assert_eq!(cv2, b64(case, "decrypted_u8_b64"));
        to_image(&shape, a.clone()).save(d.p("before.png")).unwrap();
        to_image(&shape, b.clone()).save(d.p("after.png")).unwrap();
        keygen_legacy(&d, case);
        let base = [
            "run",
            "--key",
            "legacy.key",
            "before.png",
            "after.png",
            "--insecure-shuffle",
        ];
        for remote in [None, Some(server.url.as_str())] {
            let mut args: Vec<&str> = base.to_vec();
            args.extend(["--op", "sub_sat", "-o", "sat.png", "--render", "saturate"]);
            if let Some(url) = remote {
                args.extend(["--url", url]);
            }
            let (_, warning) = d.ok(&args);
            assert!(warning.contains("NOT secure"));
            assert_eq!(
                image::open(d.p("sat.png")).unwrap().into_bytes(),
                cv2,
                "{remote:?}"
            );
            let mut args: Vec<&str> = base.to_vec();
            args.extend(["-o", "signed.png", "--npy", "signed.npy"]);
            if let Some(url) = remote {
                args.extend(["--url", url]);
            }
            d.ok(&args);
            let values: Vec<i16> = npy_body(&std::fs::read(d.p("signed.npy")).unwrap())
                .chunks(2)
                .map(|c| i16::from_le_bytes([c[0], c[1]]))
                .collect();
            let exact: Vec<i16> = a
                .iter()
                .zip(&b)
                .map(|(&x, &y)| x as i16 - y as i16)
                .collect();
            assert_eq!(values, exact);
        }
        // diff --op sub_sat on containers, then decrypt: the same image.
        d.legacy(&[
            "encrypt",
            "--key",
            "legacy.key",
            "before.png",
            "-o",
            "a.picrypt",
        ]);
        d.legacy(&[
            "encrypt",
            "--key",
            "legacy.key",
            "after.png",
            "-o",
            "b.picrypt",
        ]);
        d.ok(&[
            "diff",
            "--op",
            "sub_sat",
            "a.picrypt",
            "b.picrypt",
            "-o",
            "s.picrypt",
            "--url",
            &server.url,
        ]);
        d.ok(&["decrypt", "--key", "legacy.key", "s.picrypt", "-o", "s.png"]);
        assert_eq!(image::open(d.p("s.png")).unwrap().into_bytes(), cv2);
    }
}

#[test]
fn sub_sat_on_the_default_scheme_is_refused_with_advice() {
    let server = serve();
    let d = Dir::new();
    image::RgbImage::new(4, 4).save(d.p("a.png")).unwrap();
    d.ok(&["keygen", "-o", "k.key"]);
    for remote in [vec![], vec!["--url", server.url.as_str()]] {
        let mut args = vec![
            "run", "--key", "k.key", "--op", "sub_sat", "a.png", "a.png", "-o", "x.png",
        ];
        args.extend(remote.iter().copied());
        let out = picrypt()
            .current_dir(d.0.path())
            .args(&args)
            .output()
            .unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains("--render saturate"), "{stderr}");
        if !remote.is_empty() {
            assert!(stderr.contains("422 unsupported_op"), "{stderr}");
        }
    }
}

/// A key file handed over by someone else must not silently give a breakable ciphertext:
/// encrypting with a legacy key needs `--insecure-shuffle`, and without it nothing is
/// written. `diff` on legacy ciphertexts says they are not secure, locally and through
/// the function (whose answer carries the warning).
#[test]
fn a_legacy_key_encrypts_only_when_asked() {
    let server = serve();
    let d = Dir::new();
    image::RgbImage::new(4, 4).save(d.p("a.png")).unwrap();
    d.ok(&["keygen", "--scheme", "shuffle", "-o", "legacy.key"]);
    for args in [
        &["encrypt", "--key", "legacy.key", "a.png", "-o", "a.picrypt"][..],
        &[
            "encrypt",
            "--key",
            "legacy.key",
            "a.png",
            "-o",
            "a.png.out.png",
        ][..],
        &[
            "run",
            "--key",
            "legacy.key",
            "a.png",
            "a.png",
            "-o",
            "r.png",
        ][..],
    ] {
        let out = picrypt()
            .current_dir(d.0.path())
            .args(args)
            .output()
            .unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains("--insecure-shuffle"), "{stderr}");
        assert!(
            !stderr.contains("NOT secure"),
            "warning before the error: {stderr}"
        );
    }
    for name in ["a.picrypt", "a.png.out.png", "r.png"] {
        assert!(!d.p(name).exists(), "{name} was written");
    }
    d.legacy(&["encrypt", "--key", "legacy.key", "a.png", "-o", "a.picrypt"]);
    d.legacy(&["encrypt", "--key", "legacy.key", "a.png", "-o", "b.picrypt"]);
    for remote in [vec![], vec!["--url", server.url.as_str()]] {
        let mut args = vec!["diff", "a.picrypt", "b.picrypt", "-o", "d.picrypt"];
        args.extend(remote.iter().copied());
        let (_, stderr) = d.ok(&args);
        assert_eq!(
            stderr.matches("NOT secure").count(),
            1,
            "{remote:?}: {stderr}"
        );
    }
}
