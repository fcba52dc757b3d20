//! Issue 14, "A new user's first hour": what a new user runs into, driven through the real
//! `picrypt` binary. Each test is named after the point of the issue it covers:
//!
//! 1. a key file is never overwritten by an output, nor an input by its own command;
//! 2. outputs (and `--s3-prefix`) are checked before any work, and S3 objects cleaned up;
//! 3. renders of images with alpha are opaque, `.npy` is exact, EXIF orientation applies;
//! 4. the overlay render and the heatmap's colour scale;
//! 5. outputs say what was computed, and warnings never precede an unrelated error;
//! 6. AWS configuration errors are one line naming what to set;
//! 7. an oversized image is refused before it is decoded;
//! 8. `serve --addr` with a host name, the warning off loopback, `--url` without scheme;
//! 9. an oversized body gets the 413 JSON error, even from a client that writes it all first;
//! 10. `--json` prints exactly one document, `--quiet` nothing on stderr;
//! 11. help with examples and environment, completions, man pages.

mod common;

use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt;
use assert_cmd::Command;
use image::{GrayAlphaImage, LumaA, Rgb, RgbImage, Rgba, RgbaImage};
use picrypt_testkit::{S3Server, AWS_TEST_ENV};
use serde_json::Value;
use tempfile::TempDir;

fn picrypt() -> Command {
    Command::cargo_bin("picrypt").unwrap()
}

