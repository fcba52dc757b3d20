//! The real `picrypt` binary against a real function over loopback HTTP — `picrypt serve`
//! started here, and the function under `cargo lambda watch` when tests/run.sh started it
//! (`PICRYPT_E2E_LAMBDA_URL`, required when `CI` is set) — with a real S3-protocol server
//! (moto) for the S3 paths.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{ok, run};
use std::time::Duration;

use assert_cmd::cargo::CommandCargoExt;
use image::RgbImage;
use picrypt_testkit::{S3Server, AWS_TEST_ENV};
use tempfile::TempDir;

/// A function to test against.
struct Target {
    name: &'static str,
    url: String,
    bucket: String,
    _serve: Option<common::Serve>,
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().unwrap()
}

fn picrypt(s3: &S3Server) -> Command {
    let mut c = Command::cargo_bin("picrypt").unwrap();
    c.envs(AWS_TEST_ENV).env("AWS_ENDPOINT_URL", &s3.endpoint);
    c
}

/// `picrypt serve` on a free port, with its own bucket.
fn serve_target(s3: &S3Server) -> Target {
    let bucket = rt().block_on(s3.bucket("picrypt-serve"));
    let serve = common::serve(picrypt(s3).args([
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--bucket",
        &bucket,
        "--prefix",
        "picrypt/",
    ]));
    Target {
        name: "picrypt serve",
        url: serve.url.clone(),
        bucket,
        _serve: Some(serve),
    }
}

/// The function under `cargo lambda watch`, when tests/run.sh started it.
fn lambda_target(s3: &S3Server) -> Option<Target> {
    let Ok(url) = std::env::var("PICRYPT_E2E_LAMBDA_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run these tests against cargo lambda watch: run them through tests/run.sh"
        );
        eprintln!("note: PICRYPT_E2E_LAMBDA_URL is not set, so only `picrypt serve` is tested (tests/run.sh sets it)");
        return None;
    };
    let bucket = std::env::var("PICRYPT_E2E_LAMBDA_BUCKET").expect("PICRYPT_E2E_LAMBDA_BUCKET");
    rt().block_on(async {
        let _ = s3.client().create_bucket().bucket(&bucket).send().await;
    });
    Some(Target {
        name: "cargo lambda watch",
        url,
        bucket,
        _serve: None,
    })
}

fn targets(s3: &S3Server) -> Vec<Target> {
    let mut t = vec![serve_target(s3)];
    t.extend(lambda_target(s3));
    t
}

fn scene(w: u32, h: u32, x0: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        if (x0..x0 + w / 5).contains(&x) && (h / 3..h / 2).contains(&y) {
            image::Rgb([230, 20, 30])
        } else {
            image::Rgb([(x % 251) as u8, (y % 241) as u8, ((x * y) % 239) as u8])
        }
    })
}

struct Files {
    dir: TempDir,
}

