//! The real `picrypt` binary against a malicious function ([`picrypt_testkit::CheatServer`]:
//! the real handler behind a loopback server that cheats) — every cheat, on every path
//! that reaches the client:
//!
//! * `run --url` (encrypt, subtract remotely, check, decrypt in one command);
//! * `diff --url` then `decrypt` (the pair must refuse; each case says which step does);
//! * the same two through `--function-name` (the Lambda Invoke API, which the cheat server
//!   answers too): every mask cheat inline and every S3 cheat, so the direct-invocation
//!   path is checked as strictly;
//! * `decrypt --expect A B` of exactly what the cheat served;
//! * for bfv, `decrypt` without `--expect`, which refuses every bfv result, honest or not.
//!
//! A refusal is: a non-zero exit, stderr exactly one line `picrypt: error: …` naming the
//! reason (verification failed; for bfv without `--expect`, a ciphertext not tied to
//! checked inputs; for S3 location cheats, a location other than the one asked for), no
//! panic or backtrace, and no file written — neither the output nor anything else in the
//! test's directory. The honest function must work through the same wrapper, giving
//! exactly before − after.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use assert_cmd::Command;
use image::{Rgb, RgbImage};
use picrypt_function::{App, Config};
use picrypt_testkit::{Cheat, CheatServer, S3Server, AWS_TEST_ENV};
use tempfile::TempDir;

const WIDTH: u32 = 24;
const HEIGHT: u32 = 16;
const SAMPLES: usize = (WIDTH * HEIGHT * 3) as usize;

/// What a refusal's message must say.
const VERIFICATION: &str = "verification failed";
/// bfv without `--expect`: the ciphertext cannot be tied to checked inputs.
const UNTIED: &str = "tied to";
/// An S3 location other than the one asked for.
const LOCATION: &str = "asked to";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scheme {
    Mask,
    Bfv,
}

/// How the client talks to the function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Transport {
    /// Ciphertexts and result inline in the JSON.
    Inline,
    /// `--s3-bucket`: inputs uploaded, the result asked for at an S3 key.
    S3,
}

/// Which way the client reaches the function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Via {
    /// `--url`: `POST URL/diff`.
    Url,
    /// `--function-name`: the Lambda Invoke API (`AWS_ENDPOINT_URL_LAMBDA` = the server).
    Invoke,
}

/// The function name the client invokes (the cheat server answers any).
const FUNCTION_NAME: &str = "picrypt-cheat";

/// The step of `diff` + `decrypt` that refuses a cheat.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// `diff` checks the result against its inputs (header; for bfv the whole bytes) and
    /// the S3 location, and writes nothing.
    Diff,
    /// `diff` cannot tell (a mask payload is only checked with the key): `decrypt`'s tag
    /// check refuses.
    Decrypt,
}

/// What the client must do with a cheat.
struct Spec {
    /// `None`: the answer is honest and every path succeeds.
    refused_by: Option<Step>,
    /// What the refusals of `run` and `diff`/`decrypt` say.
    needle: &'static str,
    /// The bytes served are the honest result (only their location is wrong), so
    /// `decrypt --expect A B` of them succeeds.
    served_honest: bool,
    /// Whether what was served parses as a container at all (so a refusal is not just
    /// a parse error where the forgery is meant to be well formed).
    well_formed: bool,
}

