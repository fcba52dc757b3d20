//! What a sequence writes in its output folder: one render per pair (and its exact int16
//! `.npy` on request), named by frame; then, once every pair is done, the renders as an
//! animated PNG (lossless; an MP4 too when ffmpeg is installed), the per-pair statistics as
//! CSV and JSON, and the plot of how much changed over time (`plot`). Every file is written
//! atomically: an interrupted run leaves whole files or none. A pair's outputs are not
//! waited for to reach the disk (the manifest's digests find any a crash damaged).

use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{anyhow, bail, Context, Result};
use picrypt_core::{image_io, Image, Plaintext};
use serde_json::json;

use super::frames;
use super::manifest::{bytes_digest, Record, Settings};
use crate::args::RenderArgs;
use crate::files;
use crate::output::encode_plaintext;

pub const ANIMATION: &str = "animation.png";
pub const VIDEO: &str = "animation.mp4";
pub const CSV: &str = "stats.csv";
pub const JSON: &str = "stats.json";
pub const PLOT: &str = "changes.png";

/// The files a pair writes: its render, and its `.npy` when asked for.
pub fn pair_outputs(before: &str, after: &str, npy: bool) -> Vec<String> {
    let stem = format!("diff-{before}-{after}");
    let mut names = vec![format!("{stem}.png")];
    if npy {
        names.push(format!("{stem}.npy"));
    }
    names
}

/// Writes a pair's outputs (`names`, from [`pair_outputs`]) from its checked, decrypted
/// difference; returns each file's digest.
pub fn write_pair(
    dir: &Path,
    names: &[String],
    difference: &Plaintext,
    render: &RenderArgs,
    after: Option<&Image>,
) -> Result<BTreeMap<String, String>> {
    let mut digests = BTreeMap::new();
    for name in names {
        let path = dir.join(name);
        let (bytes, _) = encode_plaintext(difference, &path, render, after)?;
        files::write_atomic_unsynced(&path, &bytes)?;
        digests.insert(name.clone(), bytes_digest(&bytes));
    }
    Ok(digests)
}

/// `stats.csv` and `stats.json`: per pair, its frames, the changed fraction, the bounding
/// box of the change, and max and mean |d|, in pair order.
pub fn write_stats(dir: &Path, records: &[&Record], settings: &Settings) -> Result<()> {
    let mut csv = String::from(
        "pair,before,after,changed_fraction,changed_pixels,total_pixels,bbox_x0,bbox_y0,bbox_x1,bbox_y1,max_abs,mean_abs\n",
    );
    for r in records {
        let s = &r.statistics;
        let bbox = match s.bounding_box {
            Some(b) => b.map(|v| v.to_string()).join(","),
            None => ",,,".to_string(),
        };
        csv.push_str(&format!(
            "{},{},{},{},{},{},{bbox},{},{}\n",
            r.pair,
            csv_field(&r.before.name),
            csv_field(&r.after.name),
            s.changed_fraction(),
            s.changed_pixels,
            s.total_pixels,
            s.max_abs,
            s.mean_abs
        ));
    }
    files::write_atomic(&dir.join(CSV), csv.as_bytes())?;
    let pairs: Vec<_> = records
        .iter()
        .map(|r| {
            json!({
                "pair": r.pair,
                "before": r.before,
                "after": r.after,
                "outputs": r.outputs.keys().collect::<Vec<_>>(),
                "changed_fraction": r.statistics.changed_fraction(),
                "statistics": r.statistics,
            })
        })
        .collect();
    let doc = json!({
        "op": settings.op,
        "against": settings.against,
        "render": settings.render,
        "threshold": settings.threshold,
        "pairs": pairs,
    });
    let mut bytes = serde_json::to_vec_pretty(&doc)?;
    bytes.push(b'\n');
    files::write_atomic(&dir.join(JSON), &bytes)
}

/// A CSV field, quoted when it holds a comma, a quote or a line break (RFC 4180).
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// What [`write_animations`] wrote.
pub struct Animations {
    pub apng: PathBuf,
    /// The MP4, or why there is none.
    pub mp4: std::result::Result<PathBuf, String>,
}

