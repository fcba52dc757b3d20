//! One large pair S3 → S3 through the real client and `picrypt serve`, with a bucket on a
//! real S3-protocol server (moto, `picrypt_testkit::S3Server`) on loopback: the format's
//! limit (9459×9459 RGB, 2^28 samples) and a quarter of it, each through a fresh server.
//! Prints, measured in this run: wall time of `picrypt diff --s3-bucket` and of `picrypt
//! decrypt --expect`, bytes moved, and the peak RSS (VmHWM) of the server and of each
//! client; then `picrypt run --s3-bucket` from two PNGs of the pair (docs/PERFORMANCE.md,
//! "Scale").
//!
//! ```sh
//! cargo build -p picrypt --bin picrypt --example scale
//! PICRYPT_TEST_S3_ENDPOINT=http://127.0.0.1:PORT target/debug/examples/scale [SIDE...]
//! ```
//!
//! SIDE defaults to `4729 9459` (a quarter of the limit, then the limit). It needs about
//! four ciphertexts of disk beside the target directory and moto holding three in memory.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use picrypt_core::{Image, Key, Scheme};
use picrypt_testkit::{S3Server, AWS_TEST_ENV};

fn main() {
    let sides: Vec<u32> = std::env::args()
        .skip(1)
        .map(|s| s.parse().expect("a side in pixels"))
        .collect();
    let sides = if sides.is_empty() {
        vec![4729, 9459]
    } else {
        sides
    };
    let exe = std::env::current_exe().unwrap();
    let picrypt = exe.parent().unwrap().parent().unwrap().join("picrypt");
    assert!(
        picrypt.exists(),
        "build the binary first: cargo build -p picrypt --bin picrypt"
    );
    let s3 = S3Server::start();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let bucket = runtime.block_on(s3.bucket("picrypt-scale-bench"));
    let dir = tempfile::Builder::new()
        .prefix("picrypt-scale-bench-")
        .tempdir_in(exe.parent().unwrap())
        .unwrap();
    let p = |name: &str| dir.path().join(name);
    let key = Key::generate(Scheme::MASK).unwrap();
    std::fs::write(p("k.key"), key.to_bytes()).unwrap();
    std::fs::set_permissions(
        p("k.key"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let mut env: Vec<(String, String)> = AWS_TEST_ENV
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    env.push(("AWS_ENDPOINT_URL".into(), s3.endpoint.clone()));

    println!("| pair | samples | ciphertext | diff --s3-bucket | client peak RSS | server peak RSS | decrypt --expect | its peak RSS | bytes moved (client ↔ S3, function ↔ S3) |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for side in sides {
        let (a, b) = (image(side, 1), image(side, 2));
        for (name, img) in [("a.picrypt", &a), ("b.picrypt", &b)] {
            std::fs::write(p(name), key.encrypt(img).unwrap().to_bytes()).unwrap();
        }
        let expected = difference(&a, &b);
        for (name, img) in [("before.png", &a), ("after.png", &b)] {
            save_png(img, &p(name));
        }
        drop((a, b));
        let ct = std::fs::metadata(p("a.picrypt")).unwrap().len();
        let (server, url) = serve(&picrypt, &bucket, &env);
        let (diff_time, diff_peak) = measured(
            Command::new(&picrypt)
                .envs(env.iter().cloned())
                .arg("diff")
                .args([p("a.picrypt"), p("b.picrypt")])
                .arg("-o")
                .arg(p("d.picrypt"))
                .args([
                    "--url",
                    &url,
                    "--s3-bucket",
                    &bucket,
                    "--s3-prefix",
                    "picrypt/",
                    "--quiet",
                ]),
        );
        let server_peak = vm_hwm(server.0.id()).expect("picrypt serve is running");
        let (run_time, run_peak) = measured(
            Command::new(&picrypt)
                .envs(env.iter().cloned())
                .arg("run")
                .args([p("before.png"), p("after.png")])
                .arg("-o")
                .arg(p("run.png"))
                .args([
                    "--render",
                    "abs",
                    "--url",
                    &url,
                    "--s3-bucket",
                    &bucket,
                    "--quiet",
                ]),
        );
        drop(server);
        let (decrypt_time, decrypt_peak) = measured(
            Command::new(&picrypt)
                .arg("decrypt")
                .arg("--key")
                .arg(p("k.key"))
                .arg(p("d.picrypt"))
                .arg("--expect")
                .args([p("a.picrypt"), p("b.picrypt")])
                .arg("-o")
                .arg(p("d.npy"))
                .arg("--quiet"),
        );
        assert!(
            npy_values(&p("d.npy")) == expected,
            "{side}×{side}: not A − B"
        );
        println!(
            "| {side}×{side} RGB | {} | {:.1} MB | {:.1} s | {:.1} MB | {:.1} MB | {:.1} s | {:.1} MB | {:.0} MB up, {:.0} MB down; {:.0} MB down, {:.0} MB up |",
            side as u64 * side as u64 * 3,
            ct as f64 / 1e6,
            diff_time.as_secs_f64(),
            diff_peak as f64 / 1e6,
            server_peak as f64 / 1e6,
            decrypt_time.as_secs_f64(),
            decrypt_peak as f64 / 1e6,
            2.0 * ct as f64 / 1e6,
            ct as f64 / 1e6,
            2.0 * ct as f64 / 1e6,
            ct as f64 / 1e6,
        );
        println!(
            "  {side}×{side}: picrypt run --s3-bucket --render abs (two PNGs, encrypted as they upload) {:.1} s, peak RSS {:.1} MB",
            run_time.as_secs_f64(),
            run_peak as f64 / 1e6
        );
        for f in [
            "a.picrypt",
            "b.picrypt",
            "d.picrypt",
            "d.npy",
            "before.png",
            "after.png",
            "run.png",
        ] {
            let _ = std::fs::remove_file(p(f));
        }
    }
}

/// Writes `img` (RGB) as a PNG, fast deflate.
fn save_png(img: &Image, path: &Path) {
    let file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let encoder = image::codecs::png::PngEncoder::new_with_quality(
        file,
        image::codecs::png::CompressionType::Fast,
        image::codecs::png::FilterType::NoFilter,
    );
    image::ImageEncoder::write_image(
        encoder,
        img.data(),
        img.width(),
        img.height(),
        image::ExtendedColorType::Rgb8,
    )
    .unwrap();
}

/// A deterministic side×side RGB image; two seeds differ almost everywhere.
fn image(side: u32, seed: u32) -> Image {
    let n = side as usize * side as usize * 3;
    let data = (0..n as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(seed * 40_503) >> 24) as u8)
        .collect();
    Image::new(side, side, 3, data).unwrap()
}

fn difference(a: &Image, b: &Image) -> Vec<i16> {
    a.data()
        .iter()
        .zip(b.data())
        .map(|(&x, &y)| x as i16 - y as i16)
        .collect()
}

/// The values of an int16 `.npy`.
fn npy_values(path: &Path) -> Vec<i16> {
    let bytes = std::fs::read(path).unwrap();
    let data = 10 + u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    bytes[data..]
        .chunks_exact(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect()
}

/// Runs `cmd`, which must succeed: its wall time and peak RSS (`VmHWM` of its own address
/// space, read every few milliseconds while it runs; `wait4`'s `ru_maxrss` would carry
/// this process's images across `exec`).
fn measured(cmd: &mut Command) -> (Duration, u64) {
    let t = Instant::now();
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut peak = 0;
            while !done.load(Ordering::Relaxed) {
                peak = vm_hwm(pid).unwrap_or(0).max(peak);
                std::thread::sleep(Duration::from_millis(2));
            }
            peak
        })
    };
    let out = child.wait_with_output().unwrap();
    let elapsed = t.elapsed();
    done.store(true, Ordering::Relaxed);
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (elapsed, watcher.join().unwrap())
}

/// `VmHWM` of process `pid` in bytes, while it runs.
fn vm_hwm(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())?;
    Some(kb * 1024)
}

/// `picrypt serve` on a free port, stopped when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(picrypt: &Path, bucket: &str, env: &[(String, String)]) -> (Server, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(picrypt)
        .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
        .args(["--bucket", bucket, "--prefix", "picrypt/"])
        .envs(env.iter().cloned())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("picrypt serve starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "picrypt serve did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    (Server(child), format!("http://127.0.0.1:{port}"))
}
