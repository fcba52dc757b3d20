//! `picrypt run`: the whole flow on two image files.

use std::path::PathBuf;

use anyhow::{bail, Result};
use picrypt_core::{npy, render, Key, Scheme};

use crate::args::{LegacyArgs, OpArg, RemoteArgs, RenderArgs};
use crate::files;
use crate::flow;
use crate::output::write_plaintext;

/// Arguments of `picrypt run`.
#[derive(clap::Args)]
pub struct Args {
    before: PathBuf,
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
}

/// Encrypts, subtracts, checks, decrypts, renders, reports.
pub fn run(args: &Args) -> Result<()> {
    let out = &args.out;
    if files::extension(out) != "png" {
        bail!("{}: the render is a PNG; name it *.png", out.display());
    }
    let key = match &args.key {
        Some(path) => files::read_key(path)?,
        None => Key::generate(Scheme::MASK)?,
    };
    let before = files::read_image(&args.before)?;
    let after = files::read_image(&args.after)?;
    let flow = flow::run(
        &key,
        args.op.into(),
        &before,
        &after,
        &args.remote,
        args.legacy,
    )?;
    write_plaintext(&flow.plaintext, out, &args.render)?;
    if let Some(path) = &args.npy {
        let pt = &flow.plaintext;
        files::write_atomic(path, &npy::encode_i16(&pt.shape(), pt.values()))?;
        println!("wrote int16 difference {}", path.display());
    }
    println!(
        "{}",
        render::stats(&flow.plaintext, args.render.threshold).summary()
    );
    Ok(())
}