fn spec(scheme: Scheme, cheat: Cheat, transport: Transport) -> Spec {
    let refused = |step, needle| Spec {
        refused_by: Some(step),
        needle,
        served_honest: false,
        well_formed: true,
    };
    match (scheme, cheat) {
        (_, Cheat::Honest) => Spec {
            refused_by: None,
            needle: "",
            served_honest: true,
            well_formed: true,
        },
        // `diff`/`run` refuse to read a location other than the one asked for (inline
        // asked: any S3 location). The object there is the honest result.
        (_, Cheat::S3OtherKey | Cheat::S3OtherBucket) => Spec {
            served_honest: true,
            ..refused(Step::Diff, LOCATION)
        },
        // Over S3 the replayed body names the previous request's location.
        (_, Cheat::Replay) if transport == Transport::S3 => refused(Step::Diff, LOCATION),
        // A flipped payload bit keeps the header A − B of these inputs: only the tag, on
        // decryption, shows it.
        (Scheme::Mask, Cheat::TamperPayload | Cheat::S3ReplacedAfter) => {
            refused(Step::Decrypt, VERIFICATION)
        }
        // Repeated nonces are malformed: the zero forgeries do not even parse.
        (Scheme::Mask, Cheat::SelfDiff | Cheat::CancellingForgery) => Spec {
            well_formed: false,
            ..refused(Step::Diff, VERIFICATION)
        },
        // bfv has no tag: a tag bit makes the header malformed.
        (Scheme::Bfv, Cheat::TamperTag) => Spec {
            well_formed: false,
            ..refused(Step::Diff, VERIFICATION)
        },
        // Everything else changes the header (terms, tag, range) or, for bfv, the bytes
        // recomputed from the inputs: `diff` refuses. mask: SwapInputs (terms +N_B, −N_A),
        // OtherPair and Replay inline (another pair's nonces), ReturnA (one term), Negation
        // (−N_A, +N_B), PlusAB (+N_A, +N_B, range [0, 510]), TamperTag, TamperTerms. bfv:
        // SwapInputs, OtherPair, Replay, ReturnA (header or bytes), BfvKeyLeak and
        // TamperPayload (bytes differ from the recomputed ones), BfvFreshLeak (a fresh
        // header), S3ReplacedAfter (the object read differs from the recomputed bytes).
        _ => refused(Step::Diff, VERIFICATION),
    }
}

fn picrypt() -> Command {
    Command::cargo_bin("picrypt").unwrap()
}

