//! The `picrypt` binary, driven as a user would: every verb, and every error as one line.

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use image::{ImageFormat, RgbImage};
use tempfile::TempDir;

fn picrypt() -> Command {
    Command::cargo_bin("picrypt").unwrap()
}

struct Env {
    dir: TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            dir: TempDir::new().unwrap(),
        }
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn run(&self, args: &[&str]) -> std::process::Output {
        picrypt()
            .current_dir(self.dir.path())
            .args(args)
            .output()
            .unwrap()
    }
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
    /// Runs a command that must fail with one clear line mentioning `needle`.
    fn fails(&self, args: &[&str], needle: &str) -> String {
        let out = self.run(args);
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?} should fail: {stderr}");
        assert_eq!(
            stderr.lines().count(),
            1,
            "{args:?} printed more than one line: {stderr}"
        );
        assert!(stderr.starts_with("picrypt: error: "), "{stderr}");
        assert!(
            !stderr.contains("panicked") && !stderr.contains("backtrace"),
            "{stderr}"
        );
        assert!(
            stderr.contains(needle),
            "{args:?}: expected {needle:?} in {stderr}"
        );
        stderr
    }
    fn keygen(&self, name: &str) {
        self.ok(&["keygen", "-o", name]);
    }
}

/// A before/after pair: a gradient with a square that moved.
fn pair(env: &Env, w: u32, h: u32, format: ImageFormat, ext: &str) -> (PathBuf, PathBuf) {
    let scene = |sx: u32| {
        RgbImage::from_fn(w, h, |x, y| {
            if (sx..sx + 4).contains(&x) && (2..6).contains(&y) {
                image::Rgb([250, 10, 10])
            } else {
                image::Rgb([(x * 7) as u8, (y * 5) as u8, 100])
            }
        })
    };
    let (a, b) = (
        env.path(&format!("before.{ext}")),
        env.path(&format!("after.{ext}")),
    );
    scene(1).save_with_format(&a, format).unwrap();
    scene(9).save_with_format(&b, format).unwrap();
    (a, b)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn keygen_writes_private_file_and_prints_no_key() {
    let env = Env::new();
    let out = env.ok(&["keygen", "-o", "k.key"]);
    let bytes = fs::read(env.path("k.key")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(env.path("k.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let secret: String = bytes[32..].iter().map(|b| format!("{b:02x}")).collect();
    assert!(!out.contains(&secret));
    env.fails(&["keygen", "-o", "k.key"], "already exists");
    env.ok(&["keygen", "-o", "k.key", "--force"]);
    assert_ne!(fs::read(env.path("k.key")).unwrap(), bytes);
}

#[test]
fn encrypt_decrypt_round_trip_every_input_format() {
    let env = Env::new();
    env.keygen("k.key");
    for (format, ext) in [
        (ImageFormat::Png, "png"),
        (ImageFormat::Bmp, "bmp"),
        (ImageFormat::Tiff, "tiff"),
        (ImageFormat::WebP, "webp"),
        (ImageFormat::Jpeg, "jpg"),
    ] {
        let (a, _) = pair(&env, 13, 11, format, ext);
        let original = image::open(&a).unwrap().to_rgb8();
        env.ok(&["encrypt", "--key", "k.key", s(&a), "-o", "a.picrypt"]);
        env.ok(&["decrypt", "--key", "k.key", "a.picrypt", "-o", "back.png"]);
        let back = image::open(env.path("back.png")).unwrap().to_rgb8();
        assert_eq!(back, original, "{ext}");
    }
}

#[test]
fn grayscale_and_alpha_layouts_round_trip() {
    let env = Env::new();
    env.keygen("k.key");
    let gray = image::GrayImage::from_fn(7, 5, |x, y| image::Luma([(x * 30 + y) as u8]));
    gray.save(env.path("g.png")).unwrap();
    let rgba = image::RgbaImage::from_fn(7, 5, |x, y| {
        image::Rgba([x as u8, y as u8, 9, (x * y) as u8])
    });
    rgba.save(env.path("a.png")).unwrap();
    for name in ["g", "a"] {
        env.ok(&[
            "encrypt",
            "--key",
            "k.key",
            &format!("{name}.png"),
            "-o",
            "c.picrypt",
        ]);
        env.ok(&["decrypt", "--key", "k.key", "c.picrypt", "-o", "back.png"]);
        assert_eq!(
            fs::read(env.path("back.png"))
                .ok()
                .map(|b| image::load_from_memory(&b).unwrap()),
            Some(image::open(env.path(&format!("{name}.png"))).unwrap())
        );
    }
}

#[test]
fn diff_decrypt_renders_and_npy() {
    let env = Env::new();
    env.keygen("k.key");
    let (a, b) = pair(&env, 16, 8, ImageFormat::Png, "png");
    env.ok(&["encrypt", "--key", "k.key", s(&a), "-o", "a.picrypt"]);
    env.ok(&["encrypt", "--key", "k.key", s(&b), "-o", "b.picrypt"]);
    env.ok(&["diff", "a.picrypt", "b.picrypt", "-o", "d.picrypt"]);
    let out = env.ok(&["decrypt", "--key", "k.key", "d.picrypt", "-o", "d.npy"]);
    assert!(out.contains("% of pixels changed"), "{out}");
    // The .npy holds exactly A − B as int16, shape (H, W, C).
    let npy = fs::read(env.path("d.npy")).unwrap();
    let header_len = u16::from_le_bytes([npy[8], npy[9]]) as usize;
    let header = std::str::from_utf8(&npy[10..10 + header_len]).unwrap();
    assert!(
        header.contains("'<i2'") && header.contains("(8, 16, 3)"),
        "{header}"
    );
    let values: Vec<i16> = npy[10 + header_len..]
        .chunks(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect();
    let (ia, ib) = (
        image::open(&a).unwrap().to_rgb8(),
        image::open(&b).unwrap().to_rgb8(),
    );
    let expected: Vec<i16> = ia
        .iter()
        .zip(ib.iter())
        .map(|(&x, &y)| x as i16 - y as i16)
        .collect();
    assert_eq!(values, expected);
    for mode in ["abs", "signed", "saturate", "heatmap", "mask"] {
        let name = format!("{mode}.png");
        env.ok(&[
            "decrypt",
            "--key",
            "k.key",
            "d.picrypt",
            "-o",
            &name,
            "--render",
            mode,
        ]);
        let img = image::open(env.path(&name)).unwrap();
        assert_eq!((img.width(), img.height()), (16, 8));
    }
    let sat = image::open(env.path("saturate.png")).unwrap().to_rgb8();
    let expected_sat: Vec<u8> = ia
        .iter()
        .zip(ib.iter())
        .map(|(&x, &y)| x.saturating_sub(y))
        .collect();
    assert_eq!(sat.into_raw(), expected_sat);
}

#[test]
fn run_reports_change_statistics() {
    let env = Env::new();
    let (a, b) = pair(&env, 20, 10, ImageFormat::Png, "png");
    let out = env.ok(&["run", s(&a), s(&b), "-o", "out.png", "--npy", "out.npy"]);
    // Squares at x 1..=4 and 9..=12, y 2..=5: 32 of 200 pixels.
    assert!(out.contains("16.00% of pixels changed"), "{out}");
    assert!(out.contains("bounding box x 1..=12, y 2..=5"), "{out}");
    assert!(env.path("out.png").exists() && env.path("out.npy").exists());
    env.keygen("k.key");
    env.ok(&[
        "run",
        s(&a),
        s(&b),
        "-o",
        "out2.png",
        "--key",
        "k.key",
        "--render",
        "mask",
    ]);
}

#[test]
fn inspect_needs_no_key() {
    let env = Env::new();
    env.keygen("k.key");
    let (a, _) = pair(&env, 5, 4, ImageFormat::Png, "png");
    env.ok(&["encrypt", "--key", "k.key", s(&a), "-o", "a.picrypt"]);
    let out = env.ok(&["inspect", "a.picrypt"]);
    assert!(
        out.contains("mask (fresh encryption)") && out.contains("5×4×3"),
        "{out}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&env.ok(&["inspect", "--json", "a.picrypt"])).unwrap();
    assert_eq!(json["width"], 5);
    assert_eq!(json["range"], serde_json::json!([0, 255]));
}

#[test]
fn demo_writes_its_pictures() {
    let env = Env::new();
    let out = env.ok(&["demo", "--out", "d"]);
    for f in [
        "before.png",
        "after.png",
        "before.encrypted.png",
        "diff.png",
        "diff.npy",
        "diff.picrypt",
    ] {
        assert!(env.path("d").join(f).exists(), "{f} missing");
        assert!(out.contains(f));
    }
    assert!(out.contains("tag verified"));
}

#[test]
fn every_error_is_one_clear_line() {
    let env = Env::new();
    env.keygen("k.key");
    env.keygen("other.key");
    let (a, b) = pair(&env, 8, 8, ImageFormat::Png, "png");
    env.ok(&["encrypt", "--key", "k.key", s(&a), "-o", "a.picrypt"]);
    env.ok(&["encrypt", "--key", "k.key", s(&b), "-o", "b.picrypt"]);
    env.ok(&[
        "encrypt",
        "--key",
        "other.key",
        s(&b),
        "-o",
        "b_other.picrypt",
    ]);
    env.ok(&["diff", "a.picrypt", "b.picrypt", "-o", "d.picrypt"]);

    env.fails(
        &[
            "encrypt",
            "--key",
            "k.key",
            "missing.png",
            "-o",
            "x.picrypt",
        ],
        "cannot read missing.png",
    );
    env.fails(
        &["encrypt", "--key", "missing.key", s(&a), "-o", "x.picrypt"],
        "cannot read missing.key",
    );
    env.fails(
        &["encrypt", "--key", "k.key", ".", "-o", "x.picrypt"],
        "cannot read .",
    );
    fs::write(env.path("notes.txt"), "hello").unwrap();
    env.fails(
        &["encrypt", "--key", "k.key", "notes.txt", "-o", "x.picrypt"],
        "unrecognised image format",
    );
    env.fails(
        &["encrypt", "--key", "k.key", s(&a), "-o", "x.png"],
        "name it *.picrypt",
    );
    env.fails(
        &["encrypt", "--key", "a.picrypt", s(&a), "-o", "x.picrypt"],
        "ciphertext, not a key file",
    );
    env.fails(
        &["decrypt", "--key", "other.key", "a.picrypt", "-o", "x.png"],
        "key mismatch",
    );
    env.fails(
        &["diff", "a.picrypt", "b_other.picrypt", "-o", "x.picrypt"],
        "key mismatch",
    );
    env.fails(
        &["decrypt", "--key", "k.key", "k.key", "-o", "x.png"],
        "not a PICRYPT container",
    );
    env.fails(
        &["decrypt", "--key", "k.key", "a.picrypt", "-o", "x.txt"],
        "name it *.png or *.npy",
    );
    env.fails(
        &["diff", "d.picrypt", "a.picrypt", "-o", "x.picrypt"],
        "range overflow",
    );

    let mut corrupt = fs::read(env.path("d.picrypt")).unwrap();
    let last = corrupt.len() - 3;
    corrupt[last] ^= 0x10;
    fs::write(env.path("corrupt.picrypt"), &corrupt).unwrap();
    env.fails(
        &[
            "decrypt",
            "--key",
            "k.key",
            "corrupt.picrypt",
            "-o",
            "x.png",
        ],
        "verification failed",
    );
    fs::write(env.path("short.picrypt"), &corrupt[..corrupt.len() / 2]).unwrap();
    env.fails(
        &["decrypt", "--key", "k.key", "short.picrypt", "-o", "x.png"],
        "truncated",
    );
    env.fails(
        &["diff", "short.picrypt", "b.picrypt", "-o", "x.picrypt"],
        "A: payload",
    );

    let small = image::RgbImage::new(8, 7);
    small.save(env.path("small.png")).unwrap();
    env.fails(&["run", s(&a), "small.png", "-o", "x.png"], "height 8 vs 7");
    env.ok(&[
        "encrypt",
        "--key",
        "k.key",
        "small.png",
        "-o",
        "small.picrypt",
    ]);
    env.fails(
        &["diff", "a.picrypt", "small.picrypt", "-o", "x.picrypt"],
        "height 8 vs 7",
    );
    assert!(!env.path("x.png").exists() && !env.path("x.picrypt").exists());

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(env.path("k.key"), fs::Permissions::from_mode(0o644)).unwrap();
        env.fails(
            &["decrypt", "--key", "k.key", "a.picrypt", "-o", "x.png"],
            "chmod 600",
        );
    }
}

#[test]
fn bfv_keygen_writes_a_private_secret_and_a_public_key() {
    let env = Env::new();
    let out = env.ok(&["keygen", "--scheme", "bfv", "-o", "k.key"]);
    assert!(out.contains("k.key.pub"), "{out}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |n: &str| fs::metadata(env.path(n)).unwrap().permissions().mode() & 0o777;
        assert_eq!((mode("k.key"), mode("k.key.pub")), (0o600, 0o644));
    }
    env.fails(
        &["keygen", "--scheme", "bfv", "-o", "k.key"],
        "already exists",
    );
    let (a, b) = pair(&env, 9, 7, ImageFormat::Png, "png");
    env.ok(&["encrypt", "--key", "k.key.pub", s(&a), "-o", "a.picrypt"]);
    env.ok(&["encrypt", "--key", "k.key.pub", s(&b), "-o", "b.picrypt"]);
    env.ok(&["diff", "a.picrypt", "b.picrypt", "-o", "d.picrypt"]);
    // bfv has no tag: the result is decrypted only when tied to its two inputs.
    env.fails(
        &["decrypt", "--key", "k.key", "d.picrypt", "-o", "d.npy"],
        "--expect A B",
    );
    env.ok(&[
        "decrypt",
        "--key",
        "k.key",
        "d.picrypt",
        "--expect",
        "a.picrypt",
        "b.picrypt",
        "-o",
        "d.npy",
    ]);
    env.fails(
        &["decrypt", "--key", "k.key.pub", "d.picrypt", "-o", "x.png"],
        "cannot decrypt",
    );
    env.fails(
        &["diff", "d.picrypt", "a.picrypt", "-o", "x.picrypt"],
        "range overflow",
    );
    env.keygen("other.key");
    env.fails(
        &["decrypt", "--key", "other.key", "d.picrypt", "-o", "x.png"],
        "scheme mismatch",
    );
}

/// Lambda counts the whole event (body, headers, request context) against its 6 MB quota,
/// so a body just under the function's own limit would be refused by Lambda, not by the
/// function. The CLI leaves room for the event: a pair whose JSON body lies between the
/// sent limit and the function's limit is refused before anything is sent (nothing
/// listens at the URL, so a connection error would mean it tried).
#[test]
fn inline_request_leaves_room_for_the_lambda_event() {
    use picrypt_api::limits::{MAX_REQUEST_BYTES, MAX_SENT_REQUEST_BYTES};
    let env = Env::new();
    env.keygen("k.key");
    // 1444×1445 gray: two containers of 93 + ⌈9n/8⌉ bytes, base64 in one JSON body of
    // about 6 260 000 bytes.
    let (w, h) = (1444u32, 1445u32);
    let body = 2 * 4 * (93 + (9 * (w * h) as usize).div_ceil(8)).div_ceil(3);
    assert!(
        body > MAX_SENT_REQUEST_BYTES && body + 200 < MAX_REQUEST_BYTES,
        "{body}"
    );
    for (name, shift) in [("a.png", 0u32), ("b.png", 5)] {
        image::GrayImage::from_fn(w, h, |x, y| image::Luma([((x + shift) ^ y) as u8]))
            .save(env.path(name))
            .unwrap();
    }
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    env.fails(
        &[
            "run", "--key", "k.key", "a.png", "b.png", "-o", "d.png", "--url", &url,
        ],
        "fit one Lambda invocation",
    );
    assert!(!env.path("d.png").exists());
}
