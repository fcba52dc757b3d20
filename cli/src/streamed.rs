//! Images and results too large to hold twice, a chunk at a time: a ciphertext encrypted
//! straight into its file, a result received, checked against its inputs, written and
//! decrypted as it arrives, the plaintext written as `.npy` and PNG row by row. Nothing
//! is visible under an output's name until every check passed: each output is a
//! temporary file beside it ([`AtomicOutput`]), renamed only after the result's check and
//! the decryption's one decision both succeeded.
//!
//! Small inputs keep the in-memory paths (`flow`, `remote::subtract`), which are faster
//! below a few megabytes; [`STREAM_FROM_SAMPLES`] is where the commands switch.

use std::path::Path;

use anyhow::{bail, Context, Result};
use bytes::{Buf, Bytes};
use picrypt_core::render::{ChangeStats, Renderer, StatsBuilder};
use picrypt_core::verify::{self, StreamedCheck, StreamedResult};
use picrypt_core::{npy, Error, Header, Image, Key, Op, Shape, ValueRange};
use std::io::Write;
use zeroize::Zeroizing;

use crate::args::RenderArgs;
use crate::files::{AtomicOutput, ContainerFile};

/// Images of at least this many samples (16.8 M: 4.7 MP RGB; a 18.9 MB ciphertext) go
/// through the streamed paths; smaller ones are held whole, which is faster there.
pub const STREAM_FROM_SAMPLES: usize = 1 << 24;

/// Payload bytes of A handled at a time: what a streamed result holds of each input and
/// of the result, and of the plaintext (2 bytes a sample).
const CHUNK_BYTES: usize = 4 * 1024 * 1024;

/// Samples encrypted at a time.
pub const ENCRYPT_SAMPLES: usize = 4 * 1024 * 1024;

/// Encrypts `image` straight into the container file `out`: the header's place reserved,
/// the payload written as it is encrypted, the header (whose tag covers every sample)
/// written last, then the file renamed into place. Holds the image and one chunk of
/// ciphertext. Returns the header and the file's length.
pub fn encrypt_to_file(key: &Key, image: &Image, out: &Path) -> Result<(Header, u64)> {
    let mut encryptor = key.encryptor(image.shape())?;
    let mut file = AtomicOutput::create(out)?;
    let header_len = encryptor.header_len();
    let context = || format!("cannot write {}", out.display());
    file.write_all(&vec![0; header_len]).with_context(context)?;
    let mut payload = Vec::new();
    for samples in image.data().chunks(ENCRYPT_SAMPLES) {
        payload.clear();
        encryptor.update(samples, &mut payload)?;
        file.write_all(&payload).with_context(context)?;
    }
    payload.clear();
    let header = encryptor.finish(&mut payload)?;
    file.write_all(&payload).with_context(context)?;
    file.write_at_start(&header.to_bytes())?;
    file.commit()?;
    let len = header_len as u64 + header.payload_len();
    Ok((header, len))
}

/// Where a result's bytes come from, in order.
pub trait Pull {
    /// Appends exactly the next `n` bytes to `out`.
    fn pull(&mut self, n: usize, out: &mut Vec<u8>) -> Result<()>;
}

impl Pull for ContainerFile {
    fn pull(&mut self, n: usize, out: &mut Vec<u8>) -> Result<()> {
        self.read(n, out)
    }
}

/// A result file read front to back (`picrypt decrypt --expect`).
impl Pull for std::io::BufReader<std::fs::File> {
    fn pull(&mut self, n: usize, out: &mut Vec<u8>) -> Result<()> {
        use std::io::Read;
        let at = out.len();
        out.resize(at + n, 0);
        self.read_exact(&mut out[at..])
            .context("cannot read the result (did it change?)")
    }
}

/// A result arriving over a channel from a download running on the async runtime: the
/// checks and the decryption run on this thread while the next bytes arrive.
pub struct ChannelPull {
    rx: tokio::sync::mpsc::Receiver<Result<Bytes>>,
    carry: Bytes,
}

