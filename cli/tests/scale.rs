//! One large pair S3 → S3 in memory that does not grow with it: the real client
//! (`picrypt diff --s3-bucket`, `picrypt decrypt --expect`, `picrypt run --s3-bucket`)
//! against `picrypt serve` with a bucket on a real S3-protocol server (moto). A pair of
//! 25 MP and one of a quarter of that go through one server, the quarter first; each
//! client's peak RSS (VmHWM) may grow by a few MB between them, no more, and each
//! difference must be exact. The server's peak RSS is printed beside them.
//!
//! Runs when `PICRYPT_TEST_S3_ENDPOINT` names a server (tests/run.sh starts one), so that
//! a plain `cargo test` on a machine without moto skips it; CI must set it.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt;
use picrypt_core::{Image, Key, Scheme};
use picrypt_testkit::{S3Server, AWS_TEST_ENV};

/// How much a client's peak RSS may grow from the quarter-size pair to the full one: the
/// quarter's 21 MB upload never has two whole 8 MiB parts in flight, the full one's does,
/// plus allocator slack. Holding one more copy of the full pair's 84 MB object would be
/// far over it.
const FLAT_BYTES: u64 = 16 << 20;
/// How much the function's (`picrypt serve`'s) peak RSS may grow from the quarter to the
/// full pair: its 5 MiB parts fill the pipeline (two in flight, one being filled) within
/// the quarter's 21 MB result. Measured: 68 → 74 MB; one more copy of an 84 MB input, or
/// the 8 MiB parts it had before (66 → 88 MB), would be over it.
const SERVER_GROWTH_BYTES: u64 = 16 << 20;
/// The function's peak at either size: half the 256 MB it may use at the format's limit.
const SERVER_PEAK_BYTES: u64 = 128 << 20;

fn picrypt(s3: &S3Server) -> Command {
    let mut c = Command::cargo_bin("picrypt").unwrap();
    c.envs(AWS_TEST_ENV).env("AWS_ENDPOINT_URL", &s3.endpoint);
    c
}

/// The S3 server, or `None` (and a note) when the test command did not start one.
fn s3_server() -> Option<S3Server> {
    if std::env::var_os("PICRYPT_TEST_S3_ENDPOINT").is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the scale tests: run them through tests/run.sh"
        );
        eprintln!("note: PICRYPT_TEST_S3_ENDPOINT is not set, so the scale tests are skipped (tests/run.sh sets it)");
        return None;
    }
    Some(S3Server::start())
}

/// Runs `cmd` to its end, which must succeed; its stdout and its peak RSS in bytes.
///
/// The peak is `VmHWM` of the child's own address space, read every few milliseconds
/// while it runs (the last reading before it exits). Not `wait4`'s `ru_maxrss`: Linux
/// carries that across `exec` from the forked copy of this test process, so it would
/// report the test's own images.
fn measured(cmd: &mut Command) -> (String, u64) {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut peak = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                if let Some(hwm) = try_vm_hwm(pid) {
                    peak = peak.max(hwm);
                }
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            peak
        })
    };
    let out = child.wait_with_output().unwrap();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let peak = watcher.join().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(peak > 0, "no VmHWM read for {cmd:?}");
    (String::from_utf8(out.stdout).unwrap(), peak)
}

/// A peak RSS read from `/proc/PID/status` (`VmHWM`), in bytes; `None` once the process
/// exited.
fn try_vm_hwm(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())?;
    Some(kb * 1024)
}

/// A peak RSS read from `/proc/PID/status` (`VmHWM`), in bytes.
fn vm_hwm(pid: u32) -> u64 {
    try_vm_hwm(pid).expect("VmHWM in /proc/PID/status")
}

/// A deterministic image whose every sample differs between `seed`s somewhere, with
/// both extremes of the difference present (255 − 0 and 0 − 255).
fn image(w: u32, h: u32, channels: u8, seed: u32) -> Image {
    let n = w as usize * h as usize * channels as usize;
    let data = (0..n)
        .map(|i| {
            let i = i as u32;
            match i % 1021 {
                0 => (seed % 2 * 255) as u8,
                1 => ((seed + 1) % 2 * 255) as u8,
                _ => (i.wrapping_mul(2_654_435_761).wrapping_add(seed * 40_503) >> 24) as u8,
            }
        })
        .collect();
    Image::new(w, h, channels, data).unwrap()
}