/// `picrypt` as a `std::process::Command`, for servers started in the background.
fn picrypt_process() -> std::process::Command {
    std::process::Command::cargo_bin("picrypt").unwrap()
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

    fn read(&self, name: &str) -> Vec<u8> {
        fs::read(self.path(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    fn cmd(&self) -> Command {
        let mut c = picrypt();
        c.current_dir(self.dir.path());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        succeeded(&self.run(args), &args)
    }

    fn fails(&self, args: &[&str], needle: &str) -> String {
        failed_with(&self.run(args), &args, needle)
    }
}

/// The stdout of a command that must have succeeded.
fn succeeded(out: &Output, what: &dyn std::fmt::Debug) -> String {
    assert!(
        out.status.success(),
        "{what:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// The stderr of a command that must have failed with exactly one line, `picrypt: error:
/// …` mentioning `needle`, and no panic or backtrace.
fn failed_with(out: &Output, what: &dyn std::fmt::Debug, needle: &str) -> String {
    let stderr = String::from_utf8(out.stderr.clone()).unwrap();
    assert_eq!(out.status.code(), Some(1), "{what:?} should fail: {stderr}");
    assert_eq!(
        stderr.lines().count(),
        1,
        "{what:?} printed more than one line on stderr: {stderr}"
    );
    assert!(stderr.starts_with("picrypt: error: "), "{what:?}: {stderr}");
    for dump in ["panicked", "backtrace", "RUST_BACKTRACE", "WARN", "SdkBody"] {
        assert!(!stderr.contains(dump), "{what:?}: {dump} in {stderr}");
    }
    assert!(
        stderr.contains(needle),
        "{what:?}: expected {needle:?} in {stderr}"
    );
    stderr
}

/// A before/after RGB pair with a red square that moved.
fn rgb_pair(env: &Env, w: u32, h: u32) {
    let scene = |x0: u32| {
        RgbImage::from_fn(w, h, |x, y| {
            if (x0..x0 + 4).contains(&x) && (2..6).contains(&y) {
                Rgb([250, 10, 10])
            } else {
                Rgb([(x * 3) as u8, (y * 5) as u8, 100])
            }
        })
    };
    scene(1).save(env.path("before.png")).unwrap();
    scene(w / 2).save(env.path("after.png")).unwrap();
}

/// The environment most tests start from: a mask key, a pair, both encrypted, and their
/// difference.
fn ready() -> Env {
    let env = Env::new();
    rgb_pair(&env, 24, 12);
    env.ok(&["keygen", "-o", "k.key"]);
    for name in ["before", "after"] {
        env.ok(&[
            "encrypt",
            "--key",
            "k.key",
            &format!("{name}.png"),
            "-o",
            &format!("{name}.picrypt"),
        ]);
    }
    env.ok(&["diff", "before.picrypt", "after.picrypt", "-o", "d.picrypt"]);
    env
}

/// A listener nothing will answer on; [`assert_untouched`] says whether anyone connected.
fn silent_listener() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    (listener, url)
}

/// The kernel completes connections to a listening socket even when it never accepts
/// them, so a connection attempt would be waiting here.
fn assert_untouched(listener: &TcpListener) {
    match listener.accept() {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        Ok((_, peer)) => panic!("{peer} connected to the function before the output was checked"),
        Err(e) => panic!("accept: {e}"),
    }
}

/// The shape and int16 values of a difference `.npy`.
fn npy_i16(bytes: &[u8]) -> (String, Vec<i16>) {
    assert_eq!(&bytes[..6], b"\x93NUMPY");
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = String::from_utf8_lossy(&bytes[10..10 + header_len]).to_string();
    assert!(header.contains("'descr': '<i2'"), "{header}");
    let shape = header
        .split("'shape': (")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .unwrap()
        .replace(' ', "");
    let values = bytes[10 + header_len..]
        .chunks(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect();
    (shape, values)
}

fn png(bytes: &[u8]) -> image::DynamicImage {
    image::load_from_memory_with_format(bytes, image::ImageFormat::Png).unwrap()
}

// ---------------------------------------------------------------------------------------
// 1. A secret key is never overwritten by an output.

/// Every command that writes a file refuses a key file of every scheme and kind as its
/// output, whatever the output is named (the key is recognised by its content), also
/// through a symlink; the key's bytes stay as they were.
#[test]
fn key_file_survives_every_writing_command() {
    let env = ready();
    env.ok(&["keygen", "--scheme", "bfv", "-o", "bfv.key"]);
    env.ok(&["keygen", "--scheme", "shuffle", "-o", "shuffle.key"]);
    fs::create_dir(env.path("man")).unwrap();
    fs::create_dir(env.path("demo")).unwrap();
    // (command, the output it writes), the output standing for the key file.
    let commands: &[(&[&str], &str)] = &[
        (
            &["encrypt", "--key", "k.key", "before.png", "-o", "@"],
            "out.picrypt",
        ),
        (
            &[
                "encrypt",
                "--key",
                "shuffle.key",
                "before.png",
                "-o",
                "@",
                "--insecure-shuffle",
            ],
            "out.png",
        ),
        (
            &["diff", "before.picrypt", "after.picrypt", "-o", "@"],
            "out.picrypt",
        ),
        (
            &["decrypt", "--key", "k.key", "d.picrypt", "-o", "@"],
            "out.png",
        ),
        (
            &["decrypt", "--key", "k.key", "d.picrypt", "-o", "@"],
            "out.npy",
        ),
        (
            &["decrypt", "--key", "k.key", "before.picrypt", "-o", "@"],
            "out.png",
        ),
        (&["run", "before.png", "after.png", "-o", "@"], "out.png"),
        (
            &[
                "run",
                "before.png",
                "after.png",
                "-o",
                "fresh.png",
                "--npy",
                "@",
            ],
            "out.npy",
        ),
        (
            &[
                "run",
                "before.png",
                "after.png",
                "-o",
                "@",
                "--render",
                "heatmap",
            ],
            "out.png",
        ),
        (&["man", "--out-dir", "man"], "man/picrypt.1"),
        (&["demo", "--out", "demo"], "demo/diff.png"),
    ];
    for key in ["k.key", "bfv.key", "bfv.key.pub", "shuffle.key"] {
        let key_bytes = env.read(key);
        for (args, victim) in commands {
            for through_symlink in [false, true] {
                let target = env.path(victim);
                let named = if through_symlink {
                    let link = format!("{victim}.link.{}", victim.rsplit('.').next().unwrap());
                    fs::copy(env.path(key), &target).unwrap();
                    let _ = fs::remove_file(env.path(&link));
                    std::os::unix::fs::symlink(&target, env.path(&link)).unwrap();
                    link
                } else {
                    fs::copy(env.path(key), &target).unwrap();
                    victim.to_string()
                };
                let args: Vec<&str> = args
                    .iter()
                    .map(|a| if *a == "@" { named.as_str() } else { a })
                    .collect();
                env.fails(&args, "is a key file: refusing to overwrite it");
                assert_eq!(
                    fs::read(&target).unwrap(),
                    key_bytes,
                    "{args:?} changed the {key} copy at {victim}"
                );
                assert!(
                    !env.path("fresh.png").exists(),
                    "{args:?} wrote its other output"
                );
            }
        }
    }
    // Nothing but the refusal ran: no page written before the key, no demo file.
    assert!(!env.path("demo/before.png").exists());
}

/// `keygen` refuses to replace any existing file, a key above all, without `--force`;
/// with it, the key is replaced (and both halves of a bfv pair).
#[test]
fn keygen_force_replaces_a_key() {
    let env = Env::new();
    env.ok(&["keygen", "-o", "k.key"]);
    let old = env.read("k.key");
    env.fails(&["keygen", "-o", "k.key"], "already exists");
    env.fails(
        &["keygen", "--scheme", "bfv", "-o", "k.key"],
        "already exists",
    );
    assert_eq!(env.read("k.key"), old);
    env.ok(&["keygen", "-o", "k.key", "--force"]);
    let new = env.read("k.key");
    assert_ne!(new, old, "--force did not replace the key");
    assert_eq!(new[..8], old[..8], "the replacement is not a key file");

    env.ok(&["keygen", "--scheme", "bfv", "-o", "b.key"]);
    let (secret, public) = (env.read("b.key"), env.read("b.key.pub"));
    env.fails(
        &["keygen", "--scheme", "bfv", "-o", "b.key"],
        "already exists",
    );
    // Only the public half is there: still refused, and the secret name left unwritten.
    fs::rename(env.path("b.key"), env.path("c.key.pub")).unwrap();
    fs::remove_file(env.path("b.key.pub")).unwrap();
    env.fails(
        &["keygen", "--scheme", "bfv", "-o", "c.key"],
        "c.key.pub already exists",
    );
    assert!(!env.path("c.key").exists());
    assert_eq!(env.read("c.key.pub"), secret);
    env.ok(&["keygen", "--scheme", "bfv", "-o", "c.key", "--force"]);
    assert_ne!(env.read("c.key.pub"), secret);
    assert_ne!(env.read("c.key.pub"), public);
}

/// An output that is one of the command's own inputs — the same path, a symlink to it or
/// a hard link to it — is refused before anything is written, and the input survives.
#[test]
fn output_that_is_one_of_its_inputs_is_refused() {
    let env = ready();
    env.ok(&["keygen", "--scheme", "shuffle", "-o", "shuffle.key"]);
    // (command with @ for the output, the input @ aliases)
    let commands: &[(&[&str], &str)] = &[
        (
            &["diff", "before.picrypt", "after.picrypt", "-o", "@"],
            "before.picrypt",
        ),
        (
            &["diff", "before.picrypt", "after.picrypt", "-o", "@"],
            "after.picrypt",
        ),
        (&["run", "before.png", "after.png", "-o", "@"], "after.png"),
        (&["run", "before.png", "after.png", "-o", "@"], "before.png"),
        (
            &[
                "decrypt",
                "--key",
                "k.key",
                "d.picrypt",
                "--render",
                "overlay",
                "--over",
                "after.png",
                "-o",
                "@",
            ],
            "after.png",
        ),
        (
            &[
                "encrypt",
                "--key",
                "shuffle.key",
                "before.png",
                "-o",
                "@",
                "--insecure-shuffle",
            ],
            "before.png",
        ),
    ];
    for (i, (args, input)) in commands.iter().enumerate() {
        let original = env.read(input);
        let ext = input.rsplit('.').next().unwrap();
        for alias in ["same", "symlink", "hardlink"] {
            let name = match alias {
                "same" => input.to_string(),
                _ => {
                    let name = format!("{alias}{i}.{ext}");
                    if alias == "symlink" {
                        std::os::unix::fs::symlink(env.path(input), env.path(&name)).unwrap();
                    } else {
                        fs::hard_link(env.path(input), env.path(&name)).unwrap();
                    }
                    name
                }
            };
            let args: Vec<&str> = args
                .iter()
                .map(|a| if *a == "@" { name.as_str() } else { a })
                .collect();
            env.fails(
                &args,
                "is also an input of this command: refusing to overwrite it",
            );
            assert_eq!(env.read(input), original, "{args:?} changed {input}");
        }
    }
}

/// Overwriting an existing output that is not a key (nor an input) just works.
#[test]
fn overwriting_an_ordinary_output_works() {
    let env = ready();
    for name in ["x.png", "x.npy", "x.picrypt"] {
        fs::write(env.path(name), b"an old output, not a key").unwrap();
    }
    env.ok(&["diff", "before.picrypt", "after.picrypt", "-o", "x.picrypt"]);
    assert_eq!(env.read("x.picrypt"), env.read("d.picrypt"));
    env.ok(&["decrypt", "--key", "k.key", "d.picrypt", "-o", "x.npy"]);
    assert_eq!(npy_i16(&env.read("x.npy")).0, "12,24,3");
    env.ok(&["run", "before.png", "after.png", "-o", "x.png"]);
    assert_eq!(png(&env.read("x.png")).width(), 24);
    // And again over its own earlier output.
    env.ok(&[
        "run",
        "before.png",
        "after.png",
        "-o",
        "x.png",
        "--render",
        "mask",
    ]);
    assert_eq!(png(&env.read("x.png")).color(), image::ColorType::L8);
}

// ---------------------------------------------------------------------------------------
// 2. Outputs checked before any work.

/// `run -o nodir/x.png --url …` fails on the output before it encrypts or calls the
/// function: the function (a listening socket) sees no connection, and the error is
/// about the directory, not a connection.
#[test]
fn run_checks_its_output_before_calling_the_function() {
    let env = ready();
    let (listener, url) = silent_listener();
    env.fails(
        &[
            "run",
            "before.png",
            "after.png",
            "-o",
            "nodir/x.png",
            "--url",
            &url,
        ],
        "directory nodir does not exist",
    );
    env.fails(
        &[
            "run",
            "before.png",
            "after.png",
            "-o",
            "x.png",
            "--npy",
            "nodir/x.npy",
            "--url",
            &url,
        ],
        "directory nodir does not exist",
    );
    env.fails(
        &[
            "run",
            "before.png",
            "after.png",
            "-o",
            "x.jpg",
            "--url",
            &url,
        ],
        "name it *.png",
    );
    env.fails(
        &[
            "diff",
            "before.picrypt",
            "after.picrypt",
            "-o",
            "nodir/d.picrypt",
            "--url",
            &url,
        ],
        "directory nodir does not exist",
    );
    env.fails(
        &[
            "diff",
            "before.picrypt",
            "after.picrypt",
            "-o",
            "d.png",
            "--url",
            &url,
        ],
        "would hold a ciphertext",
    );
    assert_untouched(&listener);
    // A closed port instead: still the output's error, not a connection error.
    drop(listener);
    let err = env.fails(
        &[
            "run",
            "before.png",
            "after.png",
            "-o",
            "nodir/x.png",
            "--url",
            &url,
        ],
        "does not exist",
    );
    assert!(!err.contains("cannot connect"), "{err}");
}

/// `decrypt -o out.jpg` names the formats it can write before it reads, let alone
/// verifies, the ciphertext (here a tampered one, which would fail verification).
#[test]
fn decrypt_checks_the_output_format_before_verifying() {
    let env = ready();
    let mut tampered = env.read("d.picrypt");
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    fs::write(env.path("t.picrypt"), &tampered).unwrap();
    env.fails(
        &["decrypt", "--key", "k.key", "t.picrypt", "-o", "out.png"],
        "verif",
    );
    for (out, ext) in [
        ("out.jpg", "JPG"),
        ("out.webp", "WEBP"),
        ("out", "a file without extension"),
    ] {
        env.fails(
            &["decrypt", "--key", "k.key", "t.picrypt", "-o", out],
            &format!("cannot write {out} as {ext}: name it *.png or *.npy"),
        );
        assert!(!env.path(out).exists());
    }
}

/// An output in a directory the user cannot write to is refused before any work.
#[test]
fn unwritable_output_directory_is_refused_before_work() {
    use std::os::unix::fs::PermissionsExt;
    let env = ready();
    let locked = env.path("locked");
    fs::create_dir(&locked).unwrap();
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o555)).unwrap();
    let writable = |dir: &Path| tempfile::tempfile_in(dir).is_ok();
    // As root, mode 555 does not stop anyone: fall back to a directory no one can write.
    let dir = [locked.clone(), PathBuf::from("/sys")]
        .into_iter()
        .find(|d| d.is_dir() && !writable(d));
    let Some(dir) = dir else {
        eprintln!("note: no unwritable directory here (running as root without /sys?): skipped");
        return;
    };
    let out = dir.join("x.png");
    let (listener, url) = silent_listener();
    env.fails(
        &[
            "run",
            "before.png",
            "after.png",
            "-o",
            out.to_str().unwrap(),
            "--url",
            &url,
        ],
        &format!("directory {} is not writable", dir.display()),
    );
    assert_untouched(&listener);
    env.fails(
        &[
            "decrypt",
            "--key",
            "k.key",
            "d.picrypt",
            "-o",
            out.to_str().unwrap(),
        ],
        "is not writable",
    );
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o755)).unwrap();
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().unwrap()
}

/// Every key in `bucket`.
fn objects(s3: &S3Server, bucket: &str) -> Vec<String> {
    rt().block_on(async {
        s3.client()
            .list_objects_v2()
            .bucket(bucket)
            .send()
            .await
            .unwrap()
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_string))
            .collect()
    })
}

