//! `picrypt decrypt`: a ciphertext as what it is expected to be (an image, a difference,
//! or, with `--expect A B`, exactly A − B), then an image, a render, or `.npy`.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use picrypt_core::format::looks_like_container;
use picrypt_core::format::MAX_HEADER_LEN;
use picrypt_core::render;
use picrypt_core::{image_io, npy, verify, Error, Image, Key, Plaintext};

use serde_json::json;

use crate::args::RenderArgs;
use crate::files::{self, AtomicOutput, ContainerFile, Kind};
use crate::output::{self, warn_if_insecure, write_plaintext};
use crate::streamed::{self, Inputs, PlaintextSink, Sinks};

/// Examples for `picrypt decrypt --help`.
pub const EXAMPLES: &str = "Examples:
  picrypt decrypt --key k.key before.picrypt -o before.png
  picrypt decrypt --key k.key diff.picrypt --expect a.picrypt b.picrypt -o diff.png
  picrypt decrypt --key k.key diff.picrypt -o diff.npy               # the exact int16 values
  picrypt decrypt --key k.key diff.picrypt --render overlay --over after.png -o moved.png";

/// Arguments of `picrypt decrypt`.
#[derive(clap::Args)]
pub struct Args {
    /// The secret key file (not KEY.pub).
    #[arg(long)]
    key: PathBuf,
    /// A container, or with a shuffle key also a scrambled PNG/.npy from imageshuffle.
    #[arg(value_name = "CIPHERTEXT")]
    ciphertext: PathBuf,
    /// OUT.png (the image, or a render of a difference) or OUT.npy (the raw values).
    #[arg(short, long)]
    out: PathBuf,
    /// The two ciphertexts the result must have been computed from (A − B): it is
    /// checked against them before anything is decrypted. Required for bfv results.
    #[arg(long, num_args = 2, value_names = ["A", "B"])]
    expect: Option<Vec<PathBuf>>,
    /// bfv only: decrypt a ciphertext that cannot be tied to checked inputs. Only for
    /// ciphertexts you made yourself or got over a channel no one else can write to: a
    /// crafted bfv ciphertext makes its decryption reveal your secret key.
    #[arg(long)]
    insecure_trust_bfv_input: bool,
    /// The "after" image, for `--render overlay` (the changes drawn over it).
    #[arg(long, value_name = "AFTER")]
    over: Option<PathBuf>,
    #[command(flatten)]
    render: RenderArgs,
    /// Print one JSON document (paths, what was verified, statistics) instead of lines.
    #[arg(long)]
    json: bool,
}

impl Args {
    /// Whether `--json` was given.
    pub fn json(&self) -> bool {
        self.json
    }
}

/// Checks, decrypts and writes.
pub fn run(args: &Args) -> Result<()> {
    let path = &args.ciphertext;
    let mut inputs = vec![args.key.as_path(), path.as_path()];
    inputs.extend(args.expect.iter().flatten().map(PathBuf::as_path));
    inputs.extend(args.over.as_deref());
    files::check_outputs(&[(&args.out, Kind::PngOrNpy)], &inputs)?;
    if args.render.mode().needs_after_image() && args.over.is_none() {
        bail!("--render overlay draws the changes over the after image: pass --over AFTER.png");
    }
    let key = files::read_key(&args.key)?;
    let after = args.over.as_deref().map(files::read_image).transpose()?;
    let legacy = key.scheme().warning().is_some();
    if legacy {
        let bytes = files::read(path)?;
        if !looks_like_container(&bytes) {
            // A scrambled image from imageshuffle (PNG or .npy) rather than a container.
            let scrambled = if bytes.starts_with(b"\x93NUMPY") {
                npy::decode_u8(&bytes)
            } else {
                image_io::decode(&bytes)
            }
            .with_context(|| format!("{}", path.display()))?;
            let image = key.unscramble(&scrambled)?;
            write_plaintext(&Plaintext::of_image(&image), &args.out, &args.render, None)?;
            warn_if_insecure(key.scheme());
            return output::json(json!({
                "ciphertext": path,
                "output": &args.out,
                "scheme": key.scheme().name(),
                "kind": "image",
                "verified": "nothing: legacy scheme",
            }));
        }
    }
    if key.decrypts_in_chunks() && is_large(path)? {
        return streamed(args, &key, after.as_ref());
    }
    let context = || format!("{}", path.display());
    let (pt, what) = match args.expect.as_deref() {
        Some([a, b]) => {
            let result = files::read(path)?;
            let (a_bytes, b_bytes) = (files::read(a)?, files::read(b)?);
            let checked =
                verify::identify_result(&a_bytes, &b_bytes, &result).with_context(|| {
                    format!(
                        "{} is not the result of {} and {}",
                        path.display(),
                        a.display(),
                        b.display()
                    )
                })?;
            let pt = checked.decrypt(&key).with_context(context)?;
            (pt, checked.describe())
        }
        Some(_) => bail!("--expect takes two ciphertexts: A and B"),
        None => {
            let ct = files::read_container(path)?;
            let claim = verify::Expect::claimed_by(ct.header());
            if claim == verify::Expect::Image && args.render.render.is_some() {
                bail!(
                    "{} is an encrypted image, not a difference: there is nothing to render (drop --render to write the image)",
                    path.display()
                );
            }
            let pt = if args.insecure_trust_bfv_input {
                verify::decrypt_trusting_source(&key, &ct, claim)
            } else {
                verify::decrypt(&key, &ct, claim)
            };
            let pt = match pt {
                Err(e @ Error::Unverifiable(_)) => bail!(
                    "{}: {e}; for a difference pass --expect A B (the two ciphertexts it was computed from), for a ciphertext you made yourself --insecure-trust-bfv-input",
                    path.display()
                ),
                other => other.with_context(context)?,
            };
            (pt, verify::describe(ct.header(), claim))
        }
    };
    output::line(format_args!("{}: {what}", path.display()));
    write_plaintext(&pt, &args.out, &args.render, after.as_ref())?;
    let stats = (!pt.is_image()).then(|| render::stats(&pt, args.render.threshold));
    if let Some(stats) = &stats {
        output::line(stats.summary());
    }
    warn_if_insecure(key.scheme());
    output::json(json!({
        "ciphertext": path,
        "output": &args.out,
        "scheme": key.scheme().name(),
        "kind": if pt.is_image() { "image" } else { "difference" },
        "render": (!pt.is_image() && files::extension(&args.out) == "png").then(|| args.render.mode().name()),
        "verified": what,
        "statistics": stats,
    }))
}

