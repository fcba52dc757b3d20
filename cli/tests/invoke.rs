//! Direct invocation against the real function under `cargo lambda watch`, whose Invoke API
//! emulation (`POST /2015-03-31/functions/picrypt-function/invocations`) tests/run.sh
//! exposes as `PICRYPT_E2E_LAMBDA_ENDPOINT` (required when `CI` is set):
//!
//! * a request document as the raw Invoke payload, as `aws lambda invoke` sends it, and the
//!   answer document (inline, S3, a refusal with its status) read back;
//! * `picrypt run` and `picrypt diff --function-name` (the SDK's Lambda client, SigV4 by
//!   the SDK, `AWS_ENDPOINT_URL_LAMBDA` at the emulator), inline and through S3 (moto);
//! * the CLI's one-line errors for `--function-name` where no emulator is needed.

use std::path::PathBuf;
use std::process::{Command, Output};

use assert_cmd::cargo::CommandCargoExt;
use base64::Engine;
use image::RgbImage;
use picrypt_core::ops::Op;
use picrypt_core::{verify, Image, Key, Scheme};
use picrypt_testkit::{S3Server, AWS_TEST_ENV};
use serde_json::{json, Value};
use tempfile::TempDir;

/// The function's name under `cargo lambda watch`: its binary's.
const FUNCTION: &str = "picrypt-function";

/// The emulator's base URL, when tests/run.sh started it.
fn endpoint() -> Option<String> {
    let endpoint = std::env::var("PICRYPT_E2E_LAMBDA_ENDPOINT").ok();
    if endpoint.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run these tests against cargo lambda watch: run them through tests/run.sh"
        );
        eprintln!("note: PICRYPT_E2E_LAMBDA_ENDPOINT is not set: skipped (tests/run.sh sets it)");
    }
    endpoint
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().unwrap()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// One raw Invoke API call, as `aws lambda invoke --payload file://req.json` makes it
/// (unsigned: the emulator does not check signatures). The emulator sometimes loses an
/// answer (docs/PERFORMANCE.md, "Load"): such a loss, and only that, is retried once.
fn invoke_raw(endpoint: &str, payload: &str) -> Value {
    let url = format!("{endpoint}/2015-03-31/functions/{FUNCTION}/invocations");
    rt().block_on(async {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .unwrap();
        for attempt in 1..=2 {
            let answer = client.post(&url).body(payload.to_string()).send().await;
            match answer {
                Ok(r) if r.status() == 200 => {
                    return serde_json::from_slice(&r.bytes().await.unwrap()).unwrap()
                }
                Ok(r) if attempt == 1 && r.status().is_server_error() => {
                    eprintln!("note: the emulator answered {}; retrying once", r.status());
                }
                Err(e) if attempt == 1 && e.is_timeout() => {
                    eprintln!("note: the emulator lost an answer ({e}); retrying once");
                }
                other => panic!("invoke {url}: {other:?}"),
            }
        }
        unreachable!()
    })
}

fn mask_pair() -> (Key, Image, Image, Vec<u8>, Vec<u8>) {
    let image = |seed: u8| {
        let data = (0..12 * 9 * 3)
            .map(|i| (i as u8).wrapping_mul(37) ^ seed)
            .collect();
        Image::new(12, 9, 3, data).unwrap()
    };
    let key = Key::generate(Scheme::MASK).unwrap();
    let (a, b) = (image(5), image(190));
    let (ca, cb) = (
        key.encrypt(&a).unwrap().to_bytes(),
        key.encrypt(&b).unwrap().to_bytes(),
    );
    (key, a, b, ca, cb)
}