/// `--s3-prefix picrypt` (no slash) means the folder `picrypt/`; after a successful run
/// through S3 the uploaded ciphertexts and the result are deleted unless
/// `--keep-s3-objects`; after a refusal by the function nothing remains either.
#[test]
fn s3_prefix_is_a_folder_and_uploads_are_deleted() {
    let s3 = S3Server::start();
    let bucket = rt().block_on(s3.bucket("first-hour"));
    let server = common::serve(
        picrypt_process()
            .envs(AWS_TEST_ENV)
            .env("AWS_ENDPOINT_URL", &s3.endpoint)
            .args([
                "serve",
                "--addr",
                "127.0.0.1:0",
                "--bucket",
                &bucket,
                "--prefix",
                "picrypt/",
            ]),
    );
    let env = Env::new();
    rgb_pair(&env, 40, 30);
    let run = |extra: &[&str]| {
        let mut args = vec![
            "run",
            "before.png",
            "after.png",
            "-o",
            "d.png",
            "--url",
            &server.url,
            "--s3-bucket",
            &bucket,
        ];
        args.extend(extra);
        env.cmd()
            .envs(AWS_TEST_ENV)
            .env("AWS_ENDPOINT_URL", &s3.endpoint)
            .args(&args)
            .output()
            .unwrap()
    };
    let out = succeeded(
        &run(&["--s3-prefix", "picrypt"]),
        &"run --s3-prefix picrypt",
    );
    assert!(
        out.contains(&format!("s3://{bucket}/picrypt/uploads/")),
        "the prefix was not made a folder: {out}"
    );
    assert!(out.contains("download"), "{out}");
    assert_eq!(
        objects(&s3, &bucket),
        Vec::<String>::new(),
        "objects left behind"
    );

    succeeded(
        &run(&["--s3-prefix", "picrypt", "--keep-s3-objects"]),
        &"--keep-s3-objects",
    );
    let kept = objects(&s3, &bucket);
    assert_eq!(kept.len(), 3, "{kept:?}");
    let folder = kept[0].rsplit_once('/').unwrap().0;
    assert!(folder.starts_with("picrypt/uploads/"), "{kept:?}");
    for name in ["a.picrypt", "b.picrypt", "diff.picrypt"] {
        assert!(
            kept.contains(&format!("{folder}/{name}")),
            "{name} not in {kept:?}"
        );
    }

    // Refused by the function (outside its prefix): the uploads are deleted anyway.
    let out = run(&["--s3-prefix", "outside"]);
    failed_with(&out, &"--s3-prefix outside", "403 key_forbidden");
    assert_eq!(objects(&s3, &bucket), kept, "the refused run left objects");
    // Refused before any work: a prefix the key rules refuse.
    failed_with(
        &run(&["--s3-prefix", "../x"]),
        &"--s3-prefix ../x",
        "--s3-prefix \"../x\"",
    );
    assert_eq!(objects(&s3, &bucket), kept);
}

