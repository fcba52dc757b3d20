//! A sequence's frames, in order: still images (a folder, a quoted glob, or files named one
//! by one), the frames of an animated GIF or APNG, or those of a video through the system
//! `ffmpeg` (streamed as raw RGB through a pipe: never the whole video in memory).
//!
//! Still images decode exactly as `picrypt run` decodes them (`files::read_image_oriented`),
//! so every pair's difference equals `picrypt run`'s for the same two files. Every frame's
//! shape is checked before any work (from the files' headers), so frames of different
//! sizes are refused at once, naming the first one that differs.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};

use anyhow::{anyhow, bail, Context, Result};
use image::{AnimationDecoder, ImageDecoder, ImageFormat};
use picrypt_core::{image_io, Image, Shape};

use crate::files;

/// One frame: its number in the sequence (1 for the first), its name in output files, and
/// its samples.
pub struct Frame {
    pub number: usize,
    pub name: String,
    pub image: Image,
}

/// The frames of a sequence, decoded one at a time (on the thread that asked for them:
/// the animation decoders are not `Send`).
pub type Frames = Box<dyn Iterator<Item = Result<Frame>>>;

/// The still-image formats core decodes, and the extensions a folder's frames have.
const STILL: &[(ImageFormat, &[&str])] = &[
    (ImageFormat::Png, &["png"]),
    (ImageFormat::Jpeg, &["jpg", "jpeg"]),
    (ImageFormat::Bmp, &["bmp"]),
    (ImageFormat::Tiff, &["tif", "tiff"]),
    (ImageFormat::WebP, &["webp"]),
];

fn is_still_image_name(path: &Path) -> bool {
    let ext = files::extension(path);
    STILL.iter().any(|(_, exts)| exts.contains(&ext.as_str()))
}

/// What to tell a user who gave something that is not a sequence.
const KINDS: &str = "give a folder of images, a quoted glob such as 'shots/*.jpg', two or more image files, an animated GIF or APNG, or a video";

/// Where the frames come from.
enum Source {
    /// Still images, in order, each with its frame name.
    Files(Vec<(PathBuf, String)>),
    /// An animated GIF or APNG; `opaque`: every frame is, so alpha is dropped.
    Animation {
        path: PathBuf,
        kind: Animated,
        opaque: bool,
    },
    /// A video, decoded by ffmpeg.
    Video(PathBuf),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Animated {
    Gif,
    Apng,
}

/// A sequence of frames of one shape, which can be read (again) from the start.
pub struct Sequence {
    source: Source,
    shape: Shape,
    /// How many frames there are: exact, except for a video (its container's count).
    len: Option<usize>,
    /// The source's frame rate, when it has one.
    fps: Option<f64>,
    /// What it is, in words: "8 images in shots/", "the animated GIF walk.gif".
    what: String,
    /// Something the user should know about how the frames were read.
    pub note: Option<String>,
}

impl Sequence {
    /// The sequence the command's inputs name (see [`KINDS`]).
    pub fn open(inputs: &[PathBuf]) -> Result<Sequence> {
        match inputs {
            [] => bail!("no frames: {KINDS}"),
            [one] if one.is_dir() => {
                let found = folder(one)?;
                Sequence::of_files(found, format!("in {}", one.display()))
            }
            [one] if !one.exists() && is_glob(one) => {
                let found = glob(one)?;
                Sequence::of_files(found, format!("matching {}", one.display()))
            }
            [one] => single_file(one),
            many => {
                for path in many {
                    if path.is_dir() {
                        bail!(
                            "{} is a folder: give one folder, or image files",
                            path.display()
                        );
                    }
                    if !path.exists() {
                        bail!("{} does not exist", path.display());
                    }
                }
                Sequence::of_files(many.to_vec(), "named".to_string())
            }
        }
    }