/// The values of an int16 `.npy`.
fn npy_values(path: &Path) -> Vec<i16> {
    let bytes = std::fs::read(path).unwrap();
    assert!(
        bytes.starts_with(b"\x93NUMPY\x01\x00"),
        "{path:?} is not .npy 1.0"
    );
    let data = 10 + u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    bytes[data..]
        .chunks_exact(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect()
}

fn difference(a: &Image, b: &Image) -> Vec<i16> {
    a.data()
        .iter()
        .zip(b.data())
        .map(|(&x, &y)| x as i16 - y as i16)
        .collect()
}

struct Dir(tempfile::TempDir);

impl Dir {
    fn new() -> Dir {
        // In cargo's target directory: tens of MB per file, not the shared /tmp.
        Dir(tempfile::Builder::new()
            .prefix("picrypt-scale-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .unwrap())
    }
    fn p(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }
    fn listing(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.0.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

/// One pair's figures: width, height, ciphertext bytes, the server's peak RSS, the diff's
/// and the decryption's peak RSS, their times, the time to make the inputs.
type Figures = (u32, u32, u64, u64, u64, u64, Duration, Duration, Duration);

#[test]
fn a_large_pair_goes_s3_to_s3_in_flat_memory() {
    let Some(s3) = s3_server() else { return };
    let bucket = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(s3.bucket("picrypt-scale"));
    let mut serve = common::serve(picrypt(&s3).args([
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--bucket",
        &bucket,
        "--prefix",
        "picrypt/",
    ]));
    let dir = Dir::new();
    let key = Key::generate(Scheme::MASK).unwrap();
    let key_path = dir.p("k.key");
    std::fs::write(&key_path, key.to_bytes()).unwrap();
    std::fs::set_permissions(
        &key_path,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();

    // 5000×5000 RGB = 25 MP, 84 MB a ciphertext; a quarter: 2500×2500.
    let mut figures: Vec<Figures> = Vec::new();
    for (w, h) in [(2500, 2500), (5000, 5000)] {
        let t = Instant::now();
        let (x, y) = (image(w, h, 3, 1), image(w, h, 3, 2));
        for (name, img) in [("a.picrypt", &x), ("b.picrypt", &y)] {
            std::fs::write(dir.p(name), key.encrypt(img).unwrap().to_bytes()).unwrap();
        }
        let made = t.elapsed();
        let t = Instant::now();
        let (_, diff_rss) = measured(
            picrypt(&s3)
                .args(["diff"])
                .args([dir.p("a.picrypt"), dir.p("b.picrypt")])
                .args(["-o"])
                .arg(dir.p("d.picrypt"))
                .args([
                    "--url",
                    &serve.url,
                    "--s3-bucket",
                    &bucket,
                    "--s3-prefix",
                    "picrypt/",
                    "--quiet",
                ]),
        );
        let diff_time = t.elapsed();
        assert!(serve.alive());
        let server_hwm = vm_hwm(serve.pid());
        let t = Instant::now();
        let (_, decrypt_rss) = measured(
            picrypt(&s3)
                .args(["decrypt", "--key"])
                .arg(&key_path)
                .arg(dir.p("d.picrypt"))
                .arg("--expect")
                .args([dir.p("a.picrypt"), dir.p("b.picrypt")])
                .arg("-o")
                .arg(dir.p("d.npy")),
        );
        let decrypt_time = t.elapsed();
        assert!(
            npy_values(&dir.p("d.npy")) == difference(&x, &y),
            "{w}×{h}: not A − B"
        );
        let ct = std::fs::metadata(dir.p("a.picrypt")).unwrap().len();
        figures.push((
            w,
            h,
            ct,
            server_hwm,
            diff_rss,
            decrypt_rss,
            diff_time,
            decrypt_time,
            made,
        ));
        if w == 5000 {
            // A result altered on disk is refused by the streamed decryption, nothing written.
            let mut d = std::fs::OpenOptions::new()
                .write(true)
                .open(dir.p("d.picrypt"))
                .unwrap();
            std::io::Seek::seek(&mut d, std::io::SeekFrom::Start(ct / 2)).unwrap();
            std::io::Write::write_all(&mut d, &[0x5a]).unwrap();
            drop(d);
            std::fs::remove_file(dir.p("d.npy")).unwrap();
            let before = dir.listing();
            let out = picrypt(&s3)
                .args(["decrypt", "--key"])
                .arg(&key_path)
                .arg(dir.p("d.picrypt"))
                .arg("--expect")
                .args([dir.p("a.picrypt"), dir.p("b.picrypt")])
                .arg("-o")
                .arg(dir.p("d.npy"))
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success());
            assert!(stderr.contains("verification failed"), "{stderr}");
            assert_eq!(stderr.lines().count(), 1, "{stderr}");
            assert_eq!(dir.listing(), before, "a refused decryption left a file");
        }
    }
    for (w, h, ct, server_hwm, diff_rss, decrypt_rss, diff_time, decrypt_time, made) in &figures {
        eprintln!(
            "{w}×{h}×3: ciphertext {ct} bytes (made in {made:.1?}); diff --s3-bucket {diff_time:.1?}, client peak RSS {:.1} MB; picrypt serve peak RSS {:.1} MB; decrypt --expect {decrypt_time:.1?}, peak RSS {:.1} MB",
            *diff_rss as f64 / 1e6,
            *server_hwm as f64 / 1e6,
            *decrypt_rss as f64 / 1e6,
        );
    }
    // The clients hold a chunk or a few parts of each object, whatever its size: the full
    // pair's diff and decryption hold no more than the quarter's, give or take a few MB.
    let [q, f] = [&figures[0], &figures[1]];
    for (what, quarter, full) in [
        ("picrypt diff --s3-bucket", q.4, f.4),
        ("picrypt decrypt --expect", q.5, f.5),
    ] {
        assert!(
            full <= quarter + FLAT_BYTES,
            "{what}'s peak RSS grew from {quarter} to {full} bytes with the image"
        );
    }
    assert!(
        f.3 <= q.3 + SERVER_GROWTH_BYTES && f.3 <= SERVER_PEAK_BYTES,
        "picrypt serve's peak RSS grew from {} to {} bytes with the image",
        q.3,
        f.3
    );
    // Nothing left in the bucket (the run deletes what it uploaded and asked for).
    let listed = tokio::runtime::Runtime::new().unwrap().block_on(async {
        s3.client()
            .list_objects_v2()
            .bucket(&bucket)
            .send()
            .await
            .unwrap()
            .contents()
            .len()
    });
    assert_eq!(listed, 0, "objects left in the bucket");
}

#[test]
fn run_streams_a_large_pair_end_to_end() {
    let Some(s3) = s3_server() else { return };
    let bucket = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(s3.bucket("picrypt-scale-run"));
    let serve = common::serve(picrypt(&s3).args([
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--bucket",
        &bucket,
        "--prefix",
        "picrypt/",
    ]));
    let dir = Dir::new();
    // 2400×2400 RGB: 17.3 M samples, above the CLI's streaming threshold.
    let (w, h) = (2400, 2400);
    let (x, y) = (image(w, h, 3, 3), image(w, h, 3, 4));
    for (name, img) in [("before.png", &x), ("after.png", &y)] {
        image::RgbImage::from_raw(w, h, img.data().to_vec())
            .unwrap()
            .save(dir.p(name))
            .unwrap();
    }
    for render in ["abs", "overlay"] {
        let t = Instant::now();
        let (stdout, rss) = measured(
            picrypt(&s3)
                .arg("run")
                .args([dir.p("before.png"), dir.p("after.png")])
                .arg("-o")
                .arg(dir.p("out.png"))
                .arg("--npy")
                .arg(dir.p("out.npy"))
                .args([
                    "--render",
                    render,
                    "--url",
                    &serve.url,
                    "--s3-bucket",
                    &bucket,
                ]),
        );
        assert!(
            stdout.contains("checked as it arrived"),
            "not the streamed path: {stdout}"
        );
        assert!(
            npy_values(&dir.p("out.npy")) == difference(&x, &y),
            "{render}: not before − after"
        );
        let png = image::open(dir.p("out.png")).unwrap();
        assert_eq!((png.width(), png.height()), (w, h), "{render}");
        if render == "abs" {
            let expected: Vec<u8> = difference(&x, &y)
                .iter()
                .map(|d| d.unsigned_abs() as u8)
                .collect();
            assert!(
                png.to_rgb8().into_raw() == expected,
                "the abs render is |before − after|"
            );
        }
        eprintln!(
            "run --render {render} {w}×{h}×3 through S3: {:.1?}, client peak RSS {:.1} MB",
            t.elapsed(),
            rss as f64 / 1e6
        );
    }
}