// ---------------------------------------------------------------------------------------
// 3. Renders of images with alpha, .npy, EXIF orientation.

/// Background 100, a 200 square moving from x 2 to x 12, and (only in alpha) a patch at
/// x 18..22, y 0..3 that is opaque before and transparent after.
fn alpha_value(x: u32, y: u32, object_x: u32, after: bool) -> (u8, u8) {
    let colour = if (object_x..object_x + 4).contains(&x) && (4..8).contains(&y) {
        200
    } else {
        100
    };
    let alpha = if after && (18..22).contains(&x) && y < 3 {
        0
    } else {
        255
    };
    (colour, alpha)
}

/// Renders of gray + alpha and RGBA pairs are opaque and show what changed — the moved
/// square at both places and a change of alpha alone — and `.npy` keeps every channel,
/// alpha included, exactly.
#[test]
fn renders_of_images_with_alpha_are_opaque_and_npy_is_exact() {
    let env = Env::new();
    let (w, h) = (24, 12);
    let gray = |object_x, after| {
        GrayAlphaImage::from_fn(w, h, |x, y| {
            let (c, a) = alpha_value(x, y, object_x, after);
            LumaA([c, a])
        })
    };
    // RGBA: the square is (200, 60, 30) over (100, 100, 100).
    let rgba = |object_x, after| {
        RgbaImage::from_fn(w, h, |x, y| {
            let (c, a) = alpha_value(x, y, object_x, after);
            if c == 200 {
                Rgba([200, 60, 30, a])
            } else {
                Rgba([100, 100, 100, a])
            }
        })
    };
    gray(2, false).save(env.path("ga-before.png")).unwrap();
    gray(12, true).save(env.path("ga-after.png")).unwrap();
    rgba(2, false).save(env.path("rgba-before.png")).unwrap();
    rgba(12, true).save(env.path("rgba-after.png")).unwrap();

    // Pixels: (old square, new square, alpha-only patch, unchanged).
    let at = [(3, 5), (13, 6), (19, 1), (8, 10)];
    let expect_gray: [(&str, [u8; 4]); 3] = [
        ("abs", [100, 100, 255, 0]),
        ("saturate", [100, 0, 255, 0]),
        ("signed", [178, 78, 255, 128]),
    ];
    let expect_rgb: [(&str, [[u8; 3]; 4]); 3] = [
        ("abs", [[100, 40, 70], [100, 40, 70], [255; 3], [0; 3]]),
        ("saturate", [[100, 0, 0], [0, 40, 70], [255; 3], [0; 3]]),
        (
            "signed",
            [[178, 108, 93], [78, 148, 163], [255; 3], [128; 3]],
        ),
    ];
    for layout in ["ga", "rgba"] {
        for (i, render) in ["abs", "saturate", "signed"].into_iter().enumerate() {
            let out = format!("{layout}-{render}.png");
            env.ok(&[
                "run",
                &format!("{layout}-before.png"),
                &format!("{layout}-after.png"),
                "-o",
                &out,
                "--render",
                render,
                "--npy",
                &format!("{layout}.npy"),
            ]);
            let img = png(&env.read(&out));
            assert_eq!((img.width(), img.height()), (w, h));
            assert!(
                img.to_rgba8().pixels().all(|p| p[3] == 255),
                "{out} has transparent pixels"
            );
            for (j, &(x, y)) in at.iter().enumerate() {
                if layout == "ga" {
                    assert_eq!(
                        img.to_luma8().get_pixel(x, y)[0],
                        expect_gray[i].1[j],
                        "{out} at ({x}, {y})"
                    );
                } else {
                    assert_eq!(
                        img.to_rgb8().get_pixel(x, y).0,
                        expect_rgb[i].1[j],
                        "{out} at ({x}, {y})"
                    );
                }
            }
        }
        let (shape, values) = npy_i16(&env.read(&format!("{layout}.npy")));
        let before = image::open(env.path(&format!("{layout}-before.png"))).unwrap();
        let after = image::open(env.path(&format!("{layout}-after.png"))).unwrap();
        let channels = before.color().channel_count();
        assert_eq!(shape, format!("{h},{w},{channels}"));
        let expected: Vec<i16> = before
            .as_bytes()
            .iter()
            .zip(after.as_bytes())
            .map(|(&a, &b)| a as i16 - b as i16)
            .collect();
        assert_eq!(values, expected, "{layout}.npy");
        assert!(values.contains(&255), "{layout}.npy lost the alpha change");
    }
}

/// A baseline JPEG of `img` with an APP1 Exif segment right after SOI carrying
/// `Orientation` = `orientation`.
fn jpeg_with_orientation(img: &RgbImage, orientation: Option<u16>) -> Vec<u8> {
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 95)
        .encode_image(img)
        .unwrap();
    let Some(orientation) = orientation else {
        return jpeg;
    };
    // TIFF, big-endian: header, one IFD with one SHORT entry, no next IFD.
    let mut tiff = b"MM\x00\x2a\x00\x00\x00\x08".to_vec();
    tiff.extend([0x00, 0x01]);
    tiff.extend([0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01]);
    tiff.extend(orientation.to_be_bytes());
    tiff.extend([0x00, 0x00]);
    tiff.extend([0x00, 0x00, 0x00, 0x00]);
    let mut app1 = b"Exif\x00\x00".to_vec();
    app1.extend(tiff);
    let mut out = jpeg[..2].to_vec();
    assert_eq!(out, [0xff, 0xd8]);
    out.extend([0xff, 0xe1]);
    out.extend(((app1.len() + 2) as u16).to_be_bytes());
    out.extend(app1);
    out.extend(&jpeg[2..]);
    out
}

/// Stored 32×16, white in its top-left 8×8 block, black elsewhere.
fn corner_image() -> RgbImage {
    RgbImage::from_fn(32, 16, |x, y| {
        if x < 8 && y < 8 {
            Rgb([255; 3])
        } else {
            Rgb([0; 3])
        }
    })
}

