//! `picrypt run`: the whole flow on two image files.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use picrypt_core::verify::StreamedCheck;
use picrypt_core::{npy, render, Key, Op, Scheme};
use serde_json::json;

use crate::args::{LegacyArgs, OpArg, RemoteArgs, RenderArgs};
use crate::files::{self, AtomicOutput, Kind};
use crate::flow;
use crate::output::{self, warn_if_insecure, write_plaintext};
use crate::remote::S3Diff;
use crate::streamed::{self, Inputs, PlaintextSink, Sinks};

/// Examples for `picrypt run --help`.
pub const EXAMPLES: &str = "Examples:
  picrypt run before.png after.png -o diff.png                       # in this process, a fresh key
  picrypt run before.jpg after.jpg -o moved.png --render overlay --npy diff.npy
  picrypt run before.png after.png -o diff.png --key k.key --url http://127.0.0.1:8080
  picrypt run before.png after.png -o diff.png --url https://ID.lambda-url.REGION.on.aws --s3-bucket BUCKET
  picrypt run before.png after.png -o diff.png --function-name picrypt-function      # Lambda Invoke API

Environment (with --url or --function-name): AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_SESSION_TOKEN, AWS_PROFILE (SigV4 and S3), AWS_ENDPOINT_URL (an S3-compatible server),
AWS_ENDPOINT_URL_LAMBDA (another Lambda endpoint, e.g. cargo lambda watch), PICRYPT_S3_ATTEMPTS,
PICRYPT_S3_BACKOFF_MS, PICRYPT_S3_TIMEOUT_MS; PICRYPT_LOG (log filter).";

/// Arguments of `picrypt run`.
#[derive(clap::Args)]
pub struct Args {
    /// The image before (PNG, JPEG, BMP, TIFF or WebP).
    #[arg(value_name = "BEFORE")]
    before: PathBuf,
    /// The image after, of the same size and channels.
    #[arg(value_name = "AFTER")]
    after: PathBuf,
    /// The render to write (PNG).
    #[arg(short, long)]
    out: PathBuf,
    /// Use this key instead of a fresh one.
    #[arg(long)]
    key: Option<PathBuf>,
    /// What the server computes: sub (A − B), or sub_sat (max(A − B, 0); shuffle keys).
    #[arg(long, value_enum, default_value_t = OpArg::Sub)]
    op: OpArg,
    /// Also write the exact difference as int16 .npy.
    #[arg(long)]
    npy: Option<PathBuf>,
    #[command(flatten)]
    render: RenderArgs,
    #[command(flatten)]
    remote: RemoteArgs,
    #[command(flatten)]
    legacy: LegacyArgs,
    /// Print one JSON document (paths, statistics, timings, what was verified) instead of
    /// lines.
    #[arg(long)]
    json: bool,
}

impl Args {
    /// Whether `--json` was given.
    pub fn json(&self) -> bool {
        self.json
    }
}

/// Encrypts, subtracts, checks, decrypts, renders, reports.
pub fn run(args: &Args) -> Result<()> {
    let out = &args.out;
    let mut outputs = vec![(out.as_path(), Kind::Png)];
    outputs.extend(args.npy.as_deref().map(|p| (p, Kind::Npy)));
    let mut inputs = vec![args.before.as_path(), args.after.as_path()];
    inputs.extend(args.key.as_deref());
    files::check_outputs(&outputs, &inputs)?;
    let remote = args.remote.checked()?;
    let key = match &args.key {
        Some(path) => files::read_key(path)?,
        None => Key::generate(Scheme::MASK)?,
    };
    flow::check_legacy(&key, args.legacy)?;
    let op = Op::from(args.op);
    if remote.s3_bucket.is_some()
        && key.encrypts_in_chunks()
        && key.decrypts_in_chunks()
        && files::image_samples(&args.before)? >= streamed::STREAM_FROM_SAMPLES as u64
    {
        return streamed(args, &key, op, &remote);
    }
    // Both images decode at once: PNG and JPEG decoding run on one core each.
    let t = Instant::now();
    let (before, after) = std::thread::scope(|s| {
        let before = s.spawn(|| files::read_image_oriented(&args.before));
        let after = files::read_image_oriented(&args.after);
        (before.join().expect("decoding does not panic"), after)
    });
    let ((before, before_orientation), (after, after_orientation)) = (before?, after?);
    output::step("read", t, &format!("decoded two {} images", before.shape()));
    if before_orientation != after_orientation {
        output::line(format_args!(
            "note: the two photos were taken in different orientations ({} {before_orientation}, {} {after_orientation}); both are compared the way they display",
            args.before.display(),
            args.after.display()
        ));
    }
    let flow = flow::run(&key, op, &before, &after, &remote, args.legacy)?;
    let t = Instant::now();
    write_plaintext(&flow.plaintext, out, &args.render, Some(&after))?;
    if let Some(path) = &args.npy {
        let pt = &flow.plaintext;
        files::write_atomic(path, &npy::encode_i16(&pt.shape(), pt.values()))?;
        output::line(format_args!("wrote int16 difference {}", path.display()));
    }
    output::step(
        "render",
        t,
        &format!("{} render written", args.render.mode().name()),
    );
    let stats = render::stats(&flow.plaintext, args.render.threshold);
    output::line(stats.summary());
    warn_if_insecure(key.scheme());
    output::json(json!({
        "before": &args.before,
        "after": &args.after,
        "output": out,
        "npy": &args.npy,
        "op": op.name(),
        "computed": op.formula("before", "after"),
        "scheme": key.scheme().name(),
        "where": remote.place(),
        "render": args.render.mode().name(),
        "verified": flow.verified,
        "statistics": stats,
    }))
}