    fn of_files(paths: Vec<PathBuf>, from: String) -> Result<Sequence> {
        if paths.len() < 2 {
            bail!(
                "{} image{} {from}: a sequence needs two or more frames",
                if paths.is_empty() { "no" } else { "only one" },
                if paths.is_empty() { "s" } else { "" }
            );
        }
        let stems: Vec<String> = paths
            .iter()
            .map(|p| {
                p.file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default()
            })
            .collect();
        let mut sorted = stems.clone();
        sorted.sort();
        sorted.dedup();
        let unique = sorted.len() == stems.len() && stems.iter().all(|s| !s.is_empty());
        let (names, note) = if unique {
            (stems, None)
        } else {
            let names = (1..=paths.len()).map(frame_name).collect();
            let note = "two frames have the same file name (without extension), so frames and outputs are named by position: frame-000001, …".to_string();
            (names, Some(note))
        };
        let first = probe(&paths[0])?;
        for path in &paths[1..] {
            let shape = probe(path)?;
            if let Some(d) = shape.difference(&first) {
                bail!(
                    "frame {} is {shape}, but the first frame {} is {first} ({d}): every frame must have the same size and channels",
                    path.display(),
                    paths[0].display()
                );
            }
        }
        Ok(Sequence {
            len: Some(paths.len()),
            what: format!("{} images {from}", paths.len()),
            source: Source::Files(paths.into_iter().zip(names).collect()),
            shape: first,
            fps: None,
            note,
        })
    }

    /// Every frame's shape.
    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// How many frames there are, when known before reading them (a video's count comes
    /// from its container and may be off by a few).
    pub fn len(&self) -> Option<usize> {
        self.len
    }

    /// The source's frame rate (video, animation), if any.
    pub fn fps(&self) -> Option<f64> {
        self.fps
    }

    /// What the frames are, in words.
    pub fn describe(&self) -> &str {
        &self.what
    }

    /// The files the frames are read from.
    pub fn files(&self) -> Vec<&Path> {
        match &self.source {
            Source::Files(files) => files.iter().map(|(p, _)| p.as_path()).collect(),
            Source::Animation { path, .. } | Source::Video(path) => vec![path.as_path()],
        }
    }

    /// The frames from the first, decoded one at a time as the iterator is advanced.
    pub fn frames(&self) -> Result<Frames> {
        let shape = self.shape;
        match &self.source {
            Source::Files(files) => {
                let files = files.clone();
                Ok(Box::new(files.into_iter().enumerate().map(
                    move |(i, (path, name))| {
                        let image = files::read_image(&path)?;
                        if let Some(d) = image.shape().difference(&shape) {
                            bail!("frame {} is {}, the others {shape} ({d}): every frame must have the same size and channels", path.display(), image.shape());
                        }
                        Ok(Frame {
                            number: i + 1,
                            name,
                            image,
                        })
                    },
                )))
            }
            Source::Animation { path, kind, opaque } => {
                let opaque = *opaque;
                let path = path.clone();
                let frames = animation_frames(&path, *kind)?;
                Ok(Box::new(frames.enumerate().map(move |(i, frame)| {
                    let image = animation_image(&path, i + 1, frame, opaque)?;
                    Ok(Frame {
                        number: i + 1,
                        name: frame_name(i + 1),
                        image,
                    })
                })))
            }
            Source::Video(path) => Ok(Box::new(VideoFrames::start(path, shape)?)),
        }
    }

    /// Frame `number` (1 for the first) alone.
    pub fn frame(&self, number: usize) -> Result<Frame> {
        let counted = self.len.map(|n| format!(" of {n}")).unwrap_or_default();
        if number == 0 {
            bail!("--against 0: frames are numbered from 1 (the first)");
        }
        if let Source::Files(files) = &self.source {
            let (path, name) = files.get(number - 1).ok_or_else(|| {
                anyhow!("--against {number}: there is no frame {number}{counted}")
            })?;
            return Ok(Frame {
                number,
                name: name.clone(),
                image: files::read_image(path)?,
            });
        }
        self.frames()?
            .nth(number - 1)
            .unwrap_or_else(|| Err(anyhow!("--against {number}: there is no frame {number}")))
    }
}

/// The name of an animation's or video's frame, or of a still image whose own name is
/// taken: `frame-000001` for the first.
fn frame_name(number: usize) -> String {
    format!("frame-{number:06}")
}

/// A folder's still images (by extension; hidden files left out), in natural order.
fn folder(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot read {}", dir.display()))?;
        let path = entry.path();
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if !hidden && path.is_file() && is_still_image_name(&path) {
            found.push(path);
        }
    }
    found.sort_by(|a, b| natural_cmp(&a.to_string_lossy(), &b.to_string_lossy()));
    if found.is_empty() {
        bail!(
            "{} holds no images ({} files): {KINDS}",
            dir.display(),
            image_io::readable_formats()
        );
    }
    Ok(found)
}

fn is_glob(path: &Path) -> bool {
    path.to_string_lossy().contains(['*', '?', '['])
}