/// A photo's EXIF orientation is applied: a 32×16 JPEG tagged "rotate 90° clockwise"
/// (6) encrypts and decrypts as 16×32, its top-left corner at the top right.
#[test]
fn exif_orientation_is_applied() {
    let env = Env::new();
    env.ok(&["keygen", "-o", "k.key"]);
    fs::write(
        env.path("photo.jpg"),
        jpeg_with_orientation(&corner_image(), Some(6)),
    )
    .unwrap();
    env.ok(&[
        "encrypt",
        "--key",
        "k.key",
        "photo.jpg",
        "-o",
        "photo.picrypt",
    ]);
    env.ok(&[
        "decrypt",
        "--key",
        "k.key",
        "photo.picrypt",
        "-o",
        "photo.png",
    ]);
    let img = png(&env.read("photo.png")).to_luma8();
    assert_eq!(img.dimensions(), (16, 32), "orientation not applied");
    assert!(
        img.get_pixel(12, 4)[0] > 200,
        "the white corner is not top right"
    );
    for (x, y) in [(4, 4), (4, 28), (12, 28)] {
        assert!(img.get_pixel(x, y)[0] < 50, "({x}, {y}) should be black");
    }
    // Without the tag, as stored.
    fs::write(
        env.path("plain.jpg"),
        jpeg_with_orientation(&corner_image(), None),
    )
    .unwrap();
    env.ok(&[
        "encrypt",
        "--key",
        "k.key",
        "plain.jpg",
        "-o",
        "plain.picrypt",
    ]);
    env.ok(&[
        "decrypt",
        "--key",
        "k.key",
        "plain.picrypt",
        "-o",
        "plain.png",
    ]);
    assert_eq!(png(&env.read("plain.png")).width(), 32);
}

/// A pair whose photos were taken in different orientations gets a note saying so, and
/// is compared the way both display; a pair of the same orientation gets no note.
#[test]
fn pair_of_different_orientations_is_noted() {
    let env = Env::new();
    // "after" is "before" already turned 90° clockwise, stored without a tag.
    let turned = image::imageops::rotate90(&corner_image());
    fs::write(
        env.path("before.jpg"),
        jpeg_with_orientation(&corner_image(), Some(6)),
    )
    .unwrap();
    fs::write(env.path("after.jpg"), jpeg_with_orientation(&turned, None)).unwrap();
    let out = env.ok(&["run", "before.jpg", "after.jpg", "-o", "d.png"]);
    assert!(
        out.contains("note: the two photos were taken in different orientations")
            && out.contains("before.jpg turned 90°")
            && out.contains("after.jpg as stored"),
        "{out}"
    );
    assert!(out.contains("0.00% of pixels changed"), "{out}");
    assert_eq!(png(&env.read("d.png")).height(), 32);

    fs::write(
        env.path("after6.jpg"),
        jpeg_with_orientation(&corner_image(), Some(6)),
    )
    .unwrap();
    let out = env.ok(&["run", "before.jpg", "after6.jpg", "-o", "d.png"]);
    assert!(!out.contains("orientation"), "{out}");
}

// ---------------------------------------------------------------------------------------
// 4. Overlay render, heatmap colour scale.

/// `run --render overlay` and `decrypt --render overlay --over AFTER.png` draw the
/// changes in red over the after image in grey, identically; without `--over`, decrypt
/// says what is missing.
#[test]
fn overlay_render_from_run_and_decrypt() {
    let env = ready();
    env.ok(&[
        "run",
        "before.png",
        "after.png",
        "--key",
        "k.key",
        "-o",
        "run.png",
        "--render",
        "overlay",
    ]);
    env.ok(&[
        "decrypt",
        "--key",
        "k.key",
        "d.picrypt",
        "--render",
        "overlay",
        "--over",
        "after.png",
        "-o",
        "decrypt.png",
    ]);
    let img = png(&env.read("run.png")).to_rgb8();
    assert_eq!(img.dimensions(), (24, 12));
    assert_eq!(env.read("run.png"), env.read("decrypt.png"));
    // The square moved from x 1..5 to x 12..16, y 2..6: red at both places.
    for (x, y) in [(2, 3), (13, 4)] {
        let p = img.get_pixel(x, y);
        assert!(
            p[0] > p[1] + 80 && p[0] > p[2] + 80,
            "({x}, {y}) not red: {p:?}"
        );
    }
    // Far from any change: the after image in grey.
    let p = img.get_pixel(8, 10);
    assert!(p[0] == p[1] && p[1] == p[2], "(8, 10) not grey: {p:?}");
    env.fails(
        &[
            "decrypt",
            "--key",
            "k.key",
            "d.picrypt",
            "--render",
            "overlay",
            "-o",
            "x.png",
        ],
        "pass --over AFTER.png",
    );
    assert!(!env.path("x.png").exists());
}

/// The heatmap carries a colour scale under the image: from viridis' dark purple at 0 on
/// the left to its yellow at 255 on the right.
#[test]
fn heatmap_has_a_colour_scale() {
    let env = Env::new();
    rgb_pair(&env, 80, 40);
    env.ok(&[
        "run",
        "before.png",
        "after.png",
        "-o",
        "heat.png",
        "--render",
        "heatmap",
    ]);
    let img = png(&env.read("heat.png")).to_rgb8();
    assert_eq!(img.width(), 80);
    assert!(
        img.height() > 40 + 8,
        "no scale under the heatmap: {:?}",
        img.dimensions()
    );
    let (left, right) = (img.get_pixel(0, 41), img.get_pixel(79, 41));
    assert!(
        left[2] > left[1] && left[0] < 100 && left[1] < 30,
        "left end {left:?}"
    );
    assert!(
        right[0] > 200 && right[1] > 200 && right[2] < 100,
        "right end {right:?}"
    );
    // Above the scale, unchanged pixels are viridis(0) too.
    assert_eq!(img.get_pixel(40, 39), left);
}

// ---------------------------------------------------------------------------------------
// 5. What was computed; renders of non-differences; the shuffle warning.

/// `run --op sub_sat` says it computed max(before − after, 0), in its lines and its JSON;
/// the plain run says before − after.
#[test]
fn run_sub_sat_says_what_was_computed() {
    let env = ready();
    env.ok(&["keygen", "--scheme", "shuffle", "-o", "s.key"]);
    let args = [
        "run",
        "before.png",
        "after.png",
        "--key",
        "s.key",
        "--insecure-shuffle",
        "--op",
        "sub_sat",
        "-o",
        "d.png",
    ];
    let out = env.run(&args);
    let stdout = succeeded(&out, &args);
    assert!(
        stdout.contains("max(before − after, 0) of before"),
        "{stdout}"
    );
    assert!(!stdout.contains("before − after of"), "{stdout}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("NOT secure"),
        "no warning after a shuffle run: {stderr}"
    );
    let mut json_args = args.to_vec();
    json_args.push("--json");
    let doc: Value = serde_json::from_str(&env.ok(&json_args)).unwrap();
    assert_eq!(doc["op"], "sub_sat");
    assert_eq!(doc["computed"], "max(before − after, 0)");

    let stdout = env.ok(&["run", "before.png", "after.png", "-o", "d.png"]);
    assert!(stdout.contains("before − after of before"), "{stdout}");
}

