//! `picrypt diff`: A − B of two ciphertexts, here or on a function, checked against the
//! two inputs before anything is written.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use picrypt_core::{verify, ContainerRef, Op};

use serde_json::json;

use crate::args::{OpArg, RemoteArgs};
use crate::files::{self, AtomicOutput, ContainerFile, Kind};
use crate::output::{self, warn_if_insecure};
use crate::remote::{self, S3Diff};
use crate::streamed::{Inputs, Sinks};

/// Examples for `picrypt diff --help`.
pub const EXAMPLES: &str = "Examples:
  picrypt diff a.picrypt b.picrypt -o diff.picrypt                   # in this process
  picrypt diff a.picrypt b.picrypt -o diff.picrypt --url http://127.0.0.1:8080
  picrypt diff a.picrypt b.picrypt -o diff.picrypt --url https://ID.lambda-url.REGION.on.aws --s3-bucket BUCKET
  picrypt diff a.picrypt b.picrypt -o diff.picrypt --function-name picrypt-function      # Lambda Invoke API

Environment (with --url or --function-name): AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_SESSION_TOKEN, AWS_PROFILE (SigV4 and S3), AWS_ENDPOINT_URL (an S3-compatible server),
AWS_ENDPOINT_URL_LAMBDA (another Lambda endpoint, e.g. cargo lambda watch), PICRYPT_S3_ATTEMPTS,
PICRYPT_S3_BACKOFF_MS, PICRYPT_S3_TIMEOUT_MS; PICRYPT_LOG (log filter).";

/// Arguments of `picrypt diff`.
#[derive(clap::Args)]
pub struct Args {
    /// The ciphertext subtracted from (A, e.g. the "before" image).
    #[arg(value_name = "A")]
    a: PathBuf,
    /// The ciphertext subtracted (B, e.g. the "after" image), under the same key.
    #[arg(value_name = "B")]
    b: PathBuf,
    /// The result ciphertext to write.
    #[arg(short, long)]
    out: PathBuf,
    /// What to compute.
    #[arg(long, value_enum, default_value_t = OpArg::Sub)]
    op: OpArg,
    #[command(flatten)]
    remote: RemoteArgs,
    /// Print one JSON document (paths, what was checked, timings) instead of lines.
    #[arg(long)]
    json: bool,
}

impl Args {
    /// Whether `--json` was given.
    pub fn json(&self) -> bool {
        self.json
    }
}

/// Subtracts, checks, writes.
pub fn run(args: &Args) -> Result<()> {
    let (a, b, out) = (&args.a, &args.b, &args.out);
    let op = Op::from(args.op);
    files::check_outputs(&[(out, Kind::Container)], &[a, b])?;
    let target = args.remote.checked()?;
    if target.is_remote() && target.s3_bucket.is_some() {
        return through_s3(args, op, &target);
    }
    let a_bytes = bytes::Bytes::from(files::read(a)?);
    let b_bytes = bytes::Bytes::from(files::read(b)?);
    // Refuse a malformed input naming its file (and before uploading anything); errors of
    // the subtraction itself name both, A and B in the message saying which is which.
    for (which, path, bytes) in [("A", a, &a_bytes), ("B", b, &b_bytes)] {
        ContainerRef::parse(bytes)
            .map_err(|e| e.in_input(which))
            .with_context(|| format!("{}", path.display()))?;
    }
    let start = Instant::now();
    let result = remote::subtract(op, &a_bytes, &b_bytes, &target)
        .with_context(|| format!("{} − {}", a.display(), b.display()))?;
    let checked =
        verify::check_result(op, &a_bytes, &b_bytes, &result).context("the function's result")?;
    output::line(format_args!("checked: {}", checked.describe()));
    files::write_atomic(out, &result)?;
    output::line(format_args!(
        "{} − {} → {} ({} bytes) in {:.0?}",
        a.display(),
        b.display(),
        out.display(),
        result.len(),
        start.elapsed()
    ));
    let scheme = checked.container().header().scheme();
    warn_if_insecure(scheme);
    output::json(json!({
        "a": a,
        "b": b,
        "output": out,
        "op": op.name(),
        "scheme": scheme.name(),
        "where": target.place(),
        "bytes": result.len(),
        "checked": checked.describe(),
        "ms": start.elapsed().as_secs_f64() * 1e3,
    }))
}

/// Through S3, for pairs of any size: both inputs uploaded from their files, the result
/// received into a temporary file beside `-o` and checked against the inputs as it
/// arrives (bfv and shuffle results recomputed from the input files chunk by chunk), and
/// renamed into place only once it passed. Memory does not grow with the images.
fn through_s3(args: &Args, op: Op, target: &crate::args::RemoteArgs) -> Result<()> {
    let (a, b, out) = (&args.a, &args.b, &args.out);
    let mut fa = ContainerFile::open(a, Some("A"))?;
    let mut fb = ContainerFile::open(b, Some("B"))?;
    let start = Instant::now();
    let mut file = AtomicOutput::create(out)?;
    let mut s3 = S3Diff::start(target)?;
    let got = (|| {
        s3.upload_file(0, a)?;
        s3.upload_file(1, b)?;
        s3.compute(op)?;
        s3.receive(
            op,
            Inputs::Files([&mut fa, &mut fb]),
            Sinks {
                container: Some(&mut file),
                plaintext: None,
            },
        )
        .context("the function's result")
    })();
    s3.finish(got.is_err());
    let checked = got.with_context(|| format!("{} − {}", a.display(), b.display()))?;
    file.commit()?;
    let h = checked.header();
    let bytes = h.encoded_len() as u64 + h.payload_len();
    output::line(format_args!("checked: {}", checked.describe()));
    output::line(format_args!(
        "{} − {} → {} ({bytes} bytes) in {:.0?}",
        a.display(),
        b.display(),
        out.display(),
        start.elapsed()
    ));
    warn_if_insecure(h.scheme());
    output::json(json!({
        "a": a,
        "b": b,
        "output": out,
        "op": op.name(),
        "scheme": h.scheme().name(),
        "where": target.place(),
        "bytes": bytes,
        "checked": checked.describe(),
        "ms": start.elapsed().as_secs_f64() * 1e3,
    }))
}
