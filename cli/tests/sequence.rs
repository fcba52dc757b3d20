//! `picrypt sequence`, the real binary, on frames made here — PNG files, an animated GIF
//! with an exact palette, a lossless MP4 when ffmpeg is installed — through every engine:
//! in process, `picrypt serve`, `cargo lambda watch` (when tests/run.sh started it), and S3
//! on a real S3-protocol server (moto). Every difference written is checked bit for bit
//! against the exact one computed here, the renders against |d|, and stats.csv against
//! statistics computed here. Then: resuming after Ctrl-C, redoing exactly the pairs a
//! changed frame or a damaged output touches, a throttling function (the fault proxy), a
//! cheating one, and bad inputs.

mod common;

use std::borrow::Cow;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{ok, run};
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt;
use image::{AnimationDecoder, Rgb, RgbImage};
use picrypt_function::{App, Config};
use picrypt_testkit::{Cheat, CheatServer, Fault, FaultProxy, Injection, S3Server, AWS_TEST_ENV};
use serde_json::Value;
use tempfile::TempDir;

const W: u32 = 48;
const H: u32 = 32;
const THRESHOLD: i16 = 16;

fn picrypt() -> Command {
    let mut c = Command::cargo_bin("picrypt").unwrap();
    c.env_remove("PICRYPT_LOG").env_remove("RUST_LOG");
    c
}

/// `--json` of a command that must succeed.
fn ok_json(cmd: &mut Command) -> Value {
    serde_json::from_str(&ok(cmd.arg("--json"))).unwrap()
}

/// The one-line error of a command that must fail with exit code 1.
fn fails(cmd: &mut Command) -> String {
    let out = run(cmd);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{cmd:?} should fail: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{cmd:?}: {stderr}");
    assert!(
        stderr.starts_with("picrypt: error: ") && !stderr.contains("panicked"),
        "{stderr}"
    );
    stderr
}

/// Frame `i` of a scene: a background, and an 8×6 red block that moves right, except
/// that frames 3 and 4 are the same (a pair with no change).
fn scene(i: usize) -> RgbImage {
    let x0 = 4 + 5 * if i >= 4 { i - 1 } else { i } as u32;
    RgbImage::from_fn(W, H, |x, y| {
        if (x0..x0 + 8).contains(&x) && (10..16).contains(&y) {
            Rgb([220, 30, 40])
        } else {
            Rgb([(x * 5) as u8, (y * 7) as u8, ((x + y) * 3) as u8])
        }
    })
}

/// A folder `in/` of PNG frames named f8, f9, f10, … (so natural order matters: f10 sorts
/// before f8 as plain text), and an empty place for outputs.
struct Frames {
    dir: TempDir,
    images: Vec<RgbImage>,
    names: Vec<String>,
}

impl Frames {
    fn new(n: usize) -> Frames {
        let dir = TempDir::new().unwrap();
        std::fs::create_dir(dir.path().join("in")).unwrap();
        let frames = Frames {
            dir,
            images: (0..n).map(scene).collect(),
            names: (0..n).map(|i| format!("f{}", 8 + i)).collect(),
        };
        for i in 0..n {
            frames.save(i, &frames.images[i]);
        }
        frames
    }

    fn save(&self, i: usize, image: &RgbImage) {
        image
            .save(self.input().join(format!("{}.png", self.names[i])))
            .unwrap();
    }

    fn input(&self) -> PathBuf {
        self.dir.path().join("in")
    }