/// `decrypt --render heatmap` (or any render) of an encrypted image, not a difference,
/// is refused with the reason.
#[test]
fn render_of_an_encrypted_image_is_refused() {
    let env = ready();
    for render in ["heatmap", "abs", "overlay"] {
        env.fails(
            &[
                "decrypt",
                "--key",
                "k.key",
                "before.picrypt",
                "--render",
                render,
                "--over",
                "after.png",
                "-o",
                "x.png",
            ],
            "before.picrypt is an encrypted image, not a difference: there is nothing to render",
        );
    }
    assert!(!env.path("x.png").exists());
    // Without --render, the image itself.
    env.ok(&["decrypt", "--key", "k.key", "before.picrypt", "-o", "x.png"]);
    assert_eq!(
        png(&env.read("x.png")).to_rgb8(),
        image::open(env.path("before.png")).unwrap().to_rgb8()
    );
}

/// The shuffle scheme's "NOT secure" warning follows a success; a command that fails for
/// an unrelated reason prints its error alone.
#[test]
fn shuffle_warning_is_not_printed_before_an_unrelated_error() {
    let env = ready();
    let out = env.run(&["keygen", "--scheme", "shuffle", "-o", "s.key"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("NOT secure"));
    env.ok(&[
        "encrypt",
        "--key",
        "s.key",
        "before.png",
        "-o",
        "s.picrypt",
        "--insecure-shuffle",
    ]);
    let failing: &[(&[&str], &str)] = &[
        (
            &[
                "run",
                "missing.png",
                "after.png",
                "--key",
                "s.key",
                "--insecure-shuffle",
                "-o",
                "d.png",
            ],
            "cannot read missing.png",
        ),
        (
            &[
                "encrypt",
                "--key",
                "s.key",
                "missing.png",
                "-o",
                "x.picrypt",
                "--insecure-shuffle",
            ],
            "cannot read missing.png",
        ),
        (
            &[
                "decrypt",
                "--key",
                "s.key",
                "missing.picrypt",
                "-o",
                "x.png",
            ],
            "cannot read missing.picrypt",
        ),
        (
            &[
                "decrypt",
                "--key",
                "s.key",
                "s.picrypt",
                "-o",
                "nodir/x.png",
            ],
            "does not exist",
        ),
        (
            &["diff", "s.picrypt", "missing.picrypt", "-o", "x.picrypt"],
            "cannot read missing.picrypt",
        ),
        (
            &["keygen", "--scheme", "shuffle", "-o", "s.key"],
            "already exists",
        ),
        (
            &["keygen", "--scheme", "shuffle", "-o", "nodir/s.key"],
            "does not exist",
        ),
    ];
    for (args, needle) in failing {
        let stderr = env.fails(args, needle);
        assert!(!stderr.contains("NOT secure"), "{args:?}: {stderr}");
    }
}

// ---------------------------------------------------------------------------------------
// 6. AWS configuration errors.

/// `picrypt diff … --url U --s3-bucket B` (or `--sigv4`) in an environment with `vars`
/// and nothing else from AWS: no config or credentials file, no instance metadata.
fn diff_with_aws_env(env: &Env, url: &str, extra: &[&str], vars: &[(&str, &str)]) -> Output {
    let home = env.path("home");
    fs::create_dir_all(&home).unwrap();
    let mut cmd = env.cmd();
    cmd.env_clear()
        .env("HOME", &home)
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .envs(vars.iter().copied())
        .args([
            "diff",
            "before.picrypt",
            "after.picrypt",
            "-o",
            "x.picrypt",
            "--url",
            url,
        ])
        .args(extra);
    let start = Instant::now();
    let out = cmd.output().unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{extra:?} {vars:?} took {:?}",
        start.elapsed()
    );
    out
}

/// Extra flags, environment variables, and what the one line of error must say.
type AwsCase<'a> = (&'a [&'a str], Vec<(&'a str, &'a str)>, &'a str);

/// Each missing or broken piece of AWS configuration is one line naming what to set —
/// no SDK warnings, retries or body dumps — and the function is never called.
#[test]
fn aws_configuration_errors_are_one_line() {
    let env = ready();
    let (listener, url) = silent_listener();
    let creds = [
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
    ];
    let region = ("AWS_REGION", "eu-west-1");
    let s3 = ["--s3-bucket", "b"];
    // (extra flags, environment, the line's needle)
    let cases: Vec<AwsCase> = vec![
        (&s3, creds.to_vec(), "no AWS region: set AWS_REGION"),
        (
            &s3,
            vec![region],
            "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
        ),
        (
            &s3,
            [
                creds.as_slice(),
                &[region, ("AWS_ENDPOINT_URL", "localhost 9000")],
            ]
            .concat(),
            "AWS_ENDPOINT_URL=\"localhost 9000\" is not an http:// or https:// URL",
        ),
        (
            &["--sigv4"],
            vec![region],
            "--sigv4 needs AWS credentials: set AWS_ACCESS_KEY_ID",
        ),
        (
            &["--sigv4"],
            creds.to_vec(),
            "--sigv4 needs a region: set AWS_REGION",
        ),
    ];
    for (extra, vars, needle) in &cases {
        let out = diff_with_aws_env(&env, &url, extra, vars);
        failed_with(&out, &(extra, vars), needle);
    }
    assert_untouched(&listener);
    // An endpoint where nothing listens: one line too, after the function was not called.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let endpoint = format!("http://{closed}");
    let vars = [
        creds.as_slice(),
        &[
            region,
            ("AWS_ENDPOINT_URL", &endpoint),
            ("PICRYPT_S3_ATTEMPTS", "1"),
        ],
    ]
    .concat();
    let out = diff_with_aws_env(&env, &url, &s3, &vars);
    failed_with(&out, &vars, "cannot upload to s3://b/picrypt/uploads/");
    assert_untouched(&listener);
    assert!(!env.path("x.picrypt").exists());
}

// ---------------------------------------------------------------------------------------
// 7. Oversized images refused before decoding.