impl ChannelPull {
    pub fn new(rx: tokio::sync::mpsc::Receiver<Result<Bytes>>) -> ChannelPull {
        ChannelPull {
            rx,
            carry: Bytes::new(),
        }
    }
}

impl Pull for ChannelPull {
    fn pull(&mut self, mut n: usize, out: &mut Vec<u8>) -> Result<()> {
        while n > 0 {
            if self.carry.is_empty() {
                self.carry = match self.rx.blocking_recv() {
                    Some(chunk) => chunk?,
                    None => bail!("the download ended early"),
                };
                continue;
            }
            let take = n.min(self.carry.len());
            out.extend_from_slice(&self.carry[..take]);
            self.carry.advance(take);
            n -= take;
        }
        Ok(())
    }
}

/// The inputs a result is checked against.
pub enum Inputs<'a> {
    /// Their headers: the whole check for a scheme with a tag (mask).
    Headers([&'a [u8]; 2]),
    /// The input files, read along to recompute the result (bfv, shuffle).
    Files([&'a mut ContainerFile; 2]),
}

/// What to do with a result while it is checked.
pub struct Sinks<'a, 'w> {
    /// Write the checked container here.
    pub container: Option<&'a mut AtomicOutput>,
    /// Decrypt it under this key, into these outputs.
    pub plaintext: Option<(&'a Key, &'a mut PlaintextSink<'w>)>,
}

/// The operation a result's header says it is the result of, for these inputs (the
/// operations give different headers, so at most one matches), as
/// [`verify::identify_result`] finds it.
pub fn identify_op(a: &[u8], b: &[u8], result_head: &[u8]) -> Result<Op> {
    let mut first_error = None;
    for op in Op::ALL {
        let header_matches = StreamedCheck::new(op, a, b)
            .and_then(|mut check| check.check_header(result_head).map(|_| ()));
        match header_matches {
            Ok(()) => return Ok(op),
            Err(Error::UnsupportedOp(_)) => continue,
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or(Error::Verification).into())
}

/// Receives the result of `op` on `inputs` from `result` (`result_len` bytes), checking
/// it as [`verify::check_result`] would, and writing and decrypting it as it arrives. A
/// wrong result is the one generic verification error, at the latest once it ended;
/// until this returns `Ok` nothing written may be shown (the callers commit the outputs
/// only then).
pub fn receive(
    op: Op,
    inputs: Inputs<'_>,
    result: &mut dyn Pull,
    result_len: u64,
    sinks: Sinks<'_, '_>,
) -> Result<StreamedResult> {
    let Sinks {
        mut container,
        plaintext,
    } = sinks;
    let (heads, mut files) = match inputs {
        Inputs::Headers([a, b]) => ([a.to_vec(), b.to_vec()], None),
        Inputs::Files([a, b]) => ([a.head().to_vec(), b.head().to_vec()], Some([a, b])),
    };
    let mut check = StreamedCheck::new(op, &heads[0], &heads[1])?;
    if check.needs_inputs() && files.is_none() {
        bail!(
            "{} results are checked against the input files: pass the ciphertexts, not only their headers",
            check.result_header().scheme()
        );
    }
    if result_len != check.result_len() {
        tracing::debug!(result_len, expected = check.result_len(), "result refused");
        return Err(Error::Verification.into());
    }
    let mut head = Vec::new();
    result.pull(check.result_header().encoded_len(), &mut head)?;
    check.check_header(&head)?;
    let write = |out: &mut Option<&mut AtomicOutput>, bytes: &[u8]| -> Result<()> {
        if let Some(out) = out {
            let path = out.path().display().to_string();
            out.write_all(bytes)
                .with_context(|| format!("cannot write {path}"))?;
        }
        Ok(())
    };
    write(&mut container, &head)?;
    let (mut decryptor, sink) = match plaintext {
        Some((key, sink)) => (Some(check.decryptor(key)?), Some(sink)),
        None => (None, None),
    };
    let mut sink = sink;
    let (mut chunk, mut a, mut b) = (Vec::new(), Vec::new(), Vec::new());
    let mut values = Zeroizing::new(Vec::new());
    while !check.is_done() {
        let lens = check.next_lens(CHUNK_BYTES);
        chunk.clear();
        result.pull(lens.out, &mut chunk)?;
        if let Some([fa, fb]) = files.as_mut().filter(|_| check.needs_inputs()) {
            a.clear();
            b.clear();
            fa.read(lens.a, &mut a)?;
            fb.read(lens.b, &mut b)?;
        }
        check.next(lens, &a, &b, &chunk)?;
        write(&mut container, &chunk)?;
        if let (Some(d), Some(sink)) = (decryptor.as_mut(), sink.as_deref_mut()) {
            values.clear();
            d.update(&chunk, &mut values)?;
            sink.push(&values)?;
        }
    }
    if let (Some(d), Some(sink)) = (decryptor.take(), sink) {
        values.clear();
        d.finish(&mut values)?;
        sink.push(&values)?;
    }
    Ok(check.finish()?)
}

/// Decrypts the container file `file` as what it is expected to be ([`verify::decryptor`]),
/// into `sink`.
pub fn decrypt_file(
    key: &Key,
    file: &mut ContainerFile,
    expect: verify::Expect,
    sink: &mut PlaintextSink<'_>,
) -> Result<()> {
    let mut decryptor = verify::decryptor(key, file.header(), expect)?;
    let mut left = file.header().payload_len();
    let (mut chunk, mut values) = (Vec::new(), Zeroizing::new(Vec::new()));
    while left > 0 {
        let n = (CHUNK_BYTES as u64).min(left) as usize;
        chunk.clear();
        file.read(n, &mut chunk)?;
        values.clear();
        decryptor.update(&chunk, &mut values)?;
        sink.push(&values)?;
        left -= n as u64;
    }
    values.clear();
    decryptor.finish(&mut values)?;
    sink.push(&values)
}

/// A decrypted plaintext written as it comes: `.npy` values as they are, a PNG (the image,
/// or a render of the difference) row by row through the `png` crate's stream writer,
/// and a difference's statistics. The overlay render holds its picture until the end
/// (`render::Renderer`); every other output holds a row or a chunk. The files are the
/// caller's [`AtomicOutput`]s, committed by the caller once the result was accepted.
pub struct PlaintextSink<'w> {
    shape: Shape,
    image: bool,
    /// Values of a row not yet complete.
    carry: Zeroizing<Vec<i16>>,
    rows: usize,
    npy: Option<&'w mut AtomicOutput>,
    png: Option<PngRows>,
    stats: Option<StatsBuilder>,
    after: Option<&'w Image>,
    /// Bytes on their way to a file, wiped when dropped.
    bytes: Zeroizing<Vec<u8>>,
}

struct PngRows {
    /// Writes through a handle on the output's temporary file: the stream writer must
    /// own its writer.
    stream: png::StreamWriter<'static, std::fs::File>,
    /// For a difference; an image is written as it is.
    renderer: Option<Renderer>,
}

impl<'w> PlaintextSink<'w> {
    /// A sink for the plaintext of a container with `header`: `.npy` to `npy`, a PNG to
    /// `png` (the image, or a difference rendered as `render` says, over `after` for the
    /// overlay), and statistics of a difference at `render`'s threshold.
    pub fn new(
        header: &Header,
        npy_out: Option<&'w mut AtomicOutput>,
        png_out: Option<&'w mut AtomicOutput>,
        render: &RenderArgs,
        after: Option<&'w Image>,
    ) -> Result<PlaintextSink<'w>> {
        let shape = header.shape();
        let range = header.range();
        let image = range.min() >= 0 && range.max() <= ValueRange::of_samples(8).max();
        let npy = match npy_out {
            Some(out) => {
                let head = if image {
                    npy::header_u8(&shape)
                } else {
                    npy::header_i16(&shape)
                };
                let path = out.path().display().to_string();
                out.write_all(&head)
                    .with_context(|| format!("cannot write {path}"))?;
                Some(out)
            }
            None => None,
        };
        let png = match png_out {
            Some(out) => {
                let mode = render.mode();
                if mode.needs_after_image() && !image {
                    match after {
                        Some(a) if a.shape() == shape => {}
                        _ => bail!(
                            "the overlay render needs the after image of the difference's shape"
                        ),
                    }
                }
                let renderer = (!image).then(|| Renderer::new(shape, mode, render.threshold));
                let (w, h, channels) = match &renderer {
                    Some(r) => r.out_shape(),
                    None => (shape.width(), shape.height(), shape.channels()),
                };
                let path = out.path().display().to_string();
                let mut encoder = png::Encoder::new(out.handle()?, w, h);
                encoder.set_color(match channels {
                    1 => png::ColorType::Grayscale,
                    2 => png::ColorType::GrayscaleAlpha,
                    3 => png::ColorType::Rgb,
                    _ => png::ColorType::Rgba,
                });
                encoder.set_depth(png::BitDepth::Eight);
                // Fast deflate, as `image_io::encode_png`: renders are written every run.
                encoder.set_compression(png::Compression::Fast);
                let stream = encoder
                    .write_header()
                    .and_then(|w| w.into_stream_writer())
                    .with_context(|| format!("cannot write {path}"))?;
                Some(PngRows { stream, renderer })
            }
            None => None,
        };
        Ok(PlaintextSink {
            shape,
            image,
            carry: Zeroizing::new(Vec::new()),
            rows: 0,
            npy,
            png,
            stats: (!image).then(|| StatsBuilder::new(shape, render.threshold)),
            after,
            bytes: Zeroizing::new(Vec::new()),
        })
    }

    /// Adds the next values (HWC order, any count).
    pub fn push(&mut self, values: &[i16]) -> Result<()> {
        if let Some(npy) = self.npy.as_deref_mut() {
            self.bytes.clear();
            if self.image {
                self.bytes.extend(values.iter().map(|&v| v as u8));
            } else {
                self.bytes
                    .extend(values.iter().flat_map(|v| v.to_le_bytes()));
            }
            let path = npy.path().display().to_string();
            npy.write_all(&self.bytes)
                .with_context(|| format!("cannot write {path}"))?;
        }
        if self.png.is_none() && self.stats.is_none() {
            return Ok(());
        }
        let row = self.shape.width() as usize * self.shape.channels() as usize;
        self.carry.extend_from_slice(values);
        let whole = self.carry.len() / row * row;
        if whole == 0 {
            return Ok(());
        }
        let rows = &self.carry[..whole];
        if let Some(stats) = self.stats.as_mut() {
            stats.push_rows(rows);
        }
        if let Some(png) = self.png.as_mut() {
            self.bytes.clear();
            match png.renderer.as_mut() {
                Some(renderer) => {
                    let after = self
                        .after
                        .map(|a| &a.data()[self.rows * row..self.rows * row + whole]);
                    renderer.push_rows(rows, after, &mut self.bytes)?;
                }
                None => self.bytes.extend(rows.iter().map(|&v| v as u8)),
            }
            png.stream
                .write_all(&self.bytes)
                .context("cannot write the PNG")?;
        }
        self.rows += whole / row;
        self.carry.drain(..whole);
        Ok(())
    }

    /// Ends the outputs (the PNG's last rows, its end); the statistics of a difference.
    pub fn finish(mut self) -> Result<Option<ChangeStats>> {
        if !self.carry.is_empty()
            || (self.png.is_some() || self.stats.is_some())
                && self.rows != self.shape.height() as usize
        {
            bail!("the plaintext ended in the middle of a row");
        }
        if let Some(mut png) = self.png.take() {
            if let Some(renderer) = png.renderer.take() {
                self.bytes.clear();
                renderer.finish(&mut self.bytes)?;
                png.stream
                    .write_all(&self.bytes)
                    .context("cannot write the PNG")?;
            }
            png.stream.finish().context("cannot write the PNG")?;
        }
        Ok(self.stats.take().map(StatsBuilder::finish))
    }
}