/// Whether the container at `path` is large enough for the streamed path.
fn is_large(path: &Path) -> Result<bool> {
    let len = std::fs::metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .len();
    Ok(len >= streamed::STREAM_FROM_SAMPLES as u64)
}

/// The checks and decryption of a large container a chunk at a time, the output written
/// to a temporary file as it comes and renamed into place only once the result was
/// checked against `--expect`'s inputs and the tag verified.
fn streamed(args: &Args, key: &Key, after: Option<&Image>) -> Result<()> {
    let path = &args.ciphertext;
    let context = || format!("{}", path.display());
    let mut out = AtomicOutput::create(&args.out)?;
    let (what, stats, image) = match args.expect.as_deref() {
        Some([a, b]) => {
            let fa = ContainerFile::open(a, Some("A"))?;
            let fb = ContainerFile::open(b, Some("B"))?;
            let mut result = std::io::BufReader::with_capacity(
                1 << 20,
                std::fs::File::open(path)
                    .with_context(|| format!("cannot read {}", path.display()))?,
            );
            let len = result.get_ref().metadata()?.len();
            let head = std::io::Read::take(&mut result, MAX_HEADER_LEN.min(len as usize) as u64)
                .bytes()
                .collect::<std::io::Result<Vec<u8>>>()
                .with_context(|| format!("cannot read {}", path.display()))?;
            std::io::Seek::rewind(&mut result)?;
            let not_the_result = || {
                format!(
                    "{} is not the result of {} and {}",
                    path.display(),
                    a.display(),
                    b.display()
                )
            };
            let op =
                streamed::identify_op(fa.head(), fb.head(), &head).with_context(not_the_result)?;
            let header = picrypt_core::Header::parse(&head)?.0;
            let (checked, stats) = sink_into(&header, &mut out, args, after, |sink| {
                streamed::receive(
                    op,
                    Inputs::Headers([fa.head(), fb.head()]),
                    &mut result,
                    len,
                    Sinks {
                        container: None,
                        plaintext: Some((key, sink)),
                    },
                )
                .with_context(not_the_result)
            })?;
            (checked.describe(), stats, false)
        }
        Some(_) => bail!("--expect takes two ciphertexts: A and B"),
        None => {
            let mut file = ContainerFile::open(path, None)?;
            let header = file.header().clone();
            let claim = verify::Expect::claimed_by(&header);
            if claim == verify::Expect::Image && args.render.render.is_some() {
                bail!(
                    "{} is an encrypted image, not a difference: there is nothing to render (drop --render to write the image)",
                    path.display()
                );
            }
            let ((), stats) = sink_into(&header, &mut out, args, after, |sink| {
                streamed::decrypt_file(key, &mut file, claim, sink).with_context(context)
            })?;
            (
                verify::describe(&header, claim),
                stats,
                claim == verify::Expect::Image,
            )
        }
    };
    let kind = output::output_kind(image, &args.out, &args.render)?;
    output::line(format_args!("{}: {what}", path.display()));
    out.commit()?;
    output::line(format_args!(
        "decrypted and wrote {kind} {}",
        args.out.display()
    ));
    if let Some(stats) = &stats {
        output::line(stats.summary());
    }
    warn_if_insecure(key.scheme());
    output::json(json!({
        "ciphertext": path,
        "output": &args.out,
        "scheme": key.scheme().name(),
        "kind": if image { "image" } else { "difference" },
        "render": (!image && files::extension(&args.out) == "png").then(|| args.render.mode().name()),
        "verified": what,
        "statistics": stats,
    }))
}

/// Runs `work` with a sink writing the plaintext of `header` to `out` (`.npy` or PNG by
/// its name); what it returned and the statistics of a difference.
fn sink_into<T>(
    header: &picrypt_core::Header,
    out: &mut AtomicOutput,
    args: &Args,
    after: Option<&Image>,
    work: impl FnOnce(&mut PlaintextSink<'_>) -> Result<T>,
) -> Result<(T, Option<render::ChangeStats>)> {
    let npy = files::extension(&args.out) == "npy";
    let (npy_out, png_out) = if npy {
        (Some(out), None)
    } else {
        (None, Some(out))
    };
    let mut sink = PlaintextSink::new(header, npy_out, png_out, &args.render, after)?;
    let done = work(&mut sink)?;
    let stats = sink.finish()?;
    Ok((done, stats))
}
