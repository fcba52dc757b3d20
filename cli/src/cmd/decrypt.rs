//! `picrypt decrypt`: a ciphertext as what it is expected to be (an image, a difference,
//! or, with `--expect A B`, exactly A − B), then an image, a render, or `.npy`.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use picrypt_core::format::looks_like_container;
use picrypt_core::render;
use picrypt_core::{image_io, npy, verify, Error, Plaintext};

use crate::args::RenderArgs;
use crate::files;
use crate::output::{warn_if_insecure, write_plaintext};

/// Arguments of `picrypt decrypt`.
#[derive(clap::Args)]
pub struct Args {
    #[arg(long)]
    key: PathBuf,
    /// A container, or with a shuffle key also a scrambled PNG/.npy from imageshuffle.
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
    #[command(flatten)]
    render: RenderArgs,
}

/// Checks, decrypts and writes.
pub fn run(args: &Args) -> Result<()> {
    let key = files::read_key(&args.key)?;
    let path = &args.ciphertext;
    if key.scheme().warning().is_some() {
        warn_if_insecure(key.scheme());
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
            return write_plaintext(&Plaintext::of_image(&image), &args.out, &args.render);
        }
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
    println!("{}: {what}", path.display());
    write_plaintext(&pt, &args.out, &args.render)?;
    if !pt.is_image() {
        println!("{}", render::stats(&pt, args.render.threshold).summary());
    }
    Ok(())
}