    fn p(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `picrypt sequence in/ -o OUT --npy ARGS…`.
    fn sequence(&self, out: &str, args: &[&str]) -> Command {
        let mut c = picrypt();
        c.arg("sequence")
            .arg(self.input())
            .arg("-o")
            .arg(self.p(out))
            .arg("--npy")
            .args(args);
        c
    }

    /// The consecutive pairs: (before name, after name, before, after).
    fn consecutive(&self) -> Vec<(String, String, RgbImage, RgbImage)> {
        (1..self.images.len())
            .map(|i| {
                (
                    self.names[i - 1].clone(),
                    self.names[i].clone(),
                    self.images[i - 1].clone(),
                    self.images[i].clone(),
                )
            })
            .collect()
    }
}

fn exact(before: &RgbImage, after: &RgbImage) -> Vec<i16> {
    before
        .iter()
        .zip(after.iter())
        .map(|(&a, &b)| a as i16 - b as i16)
        .collect()
}

/// The values and shape of an int16 `.npy`.
fn npy(path: &Path) -> (String, Vec<i16>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(&bytes[..6], b"\x93NUMPY");
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = String::from_utf8_lossy(&bytes[10..10 + header_len]).into_owned();
    assert!(header.contains("'<i2'"), "{header}");
    let values = bytes[10 + header_len..]
        .chunks(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect();
    (header, values)
}

/// The statistics of a difference, computed here: changed pixels (largest |d| of a pixel
/// over the threshold), their bounding box, max |d|, mean |d| over all samples.
fn statistics(d: &[i16]) -> (u64, Option<[u32; 4]>, i16, f64) {
    let (mut changed, mut bbox, mut max) = (0u64, None::<[u32; 4]>, 0i16);
    for (i, px) in d.chunks(3).enumerate() {
        let m = px.iter().map(|v| v.abs()).max().unwrap();
        max = max.max(m);
        if m > THRESHOLD {
            changed += 1;
            let (x, y) = (i as u32 % W, i as u32 / W);
            bbox = Some(match bbox {
                None => [x, y, x, y],
                Some([a, b, c, e]) => [a.min(x), b.min(y), c.max(x), e.max(y)],
            });
        }
    }
    let mean = d.iter().map(|v| v.unsigned_abs() as u64).sum::<u64>() as f64 / d.len() as f64;
    (changed, bbox, max, mean)
}

/// Every output of a finished run in `out`, against the pairs it should hold: each
/// `.npy` the exact difference, each render |d|, the APNG the renders in order, the CSV
/// the statistics computed here, and the manifest one record per pair.
fn check_outputs(out: &Path, pairs: &[(String, String, RgbImage, RgbImage)]) {
    let csv = std::fs::read_to_string(out.join("stats.csv")).unwrap();
    let mut rows = csv.lines();
    assert!(rows
        .next()
        .unwrap()
        .starts_with("pair,before,after,changed_fraction"));
    let animation = image::codecs::png::PngDecoder::new(std::io::BufReader::new(
        std::fs::File::open(out.join("animation.png")).unwrap(),
    ))
    .unwrap()
    .apng()
    .unwrap()
    .into_frames()
    .collect_frames()
    .unwrap();
    assert_eq!(animation.len(), pairs.len(), "frames of animation.png");
    for (i, (b, a, before, after)) in pairs.iter().enumerate() {
        let stem = out.join(format!("diff-{b}-{a}"));
        let d = exact(before, after);
        let (header, values) = npy(&stem.with_extension("npy"));
        assert!(header.contains(&format!("({H}, {W}, 3)")), "{header}");
        assert!(
            values == d,
            "{b} − {a}: the .npy is not the exact difference"
        );
        let render = image::open(stem.with_extension("png")).unwrap().to_rgb8();
        let abs: Vec<u8> = d.iter().map(|v| v.unsigned_abs().min(255) as u8).collect();
        assert!(render.as_raw() == &abs, "{b} − {a}: the render is not |d|");
        let frame = &animation[i];
        assert!(
            frame
                .buffer()
                .pixels()
                .map(|p| [p[0], p[1], p[2]])
                .eq(render.pixels().map(|p| p.0)),
            "frame {i} of animation.png is not {b} − {a}'s render"
        );
        let (changed, bbox, max, mean) = statistics(&d);
        let total = (W * H) as u64;
        let bbox = bbox.map_or(",,,".to_string(), |b| b.map(|v| v.to_string()).join(","));
        let expected = format!(
            "{},{b},{a},{},{changed},{total},{bbox},{max},{mean}",
            i + 1,
            changed as f64 / total as f64
        );
        assert_eq!(
            rows.next(),
            Some(expected.as_str()),
            "stats.csv row {}",
            i + 1
        );
    }
    assert_eq!(rows.next(), None, "stats.csv has more rows than pairs");
    let plot = image::open(out.join("changes.png")).unwrap();
    assert_eq!((plot.width(), plot.height()), (880, 400));
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["pairs"].as_array().unwrap().len(), pairs.len());
    let stray: Vec<_> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(stray.is_empty(), "temporary files left: {stray:?}");
}

/// The pairs of `--against`: reference − every other frame.
fn against(
    f: &Frames,
    name: &str,
    reference: &RgbImage,
    skip: Option<usize>,
) -> Vec<(String, String, RgbImage, RgbImage)> {
    (0..f.images.len())
        .filter(|&i| Some(i) != skip)
        .map(|i| {
            (
                name.to_string(),
                f.names[i].clone(),
                reference.clone(),
                f.images[i].clone(),
            )
        })
        .collect()
}

#[test]
fn a_folder_in_process_every_output_exact() {
    let f = Frames::new(6);
    let doc = ok_json(&mut f.sequence("out", &[]));
    check_outputs(&f.p("out"), &f.consecutive());
    assert_eq!(doc["pairs"], 5);
    assert_eq!(doc["encrypted"], 6, "N frames, N encryptions: {doc}");
    assert_eq!(doc["where"], "in process");
    let key = f.p("out/sequence.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // The same frames by a quoted glob, with the folder's key.
    let glob = f.input().join("f*.png");
    ok(picrypt()
        .arg("sequence")
        .arg(&glob)
        .arg("-o")
        .arg(f.p("glob"))
        .arg("--key")
        .arg(&key)
        .arg("--npy"));
    check_outputs(&f.p("glob"), &f.consecutive());

    // --against first, a frame number, and a file outside the sequence.
    let doc = ok_json(&mut f.sequence("first", &["--against", "first"]));
    assert_eq!(doc["encrypted"], 6);
    check_outputs(&f.p("first"), &against(&f, "f8", &f.images[0], Some(0)));
    ok(&mut f.sequence("third", &["--against", "3"]));
    check_outputs(&f.p("third"), &against(&f, "f10", &f.images[2], Some(2)));
    let reference = RgbImage::from_pixel(W, H, Rgb([128, 128, 128]));
    reference.save(f.p("grey.png")).unwrap();
    let grey = f.p("grey.png");
    let doc = ok_json(&mut f.sequence("grey", &["--against", grey.to_str().unwrap()]));
    assert_eq!(doc["pairs"], 6, "an outside reference: N differences");
    check_outputs(&f.p("grey"), &against(&f, "grey", &reference, None));
}

/// An animated GIF whose frames use its palette exactly, so they decode to `scene`'s
/// colours. Opaque: its frames become RGB.
#[test]
fn an_animated_gif() {
    let dir = TempDir::new().unwrap();
    let n = 5;
    let palette = [
        (0u8, 0u8, 0u8),
        (40, 90, 200),
        (250, 250, 250),
        (220, 30, 40),
    ];
    let index = |i: usize, x: u32, y: u32| -> u8 {
        let x0 = 4 + 5 * i as u32;
        if (x0..x0 + 8).contains(&x) && (10..16).contains(&y) {
            3
        } else {
            ((x / 8 + y / 8) % 3) as u8
        }
    };
    let mut bytes = Vec::new();
    {
        let flat: Vec<u8> = palette.iter().flat_map(|&(r, g, b)| [r, g, b]).collect();
        let mut encoder = gif::Encoder::new(&mut bytes, W as u16, H as u16, &flat).unwrap();
        encoder.set_repeat(gif::Repeat::Infinite).unwrap();
        for i in 0..n {
            let frame = gif::Frame {
                width: W as u16,
                height: H as u16,
                delay: 20,
                buffer: Cow::Owned((0..W * H).map(|p| index(i, p % W, p / W)).collect()),
                ..gif::Frame::default()
            };
            encoder.write_frame(&frame).unwrap();
        }
    }
    let path = dir.path().join("walk.gif");
    std::fs::write(&path, bytes).unwrap();
    let images: Vec<RgbImage> = (0..n)
        .map(|i| {
            RgbImage::from_fn(W, H, |x, y| {
                let (r, g, b) = palette[index(i, x, y) as usize];
                Rgb([r, g, b])
            })
        })
        .collect();
    let out = dir.path().join("out");
    let doc = ok_json(
        picrypt()
            .arg("sequence")
            .arg(&path)
            .arg("-o")
            .arg(&out)
            .arg("--npy"),
    );
    assert_eq!(doc["frames"], n);
    let pairs: Vec<_> = (1..n)
        .map(|i| {
            (
                format!("frame-{i:06}"),
                format!("frame-{:06}", i + 1),
                images[i - 1].clone(),
                images[i].clone(),
            )
        })
        .collect();
    check_outputs(&out, &pairs);
}

/// An APNG whose frames are partly transparent: its frames stay RGBA, and so do the
/// differences.
#[test]
fn an_apng_with_transparency_keeps_alpha() {
    let dir = TempDir::new().unwrap();
    let frames: Vec<Vec<u8>> = (0..4u32)
        .map(|i| {
            (0..W * H)
                .flat_map(|p| {
                    let (x, y) = (p % W, p / W);
                    let alpha = if x < 4 + 6 * i { 0 } else { 255 };
                    [(x * 5) as u8, (y * 7 + i) as u8, 90, alpha]
                })
                .collect()
        })
        .collect();
    let path = dir.path().join("fade.png");
    {
        let file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        let mut encoder = png::Encoder::new(file, W, H);
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_animated(frames.len() as u32, 0).unwrap();
        let mut writer = encoder.write_header().unwrap();
        for frame in &frames {
            writer.write_image_data(frame).unwrap();
        }
        writer.finish().unwrap();
    }
    let out = dir.path().join("out");
    let doc = ok_json(
        picrypt()
            .arg("sequence")
            .arg(&path)
            .arg("-o")
            .arg(&out)
            .arg("--npy"),
    );
    assert_eq!(doc["pairs"], 3);
    for i in 1..frames.len() {
        let name = format!("diff-frame-{i:06}-frame-{:06}.npy", i + 1);
        let (header, values) = npy(&out.join(name));
        assert!(header.contains(&format!("({H}, {W}, 4)")), "{header}");
        let expected: Vec<i16> = frames[i - 1]
            .iter()
            .zip(&frames[i])
            .map(|(&a, &b)| a as i16 - b as i16)
            .collect();
        assert!(
            values == expected,
            "pair {i}: not the exact RGBA difference"
        );
    }
}

fn ffmpeg_installed() -> bool {
    Command::new("ffmpeg")
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A lossless MP4 (libx264rgb at qp 0), so its frames decode to exactly what was encoded.
#[test]
fn a_video_through_ffmpeg() {
    if !ffmpeg_installed() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI installs ffmpeg (tests/setup.sh)"
        );
        eprintln!("note: ffmpeg is not installed, so video input is not tested");
        return;
    }
    let f = Frames::new(5);
    let video = f.p("clip.mp4");
    let mut encoder = Command::new("ffmpeg")
        .args(["-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s"])
        .arg(format!("{W}x{H}"))
        .args([
            "-r",
            "5",
            "-i",
            "-",
            "-c:v",
            "libx264rgb",
            "-qp",
            "0",
            "-pix_fmt",
            "rgb24",
        ])
        .arg(&video)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = encoder.stdin.take().unwrap();
    for image in &f.images {
        stdin.write_all(image.as_raw()).unwrap();
    }
    drop(stdin);
    assert!(encoder.wait().unwrap().success());
    let out = f.p("out");
    let doc = ok_json(
        picrypt()
            .arg("sequence")
            .arg(&video)
            .arg("-o")
            .arg(&out)
            .arg("--npy"),
    );
    assert_eq!(doc["frames"], 5);
    assert!(doc["mp4"].is_string(), "animation.mp4 with ffmpeg: {doc}");
    let pairs: Vec<_> = (1..5)
        .map(|i| {
            (
                format!("frame-{i:06}"),
                format!("frame-{:06}", i + 1),
                f.images[i - 1].clone(),
                f.images[i].clone(),
            )
        })
        .collect();
    check_outputs(&out, &pairs);

    std::fs::write(f.p("broken.mp4"), b"not a video at all").unwrap();
    let e = fails(
        picrypt()
            .arg("sequence")
            .arg(f.p("broken.mp4"))
            .arg("-o")
            .arg(f.p("o2")),
    );
    assert!(
        e.contains("ffmpeg cannot decode") && e.contains("broken.mp4"),
        "{e}"
    );
}

/// `picrypt serve` on loopback behind the fault proxy (which counts the requests).
struct Served {
    proxy: FaultProxy,
    _serve: common::Serve,
}

impl Served {
    fn start(extra: &[&str], env: &[(&str, &str)]) -> Served {
        let serve = common::serve(
            picrypt()
                .envs(env.iter().copied())
                .env_remove("PICRYPT_BUCKET")
                .args(["serve", "--addr", "127.0.0.1:0"])
                .args(extra),
        );
        Served {
            proxy: FaultProxy::start(&serve.url),
            _serve: serve,
        }
    }

