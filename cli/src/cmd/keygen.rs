//! `picrypt keygen`: a new key file (and `KEY.pub` for public-key schemes).

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::builder::PossibleValuesParser;
use picrypt_core::scheme::shuffle::Variant;
use picrypt_core::{Key, Scheme};

use crate::files;
use crate::output::warn_if_insecure;

/// Examples for `picrypt keygen --help`.
pub const EXAMPLES: &str = "Examples:
  picrypt keygen -o k.key                                            # mask (default)
  picrypt keygen --scheme bfv -o k.key                               # also writes k.key.pub
  picrypt keygen --scheme shuffle --legacy-key 54321 --block 8x8 -o old.key";

/// Arguments of `picrypt keygen`.
#[derive(clap::Args)]
pub struct Args {
    /// The scheme: mask (default; results verified), bfv (public key: writes KEY and
    /// KEY.pub), shuffle (legacy imageshuffle, NOT secure).
    #[arg(long, default_value = "mask", value_parser = scheme_names())]
    scheme: String,
    /// Where to write the key (mode 0600).
    #[arg(short, long, value_name = "KEY")]
    out: PathBuf,
    /// Replace an existing file (the only way to overwrite a key).
    #[arg(long)]
    force: bool,
    /// shuffle only: the 32-bit integer key an imageshuffle deployment used.
    #[arg(long, value_name = "N")]
    legacy_key: Option<u32>,
    /// shuffle only: scramble blocks of HxW pixels (imageshuffle's RandBlock).
    #[arg(long, value_name = "HxW", value_parser = parse_block)]
    block: Option<(u32, u32)>,
}

/// The names of the schemes this build knows, from the core's table.
fn scheme_names() -> PossibleValuesParser {
    PossibleValuesParser::new(
        Scheme::all().map(|s| clap::builder::PossibleValue::new(s.name()).help(s.summary())),
    )
}

fn parse_block(text: &str) -> Result<(u32, u32), String> {
    let (h, w) = text
        .split_once(['x', 'X', '×'])
        .ok_or_else(|| format!("{text:?} is not HxW, e.g. 8x8"))?;
    let side = |s: &str| match s.trim().parse::<u32>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{text:?} is not HxW with positive sides, e.g. 8x8")),
    };
    Ok((side(h)?, side(w)?))
}

/// Writes the key (and its public half), refusing to overwrite either without `--force`.
pub fn run(args: &Args) -> Result<()> {
    let scheme = Scheme::from_name(&args.scheme).expect("clap checked the name");
    let legacy = args.legacy_key.is_some() || args.block.is_some();
    let key = if scheme == Scheme::SHUFFLE {
        let variant = match args.block {
            Some((height, width)) => Variant::Block { height, width },
            None => Variant::Rand,
        };
        match args.legacy_key {
            Some(n) => Key::shuffle_legacy(n, variant)?,
            None => Key::shuffle_generate(variant)?,
        }
    } else if legacy {
        bail!("--legacy-key and --block belong to --scheme shuffle");
    } else {
        Key::generate(scheme)?
    };
    // Check both names before writing either, so a refusal leaves nothing behind.
    let public_path = key.public().map(|p| (p, files::public_key_path(&args.out)));
    if let Some((_, path)) = &public_path {
        if !args.force && path.exists() {
            bail!(
                "{} already exists; refusing to overwrite a key (pass --force to replace it)",
                path.display()
            );
        }
    }
    files::write_key(&args.out, &key, args.force)?;
    println!(
        "wrote {} secret key {} (id {}, mode 0600); keep it private",
        key.scheme(),
        args.out.display(),
        key.id()
    );
    if let Some((public, path)) = public_path {
        files::write_key(&path, &public, args.force)?;
        println!(
            "wrote {} public key {} (same id): give it to the devices that encrypt; it cannot decrypt",
            public.scheme(),
            path.display()
        );
    }
    // After the key is written, so a refusal is one line without the warning.
    warn_if_insecure(scheme);
    Ok(())
}
