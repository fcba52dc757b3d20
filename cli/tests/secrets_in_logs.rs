//! No key bytes reach logs, errors or panics: the whole flow for every scheme — keygen,
//! encrypt, diff inline and through S3 against `picrypt serve`, decrypt, run, inspect, and
//! the error paths (wrong key, tampered ciphertext) — with tracing at its most verbose
//! level in both the CLI and the server. All their output is then searched for each secret
//! key in every form a log line could carry it: raw, hex (both cases), base64 (standard and
//! URL-safe, every alignment), Rust's `Debug` of a byte slice, and for the 32-bit legacy
//! key its decimal and hex values.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine;
use picrypt_testkit::{S3Server, AWS_TEST_ENV};
use tempfile::TempDir;

mod common;

struct Flow {
    dir: TempDir,
    s3: S3Server,
    /// Everything every command printed, stdout and stderr.
    output: Vec<u8>,
    /// The last line mentioning an error the last command printed, for failure messages.
    last_error: String,
}

impl Flow {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn command(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_picrypt"));
        c.current_dir(self.dir.path())
            .envs(AWS_TEST_ENV)
            .env("AWS_ENDPOINT_URL", &self.s3.endpoint)
            .env("PICRYPT_LOG", "trace")
            .env("RUST_LOG", "trace")
            .env("RUST_BACKTRACE", "1");
        c
    }

    /// Runs `picrypt -vvv ARGS`, records its output and returns whether it succeeded.
    fn run(&mut self, args: &[&str]) -> bool {
        let out = self.command().arg("-vvv").args(args).output().unwrap();
        self.output.extend_from_slice(&out.stdout);
        self.output.extend_from_slice(&out.stderr);
        self.last_error = String::from_utf8_lossy(&out.stderr)
            .lines()
            .rfind(|l| l.contains("error"))
            .unwrap_or_default()
            .to_string();
        out.status.success()
    }

    fn ok(&mut self, args: &[&str]) {
        assert!(self.run(args), "{args:?} failed: {}", self.last_error);
    }

    fn fails(&mut self, args: &[&str]) {
        assert!(!self.run(args), "{args:?} should have failed");
    }
}

/// `picrypt -vvv serve` with a bucket; its stderr goes to `log`.
fn serve(flow: &Flow, bucket: &str, log: &Path) -> common::Serve {
    common::serve_logging_to(
        flow.command()
            .args(["-vvv", "serve", "--addr", "127.0.0.1:0"])
            .args(["--bucket", bucket, "--prefix", "picrypt/"]),
        fs::File::create(log).unwrap(),
    )
}

/// The forms a secret could take in text: each needle is searched for verbatim.
fn needles_for_bytes(secret: &[u8]) -> Vec<Vec<u8>> {
    assert!(secret.len() >= 16, "too short to search for raw");
    let mut out = Vec::new();
    let mut starts = vec![0, secret.len() / 2, secret.len() - 16];
    starts.dedup();
    for start in starts {
        let window = &secret[start..start + 16];
        out.push(window.to_vec());
        out.push(hex::encode(window).into_bytes());
        out.push(hex::encode_upper(window).into_bytes());
        for skip in 0..3 {
            let aligned = &window[skip..skip + 12];
            out.push(STANDARD_NO_PAD.encode(aligned).into_bytes());
            out.push(URL_SAFE_NO_PAD.encode(aligned).into_bytes());
        }
        let debug: Vec<String> = window[..8].iter().map(|b| b.to_string()).collect();
        out.push(debug.join(", ").into_bytes());
    }
    out
}

fn needles_for_u32(key: u32) -> Vec<Vec<u8>> {
    let le = key.to_le_bytes();
    vec![
        format!("{key:08x}").into_bytes(),
        format!("{key:08X}").into_bytes(),
        hex::encode(le).into_bytes(),
        hex::encode_upper(le).into_bytes(),
        STANDARD_NO_PAD.encode(le).into_bytes(),
    ]
}

/// Whether `hay` contains the decimal `n` not inside a longer number.
fn contains_decimal(hay: &[u8], n: u32) -> bool {
    let text = String::from_utf8_lossy(hay);
    let needle = n.to_string();
    text.match_indices(&needle).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + needle.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_digit()) && !after.is_some_and(|c| c.is_ascii_digit())
    })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The secret material of a key file: its body after the 32-byte envelope header
/// (docs/FORMAT.md), for bfv only the secret key inside the body.
fn secret_of(key_file: &[u8]) -> Vec<u8> {
    assert_eq!(&key_file[..8], b"PICRYPTK");
    let body = &key_file[32..];
    match key_file[9] {
        2 => {
            let len = u32::from_le_bytes(body[..4].try_into().unwrap()) as usize;
            body[4..4 + len].to_vec()
        }
        _ => body.to_vec(),
    }
}

fn images(dir: &Path) {
    image::RgbImage::from_fn(64, 48, |x, y| {
        image::Rgb([(x * 3) as u8, (y * 5) as u8, 200])
    })
    .save(dir.join("a.png"))
    .unwrap();
    image::RgbImage::from_fn(64, 48, |x, y| {
        image::Rgb([
            (x * 3 + 7) as u8,
            (y * 5) as u8,
            if x > 30 { 10 } else { 200 },
        ])
    })
    .save(dir.join("b.png"))
    .unwrap();
}