/// A pair too large to hold twice, through S3: each image decoded, encrypted as it
/// uploads and dropped before the next (the after image kept only for the overlay
/// render), the result received, checked, decrypted and rendered as it arrives, the
/// outputs renamed into place only once the result was accepted.
fn streamed(args: &Args, key: &Key, op: Op, remote: &RemoteArgs) -> Result<()> {
    let mut png_out = AtomicOutput::create(&args.out)?;
    let mut npy_out = args.npy.as_deref().map(AtomicOutput::create).transpose()?;
    let mut s3 = S3Diff::start(remote)?;
    let got = (|| -> Result<_> {
        let t = Instant::now();
        let (before, before_orientation) = files::read_image_oriented(&args.before)?;
        output::step(
            "read",
            t,
            &format!("decoded {} ({})", args.before.display(), before.shape()),
        );
        let head_a = s3.upload_encrypted(0, key, &before)?;
        let shape = before.shape();
        drop(before);
        let t = Instant::now();
        let (after, after_orientation) = files::read_image_oriented(&args.after)?;
        if let Some(d) = shape.difference(&after.shape()) {
            return Err(picrypt_core::Error::ShapeMismatch(format!(
                "the images differ: {d}"
            )))
            .with_context(|| format!("{} and {}", args.before.display(), args.after.display()));
        }
        output::step(
            "read",
            t,
            &format!("decoded {} ({})", args.after.display(), after.shape()),
        );
        if before_orientation != after_orientation {
            output::line(format_args!(
                "note: the two photos were taken in different orientations ({} {before_orientation}, {} {after_orientation}); both are compared the way they display",
                args.before.display(),
                args.after.display()
            ));
        }
        let head_b = s3.upload_encrypted(1, key, &after)?;
        let after = args.render.mode().needs_after_image().then_some(after);
        s3.compute(op)?;
        let t = Instant::now();
        let expected = StreamedCheck::new(op, &head_a, &head_b)?
            .result_header()
            .clone();
        let mut sink = PlaintextSink::new(
            &expected,
            npy_out.as_mut(),
            Some(&mut png_out),
            &args.render,
            after.as_ref(),
        )?;
        let checked = s3
            .receive(
                op,
                Inputs::Headers([&head_a, &head_b]),
                Sinks {
                    container: None,
                    plaintext: Some((key, &mut sink)),
                },
            )
            .context("the function's result")?;
        let stats = sink.finish()?.expect("a difference has statistics");
        let verified = checked.describe_as("before", "after");
        output::step("decrypt", t, &verified);
        Ok((verified, stats))
    })();
    s3.finish(got.is_err());
    let (verified, stats) = got?;
    png_out.commit()?;
    if let Some(npy) = npy_out {
        npy.commit()?;
        output::line(format_args!(
            "wrote int16 difference {}",
            args.npy.as_ref().expect("npy asked for").display()
        ));
    }
    output::line(format_args!(
        "decrypted and wrote {} render {}",
        args.render.mode().name(),
        args.out.display()
    ));
    output::line(stats.summary());
    output::json(json!({
        "before": &args.before,
        "after": &args.after,
        "output": &args.out,
        "npy": &args.npy,
        "op": op.name(),
        "computed": op.formula("before", "after"),
        "scheme": key.scheme().name(),
        "where": remote.place(),
        "render": args.render.mode().name(),
        "verified": verified,
        "statistics": stats,
    }))
}