/// The key files, made once per scheme for the whole test binary (in cargo's test tmp).
fn key(scheme: Scheme) -> PathBuf {
    static DIR: OnceLock<TempDir> = OnceLock::new();
    static MASK: OnceLock<PathBuf> = OnceLock::new();
    static BFV: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        tempfile::Builder::new()
            .prefix("picrypt-cheats-keys-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .unwrap()
    });
    let (cell, name, arg) = match scheme {
        Scheme::Mask => (&MASK, "mask.key", "mask"),
        Scheme::Bfv => (&BFV, "bfv.key", "bfv"),
    };
    cell.get_or_init(|| {
        let path = dir.path().join(name);
        let out = picrypt()
            .args(["keygen", "--scheme", arg, "-o"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(out.status.success(), "keygen: {out:?}");
        path
    })
    .clone()
}

/// One S3-protocol server shared by the tests running at the same time, stopped when the
/// last of them drops it.
fn s3_server() -> Arc<S3Server> {
    static SHARED: Mutex<Weak<S3Server>> = Mutex::new(Weak::new());
    let mut shared = SHARED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(server) = shared.upgrade() {
        return server;
    }
    let server = Arc::new(S3Server::start());
    *shared = Arc::downgrade(&server);
    server
}

struct S3 {
    server: Arc<S3Server>,
    bucket: String,
}

/// A test's directory: the images, their ciphertexts A and B, a warm-up pair W1, W2, and
/// nothing else until a command writes.
struct Case {
    dir: TempDir,
    scheme: Scheme,
    transport: Transport,
    via: Via,
    key: PathBuf,
    s3: Option<S3>,
    /// With [`Via::Invoke`]: the cheat server the next command invokes.
    lambda_endpoint: RefCell<Option<String>>,
}

/// A before/after pair: a textured background, a square that moved, and one corner that
/// goes from 255 to 0 and from 0 to 255, so the difference reaches both ends of its range.
fn scene(square_x: u32, corner: [u8; 3]) -> RgbImage {
    RgbImage::from_fn(WIDTH, HEIGHT, |x, y| {
        if (x, y) == (0, 0) {
            Rgb(corner)
        } else if (square_x..square_x + 6).contains(&x) && (4..10).contains(&y) {
            Rgb([230, 20, 30])
        } else {
            Rgb([(x * 9) as u8, (y * 13) as u8, ((x * y * 5) % 256) as u8])
        }
    })
}

impl Case {
    fn new(scheme: Scheme, transport: Transport, with_bucket: bool) -> Case {
        Case::via(scheme, transport, Via::Url, with_bucket)
    }

    fn via(scheme: Scheme, transport: Transport, via: Via, with_bucket: bool) -> Case {
        let s3 = (transport == Transport::S3 || with_bucket).then(|| {
            let server = s3_server();
            let bucket = tokio::runtime::Runtime::new()
                .unwrap()
                .block_on(server.bucket("picrypt-cheats"));
            S3 { server, bucket }
        });
        let case = Case {
            dir: TempDir::new().unwrap(),
            scheme,
            transport,
            via,
            key: key(scheme),
            s3,
            lambda_endpoint: RefCell::new(None),
        };
        scene(3, [255, 0, 128]).save(case.p("before.png")).unwrap();
        scene(14, [0, 255, 128]).save(case.p("after.png")).unwrap();
        for (image, ct) in [
            ("before.png", "a.picrypt"),
            ("after.png", "b.picrypt"),
            ("after.png", "w1.picrypt"),
            ("before.png", "w2.picrypt"),
        ] {
            case.ok(&["encrypt", "--key", &case.k(), image, "-o", ct]);
        }
        case
    }

    fn p(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn k(&self) -> String {
        self.key.to_str().unwrap().to_string()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = picrypt();
        cmd.current_dir(self.dir.path())
            .env_remove("PICRYPT_LOG")
            .env_remove("RUST_LOG")
            .args(args);
        if let Some(s3) = &self.s3 {
            cmd.envs(AWS_TEST_ENV)
                .env("AWS_ENDPOINT_URL", &s3.server.endpoint);
        }
        if let Some(endpoint) = self.lambda_endpoint.borrow().as_deref() {
            cmd.envs(AWS_TEST_ENV)
                .env("AWS_ENDPOINT_URL_LAMBDA", endpoint);
        }
        cmd
    }

    /// A cheating function around the real handler, with this case's bucket if any.
    fn server(&self, cheat: Cheat) -> CheatServer {
        CheatServer::start(cheat, self.app())
    }

    /// The real handler with this case's bucket, if any.
    fn app(&self) -> App {
        match &self.s3 {
            Some(s3) => App {
                config: Config {
                    bucket: Some(s3.bucket.clone()),
                    prefix: "picrypt/".into(),
                    max_object_bytes: Config::DEFAULT_MAX_OBJECT_BYTES,
                },
                s3: Some(s3.server.client()),
            },
            None => App {
                config: Config::default(),
                s3: None,
            },
        }
    }

    /// `--url` and, over S3, the bucket and prefix. `--keep-s3-objects`: the CLI would
    /// otherwise delete each result once used, and a replayed older answer must point at an
    /// object that is really there (and the cheating server reads what it served).
    fn remote(&self, server: &CheatServer) -> Vec<String> {
        let mut args = match self.via {
            Via::Url => vec!["--url".to_string(), server.url().to_string()],
            Via::Invoke => {
                *self.lambda_endpoint.borrow_mut() = Some(server.url().to_string());
                vec!["--function-name".to_string(), FUNCTION_NAME.to_string()]
            }
        };
        if self.transport == Transport::S3 {
            let bucket = &self.s3.as_ref().unwrap().bucket;
            args.extend(
                [
                    "--s3-bucket",
                    bucket,
                    "--s3-prefix",
                    "picrypt/",
                    "--keep-s3-objects",
                ]
                .map(String::from),
            );
        }
        args
    }

    fn run_args(&self, server: &CheatServer, stem: &str) -> Vec<String> {
        let mut args = [
            "run",
            "before.png",
            "after.png",
            "-o",
            &format!("{stem}.png"),
            "--npy",
            &format!("{stem}.npy"),
            "--key",
            &self.k(),
        ]
        .map(String::from)
        .to_vec();
        args.extend(self.remote(server));
        args
    }

    fn diff_args(&self, server: &CheatServer, a: &str, b: &str, out: &str) -> Vec<String> {
        let mut args = ["diff", a, b, "-o", out].map(String::from).to_vec();
        args.extend(self.remote(server));
        args
    }

    /// Where the report says the subtraction ran.
    fn place(&self, server: &CheatServer) -> String {
        match self.via {
            Via::Url => format!("on {}", server.url()),
            Via::Invoke => format!("on Lambda function {FUNCTION_NAME}"),
        }
    }

    fn decrypt_args(&self, ct: &str, out: &str, expect: bool) -> Vec<String> {
        let mut args = ["decrypt", "--key", &self.k(), ct, "-o", out]
            .map(String::from)
            .to_vec();
        if expect {
            args.extend(["--expect", "a.picrypt", "b.picrypt"].map(String::from));
        }
        args
    }

    fn output(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// Runs a command that must succeed; its stdout.
    fn ok<S: AsRef<str>>(&self, args: &[S]) -> String {
        let args: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
        let out = self.output(&args);
        assert!(
            out.status.success(),
            "{:?} {:?} {args:?} failed: {}",
            self.scheme,
            self.transport,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs a command that must be refused: non-zero exit, one `picrypt: error:` line
    /// saying `needle`, no panic, and no file written (`outputs` must not exist and the
    /// directory must hold exactly what it held before).
    fn refused<S: AsRef<str>>(&self, args: &[S], outputs: &[&str], needle: &str) -> String {
        let args: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
        let before = self.listing();
        let out = self.output(&args);
        let stderr = String::from_utf8(out.stderr).unwrap();
        let what = format!("{:?} {:?} {args:?}", self.scheme, self.transport);
        assert!(
            !out.status.success(),
            "{what} was accepted: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert_eq!(stderr.lines().count(), 1, "{what}: not one line: {stderr}");
        assert!(stderr.starts_with("picrypt: error: "), "{what}: {stderr}");
        for bad in ["panicked", "backtrace", "internal error", "RUST_BACKTRACE"] {
            assert!(!stderr.contains(bad), "{what}: {stderr}");
        }
        assert!(
            stderr.contains(needle),
            "{what}: expected {needle:?} in {stderr}"
        );
        for name in outputs {
            assert!(!self.p(name).exists(), "{what} wrote {name}");
        }
        assert_eq!(self.listing(), before, "{what} left files behind");
        stderr
    }

    fn listing(&self) -> BTreeSet<String> {
        std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }

    /// Asserts that `name` holds exactly before − after.
    fn assert_difference(&self, name: &str) {
        assert_eq!(
            npy_i16(&self.p(name)),
            expected_difference(&self.p("before.png"), &self.p("after.png")),
            "{:?} {:?}: {name} is not before − after",
            self.scheme,
            self.transport
        );
    }
}

/// The values of an int16 `.npy` of shape (HEIGHT, WIDTH, 3).
fn npy_i16(path: &Path) -> Vec<i16> {
    let bytes = std::fs::read(path).unwrap();
    assert!(bytes.starts_with(b"\x93NUMPY"), "{path:?} is not .npy");
    let (len_bytes, start) = match bytes[6] {
        1 => (2, 10),
        _ => (4, 12),
    };
    let header_len = bytes[8..8 + len_bytes]
        .iter()
        .rev()
        .fold(0usize, |n, &b| n << 8 | b as usize);
    let data = start + header_len;
    assert_eq!(data % 64, 0, "{path:?}: data not aligned");
    let header = String::from_utf8_lossy(&bytes[start..data]);
    assert!(
        header.contains("'descr': '<i2'")
            && header.contains(&format!("'shape': ({HEIGHT}, {WIDTH}, 3)")),
        "{path:?}: {header}"
    );
    let values: Vec<i16> = bytes[data..]
        .chunks_exact(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect();
    assert_eq!(values.len(), SAMPLES, "{path:?}");
    values
}

fn expected_difference(before: &Path, after: &Path) -> Vec<i16> {
    let a = image::open(before).unwrap().to_rgb8();
    let b = image::open(after).unwrap().to_rgb8();
    let d: Vec<i16> = a
        .iter()
        .zip(b.iter())
        .map(|(&x, &y)| x as i16 - y as i16)
        .collect();
    assert!(d.contains(&255) && d.contains(&-255));
    d
}

/// Every path against a function that cheats as `cheat`.
fn check(scheme: Scheme, cheat: Cheat, transport: Transport, via: Via) {
    let case = Case::via(scheme, transport, via, Cheat::S3.contains(&cheat));
    let spec = spec(scheme, cheat, transport);

    // 1. `run --url`: one command, refused whichever check catches the cheat.
    {
        let server = case.server(cheat);
        if cheat.needs_history() {
            case.ok(&case.run_args(&server, "warm"));
        }
        let run = case.run_args(&server, "out");
        match spec.refused_by {
            None => {
                let stdout = case.ok(&run);
                assert!(stdout.contains(&case.place(&server)), "{stdout}");
                // A mask pair inline at a URL goes out while it is made
                // (cli/src/remote/pipeline.rs): the cheats below reach that path.
                if (scheme, transport, via) == (Scheme::Mask, Transport::Inline, Via::Url) {
                    assert!(stdout.contains("A sent while B was encrypted"), "{stdout}");
                }
                case.assert_difference("out.npy");
            }
            Some(_) => {
                case.refused(&run, &["out.png", "out.npy"], spec.needle);
            }
        }
    }

    // 2. `diff --url` then `decrypt`: the step `spec` names refuses.
    let served = {
        let server = case.server(cheat);
        if cheat.needs_history() {
            case.ok(&case.diff_args(&server, "w1.picrypt", "w2.picrypt", "warm.picrypt"));
        }
        let requests = server.requests();
        let diff = case.diff_args(&server, "a.picrypt", "b.picrypt", "d.picrypt");
        let decrypt = case.decrypt_args("d.picrypt", "d.npy", false);
        match (spec.refused_by, scheme) {
            (None, Scheme::Mask) => {
                case.ok(&diff);
                case.ok(&decrypt);
                case.assert_difference("d.npy");
            }
            // bfv without --expect: refused, honest or not.
            (None, Scheme::Bfv) => {
                case.ok(&diff);
                case.refused(&decrypt, &["d.npy"], UNTIED);
            }
            (Some(Step::Diff), _) => {
                case.refused(&diff, &["d.picrypt"], spec.needle);
            }
            (Some(Step::Decrypt), _) => {
                case.ok(&diff);
                case.refused(&decrypt, &["d.npy"], spec.needle);
            }
        }
        assert_eq!(
            server.requests(),
            requests + 1,
            "the diff reached the server"
        );
        server.last_result().expect("the server served a result")
    };
    if spec.refused_by.is_none() {
        assert_eq!(std::fs::read(case.p("d.picrypt")).unwrap(), served);
    }
    assert_eq!(
        picrypt_core::Container::parse(&served).is_ok(),
        spec.well_formed,
        "{cheat:?}: well-formedness of what was served"
    );
    std::fs::write(case.p("served.picrypt"), &served).unwrap();
    // The honest result, computed here without the function (subtraction is
    // deterministic): the cheat really served something else, of the form it claims.
    case.ok(&["diff", "a.picrypt", "b.picrypt", "-o", "honest.picrypt"]);
    let honest = std::fs::read(case.p("honest.picrypt")).unwrap();
    let a = std::fs::read(case.p("a.picrypt")).unwrap();
    let b = std::fs::read(case.p("b.picrypt")).unwrap();
    assert_eq!(
        served == honest,
        spec.served_honest,
        "{cheat:?}: served {served:?}"
    );
    assert_forgery(scheme, cheat, &served, &honest, &a, &b);

    // 3. `decrypt --expect A B` of exactly what was served.
    let expect = case.decrypt_args("served.picrypt", "e.npy", true);
    if spec.served_honest {
        case.ok(&expect);
        case.assert_difference("e.npy");
    } else {
        case.refused(&expect, &["e.npy"], VERIFICATION);
    }

    // 4. bfv: `decrypt` without --expect refuses every result, honest or not.
    if scheme == Scheme::Bfv && spec.well_formed {
        let plain = case.decrypt_args("served.picrypt", "u.npy", false);
        case.refused(&plain, &["u.npy"], UNTIED);
    }
}

/// The terms of a container: nonce and sign byte (docs/FORMAT.md: from byte 68, 25 each).
fn terms(c: &[u8]) -> Vec<(&[u8], u8)> {
    let count = u16::from_le_bytes([c[22], c[23]]) as usize;
    (0..count)
        .map(|i| (&c[68 + 25 * i..68 + 25 * i + 24], c[68 + 25 * i + 24]))
        .collect()
}

fn range(c: &[u8]) -> (i32, i32) {
    let at = |i: usize| i32::from_le_bytes(c[i..i + 4].try_into().unwrap());
    (at(24), at(28))
}

/// Where the payload starts.
fn payload_start(c: &[u8]) -> usize {
    let ext = u32::from_le_bytes(c[56..60].try_into().unwrap()) as usize;
    68 + 25 * terms(c).len() + ext
}

fn differing_bits(x: &[u8], y: &[u8]) -> u32 {
    assert_eq!(x.len(), y.len());
    x.iter().zip(y).map(|(a, b)| (a ^ b).count_ones()).sum()
}

/// What was served has the form the cheat claims, so its refusal is no accident.
fn assert_forgery(scheme: Scheme, cheat: Cheat, served: &[u8], honest: &[u8], a: &[u8], b: &[u8]) {
    const PLUS: u8 = 0x01;
    const MINUS: u8 = 0xFF;
    let nonce = |c: &[u8]| terms(c)[0].0.to_vec();
    let header = |c: &[u8]| c[..payload_start(c)].to_vec();
    match (scheme, cheat) {
        (_, Cheat::ReturnA) => assert_eq!(served, a),
        (Scheme::Mask, Cheat::SelfDiff) => {
            assert_eq!(
                terms(served),
                [(&nonce(a)[..], PLUS), (&nonce(a)[..], MINUS)]
            );
        }
        (Scheme::Mask, Cheat::CancellingForgery) => {
            let t = terms(served);
            assert!(t.len() == 2 && t[0].0 == t[1].0 && (t[0].1, t[1].1) == (PLUS, MINUS));
            assert!(t[0].0 != nonce(a) && t[0].0 != nonce(b));
            assert!(served[payload_start(served)..].iter().all(|&x| x == 0));
        }
        (Scheme::Mask, Cheat::Negation) => {
            assert_eq!(
                terms(served),
                [(&nonce(a)[..], MINUS), (&nonce(b)[..], PLUS)]
            );
            assert_eq!(range(served), (-255, 255));
        }
        (Scheme::Mask, Cheat::PlusAB) => {
            assert_eq!(
                terms(served),
                [(&nonce(a)[..], PLUS), (&nonce(b)[..], PLUS)]
            );
            assert_eq!(range(served), (0, 510));
        }
        (_, Cheat::TamperPayload | Cheat::S3ReplacedAfter) => {
            assert_eq!(header(served), header(honest));
            assert_eq!(differing_bits(served, honest), 1);
        }
        (_, Cheat::TamperTag) => {
            assert_eq!(differing_bits(&served[48..56], &honest[48..56]), 1);
            assert_eq!(differing_bits(served, honest), 1);
        }
        (Scheme::Mask, Cheat::TamperTerms) => {
            let at = 68..68 + 25 * 2;
            assert_eq!(differing_bits(&served[at.clone()], &honest[at]), 1);
            assert_eq!(differing_bits(served, honest), 1);
        }
        (Scheme::Bfv, Cheat::BfvKeyLeak) => {
            assert_eq!(header(served), header(honest));
            assert_ne!(served, honest);
        }
        // A's header: the forgery claims to be a fresh ciphertext.
        (Scheme::Bfv, Cheat::BfvFreshLeak) => assert_eq!(header(served), header(a)),
        _ => {}
    }
}

macro_rules! cases {
    ($($(#[$attr:meta])* $name:ident: $scheme:ident, $cheat:ident, $transport:ident, $via:ident;)*) => {
        /// Every case below, for the coverage check.
        const CASES: &[(Scheme, Cheat, Transport, Via)] =
            &[$((Scheme::$scheme, Cheat::$cheat, Transport::$transport, Via::$via)),*];
        $(
            #[test]
            $(#[$attr])*
            fn $name() {
                check(Scheme::$scheme, Cheat::$cheat, Transport::$transport, Via::$via);
            }
        )*
    };
}

cases! {
    mask_honest: Mask, Honest, Inline, Url;
    mask_swap_inputs: Mask, SwapInputs, Inline, Url;
    mask_self_diff: Mask, SelfDiff, Inline, Url;
    mask_cancelling_forgery: Mask, CancellingForgery, Inline, Url;
    mask_other_pair: Mask, OtherPair, Inline, Url;
    mask_replay: Mask, Replay, Inline, Url;
    mask_return_a: Mask, ReturnA, Inline, Url;
    mask_negation: Mask, Negation, Inline, Url;
    mask_plus_ab: Mask, PlusAB, Inline, Url;
    mask_tamper_payload: Mask, TamperPayload, Inline, Url;
    mask_tamper_tag: Mask, TamperTag, Inline, Url;
    mask_tamper_terms: Mask, TamperTerms, Inline, Url;

    bfv_honest: Bfv, Honest, Inline, Url;
    bfv_swap_inputs: Bfv, SwapInputs, Inline, Url;
    bfv_other_pair: Bfv, OtherPair, Inline, Url;
    bfv_return_a: Bfv, ReturnA, Inline, Url;
    bfv_key_leak: Bfv, BfvKeyLeak, Inline, Url;
    bfv_fresh_leak: Bfv, BfvFreshLeak, Inline, Url;
    bfv_replay: Bfv, Replay, Inline, Url;
    bfv_tamper_payload: Bfv, TamperPayload, Inline, Url;

    s3_mask_honest: Mask, Honest, S3, Url;
    s3_mask_other_key: Mask, S3OtherKey, S3, Url;
    s3_mask_other_bucket: Mask, S3OtherBucket, S3, Url;
    s3_mask_replaced_after: Mask, S3ReplacedAfter, S3, Url;
    s3_mask_swap_inputs: Mask, SwapInputs, S3, Url;
    s3_mask_replay: Mask, Replay, S3, Url;
    s3_mask_tamper_payload: Mask, TamperPayload, S3, Url;
    s3_bfv_honest: Bfv, Honest, S3, Url;
    s3_bfv_other_key: Bfv, S3OtherKey, S3, Url;
    s3_bfv_other_bucket: Bfv, S3OtherBucket, S3, Url;
    s3_bfv_replaced_after: Bfv, S3ReplacedAfter, S3, Url;
    s3_bfv_key_leak: Bfv, BfvKeyLeak, S3, Url;

    // The S3 cheats on an inline request: an S3 location where inline was asked for, or
    // the replaced object's bytes inline.
    s3_cheat_on_inline_other_key: Mask, S3OtherKey, Inline, Url;
    s3_cheat_on_inline_other_bucket: Mask, S3OtherBucket, Inline, Url;
    s3_cheat_on_inline_replaced_after: Mask, S3ReplacedAfter, Inline, Url;

    // Through --function-name (the Invoke API): every mask cheat inline, the bfv
    // forgeries no header check can see without recomputing, and every S3 cheat.
    invoke_mask_honest: Mask, Honest, Inline, Invoke;
    invoke_mask_swap_inputs: Mask, SwapInputs, Inline, Invoke;
    invoke_mask_self_diff: Mask, SelfDiff, Inline, Invoke;
    invoke_mask_cancelling_forgery: Mask, CancellingForgery, Inline, Invoke;
    invoke_mask_other_pair: Mask, OtherPair, Inline, Invoke;
    invoke_mask_replay: Mask, Replay, Inline, Invoke;
    invoke_mask_return_a: Mask, ReturnA, Inline, Invoke;
    invoke_mask_negation: Mask, Negation, Inline, Invoke;
    invoke_mask_plus_ab: Mask, PlusAB, Inline, Invoke;
    invoke_mask_tamper_payload: Mask, TamperPayload, Inline, Invoke;
    invoke_mask_tamper_tag: Mask, TamperTag, Inline, Invoke;
    invoke_mask_tamper_terms: Mask, TamperTerms, Inline, Invoke;
    invoke_bfv_key_leak: Bfv, BfvKeyLeak, Inline, Invoke;
    invoke_bfv_fresh_leak: Bfv, BfvFreshLeak, Inline, Invoke;
    invoke_s3_mask_honest: Mask, Honest, S3, Invoke;
    invoke_s3_mask_other_key: Mask, S3OtherKey, S3, Invoke;
    invoke_s3_mask_other_bucket: Mask, S3OtherBucket, S3, Invoke;
    invoke_s3_mask_replaced_after: Mask, S3ReplacedAfter, S3, Invoke;
    invoke_s3_mask_replay: Mask, Replay, S3, Invoke;
}

/// The cases above cover every mask cheat, every bfv cheat and every S3 cheat.
#[test]
fn every_cheat_is_covered() {
    let covered = |scheme, cheat, transport| CASES.contains(&(scheme, cheat, transport, Via::Url));
    let invoked =
        |scheme, cheat, transport| CASES.contains(&(scheme, cheat, transport, Via::Invoke));
    for cheat in Cheat::MASK {
        assert!(
            invoked(Scheme::Mask, cheat, Transport::Inline),
            "invoke {cheat:?}"
        );
    }
    for cheat in Cheat::S3.into_iter().chain([Cheat::Honest]) {
        assert!(
            invoked(Scheme::Mask, cheat, Transport::S3),
            "invoke S3 {cheat:?}"
        );
    }
    for cheat in Cheat::MASK {
        assert!(covered(Scheme::Mask, cheat, Transport::Inline), "{cheat:?}");
    }
    for cheat in Cheat::BFV {
        assert!(covered(Scheme::Bfv, cheat, Transport::Inline), "{cheat:?}");
    }
    for cheat in Cheat::S3.into_iter().chain([Cheat::Honest]) {
        for scheme in [Scheme::Mask, Scheme::Bfv] {
            assert!(
                covered(scheme, cheat, Transport::S3),
                "{scheme:?} {cheat:?}"
            );
        }
    }
    for cheat in Cheat::ALL {
        assert!(
            CASES.iter().any(|&(_, c, _, _)| c == cheat),
            "{cheat:?} is never tested"
        );
    }
}

/// The CLI sends a framed body; a function that knows only JSON bodies (one built before
/// framed bodies existed) answers it 415, and the CLI asks again in JSON. The answer to
/// the JSON request is checked exactly as strictly: an honest one gives before − after, a
/// forged one is refused.
#[test]
fn json_only_functions_are_asked_again_in_json_and_still_checked() {
    let case = Case::new(Scheme::Mask, Transport::Inline, false);
    let framed = case.server(Cheat::Honest);
    let out = case.ok(&case.run_args(&framed, "framed"));
    assert!(out.contains("bytes sent framed"), "{out}");
    case.assert_difference("framed.npy");
    assert_eq!(framed.requests(), 1);

    let honest = CheatServer::start_json_only(Cheat::Honest, case.app());
    let out = case.ok(&case.run_args(&honest, "json"));
    assert!(out.contains("bytes sent as JSON"), "{out}");
    case.assert_difference("json.npy");
    assert_eq!((honest.refused_framed(), honest.requests()), (1, 1));

    let forger = CheatServer::start_json_only(Cheat::CancellingForgery, case.app());
    case.refused(
        &case.run_args(&forger, "forged"),
        &["forged.png", "forged.npy"],
        VERIFICATION,
    );
    assert_eq!((forger.refused_framed(), forger.requests()), (1, 1));
}
