//! `picrypt diff`: A − B of two ciphertexts, here or on a function, checked against the
//! two inputs before anything is written.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use picrypt_core::{verify, ContainerRef, Op};

use crate::args::{OpArg, RemoteArgs};
use crate::files;
use crate::output::warn_if_insecure;
use crate::remote;

/// Arguments of `picrypt diff`.
#[derive(clap::Args)]
pub struct Args {
    a: PathBuf,
    b: PathBuf,
    /// The result ciphertext to write.
    #[arg(short, long)]
    out: PathBuf,
    #[arg(long, value_enum, default_value_t = OpArg::Sub)]
    op: OpArg,
    #[command(flatten)]
    remote: RemoteArgs,
}

/// Subtracts, checks, writes.
pub fn run(args: &Args) -> Result<()> {
    let (a, b, out) = (&args.a, &args.b, &args.out);
    let op = Op::from(args.op);
    files::check_container_name(out)?;
    let a_bytes = files::read(a)?;
    let b_bytes = files::read(b)?;
    // Refuse a malformed input naming its file (and before uploading anything); errors of
    // the subtraction itself name both, A and B in the message saying which is which.
    for (which, path, bytes) in [("A", a, &a_bytes), ("B", b, &b_bytes)] {
        ContainerRef::parse(bytes)
            .map_err(|e| e.in_input(which))
            .with_context(|| format!("{}", path.display()))?;
    }
    let start = Instant::now();
    let result = remote::subtract(op, &a_bytes, &b_bytes, &args.remote)
        .with_context(|| format!("{} − {}", a.display(), b.display()))?;
    let checked =
        verify::check_result(op, &a_bytes, &b_bytes, &result).context("the function's result")?;
    warn_if_insecure(checked.container().header().scheme());
    println!("checked: {}", checked.describe());
    files::write_atomic(out, &result)?;
    println!(
        "{} − {} → {} ({} bytes) in {:.0?}",
        a.display(),
        b.display(),
        out.display(),
        result.len(),
        start.elapsed()
    );
    Ok(())
}