fn crc32(bytes: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in bytes {
        c ^= b as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xedb8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    !c
}

/// A PNG whose header claims `width`×`height` RGB, with a few bytes of image data.
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let chunk = |kind: &[u8], data: &[u8]| {
        let mut c = (data.len() as u32).to_be_bytes().to_vec();
        c.extend(kind);
        c.extend(data);
        c.extend(crc32(&[kind, data].concat()).to_be_bytes());
        c
    };
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend(height.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(chunk(b"IHDR", &ihdr));
    png.extend(chunk(b"IDAT", &[0x78, 0x01, 0x01, 0x00, 0x00, 0xff, 0xff]));
    png.extend(chunk(b"IEND", b""));
    png
}

/// A PNG claiming 100000×100000 (or 20000×15000) pixels is refused from its header, at
/// once, with the limit and what to do in one line.
#[test]
fn oversized_png_is_refused_before_decoding() {
    let env = ready();
    for (w, h) in [(100_000, 100_000), (20_000, 15_000)] {
        fs::write(env.path("huge.png"), png_claiming(w, h)).unwrap();
        for args in [
            &["encrypt", "--key", "k.key", "huge.png", "-o", "x.picrypt"][..],
            &["run", "huge.png", "huge.png", "-o", "x.png"][..],
        ] {
            let start = Instant::now();
            let err = env.fails(args, &format!("a {w}×{h} image with 3 channels"));
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "{args:?} took {:?}: it decoded",
                start.elapsed()
            );
            assert!(err.contains("over PICRYPT's limit of 2^28"), "{err}");
            assert!(err.contains("crop or downscale it"), "{err}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// 8. serve --addr, --url.

/// `GET path` on `addr`: the status line and the body.
fn http_get(addr: SocketAddr, path: &str) -> (String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_string(), body.to_string())
}

/// `serve --addr localhost:0` resolves the name, binds loopback and answers /health,
/// without the warning; an --addr that is not HOST:PORT is one line.
#[test]
fn serve_accepts_a_host_name() {
    let log = tempfile::NamedTempFile::new().unwrap();
    let server = common::serve_logging_to(
        picrypt_process().args(["serve", "--addr", "localhost:0"]),
        log.reopen().unwrap(),
    );
    assert!(server.addr.ip().is_loopback(), "{}", server.addr);
    let (status, body) = http_get(server.addr, "/health");
    assert!(status.starts_with("HTTP/1.1 200"), "{status}: {body}");
    assert!(!fs::read_to_string(log.path()).unwrap().contains("warning"));
    for addr in ["localhost", "8080", ":8080", "localhost:http"] {
        failed_with(
            &picrypt().args(["serve", "--addr", addr]).output().unwrap(),
            &addr,
            "is not HOST:PORT",
        );
    }
}

/// Binding all interfaces prints a warning that the server has no authentication.
#[test]
fn serve_off_loopback_warns_about_no_authentication() {
    let log = tempfile::NamedTempFile::new().unwrap();
    let server = common::serve_logging_to(
        picrypt_process().args(["serve", "--addr", "0.0.0.0:0"]),
        log.reopen().unwrap(),
    );
    let stderr = fs::read_to_string(log.path()).unwrap();
    assert!(
        stderr.contains("picrypt: warning: serving on 0.0.0.0:")
            && stderr.contains("has no authentication"),
        "{stderr}"
    );
    let port = server.addr.port();
    let (status, _) = http_get(SocketAddr::from(([127, 0, 0, 1], port)), "/health");
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
}

/// `--url 127.0.0.1:PORT` (no scheme) reaches a loopback function; a malformed --url is
/// refused before anything is read or encrypted (here the images do not even exist).
#[test]
fn url_without_scheme_works_on_loopback_and_malformed_urls_fail_first() {
    let server = common::serve(picrypt_process().args(["serve", "--addr", "127.0.0.1:0"]));
    let env = ready();
    let bare = server.addr.to_string();
    let out = env.ok(&[
        "run",
        "before.png",
        "after.png",
        "-o",
        "d.png",
        "--url",
        &bare,
    ]);
    assert!(out.contains(&format!("on http://{bare}")), "{out}");
    env.ok(&[
        "diff",
        "before.picrypt",
        "after.picrypt",
        "-o",
        "r.picrypt",
        "--url",
        &bare,
    ]);
    for (url, needle) in [
        (
            "abc.lambda-url.eu-west-1.on.aws",
            "has no scheme: write https://abc.lambda-url.eu-west-1.on.aws",
        ),
        ("ftp://127.0.0.1:21", "--url must be http:// or https://"),
        ("http://", "is not a URL"),
        ("http://exa mple.com", "is not a URL"),
    ] {
        let args = [
            "run",
            "missing-a.png",
            "missing-b.png",
            "-o",
            "d.png",
            "--url",
            url,
        ];
        let out = env.run(&args);
        failed_with(&out, &args, needle);
        assert!(
            out.stdout.is_empty(),
            "{url}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

// ---------------------------------------------------------------------------------------
// 9. An oversized body to picrypt serve.

/// A client that writes a whole 7 MiB body (declared in Content-Length) before reading
/// gets the 413 JSON error, not a broken pipe or a reset.
#[test]
fn oversized_body_gets_413_json_after_being_written_whole() {
    let server = common::serve(picrypt_process().args(["serve", "--addr", "127.0.0.1:0"]));
    let body = vec![b'a'; 7 * 1024 * 1024];
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "POST /diff HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        server.addr,
        body.len()
    )
    .unwrap();
    s.write_all(&body)
        .expect("the server stopped reading the body");
    s.flush().unwrap();
    let mut answer = Vec::new();
    // The server may close right after its answer; what matters is the answer.
    let mut buf = [0u8; 8192];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) if !answer.is_empty() && e.kind() == ErrorKind::ConnectionReset => break,
            Err(e) => panic!("reading the answer: {e}"),
        }
        if let Some(at) = answer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&answer[..at]).to_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map(|v| v.trim().parse().unwrap())
                .unwrap_or(usize::MAX);
            if answer.len() >= at + 4 + len {
                break;
            }
        }
    }
    let answer = String::from_utf8(answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    let doc: Value = serde_json::from_str(body).unwrap();
    assert_eq!(doc["error"]["code"], "request_too_large", "{doc}");
    assert!(
        doc["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{doc}"
    );
}

// ---------------------------------------------------------------------------------------
// 10. --json and --quiet.

/// `--json` prints exactly one JSON document on stdout (serde_json refuses anything
/// after it) and nothing on stderr, for run, diff, decrypt and inspect.
#[test]
fn json_prints_exactly_one_document() {
    let env = ready();
    let json = |args: &[&str]| -> Value {
        let out = env.run(args);
        let stdout = succeeded(&out, &args);
        assert!(
            out.stderr.is_empty(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {stdout}"))
    };
    let run = json(&[
        "run",
        "before.png",
        "after.png",
        "-o",
        "r.png",
        "--npy",
        "r.npy",
        "--json",
    ]);
    assert_eq!(run["op"], "sub");
    assert_eq!(run["computed"], "before − after");
    assert_eq!(run["output"], "r.png");
    assert_eq!(run["npy"], "r.npy");
    assert_eq!(run["where"], "in process");
    assert_eq!(run["statistics"]["total_pixels"], 24 * 12);
    assert!(run["statistics"]["changed_pixels"].as_u64().unwrap() > 0);
    assert!(
        run["verified"].as_str().unwrap().contains("tag verified"),
        "{run}"
    );
    let steps: Vec<&str> = run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["read", "encrypt", "subtract", "decrypt", "render"]);

    let diff = json(&[
        "diff",
        "before.picrypt",
        "after.picrypt",
        "-o",
        "j.picrypt",
        "--json",
    ]);
    assert_eq!(diff["scheme"], "mask");
    assert_eq!(diff["bytes"], env.read("j.picrypt").len());
    assert!(
        diff["checked"].as_str().unwrap().starts_with("A − B of A"),
        "{diff}"
    );

    let decrypt = json(&[
        "decrypt",
        "--key",
        "k.key",
        "j.picrypt",
        "-o",
        "j.png",
        "--render",
        "heatmap",
        "--json",
    ]);
    assert_eq!(decrypt["kind"], "difference");
    assert_eq!(decrypt["render"], "heatmap");
    assert_eq!(decrypt["statistics"], run["statistics"]);
    let image = json(&[
        "decrypt",
        "--key",
        "k.key",
        "before.picrypt",
        "-o",
        "b.png",
        "--json",
    ]);
    assert_eq!(image["kind"], "image");
    assert_eq!(image["statistics"], Value::Null);

    let inspect = json(&["inspect", "j.picrypt", "--json"]);
    assert_eq!(inspect["width"], 24);
    assert_eq!(inspect["height"], 12);
    assert_eq!(inspect["terms"].as_array().unwrap().len(), 2);
    assert_eq!(inspect["total_bytes"], diff["bytes"]);
}

/// `--quiet` prints nothing on stderr when a command succeeds.
#[test]
fn quiet_prints_nothing_on_stderr_on_success() {
    let env = ready();
    for args in [
        &["--quiet", "keygen", "-o", "q.key"][..],
        &[
            "-q",
            "encrypt",
            "--key",
            "q.key",
            "before.png",
            "-o",
            "q.picrypt",
        ],
        &[
            "-q",
            "run",
            "before.png",
            "after.png",
            "-o",
            "q.png",
            "--npy",
            "q.npy",
        ],
        &[
            "-q",
            "diff",
            "before.picrypt",
            "after.picrypt",
            "-o",
            "q2.picrypt",
        ],
        &[
            "decrypt",
            "-q",
            "--key",
            "k.key",
            "q2.picrypt",
            "-o",
            "q2.png",
        ],
        &["-q", "inspect", "q2.picrypt"],
    ] {
        let out = env.run(args);
        succeeded(&out, &args);
        assert!(
            out.stderr.is_empty(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

// ---------------------------------------------------------------------------------------
// 11. Help, completions, man pages.

const SUBCOMMANDS: [&str; 11] = [
    "keygen",
    "encrypt",
    "decrypt",
    "diff",
    "run",
    "sequence",
    "serve",
    "inspect",
    "demo",
    "completions",
    "man",
];

/// Every subcommand's `--help` describes each of its positionals and ends with examples
/// that use the subcommand; the remote commands list the AWS environment.
#[test]
fn help_describes_every_positional_and_has_examples() {
    let positionals: [(&str, &[&str]); 11] = [
        ("keygen", &[]),
        ("encrypt", &["IMAGE"]),
        ("decrypt", &["CIPHERTEXT"]),
        ("diff", &["A", "B"]),
        ("run", &["BEFORE", "AFTER"]),
        ("sequence", &["FRAMES"]),
        ("serve", &[]),
        ("inspect", &["CIPHERTEXT"]),
        ("demo", &[]),
        ("completions", &["SHELL"]),
        ("man", &[]),
    ];
    assert_eq!(positionals.map(|(sub, _)| sub), SUBCOMMANDS);
    for (sub, expected) in positionals {
        let help = succeeded(&picrypt().args([sub, "--help"]).output().unwrap(), &sub);
        let examples = help
            .split_once("Examples:\n")
            .unwrap_or_else(|| panic!("{sub} --help has no Examples section:\n{help}"))
            .1;
        assert!(
            examples.contains(&format!("picrypt {sub}")),
            "{sub}'s examples do not use it:\n{examples}"
        );
        // The Arguments section: up to the next heading (a line not indented).
        let section: Vec<&str> = help
            .split_once("Arguments:\n")
            .map(|(_, rest)| {
                rest.lines()
                    .take_while(|l| l.is_empty() || l.starts_with(' '))
                    .filter(|l| !l.trim().is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let mut named = Vec::new();
        for (i, line) in section.iter().enumerate() {
            let Some(rest) = line.trim_start().strip_prefix('<') else {
                continue;
            };
            let (name, after) = rest.split_once('>').unwrap();
            named.push(name);
            // Described on the same line, or on the next one (clap's long help).
            let described = !after.trim().is_empty()
                || section
                    .get(i + 1)
                    .is_some_and(|next| !next.trim_start().starts_with('<'));
            assert!(described, "{sub}: <{name}> has no description:\n{help}");
        }
        assert_eq!(named, expected, "{sub}'s positionals:\n{help}");
    }
    for sub in ["run", "sequence", "diff", "serve"] {
        let help = succeeded(&picrypt().args([sub, "--help"]).output().unwrap(), &sub);
        assert!(
            help.contains("Environment") && help.contains("AWS_REGION"),
            "{sub} --help does not name AWS_REGION:\n{help}"
        );
    }
}

/// `picrypt completions bash` prints a completion script knowing every subcommand.
#[test]
fn completions_print_a_script() {
    let out = succeeded(
        &picrypt().args(["completions", "bash"]).output().unwrap(),
        &"bash",
    );
    assert!(
        out.contains("_picrypt()") && out.contains("complete -F _picrypt"),
        "{out}"
    );
    for sub in SUBCOMMANDS {
        assert!(out.contains(sub), "{sub} missing from the completions");
    }
    assert!(out.contains("--s3-bucket"));
    let zsh = succeeded(
        &picrypt().args(["completions", "zsh"]).output().unwrap(),
        &"zsh",
    );
    assert!(zsh.starts_with("#compdef picrypt"), "{zsh}");
}

/// `picrypt man` prints picrypt(1); `--out-dir` writes it and one page per subcommand.
#[test]
fn man_prints_and_writes_pages() {
    let out = succeeded(&picrypt().arg("man").output().unwrap(), &"man");
    assert!(out.contains(".TH picrypt 1"), "{out}");
    let listed = out.split_once(".SH SUBCOMMANDS").unwrap().1;
    for sub in SUBCOMMANDS {
        assert!(
            listed.contains(&format!("picrypt\\-{sub}(1)")),
            "{sub} not listed:\n{out}"
        );
    }
    let env = Env::new();
    fs::create_dir(env.path("man1")).unwrap();
    env.ok(&["man", "--out-dir", "man1"]);
    for sub in SUBCOMMANDS {
        let page = fs::read_to_string(env.path(&format!("man1/picrypt-{sub}.1")))
            .unwrap_or_else(|e| panic!("picrypt-{sub}.1: {e}"));
        assert!(page.contains(&format!(".TH picrypt-{sub} 1")), "{sub}");
    }
    assert!(env.path("man1/picrypt.1").exists());
    env.fails(&["man", "--out-dir", "nodir"], "nodir is not a directory");
}