    fn url(&self) -> &str {
        &self.proxy.endpoint
    }

    fn diffs(&self) -> usize {
        self.proxy.requests_to("POST", "/diff")
    }
}

#[test]
fn resume_after_ctrl_c_and_redo_exactly_what_changed() {
    let f = Frames::new(6);
    let served = Served::start(&[], &[]);
    // Slow answers, one pair at a time: Ctrl-C lands in the middle of the run.
    served
        .proxy
        .inject(Injection::new(Fault::Delay(Duration::from_millis(150))));
    let child = f
        .sequence("out", &["--url", served.url(), "--jobs", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while served.diffs() < 3 {
        assert!(
            Instant::now() < deadline,
            "the run never got to its third pair"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let interrupted = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("picrypt: stopped: ") && stderr.contains("run the same command again"),
        "{stderr}"
    );
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(f.p("out/manifest.json")).unwrap()).unwrap();
    let done = manifest["pairs"].as_array().unwrap().len();
    assert!(
        (1..5).contains(&done),
        "{done} pairs done before Ctrl-C: {stderr}"
    );
    assert!(
        stderr.contains(&format!("{done} of 5 differences done")),
        "{stderr}"
    );
    let stray: Vec<_> = std::fs::read_dir(f.p("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(stray.is_empty(), "half-written files left: {stray:?}");

    // Running again does exactly the rest.
    served.proxy.clear();
    served.proxy.reset_counts();
    let doc = ok_json(&mut f.sequence("out", &["--url", served.url()]));
    assert_eq!(served.diffs(), 5 - done, "resumed: {doc}");
    assert_eq!(
        (doc["reused"].as_u64(), doc["computed"].as_u64()),
        (Some(done as u64), Some(5 - done as u64))
    );
    check_outputs(&f.p("out"), &f.consecutive());

    // One frame changed: exactly its two pairs are redone, and only its frames encrypted.
    let mut f = f;
    let mut changed = f.images[2].clone();
    changed.put_pixel(40, 30, Rgb([0, 255, 0]));
    f.images[2] = changed.clone();
    f.save(2, &changed);
    served.proxy.reset_counts();
    let doc = ok_json(&mut f.sequence("out", &["--url", served.url()]));
    assert_eq!(served.diffs(), 2, "{doc}");
    assert_eq!(doc["encrypted"], 3, "frames 2, 3 and 4 only: {doc}");
    check_outputs(&f.p("out"), &f.consecutive());

    // A damaged output, not merely a present one, is redone.
    let render = f.p("out/diff-f11-f12.png");
    let mut bytes = std::fs::read(&render).unwrap();
    let last = bytes.len() - 20;
    bytes[last] ^= 1;
    std::fs::write(&render, bytes).unwrap();
    std::fs::remove_file(f.p("out/diff-f8-f9.npy")).unwrap();
    served.proxy.reset_counts();
    ok(&mut f.sequence("out", &["--url", served.url()]));
    assert_eq!(served.diffs(), 2);
    check_outputs(&f.p("out"), &f.consecutive());

    // Nothing changed: nothing is sent.
    served.proxy.reset_counts();
    ok(&mut f.sequence("out", &["--url", served.url()]));
    assert_eq!(served.diffs(), 0);
}

#[test]
fn a_throttling_function_still_completes_the_sequence() {
    let f = Frames::new(6);
    let served = Served::start(&[], &[]);
    // 429 with Retry-After: 1 second, honoured as asked.
    served.proxy.inject(
        Injection::new(Fault::Refuse {
            status: 429,
            retry_after: Some("1".into()),
        })
        .times(1),
    );
    let doc = ok_json(&mut f.sequence("out", &["--url", served.url(), "--jobs", "2"]));
    let retries = doc["retries"].as_array().unwrap();
    assert_eq!(retries.len(), 1, "{doc}");
    assert_eq!(retries[0]["status"], 429);
    assert_eq!(retries[0]["waited_ms"], 1000);
    check_outputs(&f.p("out"), &f.consecutive());

    // Overloaded now and then (503 with Retry-After 0, and a date in the past): every pair
    // arrives, none wrong.
    served.proxy.inject(
        Injection::new(Fault::Refuse {
            status: 503,
            retry_after: Some("0".into()),
        })
        .times(3),
    );
    served.proxy.reset_counts();
    let doc = ok_json(&mut f.sequence("again", &["--url", served.url(), "--jobs", "4"]));
    assert_eq!(doc["retries"].as_array().unwrap().len(), 3, "{doc}");
    assert_eq!(served.diffs(), 5 + 3);
    check_outputs(&f.p("again"), &f.consecutive());

    // Never more than --retries retries.
    served.proxy.inject(Injection::new(Fault::Refuse {
        status: 503,
        retry_after: Some("Thu, 01 Jan 1970 00:00:00 GMT".into()),
    }));
    served.proxy.reset_counts();
    let e = fails(&mut f.sequence(
        "never",
        &["--url", served.url(), "--jobs", "1", "--retries", "2"],
    ));
    assert!(
        e.contains("pair 1 (f8 − f9)")
            && e.contains("gave up after 3 attempts")
            && e.contains("503"),
        "{e}"
    );
    assert_eq!(served.diffs(), 3);

    // A refusal that asking again cannot fix (4xx) is not retried.
    served.proxy.inject(Injection::new(Fault::Refuse {
        status: 403,
        retry_after: None,
    }));
    served.proxy.reset_counts();
    let e = fails(&mut f.sequence("forbidden", &["--url", served.url(), "--jobs", "1"]));
    assert!(e.contains("403"), "{e}");
    assert_eq!(served.diffs(), 1);
}

#[test]
fn a_cheating_function_is_caught_on_the_pair_it_cheated() {
    let f = Frames::new(5);
    let app = || App {
        config: Config::default(),
        s3: None,
    };
    // Replay answers the second request with the first one's answer; TamperPayload
    // flips a bit of the very first result (only the tag, on decryption, shows it).
    for (cheat, pair) in [
        (Cheat::Replay, "pair 2 (f9 − f10)"),
        (Cheat::TamperPayload, "pair 1 (f8 − f9)"),
    ] {
        let server = CheatServer::start(cheat, app());
        let out = format!("out-{cheat:?}");
        let e = fails(&mut f.sequence(&out, &["--url", server.url(), "--jobs", "1"]));
        assert!(
            e.contains(&format!("the function's result for {pair}"))
                && e.contains("verification failed"),
            "{cheat:?}: {e}"
        );
        let renders: Vec<_> = std::fs::read_dir(f.p(&out))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("diff-"))
            .collect();
        let expected: &[&str] = if cheat == Cheat::Replay {
            &["diff-f8-f9.npy", "diff-f8-f9.png"]
        } else {
            &[]
        };
        let mut renders = renders;
        renders.sort();
        assert_eq!(
            renders, expected,
            "{cheat:?}: only honest pairs are written"
        );
    }
}

/// The function under `cargo lambda watch`, inline and through S3. Its emulator loses a
/// large answer now and then (cli/tests/remote.rs, `ok_via`): the sequence retries such a
/// loss like any 5xx or missing answer; they are counted apart here, and nothing else may
/// go wrong.
#[test]
fn cargo_lambda_watch() {
    let Ok(url) = std::env::var("PICRYPT_E2E_LAMBDA_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs this against cargo lambda watch: run it through tests/run.sh"
        );
        eprintln!("note: PICRYPT_E2E_LAMBDA_URL is not set, so cargo lambda watch is not tested");
        return;
    };
    let s3 = S3Server::start();
    let bucket = std::env::var("PICRYPT_E2E_LAMBDA_BUCKET").expect("PICRYPT_E2E_LAMBDA_BUCKET");
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let _ = s3.client().create_bucket().bucket(&bucket).send().await;
    });
    let f = Frames::new(5);
    for (out, s3_args) in [
        ("inline", vec![]),
        ("s3", vec!["--s3-bucket", bucket.as_str()]),
    ] {
        let mut cmd = f.sequence(out, &["--url", &url, "--timeout", "30", "--jobs", "2"]);
        cmd.args(&s3_args)
            .envs(AWS_TEST_ENV)
            .env("AWS_ENDPOINT_URL", &s3.endpoint);
        let doc = ok_json(&mut cmd);
        let (lost, other): (Vec<&Value>, Vec<&Value>) =
            doc["retries"].as_array().unwrap().iter().partition(|r| {
                let reason = r["reason"].as_str().unwrap_or("");
                reason.contains("answered HTTP 500: {\"type\":\"https://httpstatuses.com/500\"")
                    || reason.contains("timed out after")
            });
        if !lost.is_empty() {
            eprintln!(
                "note: cargo lambda watch lost {} answer(s) ({out}), retried",
                lost.len()
            );
        }
        assert!(other.is_empty(), "the product's own errors: {other:?}");
        check_outputs(&f.p(out), &f.consecutive());
    }
}

/// Through S3 on moto: each frame uploaded once, each result downloaded once from the key
/// asked for, everything uploaded deleted at the end.
#[test]
fn through_s3_each_frame_uploaded_once() {
    let Ok(endpoint) = std::env::var("PICRYPT_TEST_S3_ENDPOINT") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs this against moto (tests/run.sh)"
        );
        eprintln!("note: PICRYPT_TEST_S3_ENDPOINT is not set, so S3 is not tested");
        return;
    };
    let s3 = S3Server::at(endpoint.clone());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let bucket = rt.block_on(s3.bucket("picrypt-sequence"));
    let served = Served::start(
        &["--bucket", &bucket, "--prefix", "picrypt/"],
        &[
            AWS_TEST_ENV.as_slice(),
            &[("AWS_ENDPOINT_URL", endpoint.as_str())],
        ]
        .concat(),
    );
    // The CLI's own S3 traffic goes through a second proxy, which counts it.
    let storage = FaultProxy::start(&endpoint);
    let f = Frames::new(5);
    let mut cmd = f.sequence(
        "out",
        &["--url", served.url(), "--s3-bucket", &bucket, "--jobs", "3"],
    );
    cmd.envs(AWS_TEST_ENV)
        .env("AWS_ENDPOINT_URL", &storage.endpoint);
    let doc = ok_json(&mut cmd);
    assert_eq!(doc["uploaded"], 5, "{doc}");
    assert_eq!(storage.requests_to("PUT", "/uploads/"), 5);
    assert_eq!(storage.requests_to("GET", "/uploads/"), 4);
    assert_eq!(storage.requests_to("DELETE", "/uploads/"), 5 + 4);
    check_outputs(&f.p("out"), &f.consecutive());
    let left = rt.block_on(async {
        s3.client()
            .list_objects_v2()
            .bucket(&bucket)
            .prefix("picrypt/uploads/")
            .send()
            .await
            .unwrap()
            .key_count()
            .unwrap_or(0)
    });
    assert_eq!(left, 0, "objects left in the bucket");
}

