//! The real `picrypt` binary when S3 misbehaves: `picrypt diff --url … --s3-bucket …`
//! against `picrypt serve`, whose S3 endpoint is a fault-injecting proxy in front of a real
//! S3-protocol server (moto), and the CLI's own uploads and downloads through that proxy.
//! Every failure is one line on stderr, exit status 1, and no output file, whole or half.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use assert_cmd::cargo::CommandCargoExt;
use picrypt_testkit::{Fault, FaultProxy, Injection, S3Server, AWS_TEST_ENV};
use tempfile::TempDir;

/// Retries and timeouts short enough for tests, for the server and the CLI alike.
const FAST_S3: [(&str, &str); 3] = [
    ("PICRYPT_S3_ATTEMPTS", "3"),
    ("PICRYPT_S3_BACKOFF_MS", "20"),
    ("PICRYPT_S3_TIMEOUT_MS", "500"),
];

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().unwrap()
}

/// `picrypt` talking to S3 at `endpoint`.
fn picrypt(endpoint: &str) -> Command {
    let mut c = Command::cargo_bin("picrypt").unwrap();
    c.envs(AWS_TEST_ENV)
        .envs(FAST_S3)
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("RUST_BACKTRACE", "1");
    c
}

/// moto, a fault proxy in front of it, `picrypt serve` using the proxy, and two
/// ciphertexts of one key in a directory of their own.
struct Setup {
    s3: S3Server,
    proxy: FaultProxy,
    bucket: String,
    serve: common::Serve,
    dir: TempDir,
}