impl Files {
    fn new(w: u32, h: u32) -> Files {
        let dir = TempDir::new().unwrap();
        scene(w, h, w / 10)
            .save(dir.path().join("before.png"))
            .unwrap();
        scene(w, h, w / 2)
            .save(dir.path().join("after.png"))
            .unwrap();
        Files { dir }
    }
    fn p(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn s(&self, name: &str) -> String {
        self.p(name).to_str().unwrap().to_string()
    }
}

/// Runs a `picrypt … --url t.url` command that must succeed.
///
/// cargo-lambda 1.9.2's emulator acknowledges the function's response before reading its
/// body (`respond_to_next_invocation` in its functions_router.rs), so now and then it
/// loses an answer of tens of KB or more: the caller gets the emulator's own bare 500 or no
/// answer at all (rates in docs/PERFORMANCE.md, "Load"). Through that target alone, such a
/// loss is retried once, with a note; the function's own answers, its JSON errors
/// included, are never retried, and `picrypt serve` gets no retry at all.
fn ok_via(t: &Target, s3: &S3Server, args: &[&str]) -> String {
    let emulated = t.name == "cargo lambda watch";
    let mut args = args.to_vec();
    if emulated {
        args.extend(["--timeout", "30"]);
    }
    for attempt in 1..=2 {
        let out = run(picrypt(s3).args(&args));
        if out.status.success() {
            return String::from_utf8(out.stdout).unwrap();
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        let lost_by_emulator = stderr
            .contains("answered HTTP 500: {\"type\":\"https://httpstatuses.com/500\"")
            || stderr.contains("timed out after");
        if emulated && attempt == 1 && lost_by_emulator {
            eprintln!(
                "note: {} lost an answer ({}); retrying once",
                t.name,
                stderr.trim()
            );
            continue;
        }
        panic!("{}: {args:?} failed: {stderr}", t.name);
    }
    unreachable!()
}

fn fails(cmd: &mut Command, needle: &str) -> String {
    let out = run(cmd);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{cmd:?} should fail: {stderr}");
    assert_eq!(
        stderr.lines().count(),
        1,
        "{cmd:?}: more than one line: {stderr}"
    );
    assert!(
        stderr.starts_with("picrypt: error: ") && !stderr.contains("panicked"),
        "{stderr}"
    );
    assert!(
        stderr.contains(needle),
        "{cmd:?}: expected {needle:?} in {stderr}"
    );
    stderr
}

/// The int16 values of a difference .npy.
fn npy_values(path: &Path) -> Vec<i16> {
    let bytes = std::fs::read(path).unwrap();
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    bytes[10 + header_len..]
        .chunks(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect()
}

fn expected_diff(f: &Files) -> Vec<i16> {
    let a = image::open(f.p("before.png")).unwrap().to_rgb8();
    let b = image::open(f.p("after.png")).unwrap().to_rgb8();
    a.iter()
        .zip(b.iter())
        .map(|(&x, &y)| x as i16 - y as i16)
        .collect()
}

#[test]
fn run_and_diff_inline() {
    let s3 = S3Server::start();
    let f = Files::new(64, 48);
    for t in targets(&s3) {
        // Framed, sent while it is made (cli/src/remote/pipeline.rs), and the buffered
        // JSON path: the same difference.
        for (stem, wire) in [("d", None), ("j", Some("json"))] {
            let (png, npy) = (f.s(&format!("{stem}.png")), f.s(&format!("{stem}.npy")));
            let (before, after) = (f.s("before.png"), f.s("after.png"));
            let mut args = vec![
                "run", &before, &after, "-o", &png, "--npy", &npy, "--url", &t.url,
            ];
            args.extend(wire.iter().flat_map(|w| ["--wire", w]));
            let out = ok_via(&t, &s3, &args);
            if wire.is_none() {
                assert!(
                    out.contains(&format!("on {}", t.url)) && out.contains("tag verified"),
                    "{}: {out}",
                    t.name
                );
                assert!(
                    out.contains("A sent while B was encrypted"),
                    "{}: {out}",
                    t.name
                );
            } else {
                assert!(
                    out.contains("sent as JSON") && !out.contains("A sent while B"),
                    "{}: {out}",
                    t.name
                );
            }
            assert_eq!(
                npy_values(&f.p(&format!("{stem}.npy"))),
                expected_diff(&f),
                "{}",
                t.name
            );
        }

        ok(picrypt(&s3).args(["keygen", "-o", &f.s("k.key"), "--force"]));
        for name in ["before", "after"] {
            ok(picrypt(&s3).args([
                "encrypt",
                "--key",
                &f.s("k.key"),
                &f.s(&format!("{name}.png")),
                "-o",
                &f.s(&format!("{name}.picrypt")),
            ]));
        }
        ok_via(
            &t,
            &s3,
            &[
                "diff",
                &f.s("before.picrypt"),
                &f.s("after.picrypt"),
                "-o",
                &f.s("d.picrypt"),
                "--url",
                &t.url,
            ],
        );
        ok(picrypt(&s3).args([
            "decrypt",
            "--key",
            &f.s("k.key"),
            &f.s("d.picrypt"),
            "-o",
            &f.s("d2.npy"),
        ]));
        assert_eq!(npy_values(&f.p("d2.npy")), expected_diff(&f), "{}", t.name);
    }
}

/// The original project's demo pair is 1005×642 RGB: it must travel inline in one request.
#[test]
fn demo_size_pair_inline() {
    let s3 = S3Server::start();
    let f = Files::new(1005, 642);
    for t in targets(&s3) {
        let out = ok_via(
            &t,
            &s3,
            &[
                "run",
                &f.s("before.png"),
                &f.s("after.png"),
                "-o",
                &f.s("d.png"),
                "--npy",
                &f.s("d.npy"),
                "--url",
                &t.url,
            ],
        );
        assert!(!out.contains("s3://"), "{}: went through S3: {out}", t.name);
        assert_eq!(npy_values(&f.p("d.npy")), expected_diff(&f), "{}", t.name);
    }
}

#[test]
fn run_through_s3() {
    let s3 = S3Server::start();
    let f = Files::new(300, 200);
    for t in targets(&s3) {
        let out = ok_via(
            &t,
            &s3,
            &[
                "run",
                &f.s("before.png"),
                &f.s("after.png"),
                "-o",
                &f.s("d.png"),
                "--npy",
                &f.s("d.npy"),
                "--url",
                &t.url,
                "--s3-bucket",
                &t.bucket,
                "--s3-prefix",
                "picrypt/",
            ],
        );
        assert!(
            out.contains(&format!("s3://{}/picrypt/uploads/", t.bucket)),
            "{}: {out}",
            t.name
        );
        assert!(out.contains("download"), "{}: {out}", t.name);
        assert_eq!(npy_values(&f.p("d.npy")), expected_diff(&f), "{}", t.name);
    }
}

#[test]
fn server_errors_are_one_line_with_the_code() {
    let s3 = S3Server::start();
    let f = Files::new(16, 16);
    for t in targets(&s3) {
        for k in ["k1", "k2"] {
            ok(picrypt(&s3).args(["keygen", "-o", &f.s(k), "--force"]));
        }
        ok(picrypt(&s3).args([
            "encrypt",
            "--key",
            &f.s("k1"),
            &f.s("before.png"),
            "-o",
            &f.s("a.picrypt"),
        ]));
        ok(picrypt(&s3).args([
            "encrypt",
            "--key",
            &f.s("k2"),
            &f.s("after.png"),
            "-o",
            &f.s("b.picrypt"),
        ]));
        fails(
            picrypt(&s3).args([
                "diff",
                &f.s("a.picrypt"),
                &f.s("b.picrypt"),
                "-o",
                &f.s("x.picrypt"),
                "--url",
                &t.url,
            ]),
            "422 key_mismatch",
        );
        fails(
            picrypt(&s3).args([
                "run",
                &f.s("before.png"),
                &f.s("after.png"),
                "-o",
                &f.s("x.png"),
                "--url",
                &t.url,
                "--s3-bucket",
                "someone-elses-bucket",
            ]),
            "someone-elses-bucket",
        );
        fails(
            picrypt(&s3).args([
                "run",
                &f.s("before.png"),
                &f.s("after.png"),
                "-o",
                &f.s("x.png"),
                "--url",
                &t.url,
                "--s3-bucket",
                &t.bucket,
                "--s3-prefix",
                "outside/",
            ]),
            "403 key_forbidden",
        );
        assert!(
            !f.p("x.picrypt").exists() && !f.p("x.png").exists(),
            "{}",
            t.name
        );
    }
}

#[test]
fn connection_failures_are_one_line() {
    let s3 = S3Server::start();
    let f = Files::new(8, 8);
    let args = |url: &str| -> Vec<String> {
        [
            "run",
            &f.s("before.png"),
            &f.s("after.png"),
            "-o",
            &f.s("x.png"),
            "--url",
            url,
            "--timeout",
            "1",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    // Nothing listening.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    fails(
        picrypt(&s3).args(args(&format!("http://{closed}"))),
        "cannot connect",
    );
    // A server that accepts and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_addr = silent.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in silent.incoming().take(1) {
            held.push(s);
            std::thread::sleep(Duration::from_secs(5));
        }
    });
    fails(
        picrypt(&s3).args(args(&format!("http://{silent_addr}"))),
        "timed out",
    );
    // Something that is not a PICRYPT function.
    let html = answering_once(|s| {
        let _ = s.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-type: text/html\r\ncontent-length: 22\r\nconnection: close\r\n\r\n<html>not here</html>\n");
    });
    fails(
        picrypt(&s3).args(args(&format!("http://{html}"))),
        "answered HTTP 404",
    );
    // Answers larger than any function sends. Declared: refused before reading, since
    // no byte of the body ever comes (reading would end in the time-out instead).
    let declared = answering_once(|s| {
        let head = format!("HTTP/1.1 200 OK\r\ncontent-type: application/vnd.picrypt.framed\r\ncontent-length: {}\r\n\r\n", 1u64 << 40);
        let _ = s.write_all(head.as_bytes());
        std::thread::sleep(Duration::from_secs(3));
    });
    // Undeclared: refused once the bytes read pass the limit, not read to the end.
    let undeclared = answering_once(|s| {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/vnd.picrypt.framed\r\nconnection: close\r\n\r\n");
        let chunk = vec![0u8; 1 << 20];
        for _ in 0..64 {
            if s.write_all(&chunk).is_err() {
                break;
            }
        }
    });
    for huge in [declared, undeclared] {
        fails(
            picrypt(&s3).args(args(&format!("http://{huge}"))),
            "sent an answer of more than 6291456 bytes",
        );
    }
    assert!(!f.p("x.png").exists());
}

/// `run --url` on an http:// function reads the answer on a connection of its own
/// (cli/src/remote/pipeline.rs): an answer that lies about its length or breaks off is
/// refused in one line, and nothing is written.
#[test]
fn framed_answers_that_lie_about_their_length_or_break_off_are_refused() {
    let s3 = S3Server::start();
    let f = Files::new(8, 8);
    let run_on = |addr: SocketAddr| {
        let mut cmd = picrypt(&s3);
        cmd.args([
            "run",
            &f.s("before.png"),
            &f.s("after.png"),
            "-o",
            &f.s("x.png"),
            "--url",
            &format!("http://{addr}"),
            "--timeout",
            "5",
        ]);
        cmd
    };
    let answer = |body: Vec<u8>, declared: usize, sent: usize| {
        answering_once(move |s| {
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/vnd.picrypt.framed\r\ncontent-length: {declared}\r\nconnection: close\r\n\r\n"
            );
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(&body[..sent.min(body.len())]);
        })
    };
    let document = picrypt_api::DiffResponse {
        result: picrypt_api::ResultLocation::Part(0),
        scheme: "mask".into(),
        op: "sub".into(),
        width: 8,
        height: 8,
        channels: 3,
        bytes: 4096,
        server_ms: 1.0,
        timing: Default::default(),
        request_id: "r".into(),
        warning: None,
    };
    let body = document.to_framed(&[7u8; 4096]);
    let n = body.len();
    // A result that is not the one asked for, whole and of its declared length.
    fails(
        &mut run_on(answer(body.clone(), n, n)),
        "verification failed",
    );
    // A body longer than its one part says: bytes after the result.
    let mut longer = body.clone();
    longer.extend_from_slice(b"extra");
    fails(&mut run_on(answer(longer, n + 5, n + 5)), "unexpected body");
    // A body that breaks off in the middle of the result.
    fails(&mut run_on(answer(body.clone(), n, n / 2)), "failed");
    // A body that breaks off inside its document.
    fails(&mut run_on(answer(body, n, 20)), "failed");
    assert!(!f.p("x.png").exists());
    assert_eq!(
        std::fs::read_dir(f.dir.path()).unwrap().count(),
        2,
        "only the two inputs are there"
    );
}