#[test]
fn bad_inputs_are_one_line_each() {
    let f = Frames::new(3);
    let seq = |inputs: &[&Path], out: &str| {
        let mut c = picrypt();
        c.arg("sequence").args(inputs).arg("-o").arg(f.p(out));
        c
    };
    std::fs::create_dir(f.p("empty")).unwrap();
    let e = fails(&mut seq(&[&f.p("empty")], "o"));
    assert!(e.contains("holds no images"), "{e}");

    std::fs::create_dir(f.p("one")).unwrap();
    scene(0).save(f.p("one/a.png")).unwrap();
    let e = fails(&mut seq(&[&f.p("one")], "o"));
    assert!(e.contains("only one image"), "{e}");

    // Frames of different sizes: the first offending one is named, before any work.
    std::fs::create_dir(f.p("sizes")).unwrap();
    for (name, w) in [("s1", W), ("s2", W), ("s3", W + 2), ("s4", W + 4)] {
        RgbImage::new(w, H)
            .save(f.p(&format!("sizes/{name}.png")))
            .unwrap();
    }
    let e = fails(&mut seq(&[&f.p("sizes")], "sizes-out"));
    assert!(
        e.contains("s3.png") && !e.contains("s4.png") && e.contains("same size"),
        "{e}"
    );
    assert!(!f.p("sizes-out").exists(), "nothing is made for bad input");

    // A frame that is not an image.
    std::fs::create_dir(f.p("broken")).unwrap();
    scene(0).save(f.p("broken/b1.png")).unwrap();
    std::fs::write(f.p("broken/b2.png"), b"\x89PNG\r\n\x1a\n not really").unwrap();
    let e = fails(&mut seq(&[&f.p("broken")], "o"));
    assert!(e.contains("b2.png"), "{e}");

    // A video without ffmpeg on PATH: the package to install.
    std::fs::write(f.p("clip.mp4"), b"whatever").unwrap();
    let e = fails(seq(&[&f.p("clip.mp4")], "o").env("PATH", f.p("empty")));
    assert!(
        e.contains("needs ffmpeg") && e.contains("apt-get install ffmpeg"),
        "{e}"
    );

    // The outputs may not go among the frames; a reference of another size; no frame 9.
    let e = fails(&mut seq(&[&f.input()], "in"));
    assert!(e.contains("output folder"), "{e}");
    RgbImage::new(10, 10).save(f.p("small.png")).unwrap();
    let e = fails(
        seq(&[&f.input()], "o")
            .arg("--against")
            .arg(f.p("small.png")),
    );
    assert!(e.contains("small.png") && e.contains("width"), "{e}");
    let e = fails(seq(&[&f.input()], "o").args(["--against", "9"]));
    assert!(e.contains("no frame 9"), "{e}");
    let out = run(seq(&[&f.input()], "o").args(["--against", "0"]));
    assert_eq!(out.status.code(), Some(2), "a clap usage error");
}