#[test]
fn a_request_document_as_the_raw_invoke_payload() {
    let Some(endpoint) = endpoint() else { return };
    let (key, a, b, ca, cb) = mask_pair();
    let expected: Vec<i16> = (a.data().iter().zip(b.data()))
        .map(|(&x, &y)| x as i16 - y as i16)
        .collect();
    let decrypted = |result: &[u8]| {
        let checked = verify::check_result(Op::Sub, &ca, &cb, result).unwrap();
        checked.decrypt(&key).unwrap().values().to_vec()
    };

    // Inline: the answer is the diff document, the result checked and decrypted here.
    let doc = json!({"a": {"inline": b64(&ca)}, "b": {"inline": b64(&cb)}, "op": "sub"});
    let v = invoke_raw(&endpoint, &doc.to_string());
    assert_eq!(v["scheme"], "mask", "{v}");
    let result = base64::engine::general_purpose::STANDARD
        .decode(v["result"]["inline"].as_str().unwrap())
        .unwrap();
    assert_eq!(decrypted(&result), expected);

    // S3 sources and output, as the Step Functions state machine sends each item.
    let s3 = S3Server::start();
    let bucket = std::env::var("PICRYPT_E2E_LAMBDA_BUCKET").expect("PICRYPT_E2E_LAMBDA_BUCKET");
    let id = format!("{:x}", std::process::id());
    let keys = [
        format!("picrypt/invoke-{id}/a.picrypt"),
        format!("picrypt/invoke-{id}/b.picrypt"),
        format!("picrypt/invoke-{id}/out.picrypt"),
    ];
    rt().block_on(async {
        let _ = s3.client().create_bucket().bucket(&bucket).send().await;
        s3.put(&bucket, &keys[0], ca.clone()).await;
        s3.put(&bucket, &keys[1], cb.clone()).await;
    });
    let doc = json!({
        "a": {"s3": {"key": keys[0]}}, "b": {"s3": {"key": keys[1]}},
        "op": "sub", "output": {"s3": {"key": keys[2]}},
    });
    let v = invoke_raw(&endpoint, &doc.to_string());
    assert_eq!(
        v["result"],
        json!({"s3": {"bucket": bucket, "key": keys[2]}}),
        "{v}"
    );
    let result = rt().block_on(async {
        let object = s3
            .client()
            .get_object()
            .bucket(&bucket)
            .key(&keys[2])
            .send()
            .await;
        object.unwrap().body.collect().await.unwrap().into_bytes()
    });
    assert_eq!(decrypted(&result), expected);

    // Refusals are answers (200 from the Invoke API), with the status in the document.
    for (payload, status, code) in [
        (
            json!({"a": {"inline": b64(&ca)}, "b": {"inline": b64(&ca)}}).to_string(),
            422,
            "same_input",
        ),
        ("[1, 2]".to_string(), 400, "bad_json"),
        (
            json!({"a": {"s3": {"key": "secret/a"}}, "b": {"s3": {"key": keys[1]}}}).to_string(),
            403,
            "key_forbidden",
        ),
    ] {
        let v = invoke_raw(&endpoint, &payload);
        assert_eq!(
            (v["error"]["code"].as_str(), v["error"]["status"].as_u64()),
            (Some(code), Some(status)),
            "{payload}: {v}"
        );
    }
}

fn scene(x0: u32) -> RgbImage {
    RgbImage::from_fn(16, 12, |x, y| {
        if (x0..x0 + 4).contains(&x) && (3..7).contains(&y) {
            image::Rgb([230, 20, 30])
        } else {
            image::Rgb([(x * 13) as u8, (y * 17) as u8, ((x * y) % 199) as u8])
        }
    })
}

struct Dir(TempDir);

impl Dir {
    fn new() -> Dir {
        let dir = Dir(TempDir::new().unwrap());
        scene(2).save(dir.p("before.png")).unwrap();
        scene(9).save(dir.p("after.png")).unwrap();
        dir
    }
    fn p(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }
    fn picrypt(&self, env: &[(&str, &str)]) -> Command {
        let mut c = Command::cargo_bin("picrypt").unwrap();
        c.current_dir(self.0.path())
            .envs(AWS_TEST_ENV)
            .env_remove("AWS_ENDPOINT_URL")
            .env_remove("AWS_ENDPOINT_URL_LAMBDA")
            .envs(env.iter().copied());
        c
    }
    fn expected(&self) -> Vec<i16> {
        let a = image::open(self.p("before.png")).unwrap().to_rgb8();
        let b = image::open(self.p("after.png")).unwrap().to_rgb8();
        (a.iter().zip(b.iter()))
            .map(|(&x, &y)| x as i16 - y as i16)
            .collect()
    }
    fn npy(&self, name: &str) -> Vec<i16> {
        let bytes = std::fs::read(self.p(name)).unwrap();
        let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        (bytes[10 + header_len..].chunks(2))
            .map(|c| i16::from_le_bytes([c[0], c[1]]))
            .collect()
    }
}

/// Runs a command through the emulator that must succeed; a loss by the emulator (its
/// bare 500, or no answer) is retried once.
fn ok_through_emulator(mut cmd: impl FnMut() -> Command) -> String {
    for attempt in 1..=2 {
        let out: Output = cmd().output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.success() {
            return String::from_utf8(out.stdout).unwrap();
        }
        let lost = stderr.contains("timed out") || stderr.contains("httpstatuses.com/500");
        if attempt == 1 && lost {
            eprintln!(
                "note: the emulator lost an answer ({}); retrying once",
                stderr.trim()
            );
            continue;
        }
        panic!("{:?} failed: {stderr}", cmd());
    }
    unreachable!()
}