/// The still images a glob matches, in natural order.
fn glob(pattern: &Path) -> Result<Vec<PathBuf>> {
    let text = pattern.to_string_lossy();
    let paths =
        glob::glob(&text).map_err(|e| anyhow!("{text:?} is not a valid glob pattern: {e}"))?;
    let mut found = Vec::new();
    for path in paths {
        let path = path.map_err(|e| anyhow!("cannot read {}", e.path().display()))?;
        if path.is_file() && is_still_image_name(&path) {
            found.push(path);
        }
    }
    found.sort_by(|a, b| natural_cmp(&a.to_string_lossy(), &b.to_string_lossy()));
    if found.is_empty() {
        bail!("{text:?} matches no image files");
    }
    Ok(found)
}

/// Compares names as people do: runs of digits by their value, so frame2 < frame10 (and
/// frame2 < frame02 < frame3: leading zeros only break ties).
pub fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (mut a, mut b) = (a, b);
    let mut tie = Ordering::Equal;
    loop {
        let (Some(ca), Some(cb)) = (a.chars().next(), b.chars().next()) else {
            return a.len().cmp(&b.len()).then(tie);
        };
        if ca.is_ascii_digit() && cb.is_ascii_digit() {
            let da = a.len() - a.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            let db = b.len() - b.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            let (na, nb) = (
                a[..da].trim_start_matches('0'),
                b[..db].trim_start_matches('0'),
            );
            match na.len().cmp(&nb.len()).then_with(|| na.cmp(nb)) {
                Ordering::Equal => tie = tie.then(da.cmp(&db)),
                other => return other,
            }
            (a, b) = (&a[da..], &b[db..]);
        } else {
            match ca.cmp(&cb) {
                Ordering::Equal => {}
                other => return other,
            }
            (a, b) = (&a[ca.len_utf8()..], &b[cb.len_utf8()..]);
        }
    }
}

/// A still image's shape from its header alone (the EXIF orientation applied), so a whole
/// folder is checked before any frame is decoded.
fn probe(path: &Path) -> Result<Shape> {
    let what = || format!("frame {}", path.display());
    let file = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let reader = image::ImageReader::new(BufReader::new(file))
        .with_guessed_format()
        .with_context(|| format!("cannot read {}", path.display()))?;
    let supported = reader
        .format()
        .is_some_and(|f| STILL.iter().any(|(s, _)| *s == f));
    if !supported {
        bail!(
            "{}: not an image PICRYPT reads ({})",
            what(),
            image_io::readable_formats()
        );
    }
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| anyhow!("{}: cannot decode: {e}", what()))?;
    let (w, h) = decoder.dimensions();
    use image::metadata::Orientation as O;
    let turned = matches!(
        decoder.orientation(),
        Ok(O::Rotate90 | O::Rotate270 | O::Rotate90FlipH | O::Rotate270FlipH)
    );
    let (w, h) = if turned { (h, w) } else { (w, h) };
    Shape::new(w, h, decoder.color_type().channel_count()).with_context(what)
}

/// One file: an animation, a video, or a lone image (which is not a sequence).
fn single_file(path: &Path) -> Result<Sequence> {
    if !path.exists() {
        bail!("{} does not exist", path.display());
    }
    let ext = files::extension(path);
    let kind = match ext.as_str() {
        "gif" => Some(Animated::Gif),
        "png" | "apng" => {
            let file =
                File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
            let decoder = image::codecs::png::PngDecoder::new(BufReader::new(file))
                .map_err(|e| anyhow!("{}: cannot decode: {e}", path.display()))?;
            decoder.is_apng()?.then_some(Animated::Apng)
        }
        _ => None,
    };
    if let Some(kind) = kind {
        return animation(path, kind);
    }
    if is_still_image_name(path) {
        bail!(
            "{} is one image; a sequence needs two or more frames: {KINDS}",
            path.display()
        );
    }
    video(path)
}

fn animation_frames(path: &Path, kind: Animated) -> Result<image::Frames<'static>> {
    let file = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let reader = BufReader::new(file);
    let fail = |e: image::ImageError| anyhow!("{}: cannot decode: {e}", path.display());
    Ok(match kind {
        Animated::Gif => image::codecs::gif::GifDecoder::new(reader)
            .map_err(fail)?
            .into_frames(),
        Animated::Apng => image::codecs::png::PngDecoder::new(reader)
            .map_err(fail)?
            .apng()
            .map_err(fail)?
            .into_frames(),
    })
}

