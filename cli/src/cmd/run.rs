//! `picrypt run`: the whole flow on two image files.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use picrypt_core::{npy, render, Key, Op, Scheme};
use serde_json::json;

use crate::args::{LegacyArgs, OpArg, RemoteArgs, RenderArgs};
use crate::files::{self, Kind};
use crate::flow;
use crate::output::{self, warn_if_insecure, write_plaintext};

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
    let op = Op::from(args.op);
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