impl Setup {
    fn new() -> Setup {
        let s3 = S3Server::start();
        let bucket = rt().block_on(s3.bucket("picrypt-faults"));
        let proxy = FaultProxy::start(&s3.endpoint);
        let serve = common::serve(picrypt(&proxy.endpoint).args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--bucket",
            &bucket,
            "--prefix",
            "picrypt/",
        ]));
        let dir = TempDir::new().unwrap();
        let setup = Setup {
            s3,
            proxy,
            bucket,
            serve,
            dir,
        };
        for (name, shift) in [("before", 3), ("after", 17)] {
            image::RgbImage::from_fn(48, 32, |x, y| {
                image::Rgb([(x * shift) as u8, (y * 5) as u8, ((x + y) * shift) as u8])
            })
            .save(setup.p(&format!("{name}.png")))
            .unwrap();
        }
        setup.ok(setup.direct().args(["keygen", "-o", &setup.s("k.key")]));
        for (image, out) in [("before.png", "a.picrypt"), ("after.png", "b.picrypt")] {
            setup.ok(setup.direct().args([
                "encrypt",
                "--key",
                &setup.s("k.key"),
                &setup.s(image),
                "-o",
                &setup.s(out),
            ]));
        }
        setup
    }

    fn p(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn s(&self, name: &str) -> String {
        self.p(name).to_str().unwrap().to_string()
    }

    /// `picrypt` whose own S3 requests go straight to moto.
    fn direct(&self) -> Command {
        picrypt(&self.s3.endpoint)
    }

    /// `picrypt diff a.picrypt b.picrypt -o d.picrypt` on the server, through S3.
    fn diff(&self, mut cmd: Command) -> Command {
        cmd.args([
            "diff",
            &self.s("a.picrypt"),
            &self.s("b.picrypt"),
            "-o",
            &self.s("d.picrypt"),
            "--url",
            &self.serve.url,
            "--s3-bucket",
            &self.bucket,
        ]);
        cmd
    }

    fn ok(&self, cmd: &mut Command) {
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn files(&self) -> BTreeSet<String> {
        std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect()
    }

    /// Runs `cmd`, which must fail with one line naming `needles`, and leave the directory
    /// as it was: no output, no temporary file.
    fn fails(&self, cmd: &mut Command, needles: &[&str]) -> String {
        let before = self.files();
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(1), "{cmd:?} should fail: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "more than one line: {stderr}");
        assert!(
            stderr.starts_with("picrypt: error: ")
                && !stderr.contains("panicked")
                && !stderr.contains("backtrace"),
            "{stderr}"
        );
        for needle in needles {
            assert!(stderr.contains(needle), "{needle:?} not in {stderr}");
        }
        assert_eq!(self.files(), before, "{stderr}");
        assert!(!self.p("d.picrypt").exists());
        stderr
    }

    /// Keys of the results (`…/diff.picrypt`) stored in the bucket, asked of moto directly.
    fn results(&self) -> Vec<String> {
        rt().block_on(async {
            let listing = self
                .s3
                .client()
                .list_objects_v2()
                .bucket(&self.bucket)
                .send()
                .await
                .unwrap();
            listing
                .contents()
                .iter()
                .filter_map(|o| o.key())
                .filter(|k| k.ends_with("diff.picrypt"))
                .map(str::to_string)
                .collect()
        })
    }

    /// The diff succeeded: a result file that decrypts with the key.
    fn assert_result(&self) {
        self.ok(self.direct().args([
            "decrypt",
            "--key",
            &self.s("k.key"),
            &self.s("d.picrypt"),
            "-o",
            &self.s("d.npy"),
        ]));
        std::fs::remove_file(self.p("d.picrypt")).unwrap();
        std::fs::remove_file(self.p("d.npy")).unwrap();
    }
}

#[test]
fn throttling_is_retried_and_reported_when_it_persists() {
    let t = Setup::new();
    t.proxy
        .inject(Injection::new(Fault::SlowDown).method("GET").times(2));
    // --keep-s3-objects: the CLI would otherwise delete the results it fetched, and the
    // count below is what the function stored.
    let keep = |mut cmd: Command| {
        cmd.arg("--keep-s3-objects");
        cmd
    };
    t.ok(&mut keep(t.diff(t.direct())));
    t.assert_result();
    assert_eq!(t.proxy.requests("GET"), 4, "{:?}", t.proxy.seen());

    t.proxy.inject(Injection::new(Fault::SlowDown));
    t.fails(
        &mut keep(t.diff(t.direct())),
        &["503 storage_throttled", "SlowDown", "3 attempts"],
    );
    assert_eq!(t.results().len(), 1, "only the first diff stored a result");
}

#[test]
fn slow_cut_and_stalled_transfers() {
    let t = Setup::new();
    t.proxy
        .inject(Injection::new(Fault::Delay(Duration::from_secs(5))).method("GET"));
    t.fails(
        &mut t.diff(t.direct()),
        &["504 storage_timeout", "did not answer within 500ms"],
    );
    // Every GET cut after 700 bytes: the function resumes each read where it broke off
    // (a ranged GET of the same version) until its attempts run out.
    t.proxy
        .inject(Injection::new(Fault::CutResponse(700)).method("GET"));
    t.fails(
        &mut t.diff(t.direct()),
        &[
            "502 storage_error",
            "broke off after 2100 of ",
            "3 attempts",
        ],
    );
    t.proxy
        .inject(Injection::new(Fault::StallResponse(700)).method("GET"));
    t.fails(
        &mut t.diff(t.direct()),
        &[
            "504 storage_timeout",
            "stalled after 2100 of ",
            "3 attempts",
        ],
    );
    assert!(t.results().is_empty());
}

#[test]
fn a_result_upload_dropped_midway_leaves_nothing() {
    let t = Setup::new();
    t.proxy.inject(
        Injection::new(Fault::CutRequest(2048))
            .method("PUT")
            .path("diff.picrypt"),
    );
    t.fails(
        &mut t.diff(t.direct()),
        &[
            "502 storage_error",
            "writing s3://",
            "connection failed after 3 attempts: ",
        ],
    );
    assert_eq!(t.proxy.requests_to("PUT", "diff.picrypt"), 3);
    assert!(t.results().is_empty(), "{:?}", t.results());
}

#[test]
fn missing_and_truncated_inputs() {
    let t = Setup::new();
    // B disappears between the CLI's upload and the function's read.
    t.proxy.inject(
        Injection::new(Fault::DeleteObject)
            .method("GET")
            .path("/b.picrypt"),
    );
    t.fails(
        &mut t.diff(t.direct()),
        &["404 object_not_found", "b.picrypt does not exist"],
    );
    t.proxy.clear();
    // B cut short in storage after the upload: the function's parser refuses it.
    t.proxy.inject(
        Injection::new(Fault::TruncateObject(1000))
            .method("GET")
            .path("/b.picrypt"),
    );
    t.fails(
        &mut t.diff(t.direct()),
        &["400 bad_container", "B: ", "truncated"],
    );
    t.proxy.clear();
    // A local file cut short is refused before anything is uploaded.
    let uploads = t.proxy.seen().len();
    let b = std::fs::read(t.p("b.picrypt")).unwrap();
    std::fs::write(t.p("b.picrypt"), &b[..b.len() - 100]).unwrap();
    t.fails(&mut t.diff(t.direct()), &["b.picrypt", "truncated"]);
    assert_eq!(t.proxy.seen().len(), uploads, "the function was not asked");
    assert!(t.results().is_empty());
}

#[test]
fn stopped_storage_for_the_function_and_for_the_cli() {
    let t = Setup::new();
    // The CLI uploads straight to moto; the function finds its storage gone.
    t.proxy.stop();
    t.fails(
        &mut t.diff(t.direct()),
        &["502 storage_error", "connection failed after 3 attempts: "],
    );
    // The CLI's own upload to stopped storage.
    t.fails(
        &mut t.diff(picrypt(&t.proxy.endpoint)),
        &["cannot upload to s3://", "a.picrypt"],
    );
    t.proxy.resume();
    // The CLI's download of the result, cut short every time.
    t.proxy.inject(
        Injection::new(Fault::CutResponse(700))
            .method("GET")
            .path("diff.picrypt"),
    );
    t.fails(
        &mut t.diff(picrypt(&t.proxy.endpoint)),
        &["cannot download s3://", "diff.picrypt"],
    );
    t.proxy.clear();
    t.ok(&mut t.diff(picrypt(&t.proxy.endpoint)));
    t.assert_result();
}

#[test]
fn invalid_storage_settings_are_refused() {
    let s3 = S3Server::at("http://127.0.0.1:9".into());
    for (name, value) in [
        ("PICRYPT_S3_ATTEMPTS", "0"),
        ("PICRYPT_S3_TIMEOUT_MS", "soon"),
    ] {
        let out = picrypt(&s3.endpoint)
            .env(name, value)
            .args(["serve", "--addr", "127.0.0.1:0", "--bucket", "b"])
            .output()
            .unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert_eq!(
            stderr.trim_end(),
            format!("picrypt: error: {name}={value:?} is not a positive integer")
        );
    }
}