/// A decoded animation frame as an [`Image`]: RGBA, or RGB when every frame is opaque.
fn animation_image(
    path: &Path,
    number: usize,
    frame: image::ImageResult<image::Frame>,
    opaque: bool,
) -> Result<Image> {
    let frame =
        frame.map_err(|e| anyhow!("{}: cannot decode frame {number}: {e}", path.display()))?;
    let rgba = frame.into_buffer();
    let (w, h) = rgba.dimensions();
    let data = rgba.into_raw();
    if opaque {
        let rgb = data
            .chunks_exact(4)
            .flat_map(|px| [px[0], px[1], px[2]])
            .collect();
        Ok(Image::new(w, h, 3, rgb)?)
    } else {
        Ok(Image::new(w, h, 4, data)?)
    }
}

/// An animation, after one pass over its frames to count them and to see whether any is
/// transparent anywhere (frames are decoded one at a time and dropped).
fn animation(path: &Path, kind: Animated) -> Result<Sequence> {
    let mut count = 0;
    let mut opaque = true;
    let mut size = None;
    let mut delay_ms = None;
    for (i, frame) in animation_frames(path, kind)?.enumerate() {
        let frame =
            frame.map_err(|e| anyhow!("{}: cannot decode frame {}: {e}", path.display(), i + 1))?;
        let (n, d) = frame.delay().numer_denom_ms();
        delay_ms.get_or_insert(f64::from(n) / f64::from(d.max(1)));
        let buffer = frame.buffer();
        size.get_or_insert(buffer.dimensions());
        opaque &= buffer.pixels().all(|p| p.0[3] == 255);
        count += 1;
    }
    let name = if kind == Animated::Gif { "GIF" } else { "APNG" };
    let Some((w, h)) = size.filter(|_| count >= 2) else {
        bail!(
            "{} is an {name} of {count} frame{}: a sequence needs two or more",
            path.display(),
            if count == 1 { "" } else { "s" }
        );
    };
    Ok(Sequence {
        source: Source::Animation {
            path: path.to_path_buf(),
            kind,
            opaque,
        },
        shape: Shape::new(w, h, if opaque { 3 } else { 4 })?,
        len: Some(count),
        fps: delay_ms.filter(|&ms| ms > 0.0).map(|ms| 1000.0 / ms),
        what: format!(
            "the {count} frames of the animated {name} {}",
            path.display()
        ),
        note: None,
    })
}

/// The one line for a missing ffmpeg, naming the package that brings it.
pub fn ffmpeg_missing(needed_for: &str) -> anyhow::Error {
    anyhow!("{needed_for} needs ffmpeg, which is not installed: install the package ffmpeg (apt-get install ffmpeg on Debian and Ubuntu, brew install ffmpeg on macOS)")
}

/// Whether `ffmpeg` (and so `ffprobe`, which comes with it) can be run.
pub fn ffmpeg_installed() -> bool {
    Command::new("ffmpeg")
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A video's shape, frame count and rate, from `ffprobe`.
fn video(path: &Path) -> Result<Sequence> {
    let reading = format!("reading {} as a video", path.display());
    let output = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
        .arg("stream=width,height,avg_frame_rate,nb_frames:stream_side_data=rotation")
        .args(["-of", "json"])
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => ffmpeg_missing(&reading),
            _ => anyhow!("{reading}: cannot run ffprobe: {e}"),
        })?;
    if !output.status.success() {
        bail!(
            "ffmpeg cannot decode {}: {}",
            path.display(),
            last_line(&output.stderr)
        );
    }
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout)
        .with_context(|| format!("ffprobe said something unexpected about {}", path.display()))?;
    let Some(stream) = doc["streams"].get(0) else {
        bail!("{} has no video stream", path.display());
    };
    let dim = |k: &str| stream[k].as_u64().and_then(|v| u32::try_from(v).ok());
    let (Some(w), Some(h)) = (dim("width"), dim("height")) else {
        bail!("ffmpeg cannot tell the size of {}'s frames", path.display());
    };
    // ffmpeg turns frames the way the video's display matrix says; so does the shape.
    let rotation = stream["side_data_list"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|s| s["rotation"].as_f64())
        .unwrap_or(0.0);
    let turned = (rotation.abs() - 90.0).abs() < 1.0 || (rotation.abs() - 270.0).abs() < 1.0;
    let (w, h) = if turned { (h, w) } else { (w, h) };
    let len = stream["nb_frames"]
        .as_str()
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|&n| n > 0);
    let fps = stream["avg_frame_rate"].as_str().and_then(|r| {
        let (n, d) = r.split_once('/')?;
        let (n, d) = (n.parse::<f64>().ok()?, d.parse::<f64>().ok()?);
        (n > 0.0 && d > 0.0).then(|| n / d)
    });
    let shape = Shape::new(w, h, 3).with_context(|| format!("{}'s frames", path.display()))?;
    Ok(Sequence {
        source: Source::Video(path.to_path_buf()),
        shape,
        len,
        fps,
        what: format!(
            "the {}frames of the video {}",
            len.map(|n| format!("{n} ")).unwrap_or_default(),
            path.display()
        ),
        note: None,
    })
}