#[test]
fn no_key_bytes_in_the_most_verbose_logs() {
    let s3 = S3Server::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let bucket = rt.block_on(s3.bucket("picrypt-logs"));
    let mut flow = Flow {
        dir: TempDir::new().unwrap(),
        s3,
        output: Vec::new(),
        last_error: String::new(),
    };
    images(flow.dir.path());
    let serve_log = flow.path("serve.log");
    let server = serve(&flow, &bucket, &serve_log);
    let url = server.url.clone();

    let mut keys = Vec::new();
    for scheme in ["mask", "bfv", "shuffle"] {
        let key = format!("{scheme}.key");
        let other = format!("{scheme}-other.key");
        flow.ok(&["keygen", "--scheme", scheme, "-o", &key]);
        flow.ok(&["keygen", "--scheme", scheme, "-o", &other]);
        keys.push((scheme, fs::read(flow.path(&key)).unwrap()));
        keys.push((scheme, fs::read(flow.path(&other)).unwrap()));
        let enc_key = if scheme == "bfv" {
            format!("{key}.pub")
        } else {
            key.clone()
        };
        let a = format!("{scheme}-a.picrypt");
        let b = format!("{scheme}-b.picrypt");
        let d = format!("{scheme}-d.picrypt");
        let d3 = format!("{scheme}-d3.picrypt");
        // Legacy keys encrypt only when asked to explicitly.
        let legacy: &[&str] = if scheme == "shuffle" {
            &["--insecure-shuffle"]
        } else {
            &[]
        };
        let with = |args: &[&str], extra: &[&str]| -> Vec<String> {
            args.iter().chain(extra).map(|s| s.to_string()).collect()
        };
        let expect = ["--expect", a.as_str(), b.as_str()];
        for args in [
            with(&["encrypt", "--key", &enc_key, "a.png", "-o", &a], legacy),
            with(&["encrypt", "--key", &enc_key, "b.png", "-o", &b], legacy),
            with(&["diff", &a, &b, "-o", &d, "--url", &url], &[]),
            with(
                &[
                    "diff",
                    &a,
                    &b,
                    "-o",
                    &d3,
                    "--url",
                    &url,
                    "--s3-bucket",
                    &bucket,
                ],
                &["--s3-prefix", "picrypt/"],
            ),
            with(&["inspect", &d], &[]),
            with(
                &[
                    "decrypt",
                    "--key",
                    &key,
                    &d,
                    "-o",
                    &format!("{scheme}-d.png"),
                ],
                &expect,
            ),
            with(
                &[
                    "decrypt",
                    "--key",
                    &key,
                    &d,
                    "-o",
                    &format!("{scheme}-d.npy"),
                ],
                &expect,
            ),
            with(
                &[
                    "decrypt",
                    "--key",
                    &key,
                    &d3,
                    "-o",
                    &format!("{scheme}-d3.png"),
                ],
                &expect,
            ),
            with(
                &[
                    "run",
                    "a.png",
                    "b.png",
                    "--key",
                    &key,
                    "-o",
                    &format!("{scheme}-r.png"),
                ],
                &[&["--url", url.as_str()][..], legacy].concat(),
            ),
        ] {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            flow.ok(&args);
        }
        // Error paths: the other key, and a ciphertext with one payload bit flipped.
        flow.fails(&["decrypt", "--key", &other, &d, "-o", "wrong.png"]);
        let mut tampered = fs::read(flow.path(&d)).unwrap();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        let t = format!("{scheme}-tampered.picrypt");
        fs::write(flow.path(&t), tampered).unwrap();
        let _ = flow.run(&[
            "decrypt",
            "--key",
            &key,
            &t,
            "-o",
            "tampered.png",
            "--expect",
            &a,
            &b,
        ]);
    }
    // Keys of one scheme used with another.
    flow.fails(&[
        "encrypt",
        "--key",
        "shuffle.key",
        "mask-a.picrypt",
        "-o",
        "x.picrypt",
    ]);
    flow.fails(&[
        "decrypt",
        "--key",
        "mask.key",
        "bfv-d.picrypt",
        "-o",
        "x.png",
    ]);

    drop(server);
    let server_output = fs::read(&serve_log).unwrap();

    // The search means something only if the logs are the verbose ones.
    let cli_text = String::from_utf8_lossy(&flow.output);
    let server_text = String::from_utf8_lossy(&server_output);
    assert!(
        cli_text.contains("TRACE"),
        "CLI logs are not at trace level"
    );
    assert!(
        server_text.contains("TRACE"),
        "server logs are not at trace level"
    );
    assert!(server_text.contains("handled"), "server logged no requests");
    println!(
        "searched {} bytes of CLI output and {} bytes of server log",
        flow.output.len(),
        server_output.len()
    );

    let mut all = flow.output.clone();
    all.extend_from_slice(&server_output);
    for (scheme, file) in &keys {
        let secret = secret_of(file);
        let mut needles = vec![
            STANDARD_NO_PAD.encode(file).into_bytes(),
            hex::encode(file).into_bytes(),
        ];
        if *scheme == "shuffle" {
            let key = u32::from_le_bytes(secret[..4].try_into().unwrap());
            needles.extend(needles_for_u32(key));
            assert!(
                !contains_decimal(&all, key),
                "the {scheme} key {key} appears in the output"
            );
        } else {
            needles.extend(needles_for_bytes(&secret));
        }
        for needle in needles {
            if let Some(at) = find(&all, &needle) {
                let from = at.saturating_sub(200);
                panic!(
                    "a {scheme} key appears in the output as {:?}: …{}…",
                    String::from_utf8_lossy(&needle),
                    String::from_utf8_lossy(&all[from..(at + needle.len() + 200).min(all.len())])
                );
            }
        }
    }
}