#[test]
fn run_and_diff_with_function_name() {
    let Some(endpoint) = endpoint() else { return };
    let bucket = std::env::var("PICRYPT_E2E_LAMBDA_BUCKET").expect("PICRYPT_E2E_LAMBDA_BUCKET");
    let s3 = S3Server::start();
    rt().block_on(async {
        let _ = s3.client().create_bucket().bucket(&bucket).send().await;
    });
    let dir = Dir::new();
    let lambda = [("AWS_ENDPOINT_URL_LAMBDA", endpoint.as_str())];
    let both = [
        ("AWS_ENDPOINT_URL_LAMBDA", endpoint.as_str()),
        ("AWS_ENDPOINT_URL", s3.endpoint.as_str()),
    ];
    let run = |stem: &str, extra: &[&str], env: &[(&str, &str)]| {
        let npy = format!("{stem}.npy");
        let mut args = vec!["run", "before.png", "after.png", "-o"];
        let png = format!("{stem}.png");
        args.extend([
            png.as_str(),
            "--npy",
            npy.as_str(),
            "--function-name",
            FUNCTION,
        ]);
        args.extend(["--timeout", "60"]);
        args.extend(extra);
        ok_through_emulator(|| {
            let mut c = dir.picrypt(env);
            c.args(&args);
            c
        })
    };
    // Inline: the pair travels in the payload.
    let out = run("inline", &[], &lambda);
    assert!(
        out.contains("on Lambda function picrypt-function, SigV4-signed")
            && out.contains("as JSON"),
        "{out}"
    );
    assert_eq!(dir.npy("inline.npy"), dir.expected());
    // Through S3: the CLI uploads, the function reads and writes the bucket, the CLI reads
    // the result back and deletes all three.
    let out = run("s3", &["--s3-bucket", &bucket], &both);
    assert!(out.contains("upload") && out.contains("download"), "{out}");
    assert_eq!(dir.npy("s3.npy"), dir.expected());

    // `diff --function-name` of two ciphertexts, checked before it is written.
    let key = dir.p("k.key");
    let ok = |args: &[&str]| {
        let out = dir.picrypt(&[]).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    ok(&["keygen", "-o", key.to_str().unwrap()]);
    ok(&["encrypt", "--key", "k.key", "before.png", "-o", "a.picrypt"]);
    ok(&["encrypt", "--key", "k.key", "after.png", "-o", "b.picrypt"]);
    ok_through_emulator(|| {
        let mut c = dir.picrypt(&lambda);
        c.args([
            "diff",
            "a.picrypt",
            "b.picrypt",
            "-o",
            "d.picrypt",
            "--function-name",
            FUNCTION,
        ]);
        c
    });
    ok(&[
        "decrypt",
        "--key",
        "k.key",
        "d.picrypt",
        "-o",
        "d.npy",
        "--expect",
        "a.picrypt",
        "b.picrypt",
    ]);
    assert_eq!(dir.npy("d.npy"), dir.expected());
}

/// A refused `picrypt` command: exit 1, one line, no panic, and nothing written.
fn refused(dir: &Dir, env: &[(&str, &str)], args: &[&str], needle: &str) {
    let out = dir.picrypt(env).args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{args:?} was not refused: {stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    assert!(
        stderr.starts_with("picrypt: error: ") && !stderr.contains("panicked"),
        "{stderr}"
    );
    assert!(
        stderr.contains(needle),
        "{args:?}: expected {needle:?} in {stderr}"
    );
    assert!(!dir.p("out.png").exists(), "{args:?} wrote out.png");
}

#[test]
fn function_name_errors_are_one_line() {
    let dir = Dir::new();
    let run = [
        "run",
        "before.png",
        "after.png",
        "-o",
        "out.png",
        "--function-name",
    ];
    let with = |name: &'static str| -> Vec<&str> { run.iter().copied().chain([name]).collect() };
    // Nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    refused(
        &dir,
        &[("AWS_ENDPOINT_URL_LAMBDA", &endpoint)],
        &with("picrypt-function"),
        &format!("cannot invoke Lambda function picrypt-function at {endpoint}: connection failed"),
    );
    // No region, no credentials.
    let mut cmd = dir.picrypt(&[("AWS_ENDPOINT_URL_LAMBDA", &endpoint)]);
    cmd.env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION");
    let out = cmd.args(with("f")).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--function-name needs a region"),
        "{stderr}"
    );
    let mut cmd = dir.picrypt(&[("AWS_ENDPOINT_URL_LAMBDA", &endpoint)]);
    cmd.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY");
    cmd.env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null");
    let out = cmd.args(with("f")).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--function-name needs AWS credentials"),
        "{stderr}"
    );
    // Not a name.
    refused(&dir, &[], &with(" "), "is not a Lambda function name");
    // --url and --function-name together: clap refuses before anything runs.
    let out = dir
        .picrypt(&[])
        .args(with("f"))
        .args(["--url", "http://127.0.0.1:1"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("cannot be used with"), "{stderr}");
    assert!(!dir.p("out.png").exists());
}