fn last_line(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("it exited with an error")
        .trim()
        .to_string()
}

/// A video's frames as ffmpeg decodes them: raw RGB, one frame at a time from its pipe.
/// The child is stopped when this is dropped (Ctrl-C, an error, a frame taken alone).
struct VideoFrames {
    path: PathBuf,
    child: Child,
    stdout: ChildStdout,
    /// What ffmpeg says on stderr, read on a thread so a full pipe never blocks it.
    stderr: Option<std::thread::JoinHandle<Vec<u8>>>,
    shape: Shape,
    number: usize,
    finished: bool,
}

impl VideoFrames {
    fn start(path: &Path, shape: Shape) -> Result<VideoFrames> {
        let mut child = Command::new("ffmpeg")
            .args(["-v", "error", "-nostdin", "-i"])
            .arg(path)
            // Every decoded frame once, at its own time: no frames duplicated or dropped to
            // make a constant rate.
            .args([
                "-map", "0:v:0", "-vsync", "0", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => {
                    ffmpeg_missing(&format!("reading {} as a video", path.display()))
                }
                _ => anyhow!("cannot run ffmpeg: {e}"),
            })?;
        let stdout = child.stdout.take().expect("piped");
        let mut stderr = child.stderr.take().expect("piped");
        let stderr = std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = stderr.read_to_end(&mut text);
            text
        });
        Ok(VideoFrames {
            path: path.to_path_buf(),
            child,
            stdout,
            stderr: Some(stderr),
            shape,
            number: 0,
            finished: false,
        })
    }

    /// After the last frame: ffmpeg's verdict.
    fn finish(&mut self) -> Option<Result<Frame>> {
        self.finished = true;
        let status = self.child.wait();
        let said = self
            .stderr
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default();
        match status {
            Ok(s) if s.success() => None,
            _ => Some(Err(anyhow!(
                "ffmpeg cannot decode {}{}: {}",
                self.path.display(),
                if self.number > 0 {
                    format!(" after frame {}", self.number)
                } else {
                    String::new()
                },
                last_line(&said)
            ))),
        }
    }
}

impl Iterator for VideoFrames {
    type Item = Result<Frame>;

    fn next(&mut self) -> Option<Result<Frame>> {
        if self.finished {
            return None;
        }
        let mut data = vec![0u8; self.shape.samples()];
        let mut filled = 0;
        while filled < data.len() {
            match self.stdout.read(&mut data[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.finished = true;
                    return Some(Err(anyhow!("reading ffmpeg's frames: {e}")));
                }
            }
        }
        if filled == 0 {
            return self.finish();
        }
        if filled < data.len() {
            return self.finish().or_else(|| {
                Some(Err(anyhow!(
                    "ffmpeg stopped in the middle of frame {} of {}",
                    self.number + 1,
                    self.path.display()
                )))
            });
        }
        self.number += 1;
        let (w, h) = (self.shape.width(), self.shape.height());
        Some(
            Image::new(w, h, 3, data)
                .map(|image| Frame {
                    number: self.number,
                    name: frame_name(self.number),
                    image,
                })
                .map_err(Into::into),
        )
    }
}

impl Drop for VideoFrames {
    fn drop(&mut self) {
        if !self.finished {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order() {
        let mut names = vec![
            "f10", "f2", "f1", "f02", "g", "f", "f2a", "f2b", "a100b", "a20b",
        ];
        names.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            names,
            ["a20b", "a100b", "f", "f1", "f2", "f02", "f2a", "f2b", "f10", "g"]
        );
    }
}