/// A server on loopback that takes one request, reads it, and then lets `answer` write.
fn answering_once(answer: impl FnOnce(&mut TcpStream) + Send + 'static) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        if let Some(Ok(mut s)) = listener.incoming().next() {
            let mut buf = [0u8; 65536];
            let _ = s.set_read_timeout(Some(Duration::from_millis(300)));
            while s.read(&mut buf).map(|n| n > 0).unwrap_or(false) {}
            answer(&mut s);
        }
    });
    addr
}

#[test]
fn too_large_for_inline_says_use_s3() {
    let s3 = S3Server::start();
    let f = Files::new(1500, 1500);
    let t = serve_target(&s3);
    fails(
        picrypt(&s3).args([
            "run",
            &f.s("before.png"),
            &f.s("after.png"),
            "-o",
            &f.s("x.png"),
            "--url",
            &t.url,
        ]),
        "pass --s3-bucket",
    );
}

/// The public-key scheme end to end through the function: a device with only KEY.pub
/// encrypts, the function subtracts (inline and through S3), the key holder decrypts.
#[test]
fn bfv_through_the_function() {
    let s3 = S3Server::start();
    let f = Files::new(40, 24);
    ok(picrypt(&s3).args(["keygen", "--scheme", "bfv", "-o", &f.s("k.key")]));
    for name in ["before", "after"] {
        ok(picrypt(&s3).args([
            "encrypt",
            "--key",
            &f.s("k.key.pub"),
            &f.s(&format!("{name}.png")),
            "-o",
            &f.s(&format!("{name}.picrypt")),
        ]));
    }
    fails(
        picrypt(&s3).args([
            "decrypt",
            "--key",
            &f.s("k.key.pub"),
            &f.s("before.picrypt"),
            "-o",
            &f.s("x.png"),
        ]),
        "this is a public key",
    );
    let inspect = ok(picrypt(&s3).args(["inspect", &f.s("before.picrypt")]));
    assert!(inspect.contains("no MAC"), "{inspect}");
    for t in targets(&s3) {
        ok_via(
            &t,
            &s3,
            &[
                "diff",
                &f.s("before.picrypt"),
                &f.s("after.picrypt"),
                "-o",
                &f.s("d.picrypt"),
                "--url",
                &t.url,
            ],
        );
        ok(picrypt(&s3).args([
            "decrypt",
            "--key",
            &f.s("k.key"),
            &f.s("d.picrypt"),
            "--expect",
            &f.s("before.picrypt"),
            &f.s("after.picrypt"),
            "-o",
            &f.s("d.npy"),
        ]));
        assert_eq!(npy_values(&f.p("d.npy")), expected_diff(&f), "{}", t.name);
        let out = ok_via(
            &t,
            &s3,
            &[
                "run",
                "--key",
                &f.s("k.key"),
                &f.s("before.png"),
                &f.s("after.png"),
                "-o",
                &f.s("r.png"),
                "--npy",
                &f.s("r.npy"),
                "--url",
                &t.url,
                "--s3-bucket",
                &t.bucket,
            ],
        );
        assert!(
            out.contains("recomputed from the inputs and identical"),
            "{out}"
        );
        assert_eq!(npy_values(&f.p("r.npy")), expected_diff(&f), "{}", t.name);
        // Mixing schemes is refused by the function.
        ok(picrypt(&s3).args(["keygen", "-o", &f.s("m.key"), "--force"]));
        ok(picrypt(&s3).args([
            "encrypt",
            "--key",
            &f.s("m.key"),
            &f.s("after.png"),
            "-o",
            &f.s("m.picrypt"),
        ]));
        fails(
            picrypt(&s3).args([
                "diff",
                &f.s("before.picrypt"),
                &f.s("m.picrypt"),
                "-o",
                &f.s("x.picrypt"),
                "--url",
                &t.url,
            ]),
            "422 scheme_mismatch",
        );
    }
}