/// The renders, in pair order, as `animation.png` (APNG) and, when ffmpeg is installed,
/// `animation.mp4`, at `fps` frames per second. The renders are read back one at a time,
/// so memory does not grow with their number. Stops (writing neither) when `cancel` is set.
pub fn write_animations(
    dir: &Path,
    renders: &[PathBuf],
    fps: f64,
    cancel: &AtomicBool,
) -> Result<Animations> {
    let first = read_render(&renders[0])?;
    let (w, h, channels) = (first.width(), first.height(), first.channels());
    let apng_path = dir.join(ANIMATION);
    let mut apng = tempfile::Builder::new()
        .prefix(".picrypt-")
        .tempfile_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    let mut video = if frames::ffmpeg_installed() {
        Some(Mp4::start(dir, w, h, channels, fps)?)
    } else {
        None
    };
    {
        let mut encoder = png::Encoder::new(BufWriter::new(apng.as_file_mut()), w, h);
        encoder.set_color(match channels {
            1 => png::ColorType::Grayscale,
            _ => png::ColorType::Rgb,
        });
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::Fast);
        encoder.set_animated(renders.len() as u32, 0)?;
        let delay_ms = (1000.0 / fps).round().clamp(1.0, f64::from(u16::MAX)) as u16;
        encoder.set_frame_delay(delay_ms, 1000)?;
        let mut writer = encoder.write_header()?;
        for (i, path) in renders.iter().enumerate() {
            if cancel.load(Ordering::Relaxed) {
                bail!("stopped while writing the animations");
            }
            let render = if i == 0 {
                first.clone()
            } else {
                read_render(path)?
            };
            if render.shape() != first.shape() {
                bail!(
                    "{} is {}, the first render {}: cannot animate renders of different sizes",
                    path.display(),
                    render.shape(),
                    first.shape()
                );
            }
            writer
                .write_image_data(render.data())
                .with_context(|| format!("cannot write {}", apng_path.display()))?;
            if let Some(v) = &mut video {
                v.frame(render.data())?;
            }
        }
        writer
            .finish()
            .with_context(|| format!("cannot write {}", apng_path.display()))?;
    }
    apng.as_file()
        .sync_all()
        .with_context(|| format!("cannot write {}", apng_path.display()))?;
    apng.persist(&apng_path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot write {}", apng_path.display()))?;
    let mp4 = match video {
        Some(v) => v.finish(&dir.join(VIDEO)).map_err(|e| format!("{e:#}")),
        None => Err(frames::ffmpeg_missing("writing animation.mp4").to_string()),
    };
    Ok(Animations {
        apng: apng_path,
        mp4,
    })
}

fn read_render(path: &Path) -> Result<Image> {
    let bytes = files::read(path)?;
    image_io::decode(&bytes).with_context(|| format!("{}", path.display()))
}

/// An MP4 being encoded by ffmpeg from raw frames on its stdin, into a temporary file in
/// the output folder (renamed into place once ffmpeg succeeds, removed otherwise).
struct Mp4 {
    child: std::process::Child,
    stdin: Option<std::process::ChildStdin>,
    stderr: Option<std::thread::JoinHandle<Vec<u8>>>,
    file: Option<tempfile::TempPath>,
}

impl Mp4 {
    fn start(dir: &Path, w: u32, h: u32, channels: u8, fps: f64) -> Result<Mp4> {
        let file = tempfile::Builder::new()
            .prefix(".picrypt-")
            .suffix(".mp4")
            .tempfile_in(dir)
            .with_context(|| format!("cannot write in {}", dir.display()))?
            .into_temp_path();
        let mut child = Command::new("ffmpeg")
            .args([
                "-v", "error", "-nostdin", "-y", "-f", "rawvideo", "-pix_fmt",
            ])
            .arg(if channels == 1 { "gray" } else { "rgb24" })
            .args(["-s", &format!("{w}x{h}"), "-framerate", &format!("{fps}")])
            .args(["-i", "pipe:0", "-c:v", "libx264", "-preset", "veryfast"])
            // yuv420p plays everywhere, and needs even sides.
            .args([
                "-pix_fmt",
                "yuv420p",
                "-vf",
                "pad=ceil(iw/2)*2:ceil(ih/2)*2",
            ])
            .args(["-movflags", "+faststart", "-f", "mp4"])
            .arg(file.as_os_str())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("cannot run ffmpeg")?;
        let stdin = child.stdin.take();
        let mut stderr = child.stderr.take().expect("piped");
        let stderr = std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = std::io::Read::read_to_end(&mut stderr, &mut text);
            text
        });
        Ok(Mp4 {
            child,
            stdin,
            stderr: Some(stderr),
            file: Some(file),
        })
    }

    fn frame(&mut self, data: &[u8]) -> Result<()> {
        // A broken pipe means ffmpeg gave up: `finish` says why.
        if let Some(stdin) = &mut self.stdin {
            if stdin.write_all(data).is_err() {
                self.stdin = None;
            }
        }
        Ok(())
    }

    fn finish(mut self, to: &Path) -> Result<PathBuf> {
        drop(self.stdin.take());
        let status = self.child.wait().context("ffmpeg")?;
        let said = self
            .stderr
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default();
        if !status.success() {
            let text = String::from_utf8_lossy(&said);
            let last = text.lines().rev().find(|l| !l.trim().is_empty());
            return Err(anyhow!(
                "ffmpeg could not encode it: {}",
                last.unwrap_or("it exited with an error").trim()
            ));
        }
        self.file
            .take()
            .expect("not yet persisted")
            .persist(to)
            .map_err(|e| e.error)
            .with_context(|| format!("cannot write {}", to.display()))?;
        Ok(to.to_path_buf())
    }
}

impl Drop for Mp4 {
    fn drop(&mut self) {
        // Not finished (an error, Ctrl-C): stop ffmpeg; the temporary file goes with `file`.
        if self.stdin.take().is_some() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}
